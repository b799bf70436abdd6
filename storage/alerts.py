"""Alerts: a critical event or a moved truce expiry, queued in the same transaction as the
change itself, one delivery per subscribed channel that follows it (visibility respected).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.models import (
    Deadline,
    DeliveryKind,
    Event,
    Level,
    Sensitivity,
    Subscription,
    Track,
    Truce,
    Visibility,
)
from storage.outbox import PlannedDelivery
from storage.planning import follows


async def _channels(session: AsyncSession, track_id: int | None, *, restricted: bool) -> list[str]:
    track = await session.get(Track, track_id) if track_id is not None else None
    subscriptions = (await session.exec(select(Subscription).where(col(Subscription.active)))).all()
    return [s.channel_id for s in subscriptions if follows(s, track, restricted=restricted)]


async def expiry_alerted_in(session: AsyncSession, expiry: Deadline, channel_id: str) -> bool:
    """Whether a change of this truce expiry is alerted in `channel_id` (it follows it)."""
    restricted = expiry.visibility == Visibility.restricted
    return channel_id in await _channels(session, expiry.track_id, restricted=restricted)


async def queue_event_alerts(
    session: AsyncSession, event: Event, tagged: Sequence[Sensitivity], *, now: datetime
) -> None:
    critical = [s for s in tagged if s.level == Level.critical]
    if not critical:
        return
    restricted = event.visibility == Visibility.restricted or any(
        s.visibility == Visibility.restricted for s in critical
    )
    outbox.queue(
        session,
        [
            PlannedDelivery(
                key=f"alert:event:{event.id}:{channel}",
                kind=DeliveryKind.alert,
                channel_id=channel,
                due_at=now,
                payload={"event_id": event.id, "sensitivities": [s.name for s in critical]},
            )
            for channel in await _channels(session, event.track_id, restricted=restricted)
        ],
        now=now,
    )


async def queue_expiry_alerts(
    session: AsyncSession,
    expiry: Deadline,
    *,
    previous: datetime,
    now: datetime,
    previous_zone: str | None = None,
) -> None:
    """`expiry` is a truce's expiry deadline whose due time just moved from `previous` (set
    in `previous_zone`, when the move changed the zone too)."""
    if expiry.truce_id is None or expiry.due_at == previous:
        return
    restricted = expiry.visibility == Visibility.restricted
    outbox.queue(
        session,
        [
            PlannedDelivery(
                key=(
                    f"alert:expiry:{expiry.truce_id}:{expiry.due_at:%Y%m%dT%H%M%SZ}:"
                    f"{now:%Y%m%dT%H%M%S%fZ}:{channel}"
                ),
                kind=DeliveryKind.alert,
                channel_id=channel,
                due_at=now,
                payload={
                    "truce_id": expiry.truce_id,
                    "deadline_id": expiry.id,
                    "previous": previous.isoformat(),
                    "previous_zone": previous_zone or expiry.zone,
                    "expiry": expiry.due_at.isoformat(),
                },
            )
            for channel in await _channels(session, expiry.track_id, restricted=restricted)
        ],
        now=now,
    )


async def queue_lapse_alerts(
    session: AsyncSession, truce: Truce, expiry: Deadline, *, now: datetime
) -> None:
    """`truce` just lapsed at `expiry`'s due time: one alert to each channel following it."""
    restricted = expiry.visibility == Visibility.restricted
    outbox.queue(
        session,
        [
            PlannedDelivery(
                key=f"alert:lapse:{truce.id}:{expiry.due_at:%Y%m%dT%H%M%SZ}:{channel}",
                kind=DeliveryKind.alert,
                channel_id=channel,
                due_at=now,
                payload={
                    "lapse": True,
                    "truce_id": truce.id,
                    "deadline_id": expiry.id,
                    "expiry": expiry.due_at.isoformat(),
                },
            )
            for channel in await _channels(session, truce.track_id, restricted=restricted)
        ],
        now=now,
    )
