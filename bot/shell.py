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
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, TextIO

from rich.text import Text
from slack_bolt.async_app import AsyncApp

from bot import slack_requests as slack
from bot.app import build_app, build_client, kept_alive
from bot.clock import Clock
from bot.local_desk import (
    CHANNEL_ID,
    CHANNEL_NAME,
    ESCAPED_COMMANDS,
    PEOPLE,
    USER_ID,
    YOU,
    Person,
    escape_like_slack,
    person_named,
)
from bot.local_slack import LocalSlack, RecordedCall
from bot.runtime import LISTENER_FAILED, REFUSED
from bot.scheduler import METADATA_TYPE, Scheduler, delivery_client
from bot.settings import Settings
from bot.shell_forms import FormPrompts
from bot.shell_input import Interrupted, LineReader, command_tree, default_reader
from bot.slack_body import bolt_request, read_body
from bot.terminal import STYLE_BANNER, Renderer, make_console, wants_colour
from bot.timeleft import format_local
from bot.timeparse import TimeParseError, is_valid_zone, parse_offsets
from storage import planning, sensitivities, tracks
from storage.db import Database

__all__ = ["CHANNEL_ID", "CHANNEL_NAME", "USER_ID", "Shell"]

PROMPT = "parley> "
COMMANDS = ("/truce", "/deadline", "/talks", "/watch", "/desk")
INTRO = (
    "Parley shell — you are @you ({user}, an admin) in #desk. Type /desk help, /truce, /deadline, "
    "/talks, /watch. A number clicks the button with that number; ':wait 7d' moves the "
    "clock on (scheduled posts appear as they fall due); ':now' shows it; ':as @alice' acts "
    "as someone else (':as' lists who is here); 'quit' leaves."
)
AS_USAGE = "Usage: :as @name [command], e.g. :as @alice /truce; ':as' alone lists the people."
WAIT_USAGE = "Usage: :wait <duration>, e.g. :wait 7d, :wait 12h, :wait 30m."
ZONE_USAGE = "Usage: :zone Area/City, e.g. :zone America/New_York or :zone Asia/Shanghai."
CONSOLE_HELP = "\n".join(
    [
        "Type what a desk member types in Slack, or a console command:",
        "  /truce, /deadline, /talks, /watch, /desk   the slash commands (`/desk help` for all)",
        "  <number>        click the button shown with that number, e.g. 3",
        "  :wait <time>    move the clock on, showing each post that falls due: :wait 1d",
        "  :now            the console's time",
        "  :as @name       act as someone else (`:as` lists who is here); :as @bob /truce once",
        "  :home           open the App Home tab (as whoever you act as)",
        "  :zone [zone]    your Slack time zone; :zone Asia/Tokyo changes it (as Slack's",
        "                  user_change event tells the app)",
        "  :help           this list",
        "  quit            leave (or Ctrl-D)",
    ]
)


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
    plain lines when piped). `failures` counts what was unknown or refused (`--strict`)."""

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
            users={p.id: p.name for p in PEOPLE},
            channels={CHANNEL_ID: CHANNEL_NAME},
        )
        self.standin = LocalSlack(
            on_call=self._on_call,
            users={
                p.id: {
                    "id": p.id,
                    "name": p.name,
                    "real_name": p.real_name,
                    "tz": self.settings.timezone,
                    "is_bot": False,
                }
                for p in PEOPLE
            },
        )
        self.app: AsyncApp | None = None
        self.tracks: list[str] = []
        self.gone = False  # stdout was closed
        self.ended_blank = False  # the last line printed was empty
        self.input_ended = False  # end of input (or Ctrl-D) was read
        self.topics: list[str] = []
        self.scheduler: Scheduler | None = None
        self.person: Person = YOU  # who types: `:as @name` changes it
        self.failures = 0  # commands unknown or refused, forms cut short (`--strict`)
        self._kept = AsyncExitStack()  # the app's Web API session, closed by `stop`

    async def start(self, *, tick_every: float | None = 2.0) -> None:
        """Starts the stand-in and the app; the scheduler too, ticking every `tick_every` s
        (None: only on `:wait`), unless PARLEY_SCHEDULER is off."""
        await self.standin.start()
        async with self.db.session() as session:
            self.tracks = [t.handle for t in await tracks.all_tracks(session)]
            self.topics = [t.slug for t in await sensitivities.all_sensitivities(session)]
        settings = replace(self.settings, api_url=self.standin.api_url)
        client = await self._kept.enter_async_context(
            kept_alive(build_client(settings, token="xoxb-parley-shell"))
        )
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
        await self._kept.aclose()
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

    def refuse(self, text: str) -> None:
        """Says why a line was not understood; `--strict` counts it."""
        self.failures += 1
        self.say(text)

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
        """A channel as the banner names it; a direct message by whom it went to."""
        person = next((p for p in PEOPLE if channel in (p.id, "D" + p.id[1:])), None)
        if person is not None and person is not YOU:
            return f"@{person.name} (a direct message)"
        if person is not None or channel.startswith("D"):
            return "you (a direct message)"
        return "#" + self.renderer.channels.get(channel, channel)

    def banner(self, text: str) -> None:
        self.show([Text(f"── {text} ──", STYLE_BANNER)])

    def posted_banner(self, verb: str, channel: str) -> None:
        when = format_local(self.clock.now(), self.settings.timezone)
        self.banner(f"Parley {verb} {self.where(channel)} · {when}")

    def only_banner(self, user_id: str | None) -> None:
        """An ephemeral answer: seen by the one it went to."""
        who = self.renderer.users.get(user_id or self.person.id)
        seen_by = "you" if who in (None, "you") else f"@{who}"
        self.banner(f"only {seen_by} can see this")

    @property
    def interactive(self) -> bool:
        """A person at a terminal (prompt_toolkit), not a pipe."""
        return self.reader.interactive

    @property
    def reader(self) -> LineReader:
        if self._reader is None:
            names = [p.name for p in PEOPLE]
            self._reader = default_reader(
                command_tree(self.tracks, self.topics, people=names), people=names
            )
        return self._reader

    @property
    def prompt(self) -> str:
        return PROMPT if self.person is YOU else f"parley (as @{self.person.name})> "

    async def read(self, prompt: str, *, field: bool = False, default: str = "") -> str | None:
        """A line; None at end of input; Interrupted (Ctrl-C) passes through."""
        if self.gone:
            return None
        self.ended_blank = False  # the prompt's line comes next
        try:
            line = await self.reader.read(prompt, field=field, default=default)
        except BrokenPipeError:  # the echo of a piped line
            self.stdout_closed()
            return None
        if line is None:
            self.input_ended = True
        return line

    @staticmethod
    def json_object(body: str) -> dict[str, Any]:
        """The app's answer as a JSON object; {} when it is not one."""
        if not body.strip().startswith("{"):
            return {}
        try:
            found = json.loads(body)
        except json.JSONDecodeError:
            return {}
        return found if isinstance(found, dict) else {}

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
                self.only_banner(str(args.get("user") or "") or None)
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

        # Slack's client shows each `<!date^…>` in its viewer's zone: the acting person's.
        self.renderer.zone = self.zone_of(self.person)
        self.show(self.renderer.message(payload, button))
        self.say()

    # ---- what the user does ------------------------------------------------------------------

    async def dispatch(self, body: str, content_type: str) -> tuple[int, str, bool]:
        """The app's answer to one request: (HTTP status, body, whether it was refused, as
        its listener marked it in the request's Bolt context)."""
        assert self.app is not None
        document, why = read_body(body.encode("utf-8"), content_type)
        if why:
            return 400, why, True
        request = bolt_request(
            body,
            document,
            {"content-type": [content_type], "x-slack-request-timestamp": [str(int(time.time()))]},
        )
        response = await self.app.async_dispatch(request)
        context = request.context
        refused = bool(context.get(REFUSED) or context.get(LISTENER_FAILED))
        return response.status, response.body, refused or response.status != 200

    async def command(self, line: str) -> None:
        name, _, text = line.strip().partition(" ")
        if name not in COMMANDS:
            self.refuse(f"Unknown command {name!r}. Commands: {', '.join(COMMANDS)}.")
            return
        text = text.strip()
        if name in ESCAPED_COMMANDS:
            text = escape_like_slack(text)
        form = slack.slash_command(
            name,
            text,
            user=self.person.id,
            user_name=self.person.name,
            channel=CHANNEL_ID,
            channel_name=CHANNEL_NAME,
            response_url=self.standin.response_url(channel=CHANNEL_ID),
        )
        status, body, refused = await self.dispatch(slack.form_body(form), slack.FORM)
        self.failures += refused
        self.show_ack(status, body)
        await self.fill_pending_views()

    def show_ack(self, status: int, body: str) -> None:
        if status != 200:
            self.say(f"(the app answered HTTP {status}: {body})")
            return
        if not body:
            return
        payload = self.json_object(body)
        if not payload:
            self.say(body + "\n")
            return
        if payload.get("response_type") == "in_channel":
            self.posted_banner("posted to", CHANNEL_ID)
        else:
            self.only_banner(None)
        self.show_message(payload, channel=CHANNEL_ID, ts=None)

    async def click(self, number: int) -> None:
        if not 1 <= number <= len(self.state.buttons):
            shown = len(self.state.buttons)
            self.refuse(
                f"There is no button ({number})."
                + (f" The buttons on screen are (1) to ({shown})." if shown else "")
            )
            return
        button = self.state.buttons[number - 1]
        payload = slack.block_actions(
            button.action_id,
            button.value,
            user=self.person.id,
            user_name=self.person.name,
            channel=button.channel,
            channel_name=CHANNEL_NAME,
            response_url=self.standin.response_url(channel=button.channel),
            block_id=button.block_id,
            label=button.label,
            message_ts=button.message_ts or "0",
        )
        status, body, refused = await self.dispatch(slack.interaction_body(payload), slack.FORM)
        self.failures += refused
        if status != 200:
            self.say(f"(the app answered HTTP {status}: {body})")
        await self.fill_pending_views()

    # ---- modals as prompts (bot.shell_forms) ---------------------------------------------------

    async def fill_pending_views(self) -> None:
        while self.state.pending_views:
            view = self.state.pending_views.pop(0)
            outcome = await FormPrompts(self, self.submit_view).fill(view)
            self.failures += outcome.cut_short

    async def submit_view(self, view: dict[str, Any], values: dict[str, Any]) -> tuple[int, str]:
        """Sends the form as the person acting submits it: (HTTP status, body)."""
        payload = slack.view_submission(
            view, values, user=self.person.id, user_name=self.person.name
        )
        status, body, _ = await self.dispatch(slack.interaction_body(payload), slack.FORM)
        return status, body

    # ---- people -------------------------------------------------------------------------------

    async def act_as(self, text: str) -> None:
        """`:as @name`: from now on as that person; `:as @name /cmd …`: one command as them;
        `:as` alone: who is here."""
        if not text:
            self.say("People here (':as @name' to act as one; ':as @you' to come back):")
            for p in PEOPLE:
                mark = "*" if p is self.person else " "
                self.say(f"  {mark}@{p.name:<6} {p.real_name}, {p.role}")
            self.say()
            return
        name, _, rest = text.partition(" ")
        person = person_named(name, prefix=True) if name.startswith("@") else None
        if person is None:
            known = ", ".join("@" + p.name for p in PEOPLE)
            self.refuse(f"No one here is called {name!r}: {known}. {AS_USAGE}")
            return
        if not rest.strip():
            self.person = person
            self.say(f"You now act as @{person.name} ({person.real_name}, {person.role}).\n")
            return
        before = self.person
        self.person = person
        try:
            await self.handle(rest.strip())
        finally:
            self.person = before

    def zone_of(self, person: Person) -> str:
        return str(self.standin.users.get(person.id, {}).get("tz") or self.settings.timezone)

    async def set_zone(self, text: str) -> None:
        """`:zone`: the acting person's Slack time zone; `:zone Area/City` sets it and tells
        the app as Slack does, with a `user_change` event."""
        person = self.person
        if not text:
            self.say(f"@{person.name}'s time zone is {self.zone_of(person)}. {ZONE_USAGE}\n")
            return
        if not is_valid_zone(text) or ("/" not in text and text != "UTC"):
            # Slack's profiles hold IANA place names; "EST" would be fixed UTC-5 there,
            # while Parley reads a typed EST as New York's time, DST and all.
            self.refuse(f"{text!r} is not a time zone of a place. {ZONE_USAGE}")
            return
        user = {**self.standin.users.get(person.id, {}), "id": person.id, "tz": text}
        self.standin.users[person.id] = user
        event = slack.event_callback({"type": "user_change", "user": user})
        status, body, refused = await self.dispatch(json.dumps(event), slack.JSON)
        if status != 200 or refused:
            self.refuse(f"(the app answered HTTP {status}: {body})")
            return
        self.say(f"@{person.name}'s time zone is now {text}: answers give their time in it.\n")

    async def open_home(self) -> None:
        """`:home`: the App Home tab as the acting person would see it, buttons numbered."""
        person = self.person
        mark = self.standin.mark()
        event = slack.app_home_opened(person.id)
        status, body, refused = await self.dispatch(json.dumps(event), slack.JSON)
        view = self.standin.home_views.get(person.id)
        published = bool(self.standin.calls_since(mark, "views.publish"))
        if status != 200 or refused or view is None or not published:
            self.refuse(f"(App Home did not open: HTTP {status} {body})".strip())
            return
        self.say(f"── App Home of @{person.name} ──")
        self.show_message({"blocks": view.get("blocks") or []}, channel=CHANNEL_ID, ts=None)
        await self.fill_pending_views()

    # ---- time ---------------------------------------------------------------------------------

    async def wait(self, text: str) -> None:
        """Moves the clock on by `text`, stopping at each post that falls due on the way."""
        try:
            (delta,) = parse_offsets(text)
        except (TimeParseError, ValueError):
            self.refuse(WAIT_USAGE)
            return
        advance = getattr(self.clock, "advance", None)
        if advance is None or delta <= timedelta(0):
            self.refuse(WAIT_USAGE if advance else "This clock cannot be moved.")
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
                line = await self.read(self.prompt)
            except Interrupted:
                continue  # Ctrl-C: the line is dropped, a new prompt
            if line is None:  # end of input; Ctrl-D (prompt_toolkit ends its line itself)
                break
            line = line.strip()
            if line in ("quit", "exit"):
                break
            await self.handle(line)

    async def post_what_is_due(self) -> None:
        """What a command made due at once (an alert) is posted before the next prompt, as
        Slack would show it, not at the timer's next tick (or, piped, the next `:wait`)."""
        if self.scheduler is not None:
            await self.scheduler.tick_logged()

    async def handle(self, line: str) -> None:
        """One line typed at the main prompt."""
        if not line or line.startswith("#"):
            return
        if line.isdigit():
            await self.click(int(line))
            await self.post_what_is_due()
        elif line == ":as" or line.startswith(":as "):
            await self.act_as(line.removeprefix(":as").strip())
        elif line.startswith(":wait"):
            await self.wait(line.removeprefix(":wait").strip())
        elif line == ":home":
            await self.open_home()
        elif line == ":zone" or line.startswith(":zone "):
            await self.set_zone(line.removeprefix(":zone").strip())
        elif line == ":now":
            self.say(f"It is {format_local(self.clock.now(), self.settings.timezone)}.")
        elif line in (":help", "help", ":h", "?"):
            self.say(CONSOLE_HELP)
        elif line.startswith("/"):
            await self.command(line)
            await self.post_what_is_due()
        else:
            self.refuse(
                "Type a slash command (e.g. /truce), a button number, ':as @name', or quit "
                "(:help lists them all)."
            )
