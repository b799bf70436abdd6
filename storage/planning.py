"""What is due now: countdowns before each open deadline and each channel's daily digest.

Planning is computed from the record at every tick, so an edited or extended due time is
re-planned at once and a met or cancelled deadline simply stops counting down. A post that
fell due while no scheduler ran is owed once, marked late, if it is under a day old:
of a deadline's missed countdowns only the latest, the older ones recorded as skipped.
Posts that fell due before the deadline's due time was set, or before the channel
subscribed, are history and never owed.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.timeleft import TICK_SLACK
from bot.timeparse import parse_offsets
from storage import outbox
from storage.models import (
    Deadline,
    DeadlineKind,
    DeadlineStatus,
    DeliveryKind,
    DeliveryStatus,
    Subscription,
    Track,
    TrackStatus,
    Truce,
    TruceStatus,
    Visibility,
)
from storage.outbox import PlannedDelivery

OWED_FOR = timedelta(hours=24)
LATE_AFTER = TICK_SLACK  # planned later than this after its time: a catch-up, marked late


def countdown_key(deadline: Deadline, offset: timedelta, channel_id: str) -> str:
    return (
        f"countdown:{deadline.id}:{deadline.due_at:%Y%m%dT%H%M%SZ}:"
        f"{int(offset.total_seconds())}:{channel_id}"
    )


def countdown_delivery(
    deadline: Deadline,
    offset: timedelta,
    channel_id: str,
    *,
    late: bool | None = None,
    status: str = DeliveryStatus.pending,
) -> PlannedDelivery:
    """The outbox row of one countdown: what planning writes and `upcoming` lists."""
    payload: dict[str, object] = {
        "deadline_id": deadline.id,
        "due_at": deadline.due_at.isoformat(),
        "offset_seconds": int(offset.total_seconds()),
    }
    if late is not None:
        payload["late"] = late
    return PlannedDelivery(
        key=countdown_key(deadline, offset, channel_id),
        kind=DeliveryKind.countdown,
        channel_id=channel_id,
        due_at=deadline.due_at - offset,
        payload=payload,
        status=status,
    )


def digest_key(channel_id: str, local_day: date) -> str:
    return f"digest:{channel_id}:{local_day.isoformat()}"


def deadline_offsets(deadline: Deadline, default: Sequence[timedelta]) -> list[timedelta]:
    """The deadline's own countdown offsets, else `default`; longest first; always with 0,
    the "deadline reached" post at the due time (SPEC §3), whether or not it was listed."""
    offsets: Sequence[timedelta] = default
    if deadline.offsets:
        try:
            offsets = parse_offsets(deadline.offsets)
        except ValueError:
            pass  # checked when written; an old malformed value falls back to the default
    return sorted({*offsets, timedelta(0)}, reverse=True)


def follows(subscription: Subscription, deadline_track: Track | None, *, restricted: bool) -> bool:
    """Whether this channel hears about an item of this track and visibility."""
    if restricted and not subscription.restricted:
        return False
    if deadline_track is None:
        return True
    if subscription.tracks:
        return deadline_track.handle in subscription.tracks
    return deadline_track.status == TrackStatus.active


def followed_tracks(subscription: Subscription | None, tracks: Sequence[Track]) -> list[Track]:
    """The tracks a channel follows, by the rule of `follows` (one rule for the digest and
    the countdowns): the ones it names, whatever their status, else every active one."""
    if subscription is None:
        return [t for t in tracks if t.status == TrackStatus.active]
    return [t for t in tracks if follows(subscription, t, restricted=False)]


def _since(subscription: Subscription) -> datetime:
    return subscription.active_since or subscription.created_at


def plan_countdowns(
    deadlines: Sequence[Deadline],
    subscriptions: Sequence[Subscription],
    tracks: dict[int, Track],
    *,
    now: datetime,
    default_offsets: Sequence[timedelta],
    known: set[str],
) -> list[PlannedDelivery]:
    planned: list[PlannedDelivery] = []
    channels = [s for s in subscriptions if s.active and s.countdowns_enabled]
    for deadline in deadlines:
        fired = sorted(
            (o for o in deadline_offsets(deadline, default_offsets) if deadline.due_at - o <= now),
            reverse=True,
        )  # oldest first, so the latest is last
        if not fired or now - (deadline.due_at - fired[-1]) >= OWED_FOR + LATE_AFTER:
            continue
        track = tracks.get(deadline.track_id) if deadline.track_id else None
        restricted = deadline.visibility == Visibility.restricted
        set_at = deadline.planned_from or deadline.created_at
        for subscription in channels:
            if not follows(subscription, track, restricted=restricted):
                continue
            since = _since(subscription)
            owed = [o for o in fired if _owed(deadline.due_at, o, set_at=set_at, since=since)]
            keys = [countdown_key(deadline, o, subscription.channel_id) for o in owed]
            if not owed or keys[-1] in known:
                continue
            for offset, key in zip(owed, keys, strict=True):
                fire_at = deadline.due_at - offset
                latest = offset == owed[-1]
                live = latest and now - fire_at < OWED_FOR
                if key in known:
                    continue
                planned.append(
                    countdown_delivery(
                        deadline,
                        offset,
                        subscription.channel_id,
                        late=now - fire_at > LATE_AFTER,
                        status=DeliveryStatus.pending if live else DeliveryStatus.skipped,
                    )
                )
    return planned


#: A mark within this of the moment the due time was set repeats the confirmation just given
#: ("in 3 days", due on the next whole minute, has its 3-day mark seconds later): not owed.
JUST_SET = timedelta(minutes=1)


def _owed(due: datetime, offset: timedelta, *, set_at: datetime, since: datetime) -> bool:
    """A countdown is owed if it falls after the due time was set (a "time left" mark more
    than `JUST_SET` after: "Deadline reached" is news however soon) and once the channel
    had subscribed."""
    fire_at = due - offset
    return fire_at > set_at + (JUST_SET if offset else timedelta(0)) and fire_at >= since


def digest_instant(subscription: Subscription, local_day: date) -> datetime:
    hour, minute = (int(p) for p in subscription.digest_time.split(":"))
    zone = ZoneInfo(subscription.digest_zone)
    return datetime.combine(local_day, time(hour, minute), tzinfo=zone).astimezone(ZoneInfo("UTC"))


def plan_digests(
    subscriptions: Sequence[Subscription], *, now: datetime, known: set[str]
) -> list[PlannedDelivery]:
    """Today's digest once its time has come; yesterday's if missed by under a day."""
    planned: list[PlannedDelivery] = []
    for subscription in subscriptions:
        if not (subscription.active and subscription.digest_enabled):
            continue
        today = now.astimezone(ZoneInfo(subscription.digest_zone)).date()
        for local_day in (today - timedelta(days=1), today):
            if subscription.weekdays_only and local_day.weekday() >= 5:
                continue
            fire_at = digest_instant(subscription, local_day)
            key = digest_key(subscription.channel_id, local_day)
            if key in known or not (_since(subscription) <= fire_at <= now):
                continue
            if now - fire_at >= OWED_FOR:
                continue
            planned.append(
                PlannedDelivery(
                    key=key,
                    kind=DeliveryKind.digest,
                    channel_id=subscription.channel_id,
                    due_at=fire_at,
                    payload={
                        "local_day": local_day.isoformat(),
                        "late": now - fire_at > LATE_AFTER,
                    },
                )
            )
    return planned


def _has_owed_countdown(
    deadline: Deadline, now: datetime, default_offsets: Sequence[timedelta]
) -> bool:
    """Whether one of its countdowns fell due within the last day: only those deadlines
    need their channels' keys looked at."""
    return any(
        timedelta(0) <= now - (deadline.due_at - offset) < OWED_FOR + LATE_AFTER
        for offset in deadline_offsets(deadline, default_offsets)
    )


async def _planning_inputs(
    session: AsyncSession, *, now: datetime
) -> tuple[list[Subscription], list[Deadline], dict[int, Track]]:
    """What planning reads: active subscriptions, open deadlines that may still owe a
    countdown, and the tracks (no deadlines are read when no channel is subscribed)."""
    subscriptions = list(
        (await session.exec(select(Subscription).where(col(Subscription.active)))).all()
    )
    if not subscriptions:
        return [], [], {}
    deadlines = list(
        (
            await session.exec(
                select(Deadline).where(
                    col(Deadline.status) == DeadlineStatus.open,
                    col(Deadline.due_at) >= now - OWED_FOR - LATE_AFTER,
                )
            )
        ).all()
    )
    tracks = {t.id: t for t in (await session.exec(select(Track))).all() if t.id is not None}
    return subscriptions, deadlines, tracks


async def plan_due(
    session: AsyncSession, *, now: datetime, default_offsets: Sequence[timedelta]
) -> int:
    """Writes the countdowns and digests due by `now` into the outbox; returns how many."""
    subscriptions, deadlines, tracks = await _planning_inputs(session, now=now)
    if not subscriptions:
        return 0
    counting = [d for d in deadlines if _has_owed_countdown(d, now, default_offsets)]
    planned = plan_countdowns(
        counting,
        subscriptions,
        tracks,
        now=now,
        default_offsets=default_offsets,
        known=await outbox.known_countdown_keys(
            session, [d.id for d in counting if d.id is not None]
        ),
    ) + plan_digests(
        subscriptions,
        now=now,
        known=await outbox.known_keys(
            session, kind=DeliveryKind.digest, due_since=now - OWED_FOR * 2 - LATE_AFTER
        ),
    )
    return await outbox.plan(session, planned, now=now)


async def _lapse_instants(session: AsyncSession, *, now: datetime) -> list[datetime]:
    """When truces in force lapse (their open expiries ahead): the scheduler writes each."""
    rows = await session.exec(
        select(Deadline.due_at)
        .join(Truce, col(Truce.id) == col(Deadline.truce_id))
        .where(
            col(Deadline.kind) == DeadlineKind.truce_expiry,
            col(Deadline.status) == DeadlineStatus.open,
            col(Deadline.due_at) > now,
            col(Truce.status).in_((TruceStatus.active, TruceStatus.extended)),
        )
    )
    return list(rows.all())


async def next_due_after(
    session: AsyncSession, *, now: datetime, default_offsets: Sequence[timedelta]
) -> datetime | None:
    """The next instant after `now` at which a countdown or a digest falls due, or a truce
    lapses."""
    candidates = await _lapse_instants(session, now=now)
    subscriptions = list(
        (await session.exec(select(Subscription).where(col(Subscription.active)))).all()
    )
    if not subscriptions:
        return min(candidates, default=None)
    if any(s.countdowns_enabled for s in subscriptions):
        open_deadlines = await session.exec(
            select(Deadline).where(
                col(Deadline.status) == DeadlineStatus.open, col(Deadline.due_at) > now
            )
        )
        for deadline in open_deadlines.all():
            candidates += [
                deadline.due_at - o
                for o in deadline_offsets(deadline, default_offsets)
                if deadline.due_at - o > now
            ]
    for subscription in subscriptions:
        if subscription.digest_enabled:
            today = now.astimezone(ZoneInfo(subscription.digest_zone)).date()
            for local_day in (today + timedelta(days=n) for n in range(8)):
                fire_at = digest_instant(subscription, local_day)
                if fire_at > now and not (subscription.weekdays_only and local_day.weekday() >= 5):
                    candidates.append(fire_at)
                    break
    return min(candidates, default=None)


def countdowns_ahead(
    deadlines: Sequence[Deadline],
    subscriptions: Sequence[Subscription],
    tracks: dict[int, Track],
    *,
    now: datetime,
    default_offsets: Sequence[timedelta],
) -> list[PlannedDelivery]:
    """The countdowns after `now`, each to the channels `plan_countdowns` will owe it to."""
    ahead: list[PlannedDelivery] = []
    channels = [s for s in subscriptions if s.active and s.countdowns_enabled]
    for deadline in deadlines:
        track = tracks.get(deadline.track_id) if deadline.track_id else None
        restricted = deadline.visibility == Visibility.restricted
        set_at = deadline.planned_from or deadline.created_at
        for offset in deadline_offsets(deadline, default_offsets):
            fire_at = deadline.due_at - offset
            if fire_at <= now:
                continue
            for subscription in channels:
                if not _owed(
                    deadline.due_at, offset, set_at=set_at, since=_since(subscription)
                ) or not follows(subscription, track, restricted=restricted):
                    continue
                ahead.append(countdown_delivery(deadline, offset, subscription.channel_id))
    return ahead


def digests_ahead(
    subscriptions: Sequence[Subscription], *, now: datetime, count: int, known: set[str]
) -> list[PlannedDelivery]:
    """Each channel's next `count` daily digests after `now` not already in the outbox."""
    ahead: list[PlannedDelivery] = []
    for subscription in subscriptions:
        if not (subscription.active and subscription.digest_enabled):
            continue
        today = now.astimezone(ZoneInfo(subscription.digest_zone)).date()
        found = 0
        days = count * 7 // 5 + 3 + len(known)  # enough, with weekends and days posted already
        for local_day in (today + timedelta(days=n) for n in range(days)):
            if found == count:
                break
            if subscription.weekdays_only and local_day.weekday() >= 5:
                continue
            fire_at = digest_instant(subscription, local_day)
            key = digest_key(subscription.channel_id, local_day)
            if fire_at <= now or fire_at < _since(subscription) or key in known:
                continue
            found += 1
            ahead.append(
                PlannedDelivery(
                    key=key,
                    kind=DeliveryKind.digest,
                    channel_id=subscription.channel_id,
                    due_at=fire_at,
                    payload={"local_day": local_day.isoformat()},
                )
            )
    return ahead


async def upcoming(
    session: AsyncSession, *, now: datetime, default_offsets: Sequence[timedelta], limit: int
) -> list[PlannedDelivery]:
    """The next `limit` countdowns and digests, soonest first, as the scheduler will plan
    them: those owed by `now` but not planned yet (its next tick's), then those ahead.
    Nothing already in the outbox (`outbox.unsent` has those still to go)."""
    subscriptions, deadlines, tracks = await _planning_inputs(session, now=now)
    if not subscriptions:
        return []
    known = await outbox.known_countdown_keys(
        session, [d.id for d in deadlines if d.id is not None]
    ) | await outbox.known_keys(
        session, kind=DeliveryKind.digest, due_since=now - OWED_FOR * 2 - LATE_AFTER
    )
    counting = [d for d in deadlines if _has_owed_countdown(d, now, default_offsets)]
    owed = plan_countdowns(
        counting,
        subscriptions,
        tracks,
        now=now,
        default_offsets=default_offsets,
        known=known,
    ) + plan_digests(subscriptions, now=now, known=known)
    ahead = countdowns_ahead(
        deadlines, subscriptions, tracks, now=now, default_offsets=default_offsets
    ) + digests_ahead(subscriptions, now=now, count=limit, known=known)
    candidates = [p for p in owed if p.status == DeliveryStatus.pending] + [
        p for p in ahead if p.key not in known
    ]
    return heapq.nsmallest(limit, candidates, key=lambda p: (p.due_at, p.key))
