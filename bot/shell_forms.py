"""Modals as prompts, for `parley shell`: one field at a time, each checked as it is typed
where the rule allows, the form submitted to the app as Slack would submit it.

* A time (when, due, starts, ends, expiry) is read at once with the same reader the app
  uses and echoed back (``→ read as Tue 12 Aug 2025 00:01 EDT``); one that cannot be read
  is asked again with what was typed kept. The app still decides when the form is sent.
* As in Slack's own client, a required input is not left empty and a text stays within its
  length: said at once, and asked again starting from what was typed.
* A choice is taken by its number, its name or the start of its name.
* A multi-line field ("one per line": delegations, terms, notes) takes one line after
  another until an empty line; ``\\n`` inside a line also starts a new one.
* Errors the app returns (`response_action: errors`) are shown at their fields, which are
  asked again, each starting from what was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.shell_input import Interrupted
from bot.timeleft import format_local
from bot.timeparse import TimeParseError, When, parse_when

if TYPE_CHECKING:
    from bot.shell import Shell

# The inputs that hold a time (bot.render.ids.Field's values), and the one whose `+90d`
# counts from the current expiry rather than from now.
TIME_FIELDS = frozenset({"when", "due", "starts", "ends", "expiry"})
FROM_CURRENT_EXPIRY = "expiry"
MULTILINE_HINT = "one per line; an empty line ends"
CLEAR = "-"  # alone, empties an optional field (the first line, of a multi-line one)
CANCELLED = "Form cancelled; nothing was saved."


def pick_option(options: list[dict[str, Any]], typed: str) -> dict[str, Any] | str:
    """The option `typed` names: its number, its text or value, or the start of one (any
    case); else why not, as one line."""
    if typed.isdigit():
        number = int(typed)
        if 1 <= number <= len(options):
            return options[number - 1]
        return f"Type a number from 1 to {len(options)}, or a name."
    want = typed.casefold()
    names = [
        (o, str(o["text"]["text"]).casefold(), str(o.get("value", "")).casefold()) for o in options
    ]
    for option, text, value in names:
        if want in (text, value):
            return option
    found = [o for o, text, value in names if text.startswith(want) or value.startswith(want)]
    if len(found) == 1:
        return found[0]
    if not found:
        return f"No choice is named {typed!r}: type a number from 1 to {len(options)}, or a name."
    shown = ", ".join(str(o["text"]["text"]) for o in found[:5])
    return f"{typed!r} could be {shown}: type more of the name, or its number."


@dataclass
class FormOutcome:
    """How a form ended: saved (the app took it), cancelled (by the person), or cut short
    (input ended in the middle of it: `--strict` counts that as a failure)."""

    saved: bool = False
    cut_short: bool = False


@dataclass
class TimeCheck:
    """Reads typed times as the app will, for the echo: the desk's zone, its date order,
    the shell's clock; `ends` without a zone in the zone `starts` was given in."""

    zone: str
    date_order: str | None
    now: Callable[[], datetime]
    zones_read: dict[str, str] = field(default_factory=dict)

    def read(self, block_id: str, text: str) -> str:
        """The echo line for a time typed at `block_id`; TimeParseError when unreadable."""
        zone = self.zones_read.get("starts", self.zone) if block_id == "ends" else self.zone
        now = self.now()

        def at(base: datetime | None) -> When:
            return parse_when(
                text, now=now, default_zone=zone, date_order=self.date_order, base=base
            )

        when = at(None)
        if block_id == FROM_CURRENT_EXPIRY and at(now + timedelta(days=1)).instant != when.instant:
            return "→ counted from the current expiry when the form is sent"
        self.zones_read[block_id] = when.zone
        return f"→ read as {format_local(when.instant, when.zone)}"


@dataclass(frozen=True)
class SlackRule:
    """What Slack's own client checks in a text input before a form can be sent: a
    required input is not empty, a length within min_length and max_length."""

    required: bool
    min_length: int = 0
    max_length: int = 0

    def problem(self, value: str) -> str | None:
        if not value:
            return "This field is required." if self.required else None
        if self.max_length and len(value) > self.max_length:
            return f"At most {self.max_length} characters here; this is {len(value)}: shorten it."
        if len(value) < self.min_length:
            return f"At least {self.min_length} characters here; this is {len(value)}."
        return None


Submit = Callable[[dict[str, Any], dict[str, Any]], Awaitable[tuple[int, str]]]


class FormPrompts:
    """Fills one view at the shell's prompts and submits it through `submit`."""

    def __init__(self, shell: Shell, submit: Submit) -> None:
        self.shell = shell
        self.submit = submit
        settings = shell.settings
        self.times = TimeCheck(settings.timezone, settings.date_order, shell.clock.now)

    async def fill(self, view: dict[str, Any]) -> FormOutcome:
        shell = self.shell
        title = str((view.get("title") or {}).get("text") or "Form")
        shell.say(
            f"── {title} ── (Enter keeps a [default]; /cancel or Ctrl-C gives up; "
            f"a multi-line field ends at an empty line)"
        )
        for block in view.get("blocks") or []:
            if block.get("type") == "context":
                shell.show(shell.renderer.block(block))
        inputs = [b for b in view.get("blocks") or [] if b.get("type") == "input"]
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        ask = inputs
        while True:
            for block in ask:
                block_id = str(block.get("block_id"))
                try:
                    answer = await self.field(block, errors.get(block_id), values.get(block_id))
                except Interrupted:  # Ctrl-C
                    shell.say(CANCELLED + "\n")
                    return FormOutcome()
                if answer is None:
                    shell.say(CANCELLED + "\n")
                    return FormOutcome(cut_short=shell.input_ended)
                values[block_id] = answer
            status, body = await self.submit(view, values)
            reply = shell.json_object(body)
            if status == 200 and reply.get("response_action") == "errors":
                errors = {str(k): str(v) for k, v in (reply.get("errors") or {}).items()}
                ask = [b for b in inputs if str(b.get("block_id")) in errors] or inputs
                shell.say("The form has errors:")
                continue
            if status != 200:
                shell.say(f"(the app answered HTTP {status}: {body})")
            if not shell.ended_blank:  # the answer, if any, already ended with one
                shell.say()
            return FormOutcome(saved=status == 200)

    async def field(
        self, block: dict[str, Any], error: str | None, previous: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Asks for one input; `previous` is what was given for it before an error, kept as
        its default (on a terminal the line starts from it, ready to edit). None: cancelled."""
        label = str((block.get("label") or {}).get("text") or block.get("block_id"))
        element = block.get("element") or {}
        if error:
            self.shell.say(f"  ! {label}: {error}")
        if block.get("optional"):
            label += " (optional)"
        action_id = str(element.get("action_id") or "value")
        kind = str(element.get("type") or "")
        given = (previous or {}).get(action_id) or {}
        if kind in ("static_select", "multi_static_select"):
            return await self.choice(label, action_id, kind, element, given)
        hint = (block.get("hint") or {}).get("text")
        if hint:
            self.shell.say(f"  ({hint})")
        typed = given.get("value") if given else None
        default = str(typed or element.get("initial_value") or "")
        rule = SlackRule(
            required=not block.get("optional"),
            min_length=int(element.get("min_length") or 0),
            max_length=int(element.get("max_length") or 0),
        )
        while True:
            if element.get("multiline"):
                value = await self.lines(label, default)
            else:
                value = await self.line(
                    str(block.get("block_id")),
                    label,
                    default,
                    bool(typed),
                    optional=bool(block.get("optional")),
                )
            if value is None:
                return None
            problem = rule.problem(value)
            if problem is None:
                return {action_id: {"type": "plain_text_input", "value": value or None}}
            self.shell.say(f"  ! {problem}")
            default, typed = value, value or None  # asked again, starting from it

    async def line(
        self, block_id: str, label: str, default: str, retyping: bool, *, optional: bool = False
    ) -> str | None:
        """One line; a time is read and echoed, or asked again (starting from what was
        typed) until it reads; a time the form itself gave is kept for the app to judge.
        An optional field is emptied by CLEAR (or, on a terminal, by clearing its line)."""
        shell = self.shell
        start_from = default if retyping else ""
        failed: str | None = None  # the last time that could not be read: not taken as is
        while True:
            clears = f" ({CLEAR!r} clears)" if optional and default else ""
            if shell.interactive and start_from:  # the line starts from it, to edit
                typed = await shell.read(f"{label}{clears}: ", field=True, default=start_from)
                if optional and typed is not None and not typed.strip():
                    return ""  # the line was cleared: the field is left empty
            else:
                shown = f" [{default}]" if default else ""
                typed = await shell.read(f"{label}{shown}{clears}: ", field=True)
            if typed is None or typed.strip() == "/cancel":
                return None
            if optional and typed.strip() == CLEAR:
                return ""
            value = typed.strip() or default
            unchanged = bool(start_from) and value == start_from and value != failed
            if block_id not in TIME_FIELDS or not value or unchanged:
                return value
            try:
                shell.say(f"  {self.times.read(block_id, value)}")
                return value
            except TimeParseError as exc:
                shell.say(f"  ! {exc}")
                default = start_from = failed = value  # asked again from what was typed

    async def lines(self, label: str, default: str) -> str | None:
        """Lines until an empty one; an empty first line keeps `default`, CLEAR empties it."""
        shell = self.shell
        if default:
            keep = f"an empty first line keeps these, {CLEAR!r} clears them"
            shell.say(f"{label}, {MULTILINE_HINT} ({keep}):")
            for kept in default.splitlines():
                shell.say(f"  | {kept}")
        else:
            shell.say(f"{label}, {MULTILINE_HINT}:")
        typed: list[str] = []
        while True:
            line = await shell.read(f"  {len(typed) + 1}> ", field=True)
            if line is None or line.strip() == "/cancel":
                return None
            if not line.strip():
                break
            if default and not typed and line.strip() == CLEAR:
                return ""
            typed.extend(part for part in line.replace("\\n", "\n").split("\n"))
        return "\n".join(typed) if typed else default

    async def choice(
        self,
        label: str,
        action_id: str,
        kind: str,
        element: dict[str, Any],
        given: dict[str, Any],
    ) -> dict[str, Any] | None:
        shell = self.shell
        multi = kind == "multi_static_select"
        options = element.get("options") or []
        if given:
            marked = given.get("selected_options") if multi else [given.get("selected_option")]
        elif multi:
            marked = element.get("initial_options") or []
        else:
            marked = [element.get("initial_option")]
        kept = {m.get("value") for m in marked or [] if isinstance(m, dict)}
        initial = [o for o in options if o.get("value") in kept]
        shell.say(f"{label}:")
        for i, option in enumerate(options, 1):
            mark = "*" if option in initial else " "
            shell.say(f"  {mark}{i}. {option['text']['text']}")
        how = "numbers or names, comma-separated" if multi else "number or name"
        while True:
            line = await shell.read(f"  choose ({how}): ", field=True)
            if line is None or line.strip() == "/cancel":
                return None
            picks = [p.strip() for p in line.split(",") if p.strip()]
            if not picks:
                chosen = initial
            else:
                found = [pick_option(options, p) for p in picks]
                problems = [why for why in found if isinstance(why, str)]
                if problems or (not multi and len(picks) > 1):
                    shell.say("  " + (problems[0] if problems else "Choose one."))
                    continue
                chosen = [o for o in found if isinstance(o, dict)]
                shell.say("  → " + ", ".join(str(o["text"]["text"]) for o in chosen))
            if multi:
                return {action_id: {"type": kind, "selected_options": chosen}}
            return {action_id: {"type": kind, "selected_option": chosen[0] if chosen else None}}
