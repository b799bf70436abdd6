"""The bot's own posts, rendered from the record as it stands when they go out: countdowns,
digests, alerts and notices. None means the post is no longer due (a met, cancelled or
moved deadline; an event since removed from view).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.timeleft import format_local
from handlers.blocks import button, buttons, message, section
from handlers.digest import channel_digest
from handlers.ids import Action
from handlers.present import event_block, in_reader_zone, left_text
from storage import events
from storage.models import (
    Deadline,
    DeadlineStatus,
    Delivery,
    DeliveryKind,
    Subscription,
    Track,
    Truce,
    Visibility,
)
from templates import escape_mrkdwn, render


async def countdown_message(
    session: AsyncSession, delivery: Delivery, *, now: datetime
) -> dict[str, Any] | None:
    payload = delivery.payload or {}
    deadline = await session.get(Deadline, payload.get("deadline_id"))
    if (
        deadline is None
        or deadline.status != DeadlineStatus.open
        or deadline.due_at.isoformat() != payload.get("due_at")
    ):
        return None
    track = await session.get(Track, deadline.track_id) if deadline.track_id else None
    reached = payload.get("offset_seconds") == 0
    text = render(
        "countdown",
        reached=reached,
        title=deadline.title,
        left=left_text(deadline.due_at, now=now, zone=deadline.zone),
        track=track.handle if track else "",
        restricted=deadline.visibility == Visibility.restricted,
        due_local=format_local(deadline.due_at, deadline.zone),
        due_reader=in_reader_zone(deadline.due_at, deadline.zone),
        late=bool(payload.get("late")),
        fired_local=format_local(delivery.due_at, deadline.zone),
    )
    value = str(deadline.id)
    blocks: list[Block] = [
        section(text),
        buttons(
            button("Extend / edit", Action.edit_deadline, value),
            button("Mark met", Action.mark_deadline_met, value),
        ),
    ]
    fallback = f"Deadline reached: {deadline.title}" if reached else f"{deadline.title}: countdown"
    return message(fallback, blocks)


async def alert_message(session: AsyncSession, delivery: Delivery) -> dict[str, Any] | None:
    payload = delivery.payload or {}
    if "event_id" in payload:
        found = await events.event_views(session, [payload["event_id"]])
        if not found:
            return None
        head = render("alert_event", sensitivities=", ".join(payload.get("sensitivities", [])))
        return message(
            f"Alert: {found[0].event.title}", [section(head), event_block(found[0], alerted=True)]
        )
    truce = await session.get(Truce, payload.get("truce_id"))
    expiry = await session.get(Deadline, payload.get("deadline_id"))
    if truce is None or expiry is None:
        return None
    previous = datetime.fromisoformat(payload["previous"])
    moved_to = datetime.fromisoformat(payload["expiry"])
    text = render(
        "alert_expiry",
        title=truce.title,
        previous_local=format_local(previous, expiry.zone),
        expiry_local=format_local(moved_to, expiry.zone),
        expiry_reader=in_reader_zone(moved_to, expiry.zone),
        left=left_text(moved_to, now=delivery.due_at, zone=expiry.zone),
    )
    return message(
        f"Alert: {truce.title} now expires {format_local(moved_to, expiry.zone)}", [section(text)]
    )


async def delivery_message(
    session: AsyncSession, delivery: Delivery, *, now: datetime, default_zone: str
) -> dict[str, Any] | None:
    """The message for one delivery, or None when it is no longer due."""
    if delivery.kind == DeliveryKind.countdown:
        return await countdown_message(session, delivery, now=now)
    if delivery.kind == DeliveryKind.digest:
        payload = delivery.payload or {}
        subscription = await session.get(Subscription, delivery.channel_id)
        active = subscription is not None and subscription.active
        if not (active or payload.get("manual")):
            return None  # unsubscribed since it was planned
        reply = await channel_digest(
            session, now=now, channel_id=delivery.channel_id, default_zone=default_zone
        )
        if subscription is not None and payload.get("late"):
            fell_due = format_local(delivery.due_at, subscription.digest_zone)
            reply["blocks"].insert(
                1,
                section(f"_Late: this digest fell due {escape_mrkdwn(fell_due)}._").to_dict(),
            )
        return reply
    if delivery.kind == DeliveryKind.alert:
        return await alert_message(session, delivery)
    text = str((delivery.payload or {}).get("text", ""))
    return message(text, [section(text)]) if text else None
