"""Channel subscriptions: which tracks a channel follows and how it wants to hear."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_lead
from storage.audit import commit_change, snapshot
from storage.checks import zone_name
from storage.errors import InvalidInput
from storage.models import Subscription


async def get_subscription(session: AsyncSession, channel_id: str) -> Subscription | None:
    subscription = await session.get(Subscription, channel_id)
    return subscription if subscription and subscription.active else None


async def subscribe(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    channel_id: str,
    digest_time: str | None = None,
    digest_zone: str | None = None,
    weekdays_only: bool | None = None,
    digest_enabled: bool | None = None,
    countdowns_enabled: bool | None = None,
    tracks: list[str] | None = None,
    default_zone: str = "UTC",
) -> Subscription:
    await require_lead(session, actor)
    subscription = await session.get(Subscription, channel_id)
    before = snapshot(subscription) if subscription and subscription.active else None
    if subscription is None:
        subscription = Subscription(
            channel_id=channel_id, created_by=actor.id, created_at=now, digest_zone=default_zone
        )
    subscription.active = True
    if digest_time is not None:
        hour, _, minute = digest_time.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise InvalidInput(f"Digest time {digest_time!r} is not HH:MM, e.g. 08:00.")
        subscription.digest_time = f"{int(hour):02d}:{int(minute):02d}"
    if digest_zone is not None:
        subscription.digest_zone = zone_name(digest_zone)
    if weekdays_only is not None:
        subscription.weekdays_only = weekdays_only
    if digest_enabled is not None:
        subscription.digest_enabled = digest_enabled
    if countdowns_enabled is not None:
        subscription.countdowns_enabled = countdowns_enabled
    if tracks is not None:
        subscription.tracks = tracks or None
    await commit_change(
        session,
        subscription,
        actor=actor,
        at=now,
        action="subscribe",
        entity="subscription",
        before=before,
    )
    return subscription


async def unsubscribe(
    session: AsyncSession, *, actor: Actor, now: datetime, channel_id: str
) -> None:
    await require_lead(session, actor)
    subscription = await get_subscription(session, channel_id)
    if subscription is None:
        raise InvalidInput("This channel is not subscribed.")
    before = snapshot(subscription)
    subscription.active = False
    await commit_change(
        session,
        subscription,
        actor=actor,
        at=now,
        action="unsubscribe",
        entity="subscription",
        before=before,
    )
