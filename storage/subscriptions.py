"""Channel subscriptions: which tracks a channel follows and how it wants to hear."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import SCHEDULER, Actor, require_lead
from storage.audit import commit_change, snapshot
from storage.checks import zone_name
from storage.errors import InvalidInput
from storage.models import DeliveryKind, Subscription
from storage.outbox import PlannedDelivery, plan

RESTRICTED_PUBLIC = (
    "Only a private channel can be marked restricted: restricted items would be readable "
    "by anyone who joins a public one."
)
DISABLED_NOTICE = (
    "Parley stopped posting to <#{channel}>: Slack answered `{error}`. The subscription is "
    "off; invite the bot to the channel and type `/desk subscribe` there to turn it back on."
)


async def get_subscription(session: AsyncSession, channel_id: str) -> Subscription | None:
    subscription = await session.get(Subscription, channel_id)
    return subscription if subscription and subscription.active else None


async def active_subscriptions(session: AsyncSession) -> list[Subscription]:
    query = (
        select(Subscription).where(col(Subscription.active)).order_by(col(Subscription.channel_id))
    )
    return list((await session.exec(query)).all())


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
    restricted: bool | None = None,
    review: bool | None = None,
    channel_is_private: bool = False,
    default_zone: str = "UTC",
) -> Subscription:
    """Subscribes the channel or changes its settings (only those given)."""
    await require_lead(session, actor)
    if restricted and not channel_is_private:
        raise InvalidInput(RESTRICTED_PUBLIC)
    subscription = await session.get(Subscription, channel_id)
    before = snapshot(subscription) if subscription and subscription.active else None
    if subscription is None:
        subscription = Subscription(
            channel_id=channel_id, created_by=actor.id, created_at=now, digest_zone=default_zone
        )
    if before is None:  # new, or back after an unsubscribe: this lead hears of problems
        subscription.active_since = now
        subscription.created_by = actor.id
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
    if restricted is not None:
        subscription.restricted = restricted
    if review is not None:
        subscription.review = review
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


async def disable_subscription(
    session: AsyncSession, *, channel_id: str, error: str, now: datetime
) -> None:
    """Slack says the bot cannot post there: stop, and tell the lead who subscribed it."""
    query = select(Subscription).where(col(Subscription.channel_id) == channel_id)
    subscription = (await session.exec(query.with_for_update())).first()
    if subscription is None or not subscription.active:
        return
    before = snapshot(subscription)
    subscription.active = False
    since = subscription.active_since or subscription.created_at
    if subscription.created_by[:1] in ("U", "W"):
        await plan(
            session,
            [
                PlannedDelivery(
                    key=f"notice:disabled:{channel_id}:{since:%Y%m%dT%H%M%S%fZ}",
                    kind=DeliveryKind.notice,
                    channel_id=subscription.created_by,
                    due_at=now,
                    payload={"text": DISABLED_NOTICE.format(channel=channel_id, error=error)},
                )
            ],
            now=now,
            commit=False,
        )
    await commit_change(
        session,
        subscription,
        actor=SCHEDULER,
        at=now,
        action="disable",
        entity="subscription",
        before=before,
        after={**(snapshot(subscription) or {}), "error": error},
    )
