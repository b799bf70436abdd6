"""Lead forms: buttons that open them, and their submissions.

Every submission re-checks the item and the submitter's role (in the service call); input
errors come back inline with `response_action: errors`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.ids import Action, Callback, Field
from bot.runtime import Runtime, runtime_of
from bot.timeleft import format_local
from handlers import forms
from handlers.forms import DESK_WIDE, FormMeta, Submission, read_time
from storage import deadlines, events, rounds, sensitivities, tracks, truces
from storage.access import Actor, require_lead
from storage.errors import InvalidInput
from templates import render

DEFAULT_FIELD = {
    Callback.event_form: Field.headline,
    Callback.deadline_form: Field.headline,
    Callback.truce_form: Field.expiry,
    Callback.round_form: Field.headline,
    Callback.sensitivity_form: Field.name,
}


async def _track_id(session: AsyncSession, handle: str) -> int | None:
    if not handle or handle == DESK_WIDE:
        return None
    found = await tracks.resolve_tracks(session, handle=handle)
    return found[0].id


async def _confirm(client: AsyncWebClient, user_id: str, meta: FormMeta, text: str) -> None:
    """Tells the lead what was saved: ephemerally where the form was opened, else by DM."""
    if meta.channel_id:
        await client.chat_postEphemeral(channel=meta.channel_id, user=user_id, text=text)
    else:
        await client.chat_postMessage(channel=user_id, text=text)


def _actor(runtime: Runtime, body: dict[str, Any]) -> Actor:
    return runtime.actor(str((body.get("user") or {}).get("id") or ""))


# ---- submissions -------------------------------------------------------------------------


async def submit_event(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    runtime = runtime_of(context)
    meta = FormMeta.load(view.get("private_metadata"))
    form = Submission(view)
    actor = _actor(runtime, body)
    now = runtime.now()
    async with runtime.db.session() as session:
        await require_lead(session, actor)
        when_text = form.text(Field.when)
        if when_text:
            when = read_time(
                when_text,
                Field.when,
                now=now,
                default_zone=runtime.settings.timezone,
                date_order=runtime.settings.date_order,
            )
            occurred, zone = when.instant, when.zone
        else:
            occurred, zone = now, runtime.settings.timezone
        chosen = set(form.choices(Field.sensitivities))
        ids = [
            s.id
            for s in await sensitivities.all_sensitivities(session)
            if s.slug in chosen and s.id is not None
        ]
        added = await events.add_event(
            session,
            actor=actor,
            now=now,
            title=form.text(Field.headline),
            occurred_at=occurred,
            zone=zone,
            kind=form.text(Field.kind) or "other",
            summary=form.text(Field.summary),
            source_name=form.text(Field.source),
            source_url=form.text(Field.source_url),
            confidence=form.text(Field.confidence) or "reported",
            visibility=form.text(Field.visibility) or "team",
            track_id=await _track_id(session, form.text(Field.track)),
            sensitivity_ids=ids,
            from_item_id=meta.from_item,
        )
    await ack()
    tags = ", ".join(s.name for s in added.sensitivities)
    await _confirm(
        client,
        actor.id,
        meta,
        render(
            "event_added",
            title=added.event.title,
            ref=added.event.id,
            when=format_local(added.event.occurred_at, added.event.zone),
            tags=tags,
        ),
    )


async def submit_deadline(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    runtime = runtime_of(context)
    meta = FormMeta.load(view.get("private_metadata"))
    form = Submission(view)
    actor = _actor(runtime, body)
    now = runtime.now()
    async with runtime.db.session() as session:
        await require_lead(session, actor)
        when = read_time(
            form.text(Field.due),
            Field.due,
            now=now,
            default_zone=runtime.settings.timezone,
            date_order=runtime.settings.date_order,
        )
        if meta.item_id is None:
            forms.require_future(when, Field.due, now=now, rule=forms.NEW_DEADLINE_RULE)
        offsets = form.text(Field.offsets)  # checked by storage, shown inline if wrong
        fields: dict[str, Any] = dict(
            title=form.text(Field.headline),
            due_at=when.instant,
            zone=when.zone,
            kind=form.text(Field.kind) or "other",
            offsets=offsets,
            visibility=form.text(Field.visibility) or "team",
        )
        if meta.item_id is None:
            saved = await deadlines.add_deadline(
                session,
                actor=actor,
                now=now,
                track_id=await _track_id(session, form.text(Field.track)),
                **fields,
            )
            verb = "added"
        else:
            saved = await deadlines.update_deadline(
                session, actor=actor, now=now, deadline_id=meta.item_id, **fields
            )
            verb = "updated"
    await ack()
    await _confirm(
        client,
        actor.id,
        meta,
        render(
            "deadline_saved",
            verb=verb,
            title=saved.title,
            ref=saved.id,
            due=format_local(saved.due_at, saved.zone),
        ),
    )


async def submit_truce(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    runtime = runtime_of(context)
    meta = FormMeta.load(view.get("private_metadata"))
    form = Submission(view)
    actor = _actor(runtime, body)
    now = runtime.now()
    if meta.item_id is None:
        raise InvalidInput("This form names no truce; open it again from /truce.")
    async with runtime.db.session() as session:
        await require_lead(session, actor)
        current = await truces.view_of(session, await truces.get_truce(session, meta.item_id))
        terms = forms.read_terms(form)
        expiry = current.expiry
        expiry_text = form.text(Field.expiry)
        when = None
        if expiry_text:
            when = read_time(
                expiry_text,
                Field.expiry,
                now=now,
                default_zone=runtime.settings.timezone,
                date_order=runtime.settings.date_order,
                base=expiry.due_at if expiry else None,
                base_zone=expiry.zone if expiry else None,
            )
            forms.require_future(when, Field.expiry, now=now, rule=forms.EXTENSION_RULE)
            if expiry is not None:  # refuse before anything is written
                truces.check_new_expiry(expiry, when.instant, now=now)
        saved, changed = await truces.edit_truce(
            session,
            actor=actor,
            now=now,
            truce_id=meta.item_id,
            terms=terms,
            new_expiry=when.instant if when else None,
            zone=when.zone if when else None,
            source=form.text(Field.source),
            note=form.text(Field.note),
        )
        changes = []
        if "terms" in changed:
            changes.append("terms updated")
        if "expiry" in changed and saved.expiry is not None:
            changes.append("now expires " + format_local(saved.expiry.due_at, saved.expiry.zone))
    await ack()
    await _confirm(
        client,
        actor.id,
        meta,
        render("truce_saved", title=current.truce.title, changes="; ".join(changes)),
    )


async def submit_round(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    runtime = runtime_of(context)
    meta = FormMeta.load(view.get("private_metadata"))
    form = Submission(view)
    actor = _actor(runtime, body)
    now = runtime.now()
    zone = runtime.settings.timezone
    async with runtime.db.session() as session:
        await require_lead(session, actor)
        order = runtime.settings.date_order
        starts = read_time(
            form.text(Field.starts), Field.starts, now=now, default_zone=zone, date_order=order
        )
        ends_text = form.text(Field.ends)
        ends = (
            read_time(ends_text, Field.ends, now=now, default_zone=starts.zone, date_order=order)
            if ends_text
            else None
        )
        fields: dict[str, Any] = dict(
            title=form.text(Field.headline),
            place=form.text(Field.place),
            starts_at=starts.instant,
            ends_at=ends.instant if ends else None,
            zone=starts.zone,
            status=form.text(Field.status) or "scheduled",
            outcome=form.text(Field.outcome),
            delegations=forms.read_delegations(form),
        )
        if meta.item_id is None:
            saved = await rounds.add_round(
                session,
                actor=actor,
                now=now,
                track_id=await _track_id(session, form.text(Field.track)),
                **fields,
            )
            verb = "added"
        else:
            saved = await rounds.update_round(
                session, actor=actor, now=now, round_id=meta.item_id, **fields
            )
            verb = "updated"
    await ack()
    await _confirm(
        client,
        actor.id,
        meta,
        render(
            "round_saved",
            verb=verb,
            title=saved.title,
            ref=saved.id,
            when=format_local(saved.starts_at, saved.zone)
            + (f" – {format_local(saved.ends_at, saved.zone)}" if saved.ends_at else ""),
        ),
    )


async def submit_sensitivity(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    runtime = runtime_of(context)
    meta = FormMeta.load(view.get("private_metadata"))
    form = Submission(view)
    actor = _actor(runtime, body)
    now = runtime.now()
    async with runtime.db.session() as session:
        fields: dict[str, Any] = dict(
            name=form.text(Field.name),
            level=form.text(Field.level) or "medium",
            description=form.text(Field.description),
            keywords=sensitivities.parse_keywords(form.text(Field.keywords)),
            visibility=form.text(Field.visibility) or "team",
        )
        if meta.item_id is None:
            saved = await sensitivities.add_sensitivity(session, actor=actor, now=now, **fields)
            verb = "added"
        else:
            saved = await sensitivities.update_sensitivity(
                session, actor=actor, now=now, sensitivity_id=meta.item_id, **fields
            )
            verb = "updated"
    await ack()
    await _confirm(
        client,
        actor.id,
        meta,
        render("sensitivity_saved", verb=verb, name=saved.name, level=saved.level),
    )


# ---- buttons -----------------------------------------------------------------------------


def _button_value(body: dict[str, Any]) -> int | None:
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value") or "")
    return int(value) if value.isdigit() else None


def _channel(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or "")


FormBuilder = Callable[[AsyncSession, str, int | None], Awaitable[View]]


async def _truce_form(session: AsyncSession, channel_id: str, item_id: int | None) -> View:
    if item_id is None:  # App Home's button: the one truce that can be extended
        item_id = (await truces.extendable_truce(session, track_ids=None)).id
    assert item_id is not None
    return await forms.truce_form(session, channel_id=channel_id, truce_id=item_id)


#: The buttons that open a form, and how each builds it (item id: the button's value).
FORM_BUTTONS: dict[Action, FormBuilder] = {
    Action.open_event_form: lambda s, c, _: forms.event_form(s, channel_id=c, track=None),
    Action.open_deadline_form: lambda s, c, _: forms.deadline_form(
        s, channel_id=c, deadline_id=None, track=None
    ),
    Action.edit_deadline: lambda s, c, i: forms.deadline_form(
        s, channel_id=c, deadline_id=i, track=None
    ),
    Action.open_truce_form: _truce_form,
    Action.open_round_form: lambda s, c, _: forms.round_form(
        s, channel_id=c, round_id=None, track=None
    ),
    Action.edit_round: lambda s, c, i: forms.round_form(s, channel_id=c, round_id=i, track=None),
    Action.open_sensitivity_form: lambda s, c, _: forms.sensitivity_form(
        s, channel_id=c, sensitivity_id=None
    ),
    Action.edit_sensitivity: lambda s, c, i: forms.sensitivity_form(
        s, channel_id=c, sensitivity_id=i
    ),
}


def opens_form(build: FormBuilder) -> Callable[..., Awaitable[None]]:
    """The listener of one form button: a lead's click opens the form Bolt routed it to."""

    async def open_form(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        runtime = runtime_of(context)
        async with runtime.db.session() as session:
            await require_lead(session, _actor(runtime, body))
            view = await build(session, _channel(body), _button_value(body))
        await ack()
        await forms.open_view(
            client,
            str(body.get("trigger_id") or ""),
            view,
            response_url=body.get("response_url"),
        )

    return open_form


def register(app: AsyncApp) -> None:
    app.view(Callback.event_form.value)(submit_event)
    app.view(Callback.deadline_form.value)(submit_deadline)
    app.view(Callback.truce_form.value)(submit_truce)
    app.view(Callback.round_form.value)(submit_round)
    app.view(Callback.sensitivity_form.value)(submit_sensitivity)
    for action, build in FORM_BUTTONS.items():
        app.action(action.value)(opens_form(build))
