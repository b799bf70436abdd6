"""The outbox: every post the bot makes on its own, keyed so that each is made once.

A delivery row is planned (inserted, a duplicate key ignored), then claimed by one worker
with a conditional UPDATE before the Slack call, then marked sent with the message `ts`.
PostgreSQL picks candidates with `FOR UPDATE SKIP LOCKED`, so replicas do not queue on
each other's rows; the condition in the UPDATE is what makes a claim exclusive on either
database. A claim whose worker died is taken over once its lease has run out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import and_, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Delivery, DeliveryKind, DeliveryStatus
from storage.upsert import insert_for

BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class PlannedDelivery:
    key: str
    kind: str
    channel_id: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    status: str = DeliveryStatus.pending


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at an hour."""
    delay: timedelta = BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 12)
    return min(delay, BACKOFF_MAX)


def _row(item: PlannedDelivery, now: datetime) -> dict[str, Any]:
    return {
        "key": item.key,
        "kind": item.kind,
        "channel_id": item.channel_id,
        "due_at": item.due_at,
        "status": item.status,
        "payload": item.payload,
        "attempts": 0,
        "last_error": "",
        "created_at": now,
    }


PLAN_CHUNK = 500  # rows per INSERT: PostgreSQL allows 32,767 bound values a statement


async def plan(
    session: AsyncSession, items: Sequence[PlannedDelivery], *, now: datetime, commit: bool = True
) -> int:
    """Inserts the deliveries not yet known (by key); returns how many were new.

    Rows go in key order, so replicas planning the same keys lock them in the same order.
    """
    if not items:
        return 0
    rows = sorted((_row(i, now) for i in items), key=lambda row: str(row["key"]))
    added = 0
    for start in range(0, len(rows), PLAN_CHUNK):
        statement = (
            insert_for(session, Delivery)
            .values(rows[start : start + PLAN_CHUNK])
            .on_conflict_do_nothing(index_elements=["key"])
        )
        result = await session.exec(statement)
        added += int(result.rowcount or 0)
    if commit:
        await session.commit()
    return added


async def insert_claimed(
    session: AsyncSession, item: PlannedDelivery, *, worker: str, now: datetime, lease: timedelta
) -> Delivery:
    """A delivery made and claimed at once by `worker` (`parley digest`): no other worker
    can take it between planning and posting."""
    row = Delivery(
        **_row(item, now),
    )
    row.status = DeliveryStatus.claimed
    row.claimed_by = worker
    row.lease_until = now + lease
    row.attempts = 1
    session.add(row)
    await session.commit()
    return row


def queue(session: AsyncSession, items: Sequence[PlannedDelivery], *, now: datetime) -> None:
    """Adds deliveries to the caller's transaction (alerts beside the change they report)."""
    for item in items:
        session.add(Delivery(**_row(item, now)))


async def known_keys(session: AsyncSession, *, kind: str, due_since: datetime) -> set[str]:
    query = select(Delivery.key).where(
        col(Delivery.kind) == kind, col(Delivery.due_at) >= due_since
    )
    return set((await session.exec(query)).all())


async def known_countdown_keys(session: AsyncSession, deadline_ids: Sequence[int]) -> set[str]:
    """Every countdown key planned for these deadlines, however old."""
    if not deadline_ids:
        return set()
    prefixes = [col(Delivery.key).startswith(f"countdown:{i}:") for i in deadline_ids]
    query = select(Delivery.key).where(col(Delivery.kind) == DeliveryKind.countdown, or_(*prefixes))
    return set((await session.exec(query)).all())


def _claimable(now: datetime) -> Any:
    return or_(
        and_(col(Delivery.status) == DeliveryStatus.pending, col(Delivery.due_at) <= now),
        and_(
            col(Delivery.status) == DeliveryStatus.failed,
            col(Delivery.retry_at).is_not(None),
            col(Delivery.retry_at) <= now,
        ),
        and_(col(Delivery.status) == DeliveryStatus.claimed, col(Delivery.lease_until) < now),
    )


async def claim_due(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int = 100,
    key: str | None = None,
) -> list[Delivery]:
    """Claims up to `limit` due deliveries (or the one with `key`) for `worker`; each row is
    claimed by one worker."""
    candidates = (
        select(Delivery.id)
        .where(_claimable(now), *([col(Delivery.key) == key] if key else []))
        .order_by(col(Delivery.due_at), col(Delivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Delivery)
        .where(col(Delivery.id).in_(candidates.scalar_subquery()), _claimable(now))
        .values(
            status=DeliveryStatus.claimed,
            claimed_by=worker,
            lease_until=now + lease,
            attempts=Delivery.attempts + 1,
        )
        .returning(col(Delivery.id))
    )
    ids = list((await session.exec(statement)).scalars())
    await session.commit()
    if not ids:
        return []
    rows = await session.exec(
        select(Delivery).where(col(Delivery.id).in_(ids)).order_by(col(Delivery.due_at))
    )
    return list(rows.all())


async def _finish(
    session: AsyncSession, *, delivery_id: int, worker: str, values: dict[str, Any]
) -> bool:
    """Changes a delivery this worker still holds; False when its claim was lost."""
    statement = (
        update(Delivery)
        .where(
            col(Delivery.id) == delivery_id,
            col(Delivery.claimed_by) == worker,
            col(Delivery.status) == DeliveryStatus.claimed,
        )
        .values(**values)
    )
    result = await session.exec(statement)
    await session.commit()
    return bool(result.rowcount)


async def renew(
    session: AsyncSession, *, delivery_id: int, worker: str, now: datetime, lease: timedelta
) -> bool:
    """Extends the claim just before the Slack call; False when another worker took it."""
    return await _finish(
        session, delivery_id=delivery_id, worker=worker, values={"lease_until": now + lease}
    )


async def mark_sent(
    session: AsyncSession,
    *,
    delivery_id: int,
    worker: str,
    ts: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> bool:
    """False when the claim was lost meanwhile (its lease ran out and another took it)."""
    values: dict[str, Any] = {
        "status": DeliveryStatus.sent,
        "ts": ts,
        "sent_at": now,
        "lease_until": None,
    }
    if payload is not None:
        values["payload"] = payload
    return await _finish(session, delivery_id=delivery_id, worker=worker, values=values)


async def mark_failed(
    session: AsyncSession,
    *,
    delivery_id: int,
    worker: str,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Failed, with the error; retried from `retry_at` (never, when it is None)."""
    return await _finish(
        session,
        delivery_id=delivery_id,
        worker=worker,
        values={
            "status": DeliveryStatus.failed,
            "last_error": error[:1000],
            "retry_at": retry_at,
            "lease_until": None,
        },
    )


async def mark_skipped(session: AsyncSession, *, delivery_id: int, worker: str, why: str) -> bool:
    return await _finish(
        session,
        delivery_id=delivery_id,
        worker=worker,
        values={"status": DeliveryStatus.skipped, "last_error": why[:1000], "lease_until": None},
    )


async def unsent(session: AsyncSession, *, limit: int = 200) -> list[Delivery]:
    """Pending, claimed and failed deliveries, oldest first: what `parley outbox` shows."""
    query = (
        select(Delivery)
        .where(
            col(Delivery.status).in_(
                [DeliveryStatus.pending, DeliveryStatus.claimed, DeliveryStatus.failed]
            )
        )
        .order_by(col(Delivery.due_at), col(Delivery.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def status_counts(session: AsyncSession) -> dict[str, int]:
    query = select(Delivery.status, func.count()).group_by(col(Delivery.status))
    counts = {status.value: 0 for status in DeliveryStatus}
    for status, count in (await session.exec(query)).all():
        counts[status] = count
    return counts


async def record_asked_digest(
    session: AsyncSession, *, channel_id: str, user_id: str, now: datetime
) -> None:
    """A digest posted on request (`/desk digest`, in the command's answer) counts as the
    channel's last digest: the next one's "What changed" starts from it instead of listing
    the same changes again. A sent delivery with a key of its own, so the day's scheduled
    digest is still posted. The caller commits."""
    session.add(
        Delivery(
            key=f"digest:{channel_id}:asked:{now.isoformat()}:{user_id}:{uuid4().hex[:8]}",
            kind=DeliveryKind.digest,
            channel_id=channel_id,
            due_at=now,
            status=DeliveryStatus.sent,
            attempts=1,
            payload={"rendered_at": now.isoformat(), "asked_by": user_id},
            created_at=now,
            sent_at=now,
        )
    )


async def last_sent_digest(session: AsyncSession, channel_id: str) -> Delivery | None:
    query = (
        select(Delivery)
        .where(
            col(Delivery.kind) == DeliveryKind.digest,
            col(Delivery.channel_id) == channel_id,
            col(Delivery.status) == DeliveryStatus.sent,
        )
        .order_by(col(Delivery.sent_at).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def alerted_event_ids(session: AsyncSession, channel_id: str, *, since: datetime) -> set[int]:
    """Events already alerted in this channel: the digest marks them so."""
    return await _alerted_ids(session, channel_id, since=since, field="event_id")


async def alerted_truce_ids(session: AsyncSession, channel_id: str, *, since: datetime) -> set[int]:
    """Truces whose expiry change or lapse was alerted in this channel since `since`."""
    return await _alerted_ids(session, channel_id, since=since, field="truce_id")


async def alerted_expiry_moves(
    session: AsyncSession, channel_id: str, *, since: datetime
) -> set[tuple[int, datetime]]:
    """(deadline id, new due instant) of each truce-expiry move alerted in this channel
    since `since`, whether made by `/truce extend` or by editing the expiry deadline."""
    found: set[tuple[int, datetime]] = set()
    for payload in await _alert_payloads(session, channel_id, since=since):
        deadline_id, expiry = payload.get("deadline_id"), payload.get("expiry")
        if payload.get("lapse") or not isinstance(deadline_id, int) or not isinstance(expiry, str):
            continue
        try:
            found.add((deadline_id, datetime.fromisoformat(expiry)))
        except ValueError:
            continue
    return found


async def _alert_payloads(
    session: AsyncSession, channel_id: str, *, since: datetime
) -> list[dict[str, Any]]:
    query = select(Delivery.payload).where(
        col(Delivery.kind) == DeliveryKind.alert,
        col(Delivery.channel_id) == channel_id,
        col(Delivery.status) == DeliveryStatus.sent,
        col(Delivery.due_at) >= since,
    )
    return [p for p in (await session.exec(query)).all() if isinstance(p, dict)]


async def _alerted_ids(
    session: AsyncSession, channel_id: str, *, since: datetime, field: str
) -> set[int]:
    return {
        payload[field]
        for payload in await _alert_payloads(session, channel_id, since=since)
        if isinstance(payload.get(field), int)
    }
