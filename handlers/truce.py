"""`/truce`: the active truce(s); `/truce [track] extend <when> [| note]`; `/truce edit`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.answers import Answer
from bot.render.blocks import context_line, header, message, section
from bot.render.ids import Action, Callback, Field
from bot.render.present import in_reader_zone, separated, truce_blocks, truce_heading
from bot.settings import Settings
from bot.timeleft import format_local
from handlers import forms
from handlers.registry import Listeners
from handlers.request import Ask, answer_key, answer_zone, asked
from handlers.submissions import lead_submission, opens_form
from handlers.usage import usage_reply
from storage import alerts, truces
from storage.access import require_lead
from storage.direct import ReadSource
from storage.errors import InvalidInput
from storage.models import TruceStatus
from templates import escape_mrkdwn, render, user_mention

USAGE = "`/truce [track] [public]`, `/truce [track] extend <when> [| note]`, `/truce edit`"
NO_TRUCE = "No active truce is on record{scope}."
COUNTED_FROM_NOW = (
    "“{typed}” was counted from now; `+90d` or `90 days` count from the current expiry."
)


async def handle_truce(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    async with asked(command, context) as (session, ask):
        runtime = ask.runtime
        verb = ask.verb
        if verb == "extend":
            await ack(await extend_from_command(session, ask, client))
            return
        if verb == "edit":
            await require_lead(session, ask.actor)
            view_id = await _only_truce_id(session, ask)
            await ack()
            await forms.open_view(
                client,
                command["trigger_id"],
                await forms.truce_form(session, channel_id=ask.channel_id, truce_id=view_id),
                response_url=command.get("response_url"),
            )
            return
        if verb:
            await ack(usage_reply(context, "/truce", ask.text, USAGE, tracks=ask.unnamed_handles))
            return
        # A `public` answer is read by the whole channel: no one reader's zone in it.
        reader_zone = await answer_zone(ask, client)
        now = runtime.now()
        await ack(
            await runtime.answers.answer(
                answer_key(ask, "/truce", reader_zone),
                now=now,
                make=lambda: list_truces(ask.reads, ask, now=now, reader_zone=reader_zone),
            )
        )


async def list_truces(
    source: ReadSource, ask: Ask, *, now: datetime, reader_zone: str | None
) -> Answer:
    """The active truces in scope; it writes nothing, so it may be shown again (answers)."""
    views = await truces.truce_views(source, track_ids=ask.track_ids)
    if not views:
        scope = f" for {ask.named_track.handle}" if ask.named_track else ""
        text = {"text": NO_TRUCE.format(scope=scope), "response_type": "ephemeral"}
        return Answer(text, made_at=now)
    groups = [truce_blocks(v, now=now, reader_zone=reader_zone, is_lead=ask.is_lead) for v in views]
    payload = message(
        fallback_for(views, now=now),
        [header(truce_heading(views, now=now)), *separated(groups)],
        response_type=ask.response_type(),
    )
    dues = [v.expiry.due_at for v in views if v.expiry]
    return Answer(payload, made_at=now, changes=dues)


def fallback_for(views: list[truces.TruceView], *, now: Any) -> str:
    parts = []
    for view in views:
        expiry = view.expiry
        when = format_local(expiry.due_at, expiry.zone) if expiry else "no expiry"
        verb = "lapsed" if view.status_at(now) == TruceStatus.lapsed else "expires"
        parts.append(f"{view.truce.title}: {verb} {when}")
    return "; ".join(parts)


async def _only_truce_id(session: Any, ask: Ask) -> int:
    truce = await truces.extendable_truce(session, track_ids=ask.track_ids, scope=_on(ask))
    assert truce.id is not None
    return truce.id


def _on(ask: Ask) -> str:
    return f" on {ask.named_track.handle}" if ask.named_track else ""


async def extend_from_command(session: Any, ask: Ask, client: AsyncWebClient) -> dict[str, Any]:
    """`extend <when> [| note]`: relative times count from the current expiry."""
    await require_lead(session, ask.actor)
    rest = ask.text.split(" ", 1)[1] if " " in ask.text else ""
    when_text, _, note = rest.partition("|")
    if not when_text.strip():
        raise InvalidInput(
            "Say when the truce should now expire, e.g. `/truce extend +90d` or "
            "`/truce extend 2025-11-10 00:01 America/New_York | agreed in Stockholm`."
        )
    truce = await truces.extendable_truce(session, track_ids=ask.track_ids, scope=_on(ask))
    assert truce.id is not None
    expiry = await truces.expiry_of(session, truce.id)
    runtime = ask.runtime
    now = runtime.now()
    when = forms.read_time(
        when_text.strip(),
        Field.expiry,
        now=now,
        default_zone=runtime.settings.timezone,
        date_order=runtime.settings.date_order,
        base=expiry.due_at if expiry else now,
        base_zone=expiry.zone if expiry else None,
    )
    forms.require_counted_from_expiry(when, when_text, Field.expiry)
    forms.require_future(when, Field.expiry, now=now, rule=forms.EXTENSION_RULE)
    view = await truces.extend_truce(
        session,
        actor=ask.actor,
        now=now,
        truce_id=truce.id,
        new_expiry=when.instant,
        zone=when.zone,
        note=note.strip(),
    )
    assert view.expiry is not None
    text = render(
        "truce_extended",
        user_mention=user_mention(ask.user_id),
        title=view.truce.title,
        expiry_local=format_local(view.expiry.due_at, view.expiry.zone),
        expiry_reader=in_reader_zone(view.expiry.due_at, None),  # posted in the channel
        note=note.strip(),
    )
    # A channel that follows the truce gets the expiry alert: one post there, not two.
    alerted_here = await alerts.expiry_alerted_in(session, view.expiry, ask.channel_id)
    note_line = "Countdowns are re-planned from the new expiry." + (
        " This channel gets the alert." if alerted_here else ""
    )
    if when.from_now:  # "in 90 days" is not "90 days": say which one was meant
        typed = escape_mrkdwn(when_text.strip())
        note_line = f"{COUNTED_FROM_NOW.format(typed=typed)} {note_line}"
    return message(
        f"{view.truce.title} now expires {format_local(view.expiry.due_at, view.expiry.zone)}",
        [section(text), context_line(note_line)],
        response_type="ephemeral" if alerted_here else "in_channel",
    )


async def _truce_form(
    session: AsyncSession, channel_id: str, item_id: int | None, settings: Settings
) -> View:
    if item_id is None:  # App Home's button: the one truce that can be extended
        item_id = (await truces.extendable_truce(session, track_ids=None)).id
    assert item_id is not None
    return await forms.truce_form(session, channel_id=channel_id, truce_id=item_id)


async def submit_truce(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    async with lead_submission(body, view, context) as sub:
        if sub.meta.item_id is None:
            raise InvalidInput("This form names no truce; open it again from /truce.")
        current = await truces.view_of(
            sub.session, await truces.get_truce(sub.session, sub.meta.item_id)
        )
        expiry = current.expiry
        when = None
        if sub.text(Field.expiry):
            when = sub.time(
                Field.expiry,
                base=expiry.due_at if expiry else None,
                base_zone=expiry.zone if expiry else None,
            )
            forms.require_counted_from_expiry(when, sub.text(Field.expiry), Field.expiry)
            forms.require_future(when, Field.expiry, now=sub.now, rule=forms.EXTENSION_RULE)
            if expiry is not None:  # refuse before anything is written
                truces.check_new_expiry(expiry, when.instant, now=sub.now, zone=when.zone)
        saved, changed = await truces.edit_truce(
            sub.session,
            actor=sub.actor,
            now=sub.now,
            truce_id=sub.meta.item_id,
            terms=forms.read_terms(sub.form),
            new_expiry=when.instant if when else None,
            zone=when.zone if when else None,
            source=sub.text(Field.source),
            note=sub.text(Field.note),
        )
        changes = []
        if "terms" in changed:
            changes.append("terms updated")
        if "expiry" in changed and saved.expiry is not None:
            changes.append("now expires " + format_local(saved.expiry.due_at, saved.expiry.zone))
            if when is not None and when.from_now:
                changes.append(COUNTED_FROM_NOW.format(typed=sub.text(Field.expiry)).rstrip("."))
    await ack()
    await sub.confirm(
        client, render("truce_saved", title=current.truce.title, changes="; ".join(changes))
    )


def register(app: Listeners) -> None:
    app.command("/truce")(handle_truce)
    app.view(Callback.truce_form.value)(submit_truce)
    app.action(Action.open_truce_form.value)(opens_form(_truce_form))
