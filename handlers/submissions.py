"""What the lead forms share: who submitted, the track chosen, the confirmation, and the
listener of a button that opens a form.

Each surface module (truce, deadline, talks, watch, events) registers its own form buttons
and submissions with these; every submission re-checks the item and the submitter's role
in the service call, and input errors come back inline (`response_action: errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.ids import Field
from bot.runtime import Runtime, runtime_of
from bot.settings import Settings
from bot.timeparse import When
from handlers import forms
from handlers.forms import DESK_WIDE, FormMeta, Submission
from storage import tracks
from storage.access import Actor, require_lead

#: Builds the form a button opens: (session, channel id, item id from the button's value).
#: (session, channel, the item a button names, the settings) -> the form
FormBuilder = Callable[[AsyncSession, str, int | None, Settings], Awaitable[View]]


async def track_id_of(session: AsyncSession, handle: str) -> int | None:
    """The track a form's track field names; desk-wide (or empty) is None."""
    if not handle or handle == DESK_WIDE:
        return None
    found = await tracks.resolve_tracks(session, handle=handle)
    return found[0].id


async def confirm_saved(client: AsyncWebClient, user_id: str, meta: FormMeta, text: str) -> None:
    """Tells the lead what was saved: ephemerally where the form was opened, else by DM."""
    if meta.channel_id:
        await client.chat_postEphemeral(channel=meta.channel_id, user=user_id, text=text)
    else:
        await client.chat_postMessage(channel=user_id, text=text)


def submitter(runtime: Runtime, body: dict[str, Any]) -> Actor:
    """Who clicked or submitted (the payload's user)."""
    return runtime.actor(str((body.get("user") or {}).get("id") or ""))


@dataclass
class LeadSubmission:
    """A form a lead submitted, as every submission listener starts: the submitter checked
    a lead, the form's metadata and values read, one session open for the service call."""

    runtime: Runtime
    session: AsyncSession
    actor: Actor
    meta: FormMeta
    form: Submission
    now: datetime

    def text(self, field: Field) -> str:
        return self.form.text(field)

    def time(
        self,
        field: Field,
        *,
        text: str | None = None,
        default_zone: str | None = None,
        base: datetime | None = None,
        base_zone: str | None = None,
    ) -> When:
        """The time typed at `field` (or `text`) read with the desk's zone and date order;
        unreadable, an error shown at that field."""
        settings = self.runtime.settings
        return forms.read_time(
            self.form.text(field) if text is None else text,
            field,
            now=self.now,
            default_zone=default_zone or settings.timezone,
            date_order=settings.date_order,
            base=base,
            base_zone=base_zone,
        )

    async def track_id(self) -> int | None:
        """The track chosen in the form's track field (None: desk-wide)."""
        return await track_id_of(self.session, self.form.text(Field.track))

    async def confirm(self, client: AsyncWebClient, text: str) -> None:
        await confirm_saved(client, self.actor.id, self.meta, text)


@asynccontextmanager
async def lead_submission(
    body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext
) -> AsyncIterator[LeadSubmission]:
    """Opens a submission for its listener; a member's (however crafted) is refused here."""
    runtime = runtime_of(context)
    actor = submitter(runtime, body)
    async with runtime.db.session() as session:
        await require_lead(session, actor)
        yield LeadSubmission(
            runtime=runtime,
            session=session,
            actor=actor,
            meta=FormMeta.load(view.get("private_metadata")),
            form=Submission(view),
            now=runtime.now(),
        )


def _button_value(body: dict[str, Any]) -> int | None:
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value") or "")
    return int(value) if value.isdigit() else None


def _channel(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or "")


def opens_form(build: FormBuilder) -> Callable[..., Awaitable[None]]:
    """The listener of one form button: a lead's click opens the form Bolt routed it to."""

    async def open_form(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        runtime = runtime_of(context)
        async with runtime.db.session() as session:
            await require_lead(session, submitter(runtime, body))
            view = await build(session, _channel(body), _button_value(body), runtime.settings)
        await ack()
        await forms.open_view(
            client,
            str(body.get("trigger_id") or ""),
            view,
            response_url=body.get("response_url"),
        )

    return open_form
