"""`parley shell`: a local console that is a small Slack client.

It sends Slack-shaped requests into the same AsyncApp that Slack would reach, and renders
what the app sends to the Web API (a local stand-in on loopback): messages as text, modals
as prompts, buttons as numbered choices. Works piped (`printf '/truce\\n' | parley shell`).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, TextIO
from urllib.parse import urlencode

from rich.text import Text
from slack_bolt.async_app import AsyncApp

from bot.app import build_app, build_client
from bot.clock import Clock
from bot.scheduler import METADATA_TYPE, Scheduler, delivery_client
from bot.settings import Settings
from bot.shell_input import Interrupted, LineReader, command_tree, default_reader
from bot.slack_body import bolt_request, read_body
from bot.standin import RecordedCall, SlackStandIn
from bot.terminal import STYLE_BANNER, Renderer, make_console, wants_colour
from bot.timeleft import format_local
from bot.timeparse import TimeParseError, parse_offsets
from storage import planning, sensitivities, tracks
from storage.db import Database

USER_ID = "ULOCALADMIN"
CHANNEL_ID = "CLOCALDESK"
CHANNEL_NAME = "desk"  # shown as #desk; `parley digest --channel '#desk'` takes it too
TEAM_ID = "T0LOCAL"
PROMPT = "parley> "
COMMANDS = ("/truce", "/deadline", "/talks", "/watch", "/desk")
INTRO = (
    "Parley shell — you are @you ({user}, an admin) in #desk. Type /desk help, /truce, /deadline, "
    "/talks, /watch. A number clicks the button with that number; ':wait 7d' moves the "
    "clock on (scheduled posts appear as they fall due); ':now' shows it; 'quit' leaves."
)


def pick_option(options: list[dict[str, Any]], typed: str) -> dict[str, Any] | str:
    """The option `typed` names: its number, its text or value, or the start of one (any
    case); else why not, as one line."""
    if typed.isdigit():
        number = int(typed)
        if 1 <= number <= len(options):
            return options[number - 1]
        return f"Type a number from 1 to {len(options)}, or a name."
    want = typed.casefold()
    names = [(o, str(o["text"]["text"]).casefold(), str(o.get("value", "")).casefold())
             for o in options]
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


WAIT_USAGE = "Usage: :wait <duration>, e.g. :wait 7d, :wait 12h, :wait 30m."


@dataclass
class Button:
    label: str
    action_id: str
    value: str
    block_id: str
    channel: str
    message_ts: str | None


@dataclass
class ShellState:
    buttons: list[Button] = field(default_factory=list)
    pending_views: list[dict[str, Any]] = field(default_factory=list)


class Shell:
    """Drives the app with typed lines from `reader` (default: prompt_toolkit on a terminal,
    plain lines when piped)."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        clock: Clock,
        out: TextIO = sys.stdout,
        reader: LineReader | None = None,
        colour: bool | None = None,
    ) -> None:
        self.settings = replace(settings, admins=settings.admins | {USER_ID})
        self.db = db
        self.clock = clock
        self.out = out
        self._reader = reader
        self.state = ShellState()
        self.console = make_console(out, colour=wants_colour(out) if colour is None else colour)
        self.renderer = Renderer(
            zone=self.settings.timezone,
            users={USER_ID: "you"},
            channels={CHANNEL_ID: CHANNEL_NAME},
        )
        self.standin = SlackStandIn(
            strict=False,
            on_call=self._on_call,
            users={
                USER_ID: {
                    "id": USER_ID,
                    "name": "you",
                    "real_name": "You",
                    "tz": self.settings.timezone,
                    "is_bot": False,
                }
            },
        )
        self.app: AsyncApp | None = None
        self.tracks: list[str] = []
        self.gone = False  # stdout was closed
        self.ended_blank = False  # the last line printed was empty
        self.topics: list[str] = []
        self.scheduler: Scheduler | None = None

    async def start(self, *, tick_every: float | None = 2.0) -> None:
        """Starts the stand-in and the app; the scheduler too, ticking every `tick_every` s
        (None: only on `:wait`), unless PARLEY_SCHEDULER is off."""
        await self.standin.start()
        async with self.db.session() as session:
            self.tracks = [t.handle for t in await tracks.all_tracks(session)]
            self.topics = [t.slug for t in await sensitivities.all_sensitivities(session)]
        settings = replace(self.settings, api_url=self.standin.api_url)
        client = build_client(settings, token="xoxb-parley-shell")
        self.app = build_app(
            settings=settings,
            client=client,
            db=self.db,
            clock=self.clock,
            verify_requests=False,
            process_before_response=True,
        )
        if settings.scheduler:
            self.scheduler = Scheduler(
                db=self.db,
                client=delivery_client(settings, token="xoxb-parley-shell"),
                clock=self.clock,
                settings=settings,
                worker="shell",
            )
            if tick_every:
                self.scheduler.start(every=tick_every)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.standin.stop()

    def say(self, text: str = "") -> None:
        try:
            self.out.write(text + "\n")
            self.out.flush()
        except BrokenPipeError:
            self.stdout_closed()
        self.ended_blank = text == ""

    def show(self, lines: list[Text]) -> None:
        try:
            for line in lines:
                self.console.print(line)
            self.out.flush()
        except BrokenPipeError:
            self.stdout_closed()
        self.ended_blank = self.ended_blank and not lines

    def stdout_closed(self) -> None:
        """Nobody reads any more (`parley shell | head -1`): the shell ends quietly."""
        self.gone = True
        devnull = open(os.devnull, "w")  # noqa: SIM115  (kept until the process ends)
        try:
            os.dup2(devnull.fileno(), self.out.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        self.out = devnull
        self.console.file = devnull

    def where(self, channel: str) -> str:
        if channel == USER_ID or channel.startswith("D"):
            return "you (a direct message)"
        return "#" + self.renderer.channels.get(channel, channel)

    def banner(self, text: str) -> None:
        self.show([Text(f"── {text} ──", STYLE_BANNER)])

    def posted_banner(self, verb: str, channel: str) -> None:
        when = format_local(self.clock.now(), self.settings.timezone)
        self.banner(f"Parley {verb} {self.where(channel)} · {when}")

    @property
    def interactive(self) -> bool:
        """A person at a terminal (prompt_toolkit), not a pipe."""
        return self.reader.interactive

    @property
    def reader(self) -> LineReader:
        if self._reader is None:
            self._reader = default_reader(command_tree(self.tracks, self.topics))
        return self._reader

    async def read(self, prompt: str, *, field: bool = False, default: str = "") -> str | None:
        """A line; None at end of input; Interrupted (Ctrl-C) passes through."""
        if self.gone:
            return None
        self.ended_blank = False  # the prompt's line comes next
        try:
            return await self.reader.read(prompt, field=field, default=default)
        except BrokenPipeError:  # the echo of a piped line
            self.stdout_closed()
            return None

    # ---- what the app sends out ------------------------------------------------------------

    async def _on_call(self, call: RecordedCall) -> None:
        if call.method in ("chat.postMessage", "chat.postEphemeral", "chat.update", "response_url"):
            args = call.args
            if args.get("delete_original"):
                return
            answer = call.response if isinstance(call.response, dict) else {}
            ts = answer.get("ts")
            channel = str(args.get("channel") or CHANNEL_ID)
            scheduled = (args.get("metadata") or {}).get("event_type") == METADATA_TYPE
            if scheduled and not answer.get("ok"):
                return
            if call.method == "chat.postMessage":
                self.posted_banner("posted to", channel)
            elif call.method == "chat.update":
                self.posted_banner("updated a post in", channel)
            elif call.method == "response_url" and args.get("response_type") == "in_channel":
                self.posted_banner("posted to", channel)
            else:
                self.banner("only you can see this")
            self.show_message(args, channel=channel, ts=ts)
        elif call.method in ("views.open", "views.push", "views.update"):
            view = call.args.get("view")
            if isinstance(view, dict):
                answer = call.response if isinstance(call.response, dict) else {}
                view_id = (answer.get("view") or {}).get("id")
                self.state.pending_views.append({**view, "id": view_id or "V0SHELL"})

    def show_message(self, payload: dict[str, Any], *, channel: str, ts: str | None) -> None:
        """The message, each button numbered in its place; numbers run on across messages,
        so every button still on screen can be clicked."""

        def button(block: dict[str, Any], element: dict[str, Any]) -> int:
            self.state.buttons.append(
                Button(
                    str((element.get("text") or {}).get("text") or "button"),
                    str(element.get("action_id")),
                    str(element.get("value") or ""),
                    str(block.get("block_id") or ""),
                    channel,
                    ts,
                )
            )
            return len(self.state.buttons)

        self.show(self.renderer.message(payload, button))
        self.say()

    # ---- what the user does ------------------------------------------------------------------

    async def dispatch(self, body: str, content_type: str) -> tuple[int, str]:
        assert self.app is not None
        document, why = read_body(body.encode("utf-8"), content_type)
        if why:
            return 400, why
        request = bolt_request(
            body,
            document,
            {"content-type": [content_type], "x-slack-request-timestamp": [str(int(time.time()))]},
        )
        response = await self.app.async_dispatch(request)
        return response.status, response.body

    async def command(self, line: str) -> None:
        name, _, text = line.strip().partition(" ")
        if name not in COMMANDS:
            self.say(f"Unknown command {name!r}. Commands: {', '.join(COMMANDS)}.")
            return
        form = {
            "token": "shell",
            "team_id": TEAM_ID,
            "team_domain": "parley-local",
            "channel_id": CHANNEL_ID,
            "channel_name": CHANNEL_NAME,
            "user_id": USER_ID,
            "user_name": "you",
            "command": name,
            "text": text.strip(),
            "api_app_id": "A0PARLEY",
            "is_enterprise_install": "false",
            "response_url": self.standin.response_url(channel=CHANNEL_ID),
            "trigger_id": f"shell.{uuid.uuid4().hex}",
        }
        status, body = await self.dispatch(urlencode(form), "application/x-www-form-urlencoded")
        self.show_ack(status, body)
        await self.fill_pending_views()

    def show_ack(self, status: int, body: str) -> None:
        if status != 200:
            self.say(f"(the app answered HTTP {status}: {body})")
            return
        if not body:
            return
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            self.say(body + "\n")
            return
        if isinstance(payload, dict):
            if payload.get("response_type") == "in_channel":
                self.posted_banner("posted to", CHANNEL_ID)
            else:
                self.banner("only you can see this")
            self.show_message(payload, channel=CHANNEL_ID, ts=None)

    async def click(self, number: int) -> None:
        if not 1 <= number <= len(self.state.buttons):
            shown = len(self.state.buttons)
            self.say(
                f"There is no button ({number})."
                + (f" The buttons on screen are (1) to ({shown})." if shown else "")
            )
            return
        button = self.state.buttons[number - 1]
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "parley-local"},
            "user": {"id": USER_ID, "username": "you", "team_id": TEAM_ID},
            "api_app_id": "A0PARLEY",
            "trigger_id": f"shell.{uuid.uuid4().hex}",
            "channel": {"id": button.channel, "name": CHANNEL_NAME},
            "container": {
                "type": "message",
                "channel_id": button.channel,
                "message_ts": button.message_ts or "0",
                "is_ephemeral": True,
            },
            "response_url": self.standin.response_url(channel=button.channel),
            "actions": [
                {
                    "action_id": button.action_id,
                    "block_id": button.block_id,
                    "value": button.value,
                    "type": "button",
                    "text": {"type": "plain_text", "text": button.label},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        status, body = await self.dispatch(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )
        if status != 200:
            self.say(f"(the app answered HTTP {status}: {body})")
        await self.fill_pending_views()

    # ---- modals as prompts -------------------------------------------------------------------

    async def fill_pending_views(self) -> None:
        while self.state.pending_views:
            view = self.state.pending_views.pop(0)
            await self.fill_view(view)

    async def fill_view(self, view: dict[str, Any]) -> None:
        title = str((view.get("title") or {}).get("text") or "Form")
        self.say(f"── {title} ── (press Enter to keep a [default]; type /cancel to give up)")
        for block in view.get("blocks") or []:
            if block.get("type") == "context":
                self.show(self.renderer.block(block))
        inputs = [b for b in view.get("blocks") or [] if b.get("type") == "input"]
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        ask = inputs
        while True:
            for block in ask:
                try:
                    block_id = str(block.get("block_id"))
                    answer = await self.prompt_input(
                        block, errors.get(block_id), values.get(block_id)
                    )
                except Interrupted:  # Ctrl-C
                    answer = None
                if answer is None:
                    self.say("Form cancelled; nothing was saved.\n")
                    return
                values[str(block["block_id"])] = answer
            payload = {
                "type": "view_submission",
                "team": {"id": TEAM_ID, "domain": "parley-local"},
                "user": {"id": USER_ID, "username": "you", "team_id": TEAM_ID},
                "api_app_id": "A0PARLEY",
                "trigger_id": f"shell.{uuid.uuid4().hex}",
                "view": {**view, "state": {"values": values}},
            }
            status, body = await self.dispatch(
                urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
            )
            reply = json.loads(body) if body.strip().startswith("{") else {}
            if status == 200 and reply.get("response_action") == "errors":
                errors = {str(k): str(v) for k, v in (reply.get("errors") or {}).items()}
                ask = [b for b in inputs if str(b.get("block_id")) in errors] or inputs
                self.say("The form has errors:")
                continue
            if status != 200:
                self.say(f"(the app answered HTTP {status}: {body})")
            if not self.ended_blank:  # the answer, if any, already ended with one
                self.say()
            return

    async def prompt_input(
        self, block: dict[str, Any], error: str | None, previous: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Asks for one field; `previous` is what was given for it before an error, kept as
        its default (on a terminal the line starts from it, ready to edit)."""
        label = str((block.get("label") or {}).get("text") or block.get("block_id"))
        element = block.get("element") or {}
        hint = (block.get("hint") or {}).get("text")
        optional = " (optional)" if block.get("optional") else ""
        if error:
            self.say(f"  ! {label}: {error}")
        action_id = str(element.get("action_id") or "value")
        kind = element.get("type")
        given = (previous or {}).get(action_id) or {}
        if kind in ("static_select", "multi_static_select"):
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
            self.say(f"{label}{optional}:")
            for i, option in enumerate(options, 1):
                mark = "*" if option in initial else " "
                self.say(f"  {mark}{i}. {option['text']['text']}")
            while True:
                line = await self.read(
                    "  choose ("
                    + ("numbers or names, comma-separated" if multi else "number or name")
                    + "): ",
                    field=True,
                )
                if line is None or line.strip() == "/cancel":
                    return None
                picks = [p.strip() for p in line.split(",") if p.strip()]
                if not picks:
                    chosen = initial
                else:
                    found = [pick_option(options, p) for p in picks]
                    problems = [why for why in found if isinstance(why, str)]
                    if problems or (not multi and len(picks) > 1):
                        self.say("  " + (problems[0] if problems else "Choose one."))
                        continue
                    chosen = [o for o in found if isinstance(o, dict)]
                if multi:
                    return {action_id: {"type": kind, "selected_options": chosen}}
                return {action_id: {"type": kind, "selected_option": chosen[0] if chosen else None}}
        initial_text = element.get("initial_value")
        typed = given.get("value") if given else None
        if hint:
            self.say(f"  ({hint})")
        default = str(typed or initial_text or "")
        if self.interactive and typed:  # the line starts from what was typed, to edit
            line = await self.read(f"{label}{optional}: ", field=True, default=str(typed))
        else:
            shown = f" [{default}]" if default else ""
            line = await self.read(f"{label}{optional}{shown}: ", field=True)
        if line is None or line.strip() == "/cancel":
            return None
        value = line.strip() or default or None
        if element.get("multiline") and value:
            value = value.replace("\\n", "\n")
        return {action_id: {"type": "plain_text_input", "value": value}}

    # ---- time ---------------------------------------------------------------------------------

    async def wait(self, text: str) -> None:
        """Moves the clock on by `text`, stopping at each post that falls due on the way."""
        try:
            (delta,) = parse_offsets(text)
        except (TimeParseError, ValueError):
            self.say(WAIT_USAGE)
            return
        advance = getattr(self.clock, "advance", None)
        if advance is None or delta <= timedelta(0):
            self.say(WAIT_USAGE if advance else "This clock cannot be moved.")
            return
        target = self.clock.now() + delta
        if self.scheduler is not None:  # what the last command made due (an alert) goes first
            await self.scheduler.tick_logged()
        while self.scheduler is not None:
            async with self.db.session() as session:
                due = await planning.next_due_after(
                    session,
                    now=self.clock.now(),
                    default_offsets=self.settings.countdown_offsets,
                )
            if due is None or due > target:
                break
            advance(due - self.clock.now() + timedelta(seconds=1))
            await self.scheduler.tick_logged()
        advance(max(target - self.clock.now(), timedelta(0)))
        if self.scheduler is not None:
            await self.scheduler.tick_logged()
        self.say(f"It is now {format_local(self.clock.now(), self.settings.timezone)}.")

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The console loop. On a terminal, what prints while a prompt is up (a scheduled
        post) goes above the prompt, which is drawn again below it."""
        if not (self.interactive and self.out is sys.stdout):
            await self._run()
            return
        from prompt_toolkit.patch_stdout import patch_stdout

        original = self.out
        with patch_stdout(raw=True):
            self.out = self.console.file = sys.stdout
            try:
                await self._run()
            finally:
                self.out = self.console.file = original

    async def _run(self) -> None:
        self.say(INTRO.format(user=USER_ID))
        while True:
            if self.gone:
                break
            try:
                line = await self.read(PROMPT)
            except Interrupted:
                continue  # Ctrl-C: the line is dropped, a new prompt
            if line is None:  # end of input; Ctrl-D (prompt_toolkit ends its line itself)
                break
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line in ("quit", "exit"):
                break
            if line.isdigit():
                await self.click(int(line))
            elif line.startswith(":wait"):
                await self.wait(line.removeprefix(":wait").strip())
            elif line == ":now":
                self.say(f"It is {format_local(self.clock.now(), self.settings.timezone)}.")
            elif line.startswith("/"):
                await self.command(line)
            else:
                self.say("Type a slash command (e.g. /truce), a button number, or quit.")



