"""Slack messages for a terminal: what `parley shell` prints.

`Renderer` turns a message payload (blocks, text, attachments) into `rich.text.Text` lines:
mrkdwn bold, italic, strike and code become styles (the markers are dropped), links read
``text (url)``, emoji codes are emoji, ``<!date^…>`` is shown in the local user's zone,
``<@U…>``/``<#C…>`` read ``@name``/``#name``, and ``&lt; &gt; &amp;`` are unescaped. The
same lines print with colour on a terminal and as plain text (no ANSI codes) otherwise.

`bot.slack_text.message_text` stays the test-suite's flattener (it keeps the markup on
purpose); this module is for people. Imported only by the shell: `parley --version` never
loads rich.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.emoji import Emoji, NoEmoji
from rich.text import Text

from bot.timeleft import format_local

DIVIDER = "─" * 24
QUOTE = "│ "

STYLE_HEADER = "bold underline"
STYLE_CODE = "cyan"
STYLE_MENTION = "bold magenta"
STYLE_URL = "dim underline"
STYLE_CONTEXT = "dim"
STYLE_BUTTON = "bold cyan"
STYLE_BANNER = "dim"

# Slack's names that rich (the Unicode/GitHub names) spells otherwise.
_EMOJI_ALIASES = {
    "large_orange_circle": "orange_circle",
    "large_yellow_circle": "yellow_circle",
    "large_green_circle": "green_circle",
    "large_purple_circle": "purple_circle",
    "large_brown_circle": "brown_circle",
    "large_red_circle": "red_circle",
    "large_blue_circle": "blue_circle",
    "large_orange_diamond": "large_orange_diamond",
    "thumbsup": "thumbs_up",
    "+1": "thumbs_up",
    "thumbsdown": "thumbs_down",
    "-1": "thumbs_down",
    "simple_smile": "slightly_smiling_face",
}

_INLINE = re.compile(
    r"(?P<pre>```(?P<pre_body>(?s:.+?))```)"
    r"|`(?P<code>[^`\n]+)`"
    r"|<(?P<link>[^<>\n]+)>"
    r"|(?<![\w*])\*(?P<bold>[^*\s](?:[^*\n]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\s](?:[^_\n]*[^_\s])?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\s](?:[^~\n]*[^~\s])?)~(?![\w~])"
    r"|:(?P<emoji>[a-z][a-z0-9_+\-]*):"
)
_DATE_TOKEN = re.compile(
    r"\{(date_num|date|date_short|date_long|date_pretty|date_short_pretty"
    r"|date_long_pretty|time|time_secs|ago)\}"
)
_DATE_TIME = re.compile(r"\{date(?:_short|_long)?(?:_pretty)?\} \{time(?:_secs)?\}")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emoji(name: str) -> str | None:
    """The character for a Slack emoji code (without colons), or None when unknown."""
    try:
        return str(Emoji(_EMOJI_ALIASES.get(name, name)))
    except NoEmoji:
        return None


def with_emoji(text: str) -> str:
    return re.sub(r":([a-z][a-z0-9_+\-]*):", lambda m: emoji(m.group(1)) or m.group(0), text)


def wants_colour(out: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Colour and styles only on a terminal, and not with NO_COLOR set or TERM=dumb."""
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env or env.get("TERM") == "dumb":
        return False
    isatty = getattr(out, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed file
        return False


def make_console(out: TextIO, *, colour: bool) -> Console:
    """A console that never wraps, pads or highlights; with no ANSI codes unless `colour`."""
    return Console(
        file=out,
        force_terminal=colour,
        color_system="auto" if colour else None,
        no_color=not colour,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
        legacy_windows=False,
    )


# A button found while rendering: (its block, the element) → the number to show.
ButtonHook = Callable[[dict[str, Any], dict[str, Any]], int]


@dataclass
class Renderer:
    zone: str = "UTC"
    users: dict[str, str] = field(default_factory=dict)  # id → name
    channels: dict[str, str] = field(default_factory=dict)  # id → name

    # ---- mrkdwn ---------------------------------------------------------------------------

    def mrkdwn(self, text: str, style: str = "") -> Text:
        """One mrkdwn string (may hold newlines) as styled text without its markers."""
        out = Text()
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if i:
                out.append("\n")
            quoted = False
            for marker in ("&gt; ", "> ", "&gt;", ">"):
                if line.startswith(marker) and (marker.endswith(" ") or len(line) == len(marker)):
                    line, quoted = line[len(marker) :], True
                    break
            if quoted:
                out.append(QUOTE, "dim")
                self._inline(out, line, f"{style} italic".strip())
            else:
                self._inline(out, line, style)
        return out

    def _inline(self, out: Text, text: str, style: str) -> None:
        position = 0
        for match in _INLINE.finditer(text):
            if match.start() > position:
                out.append(unescape(text[position : match.start()]), style or None)
            position = match.end()
            kind = match.lastgroup
            if kind == "pre_body" or kind == "pre":
                out.append(unescape(match.group("pre_body")), _join(style, STYLE_CODE))
            elif kind == "code":
                out.append(unescape(match.group("code")), _join(style, STYLE_CODE))
            elif kind == "link":
                self._link(out, match.group("link"), style)
            elif kind in ("bold", "italic", "strike"):
                self._inline(out, match.group(kind), _join(style, kind))
            elif kind == "emoji":
                char = emoji(match.group("emoji"))
                out.append(char if char is not None else match.group(0), style or None)
        if position < len(text):
            out.append(unescape(text[position:]), style or None)

    def _link(self, out: Text, body: str, style: str) -> None:
        target, _, label = body.partition("|")
        label = unescape(label)
        mention = _join(style, STYLE_MENTION)
        if target.startswith("@"):
            out.append("@" + (label.lstrip("@") or self.users.get(target[1:], target[1:])), mention)
        elif target.startswith("#"):
            name = label.lstrip("#") or self.channels.get(target[1:], target[1:])
            out.append("#" + name, mention)
        elif target.startswith("!date^"):
            out.append(self.date(target[6:], label), style or None)
        elif target.startswith("!subteam^"):
            out.append("@" + (label.lstrip("@") or target[9:]), mention)
        elif target.startswith("!"):
            out.append("@" + (label.lstrip("@") or target[1:]), mention)
        else:
            url = unescape(target)
            shown = url.removeprefix("mailto:")
            if not label or label == url or label == shown:
                out.append(shown, _join(style, STYLE_URL))
            else:
                self._inline(out, label, style)
                out.append(" (", style or None)
                out.append(shown, _join(style, STYLE_URL))
                out.append(")", style or None)

    def date(self, spec: str, fallback: str) -> str:
        """``<!date^STAMP^FORMAT[^LINK]|fallback>`` in the local user's zone (else fallback)."""
        parts = spec.split("^")
        try:
            instant = datetime.fromtimestamp(int(parts[0]), tz=UTC)
            zone = ZoneInfo(self.zone)
        except (ValueError, OverflowError, OSError, KeyError):
            return fallback or spec
        shape = unescape(parts[1]) if len(parts) > 1 else ""
        if not shape:
            return fallback or format_local(instant, self.zone)
        local = instant.astimezone(zone)
        shown = _DATE_TIME.sub(lambda _m: format_local(instant, self.zone), shape)

        def token(m: re.Match[str]) -> str:
            name = m.group(1)
            if name == "date_num":
                return f"{local:%Y-%m-%d}"
            if name.startswith("date_short"):
                return f"{_MONTHS[local.month - 1][:3]} {local.day}, {local.year}"
            if name.startswith("date_long"):
                return f"{local:%A}, {_MONTHS[local.month - 1]} {local.day}, {local.year}"
            if name.startswith("date"):
                return f"{_MONTHS[local.month - 1]} {local.day}, {local.year}"
            if name == "time":
                return f"{local:%H:%M}"
            if name == "time_secs":
                return f"{local:%H:%M:%S}"
            return format_local(instant, self.zone)  # {ago}: no clock here; the instant

        return _DATE_TOKEN.sub(token, shown)

    # ---- text objects and blocks ------------------------------------------------------------

    def obj(self, obj: Any, style: str = "") -> Text:
        if isinstance(obj, str):
            return self.mrkdwn(obj, style)
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            return Text()
        if obj.get("type") == "plain_text":
            return Text(with_emoji(obj["text"]), style or "")
        return self.mrkdwn(obj["text"], style)

    def message(self, payload: dict[str, Any], button: ButtonHook | None = None) -> list[Text]:
        """A message payload as lines; each button becomes ``  (n) label`` in its place."""
        lines: list[Text] = []
        blocks = payload.get("blocks")
        if isinstance(blocks, list) and blocks:
            lines += self.blocks(blocks, button)
        elif isinstance(payload.get("text"), str):
            lines += _split(self.mrkdwn(payload["text"]))
        for att in payload.get("attachments") or []:
            if isinstance(att, dict):
                for line in self._attachment(att, button):
                    lines.append(Text(QUOTE, "dim") + line)
        return lines

    def blocks(self, blocks: Iterable[Any], button: ButtonHook | None = None) -> list[Text]:
        lines: list[Text] = []
        for block in blocks:
            if isinstance(block, dict):
                lines += self.block(block, button)
        return lines

    def block(self, block: dict[str, Any], button: ButtonHook | None = None) -> list[Text]:
        kind = block.get("type")
        if kind == "header":
            return [self.obj(block.get("text"), STYLE_HEADER)]
        if kind == "divider":
            return [Text(DIVIDER, "dim")]
        if kind == "section":
            lines: list[Text] = []
            if block.get("text"):
                lines += _split(self.obj(block.get("text")))
            for fld in block.get("fields") or []:
                lines += _split(self.obj(fld))
            accessory = block.get("accessory")
            if isinstance(accessory, dict):
                lines += self._elements(block, [accessory], button)
            return lines
        if kind == "context":
            parts = [
                self.obj(e, STYLE_CONTEXT)
                for e in block.get("elements") or []
                if isinstance(e, dict) and e.get("type") != "image"
            ]
            return _split(Text("  ").join(p for p in parts if p.plain))
        if kind == "actions":
            return self._elements(block, list(block.get("elements") or []), button)
        if kind == "input":
            label = self.obj(block.get("label"))
            element = block.get("element")
            shown = _element_text(element) if isinstance(element, dict) else ""
            return [label + Text(f": {shown}".rstrip())]
        if kind == "image":
            return [Text(f"[image: {block.get('alt_text', '')}]", "dim")]
        if kind == "markdown":
            text = block.get("text")
            return _split(self.mrkdwn(text.replace("**", "*"))) if isinstance(text, str) else []
        if kind == "rich_text":
            return self._rich_text(block.get("elements") or [])
        return []

    def _elements(
        self, block: dict[str, Any], elements: list[Any], button: ButtonHook | None
    ) -> list[Text]:
        lines: list[Text] = []
        others: list[str] = []
        for element in elements:
            if not isinstance(element, dict):
                continue
            if element.get("type") == "button":
                label = with_emoji(str((element.get("text") or {}).get("text") or "button"))
                if button is None:
                    others.append(f"[{label}]")
                    continue
                number = button(block, element)
                line = Text("  ")
                line.append(f"({number})", STYLE_BUTTON)
                line.append(f" {label}")
                lines.append(line)
            else:
                shown = _element_text(element)
                if shown:
                    others.append(shown)
        if others:
            lines.append(Text(" ".join(others), "dim"))
        return lines

    def _attachment(self, att: dict[str, Any], button: ButtonHook | None) -> list[Text]:
        lines: list[Text] = []
        for key in ("pretext", "title", "text"):
            value = att.get(key)
            if isinstance(value, str) and value:
                lines += _split(self.mrkdwn(value, "bold" if key == "title" else ""))
        for fld in att.get("fields") or []:
            if isinstance(fld, dict):
                title, value = str(fld.get("title", "")), str(fld.get("value", ""))
                line = Text(title, "bold") + Text(": " if title and value else "")
                lines.append(line + self.mrkdwn(value))
        lines += self.blocks(att.get("blocks") or [], button)
        return lines

    # ---- rich_text --------------------------------------------------------------------------

    def _rich_text(self, elements: list[Any]) -> list[Text]:
        lines: list[Text] = []
        for el in elements:
            if not isinstance(el, dict):
                continue
            kind = el.get("type")
            if kind == "rich_text_section":
                lines += _split(self._rich_inline(el.get("elements") or []))
            elif kind == "rich_text_preformatted":
                body = self._rich_inline(el.get("elements") or [], STYLE_CODE)
                lines += [Text("    ") + line for line in _split(body)]
            elif kind == "rich_text_quote":
                body = self._rich_inline(el.get("elements") or [], "italic")
                lines += [Text(QUOTE, "dim") + line for line in _split(body)]
            elif kind == "rich_text_list":
                indent = "  " * int(el.get("indent") or 0)
                ordered = el.get("style") == "ordered"
                for n, item in enumerate(el.get("elements") or [], int(el.get("offset") or 0) + 1):
                    if isinstance(item, dict):
                        mark = f"{n}. " if ordered else "• "
                        body = self._rich_inline(item.get("elements") or [])
                        lines.append(Text(indent + mark) + body)
        return lines

    def _rich_inline(self, elements: list[Any], base: str = "") -> Text:
        out = Text()
        for el in elements:
            if not isinstance(el, dict):
                continue
            kind = el.get("type")
            marks = el.get("style") or {}
            style = _join(base, *(k for k in ("bold", "italic", "strike") if marks.get(k)))
            if marks.get("code"):
                style = _join(style, STYLE_CODE)
            if kind == "text":
                out.append(str(el.get("text", "")), style or None)
            elif kind == "link":
                url, label = str(el.get("url", "")), str(el.get("text") or "")
                if label and label != url:
                    out.append(label, style or None)
                    out.append(" (", style or None)
                    out.append(url, _join(style, STYLE_URL))
                    out.append(")", style or None)
                else:
                    out.append(url, _join(style, STYLE_URL))
            elif kind == "user":
                uid = str(el.get("user_id", ""))
                out.append("@" + self.users.get(uid, uid), _join(style, STYLE_MENTION))
            elif kind == "channel":
                cid = str(el.get("channel_id", ""))
                out.append("#" + self.channels.get(cid, cid), _join(style, STYLE_MENTION))
            elif kind == "usergroup":
                out.append("@" + str(el.get("usergroup_id", "")), _join(style, STYLE_MENTION))
            elif kind == "broadcast":
                out.append("@" + str(el.get("range", "")), _join(style, STYLE_MENTION))
            elif kind == "emoji":
                name = str(el.get("name", ""))
                out.append(emoji(name) or f":{name}:", style or None)
            elif kind == "date":
                spec = f"{el.get('timestamp', '')}^{el.get('format', '')}"
                out.append(self.date(spec, str(el.get("fallback") or "")), style or None)
        return out


def _split(text: Text) -> list[Text]:
    return list(text.split("\n")) or [Text()]


def _join(*styles: str) -> str:
    return " ".join(s for s in styles if s)


def _element_text(element: dict[str, Any]) -> str:
    kind = str(element.get("type", ""))
    if kind == "image":
        return ""
    if kind == "button":
        return f"[{with_emoji(str((element.get('text') or {}).get('text') or ''))}]"
    if kind == "overflow":
        return "[…]"
    initial = element.get("initial_option")
    if isinstance(initial, dict):
        return f"[{(initial.get('text') or {}).get('text', '')} ▾]"
    for key in ("initial_value", "initial_date", "initial_time", "initial_user"):
        if element.get(key):
            return f"[{element[key]}]"
    placeholder = (element.get("placeholder") or {}).get("text") or kind
    return f"[{placeholder}{' ▾' if 'select' in kind else ''}]"
