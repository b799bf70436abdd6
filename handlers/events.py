"""The timeline's events: the add-event form's button and its submission (the form opens
from `/desk event`, from answers and from App Home)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.ids import Action, Callback, Field
from bot.settings import Settings
from bot.timeleft import format_local
from handlers import forms
from handlers.registry import Listeners
from handlers.submissions import lead_submission, opens_form
from storage import events, sensitivities
from templates import render


async def _event_form(
    session: AsyncSession, channel_id: str, _: int | None, settings: Settings
) -> View:
    return await forms.event_form(session, channel_id=channel_id, track=None)


async def submit_event(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    async with lead_submission(body, view, context) as sub:
        if sub.text(Field.when):
            when = sub.time(Field.when)
            occurred, zone = when.instant, when.zone
        else:
            occurred, zone = sub.now, sub.runtime.settings.timezone
        chosen = set(sub.form.choices(Field.sensitivities))
        ids = [
            s.id
            for s in await sensitivities.all_sensitivities(sub.session)
            if s.slug in chosen and s.id is not None
        ]
        added = await events.add_event(
            sub.session,
            actor=sub.actor,
            now=sub.now,
            title=sub.text(Field.headline),
            occurred_at=occurred,
            zone=zone,
            kind=sub.text(Field.kind) or "other",
            summary=sub.text(Field.summary),
            source_name=sub.text(Field.source),
            source_url=sub.text(Field.source_url),
            confidence=sub.text(Field.confidence) or "reported",
            visibility=sub.text(Field.visibility) or "team",
            track_id=await sub.track_id(),
            sensitivity_ids=ids,
            from_item_id=sub.meta.from_item,
        )
    await ack()
    tags = ", ".join(s.name for s in added.sensitivities)
    await sub.confirm(
        client,
        render(
            "event_added",
            title=added.event.title,
            ref=added.event.id,
            when=format_local(added.event.occurred_at, added.event.zone),
            tags=tags,
        ),
    )


def register(app: Listeners) -> None:
    app.view(Callback.event_form.value)(submit_event)
    app.action(Action.open_event_form.value)(opens_form(_event_form))
