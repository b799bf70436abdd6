"""Slack payloads as plain text: what the test-suite reads and `parley outbox` prints.

`message_text` flattens a message or a view, one line per item; the console's rich
rendering is `bot.terminal`.
"""

from __future__ import annotations

import re
from typing import Any

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
DIVIDER_LINE = "-" * 24


def message_text(args: dict[str, Any], *, raw: bool = False) -> str:
    """Flatten a message payload (chat.postMessage/postEphemeral/update, response_url) or a view
    (``{"view": {...}}`` or the view itself) into readable plain text, one line per item.

    Headers become upper-case lines, buttons ``[label]``, dividers a dashed line. Unless `raw`,
    mrkdwn markup is made readable: ``<@U1>`` → ``@U1``, ``<url|label>`` → ``label``,
    ``<!date^…|fallback>`` → ``fallback``, and ``&lt; &gt; &amp;`` are unescaped.
    """
    view = args.get("view") if isinstance(args.get("view"), dict) else None
    if view is None and args.get("type") in ("modal", "home", "workflow_step"):
        view = args
    lines: list[str] = []
    if view is not None:
        title = _obj_text(view.get("title"))
        if title:
            lines.append(title)
        lines += _render_blocks(view.get("blocks"))
        buttons = [f"[{t}]" for t in (_obj_text(view.get("close")), _obj_text(view.get("submit")))]
        buttons = [b for b in buttons if b != "[]"]
        if buttons:
            lines.append(" ".join(buttons))
    else:
        blocks = args.get("blocks")
        if isinstance(blocks, list) and blocks:
            lines += _render_blocks(blocks)
        elif isinstance(args.get("text"), str):
            lines += args["text"].splitlines() or [""]
        attachments = args.get("attachments")
        if isinstance(attachments, list):
            for att in attachments:
                if isinstance(att, dict):
                    lines += _render_attachment(att)
    text = "\n".join(lines)
    return text if raw else _readable(text)


def _readable(text: str) -> str:
    def link(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@") or target.startswith("#"):
            return label and target[0] + label or target
        if target.startswith("!subteam^"):
            return "@" + (label or target[9:])
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + (label or target[1:])
        return label or target

    text = _LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _obj_text(obj: Any) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return obj if isinstance(obj, str) else ""


def _render_blocks(blocks: Any) -> list[str]:
    lines: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict):
            lines += _render_block(block)
    return lines


def _render_block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [_obj_text(block.get("text")).upper()]
    if kind == "divider":
        return [DIVIDER_LINE]
    if kind == "section":
        lines = _obj_text(block.get("text")).splitlines()
        for fld in block.get("fields") or []:
            lines += _obj_text(fld).splitlines()
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            rendered = _render_element(accessory)
            if rendered:
                lines.append(rendered)
        return lines
    if kind == "context":
        parts = [_obj_text(e) for e in block.get("elements") or [] if isinstance(e, dict)]
        return [" ".join(p for p in parts if p)]
    if kind == "actions":
        parts = [_render_element(e) for e in block.get("elements") or [] if isinstance(e, dict)]
        return [" ".join(p for p in parts if p)]
    if kind == "input":
        label = _obj_text(block.get("label"))
        element = block.get("element")
        rendered = _render_element(element) if isinstance(element, dict) else ""
        return [f"{label}: {rendered}".rstrip()]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind == "markdown":
        text = block.get("text")
        return text.splitlines() if isinstance(text, str) else []
    if kind == "rich_text":
        return _render_rich_text(block.get("elements") or []).splitlines()
    return []


def _render_element(element: dict[str, Any]) -> str:
    kind = str(element.get("type", ""))
    if kind == "button":
        return f"[{_obj_text(element.get('text'))}]"
    if kind == "image":
        return ""
    if kind == "overflow":
        return "[...]"
    initial = element.get("initial_option")
    if isinstance(initial, dict):
        return f"[{_obj_text(initial.get('text'))} v]"
    for key in ("initial_value", "initial_date", "initial_time", "initial_user"):
        if element.get(key):
            return f"[{element[key]}]"
    placeholder = _obj_text(element.get("placeholder"))
    suffix = " v" if "select" in kind else ""
    return f"[{placeholder or kind}{suffix}]"


def _render_rich_text(elements: list[Any]) -> str:
    out: list[str] = []
    for el in elements:
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            out.append(_render_rich_text(el.get("elements") or []))
        elif kind == "rich_text_list":
            for item in el.get("elements") or []:
                if isinstance(item, dict):
                    out.append("- " + _render_rich_text(item.get("elements") or []) + "\n")
        elif kind == "text":
            out.append(str(el.get("text", "")))
        elif kind == "link":
            out.append(str(el.get("text") or el.get("url", "")))
        elif kind == "user":
            out.append(f"<@{el.get('user_id', '')}>")
        elif kind == "channel":
            out.append(f"<#{el.get('channel_id', '')}>")
        elif kind == "emoji":
            out.append(f":{el.get('name', '')}:")
        elif kind == "broadcast":
            out.append(f"@{el.get('range', '')}")
        elif kind == "date":
            out.append(str(el.get("fallback") or el.get("timestamp", "")))
    return "".join(out)


def _render_attachment(att: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key in ("pretext", "title", "text"):
        value = att.get(key)
        if isinstance(value, str) and value:
            lines += value.splitlines()
    for fld in att.get("fields") or []:
        if isinstance(fld, dict):
            lines.append(f"{fld.get('title', '')}: {fld.get('value', '')}".strip(": "))
    lines += _render_blocks(att.get("blocks"))
    return lines
