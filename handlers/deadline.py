"""`/deadline`: upcoming deadlines; `add <title> | <when>`, `new`, `edit`, `met`, `cancel`."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.answers import Answer
from bot.render.blocks import (
    MESSAGE_BLOCKS,
    Later,
    beyond_the_limit,
    button,
    buttons,
    context_line,
    header,
    message,
    section,
)
from bot.render.ids import Action, Callback, Field
from bot.render.present import deadline_block, in_reader_zone, item_button, left_text
from bot.runtime import Runtime, runtime_of
from bot.settings import Settings
from bot.timeleft import describe_time_left, format_local, time_left
from handlers import forms
from handlers.registry import Listeners
from handlers.request import Ask, answer_key, answer_zone, asked
from handlers.submissions import lead_submission, opens_form
from handlers.usage import usage_reply
from storage import deadlines, truces
from storage.access import Actor, require_lead
from storage.direct import ReadSource
from storage.errors import InvalidInput
from storage.models import Deadline, DeadlineKind, DeadlineStatus
from templates import render

USAGE = (
    "`/deadline [track] [public]`, `/deadline [track] add <title> | <when>`, `/deadline new`, "
    "`/deadline edit <#>`, `/deadline met|missed|cancel <#>`, `/deadline reopen <#>`"
)
ADD_USAGE = (
    "Write `/deadline add <title> | <when>`, e.g. `/deadline add Tariff review | "
    "2025-08-12 00:01 America/New_York` or `/deadline add Tariff review | in 3 days`."
)
MORE_HINT = "`/deadline <track>` lists one track's, `/desk search kind:deadline <words>` finds any"
NONE_AHEAD = "No upcoming deadlines are on record{scope}."
RECENTLY_PASSED_NOTE = (
    "Due in the last 7 days, outcome not marked yet: `/deadline met N`, `missed N` or "
    "`cancel N`, with the number shown."
)
STATUS_VERBS = {
    "met": DeadlineStatus.met,
    "cancel": DeadlineStatus.cancelled,
    "missed": DeadlineStatus.missed,
    "reopen": DeadlineStatus.open,
}


async def handle_deadline(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    async with asked(command, context) as (session, ask):
        runtime = ask.runtime
        verb = ask.verb
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
                default_offsets=runtime.settings.countdown_offsets,
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
            await ack(
                await outcome_reply(
                    session, runtime, ask.actor, deadline_id, STATUS_VERBS[verb], confirmed=False
                )
            )
        elif verb:
            await ack(
                usage_reply(context, "/deadline", ask.text, USAGE, tracks=ask.unnamed_handles)
            )
        else:
            await ack(await list_deadlines(ask, client))


def _number(words: list[str]) -> int | None:
    if not words:
        return None
    word = words[0].lstrip("#")
    if not word.isdigit():
        raise InvalidInput(f"{words[0]!r} is not a deadline number; `/deadline` lists them.")
    return int(word)


async def list_deadlines(ask: Ask, client: AsyncWebClient) -> dict[str, Any]:
    runtime = ask.runtime
    now = runtime.now()
    # A `public` answer is read by the whole channel: no one reader's zone in it.
    reader_zone = await answer_zone(ask, client)
    return await runtime.answers.answer(
        answer_key(ask, "/deadline", reader_zone),
        now=now,
        make=lambda: _upcoming_answer(ask.reads, ask, now=now, reader_zone=reader_zone),
    )


def _for(ask: Ask) -> str:
    """ " for us-eu and the whole desk": a track's listing holds the desk-wide ones too."""
    return f" for {ask.named_track.handle} and the whole desk" if ask.named_track else ""


async def _upcoming_answer(
    source: ReadSource, ask: Ask, *, now: datetime, reader_zone: str | None
) -> Answer:
    """The upcoming deadlines in scope, soonest first, then those passed in the last 7 days
    whose outcome no lead has marked; it writes nothing, so it may be shown again."""
    # No message shows more than MESSAGE_BLOCKS: read no more, and count the rest.
    upcoming, passed = await deadlines.upcoming_and_recently_passed(
        source,
        now=now,
        track_ids=ask.track_ids,
        include_restricted=ask.sees_restricted,
        limit=MESSAGE_BLOCKS,
    )
    total = len(upcoming)
    if total == MESSAGE_BLOCKS:
        total = await deadlines.count_upcoming(
            source, now=now, track_ids=ask.track_ids, include_restricted=ask.sees_restricted
        )
    # A truce's expiry passed open is its truce's lapse (`/truce`): no outcome to mark.
    passed = [d for d in passed if d.truce_id is None]
    if not upcoming and not passed:
        scope = f" for {ask.named_track.handle}" if ask.named_track else ""
        said = NONE_AHEAD.format(scope=scope)
        if ask.public and ask.is_lead and not ask.sees_restricted:
            hidden = await deadlines.count_upcoming(
                source, now=now, track_ids=ask.track_ids, include_restricted=True
            )
            if hidden:  # a lead would read "none" of what she sees without `public`
                said = render("nothing_public", count=hidden, noun="upcoming deadline")
        text = {"response_type": "ephemeral", "text": said}
        return Answer(text, made_at=now)
    by_id = {t.id: t for t in ask.known_tracks if t.id is not None}

    def listed(items: list[Deadline]) -> list[Block | Later]:
        return [
            Later(
                partial(
                    deadline_block,
                    d,
                    tracks=by_id,
                    now=now,
                    reader_zone=reader_zone,
                    is_lead=ask.is_lead,
                    name_desk_wide=ask.named_track is not None,
                )
            )
            for d in items
        ]

    blocks: list[Block | Later] = []
    if upcoming:
        blocks += [
            header(f"Upcoming deadlines{_for(ask)} ({total})"),
            *listed(upcoming),
            *beyond_the_limit(total - len(upcoming)),
        ]
    else:
        blocks.append(section(NONE_AHEAD.format(scope="")))
    if passed:
        blocks += [
            header(f"Recently passed ({len(passed)})"),
            context_line(RECENTLY_PASSED_NOTE),
            *listed(passed),
        ]
    if ask.is_lead and not ask.public:
        blocks.append(buttons(button("Add deadline", Action.open_deadline_form, primary=True)))
    fallback = "; ".join(
        f"{d.title}: {format_local(d.due_at, d.zone)} ({left_text(d.due_at, now=now, zone=d.zone)})"
        for d in (upcoming + passed)[:10]
    )
    payload = message(
        fallback,
        blocks,
        noun="deadlines",
        hint=MORE_HINT,
        response_type=ask.response_type(),
    )
    changes = [d.due_at for d in upcoming] + [d.due_at + deadlines.RECENTLY for d in passed]
    return Answer(payload, made_at=now, changes=changes)


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
    when = forms.read_time(
        when_text.strip(),
        Field.due,
        now=now,
        default_zone=runtime.settings.timezone,
        date_order=runtime.settings.date_order,
    )
    forms.require_future(when, Field.due, now=now, rule=forms.NEW_DEADLINE_RULE)
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


async def outcome_reply(
    session: AsyncSession,
    runtime: Runtime,
    actor: Actor,
    deadline_id: int,
    status: str,
    *,
    confirmed: bool,
) -> dict[str, Any]:
    """Marks or reopens a deadline and says so, with a Reopen button once it is closed.

    A truce's expiry is marked met only once confirmed (a button): met, its countdowns stop
    and the truce no longer lapses at it.
    """
    await require_lead(session, actor)
    deadline = await deadlines.get_deadline(session, deadline_id)
    if status != DeadlineStatus.open:  # refused at once, not after a confirmation
        await deadlines.check_outcome(session, deadline, status, now=runtime.now())
    needs_confirming = (
        status == DeadlineStatus.met
        and deadline.kind == DeadlineKind.truce_expiry
        and deadline.status == DeadlineStatus.open
        and not confirmed
    )
    if needs_confirming:
        text = render("confirm_expiry_met", title=deadline.title, ref=deadline.id)
        return message(
            f"Mark the truce expiry #{deadline.id} {deadline.title} met?",
            [
                section(text),
                buttons(
                    item_button(
                        "mark_met", deadline.title, Action.confirm_deadline_met, deadline.id
                    )
                ),
            ],
            response_type="ephemeral",
        )
    deadline = await deadlines.set_outcome(
        session, actor=actor, now=runtime.now(), deadline_id=deadline_id, status=status
    )
    now = runtime.now()
    # Reopened long after its due time, it would be open yet listed nowhere: say so.
    long_past = (
        deadline.status == DeadlineStatus.open and deadline.due_at <= now - deadlines.RECENTLY
    )
    text = render(
        "deadline_outcome",
        ref=deadline.id,
        title=deadline.title,
        status=deadline.status,
        due=format_local(deadline.due_at, deadline.zone),
        long_past=describe_time_left(time_left(deadline.due_at, now=now, zone=deadline.zone))
        if long_past
        else "",
    )
    blocks: list[Block] = [section(text)]
    if deadline.status != DeadlineStatus.open:
        blocks.append(
            buttons(item_button("reopen", deadline.title, Action.reopen_deadline, deadline.id))
        )
    fallback = f"Deadline #{deadline.id} “{deadline.title}” is now {deadline.status}."
    return message(fallback, blocks, response_type="ephemeral")


def _button_deadline(body: dict[str, Any]) -> int:
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value") or "")
    if not value.isdigit():
        raise InvalidInput("This button names no deadline.")
    return int(value)


async def _outcome_from_button(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
    status: str,
    *,
    confirmed: bool,
) -> None:
    runtime = runtime_of(context)
    actor = runtime.actor(str((body.get("user") or {}).get("id") or ""))
    async with runtime.db.session() as session:
        reply = await outcome_reply(
            session, runtime, actor, _button_deadline(body), status, confirmed=confirmed
        )
    await ack()  # after the checks: a refusal is the error handler's reply, as for forms
    await respond(**reply, replace_original=False)


async def mark_met_from_button(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """*Mark met* on a countdown post; a truce's expiry asks for confirmation first."""
    await _outcome_from_button(ack, body, respond, context, DeadlineStatus.met, confirmed=False)


async def confirm_met_from_button(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await _outcome_from_button(ack, body, respond, context, DeadlineStatus.met, confirmed=True)


async def reopen_from_button(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await _outcome_from_button(ack, body, respond, context, DeadlineStatus.open, confirmed=True)


async def _new_deadline_form(
    session: AsyncSession, channel_id: str, _: int | None, settings: Settings
) -> View:
    return await _deadline_form(session, channel_id, None, settings)


async def _deadline_form(
    session: AsyncSession, channel_id: str, item_id: int | None, settings: Settings
) -> View:
    return await forms.deadline_form(
        session,
        channel_id=channel_id,
        deadline_id=item_id,
        track=None,
        default_offsets=settings.countdown_offsets,
    )


async def submit_deadline(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    truce: str | None = None  # the truce whose expiry this edit moved
    async with lead_submission(body, view, context) as sub:
        when = sub.time(Field.due)
        if sub.meta.item_id is None:
            forms.require_future(when, Field.due, now=sub.now, rule=forms.NEW_DEADLINE_RULE)
        fields: dict[str, Any] = dict(
            title=sub.text(Field.headline),
            due_at=when.instant,
            zone=when.zone,
            kind=sub.text(Field.kind) or "other",
            offsets=sub.text(Field.offsets),  # checked by storage, shown inline if wrong
            visibility=sub.text(Field.visibility) or "team",
        )
        if sub.meta.item_id is None:
            saved = await deadlines.add_deadline(
                sub.session, actor=sub.actor, now=sub.now, track_id=await sub.track_id(), **fields
            )
            verb = "added"
        else:
            previous = (await deadlines.get_deadline(sub.session, sub.meta.item_id)).due_at
            saved = await deadlines.update_deadline(
                sub.session,
                actor=sub.actor,
                now=sub.now,
                deadline_id=sub.meta.item_id,
                track_id=await sub.track_id(),
                **fields,
            )
            verb = "updated"
            if saved.truce_id is not None and saved.due_at != previous:
                truce = (await truces.get_truce(sub.session, saved.truce_id)).title
    await ack()
    await sub.confirm(
        client,
        render(
            "deadline_saved",
            verb=verb,
            title=saved.title,
            ref=saved.id,
            due=format_local(saved.due_at, saved.zone),
            moved_expiry_of=truce,
        ),
    )


def register(app: Listeners) -> None:
    app.command("/deadline")(handle_deadline)
    app.action(Action.mark_deadline_met.value)(mark_met_from_button)
    app.action(Action.confirm_deadline_met.value)(confirm_met_from_button)
    app.action(Action.reopen_deadline.value)(reopen_from_button)
    app.view(Callback.deadline_form.value)(submit_deadline)
    app.action(Action.open_deadline_form.value)(opens_form(_new_deadline_form))
    app.action(Action.edit_deadline.value)(opens_form(_deadline_form))
