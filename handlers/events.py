"""The timeline's events: the add-event form's button and its submission (the form opens
from `/desk event`, from answers and from App Home)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.ids import Action, Callback, Field
from bot.runtime import runtime_of
from bot.timeleft import format_local
from handlers import forms
from handlers.forms import FormMeta, Submission, read_time
from handlers.submissions import confirm_saved, opens_form, submitter, track_id_of
from storage import events, sensitivities
from storage.access import require_lead
from templates import render


async def _event_form(session: AsyncSession, channel_id: str, _: int | None) -> View:
    return await forms.event_form(session, channel_id=channel_id, track=None)


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
    actor = submitter(runtime, body)
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
            track_id=await track_id_of(session, form.text(Field.track)),
            sensitivity_ids=ids,
        )
    await ack()
    tags = ", ".join(s.name for s in added.sensitivities)
    await confirm_saved(
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


def register(app: AsyncApp) -> None:
    app.view(Callback.event_form.value)(submit_event)
    app.action(Action.open_event_form.value)(opens_form(_event_form))
