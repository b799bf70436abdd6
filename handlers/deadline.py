"""`/deadline`: upcoming deadlines; `add <title> | <when>`, `new`, `edit`, `met`, `cancel`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.timeleft import format_local
from bot.timeparse import TimeParseError, parse_when
from handlers import forms
from handlers.answers import Answer, answer_key, fresh_until
from handlers.blocks import button, buttons, context_line, header, message, section
from handlers.ids import Action
from handlers.present import deadline_block, in_reader_zone, left_text
from handlers.request import Ask, read_command
from handlers.runtime import runtime_of
from handlers.usage import usage_reply
from storage import deadlines
from storage.access import require_lead
from storage.errors import InvalidInput
from storage.models import DeadlineStatus
from templates import escape_mrkdwn, render

USAGE = (
    "`/deadline [track] [public]`, `/deadline [track] add <title> | <when>`, `/deadline new`, "
    "`/deadline edit <#>`, `/deadline met <#>`, `/deadline cancel <#>`"
)
ADD_USAGE = (
    "Write `/deadline add <title> | <when>`, e.g. `/deadline add Tariff review | "
    "2025-08-12 00:01 America/New_York` or `/deadline add Tariff review | in 3 days`."
)
NONE_AHEAD = "No upcoming deadlines are on record{scope}."
STATUS_VERBS = {
    "met": DeadlineStatus.met,
    "cancel": DeadlineStatus.cancelled,
    "missed": DeadlineStatus.missed,
}


async def handle_deadline(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    runtime = runtime_of(context)
    async with runtime.db.session() as session:
        ask = await read_command(session, runtime, command)
        verb = ask.words[0].lower() if ask.words else ""
        if verb == "add":
            await ack(await add_from_command(session, ask, client))
        elif verb in ("new", "edit"):
            await require_lead(session, ask.actor)
            deadline_id = _number(ask.words[1:]) if verb == "edit" else None
            if deadline_id is not None:
                await deadlines.get_deadline(session, deadline_id)
            elif verb == "edit":
                raise InvalidInput(
                    "Name the deadline by the number `/deadline` shows beside it: "
                    "`/deadline edit <#>`."
                )
            await ack()
            view = await forms.deadline_form(
                session,
                channel_id=ask.channel_id,
                deadline_id=deadline_id,
                track=ask.named_track.handle if ask.named_track else None,
            )
            await forms.open_view(
                client, command["trigger_id"], view, response_url=command.get("response_url")
            )
        elif verb in STATUS_VERBS:
            deadline_id = _number(ask.words[1:])
            if deadline_id is None:
                raise InvalidInput(
                    "Name the deadline by the number `/deadline` shows beside it: "
                    f"`/deadline {verb} <#>`."
                )
            deadline = await deadlines.update_deadline(
                session,
                actor=ask.actor,
                now=runtime.now(),
                deadline_id=deadline_id,
                status=STATUS_VERBS[verb],
                action=f"mark_{STATUS_VERBS[verb]}",
            )
            await ack(
                text=escape_mrkdwn(
                    f"Deadline #{deadline.id} “{deadline.title}” is now {deadline.status}."
                ),
                response_type="ephemeral",
            )
        elif verb:
            await ack(usage_reply("/deadline", ask.text, USAGE))
        else:
            await ack(await list_deadlines(session, ask, client))


def _number(words: list[str]) -> int | None:
    if not words:
        return None
    word = words[0].lstrip("#")
    if not word.isdigit():
        raise InvalidInput(f"{words[0]!r} is not a deadline number; `/deadline` lists them.")
    return int(word)


async def list_deadlines(session: AsyncSession, ask: Ask, client: AsyncWebClient) -> dict[str, Any]:
    runtime = ask.runtime
    now = runtime.now()
    reader_zone = await runtime.reader_zone(client, ask.user_id)
    return await runtime.answers.answer(
        answer_key(ask, "/deadline", reader_zone),
        now=now,
        make=lambda: _upcoming_answer(session, ask, now=now, reader_zone=reader_zone),
    )


async def _upcoming_answer(
    session: AsyncSession, ask: Ask, *, now: datetime, reader_zone: str
) -> Answer:
    """The upcoming deadlines in scope; it writes nothing, so it may be shown again."""
    upcoming = await deadlines.upcoming_deadlines(
        session, now=now, track_ids=ask.track_ids, include_restricted=ask.sees_restricted
    )
    if not upcoming:
        scope = f" for {ask.named_track.handle}" if ask.named_track else ""
        text = {"response_type": "ephemeral", "text": NONE_AHEAD.format(scope=scope)}
        return Answer(text, made_at=now, fresh_until=fresh_until(now, []))
    by_id = {t.id: t for t in ask.known_tracks if t.id is not None}
    blocks: list[Block] = [header(f"Upcoming deadlines ({len(upcoming)})")]
    blocks += [
        deadline_block(d, tracks=by_id, now=now, reader_zone=reader_zone, is_lead=ask.is_lead)
        for d in upcoming
    ]
    if ask.is_lead and not ask.public:
        blocks.append(buttons(button("Add deadline", Action.open_deadline_form, primary=True)))
    fallback = "; ".join(
        f"{d.title}: {format_local(d.due_at, d.zone)} ({left_text(d.due_at, now=now, zone=d.zone)})"
        for d in upcoming[:10]
    )
    payload = message(fallback, blocks, response_type=ask.response_type())
    return Answer(payload, made_at=now, fresh_until=fresh_until(now, [d.due_at for d in upcoming]))


async def add_from_command(
    session: AsyncSession, ask: Ask, client: AsyncWebClient
) -> dict[str, Any]:
    """`add <title> | <when>`: the time is after the last `|`, so a title may contain one."""
    await require_lead(session, ask.actor)
    rest = ask.text.split(" ", 1)[1] if " " in ask.text else ""
    title, bar, when_text = rest.rpartition("|")
    if not bar or not title.strip() or not when_text.strip():
        raise InvalidInput(ADD_USAGE)
    runtime = ask.runtime
    now = runtime.now()
    try:
        when = parse_when(when_text.strip(), now=now, default_zone=runtime.settings.timezone)
    except TimeParseError as exc:
        raise InvalidInput(str(exc)) from None
    deadline = await deadlines.add_deadline(
        session,
        actor=ask.actor,
        now=now,
        title=title.strip(),
        due_at=when.instant,
        zone=when.zone,
        track_id=ask.named_track.id if ask.named_track else None,
    )
    reader_zone = await runtime.reader_zone(client, ask.user_id)
    text = render(
        "deadline_added",
        title=deadline.title,
        ref=deadline.id,
        due_local=format_local(deadline.due_at, deadline.zone),
        due_reader=in_reader_zone(deadline.due_at, reader_zone),
        left=left_text(deadline.due_at, now=now, zone=deadline.zone),
    )
    return message(
        f"Deadline added: {deadline.title}",
        [section(text), context_line("Countdowns follow in subscribed channels.")],
        response_type="ephemeral",
    )


def register(app: AsyncApp) -> None:
    app.command("/deadline")(handle_deadline)
