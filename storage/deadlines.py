"""Deadlines: due instants in UTC with the zone they were set in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, union_all, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_lead
from storage.alerts import queue_expiry_alerts
from storage.audit import commit_change, record_change, refuse_no_change, snapshot
from storage.checks import choice, clean_offsets, clean_title, zone_name
from storage.direct import ReadSource, reading
from storage.errors import InvalidInput, NotFound
from storage.models import Deadline, DeadlineKind, DeadlineStatus, Truce, TruceStatus, Visibility
from storage.scope import bound_scope
from storage.types import UTCDateTime

PAST_DEADLINE = "That time ({when}) is already past: a new deadline must lie in the future."


class Keep:
    """The value of an argument left out (where None means something: desk-wide)."""


KEEP = Keep()


def _bound_scope(scoped: bool, include_restricted: bool) -> list[Any]:
    """WHERE clauses shared by every listing: open, and in scope (`storage.scope`)."""
    return [
        col(Deadline.status) == DeadlineStatus.open,
        *bound_scope(Deadline, scoped=scoped, include_restricted=include_restricted),
    ]


@cache
def _listing(which: str, scoped: bool, include_restricted: bool) -> Any:
    """The `/deadline` listings' statements, built once per shape (values bound per call:
    `now`, `track_ids`, `limit`, and `since` for the recently passed)."""
    where = _bound_scope(scoped, include_restricted)
    now = bindparam("now", type_=UTCDateTime())
    if which == "upcoming":
        return (
            select(Deadline)
            .where(*where, col(Deadline.due_at) >= now)
            .order_by(col(Deadline.due_at), col(Deadline.id))
            .limit(bindparam("limit"))
        )
    if which in ("count", "count_until"):
        if which == "count_until":
            where.append(col(Deadline.due_at) <= bindparam("until", type_=UTCDateTime()))
        return select(func.count()).select_from(Deadline).where(*where, col(Deadline.due_at) >= now)
    since = bindparam("since", type_=UTCDateTime())
    return (
        select(Deadline)
        .where(*where, col(Deadline.due_at) < now, col(Deadline.due_at) > since)
        .order_by(col(Deadline.due_at).desc(), col(Deadline.id).desc())
        .limit(bindparam("limit"))
    )


def _params(now: datetime, track_ids: Sequence[int] | None, **more: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"now": now, **more}
    if track_ids is not None:
        params["track_ids"] = list(track_ids)
    return params


async def get_deadline(session: AsyncSession, deadline_id: int) -> Deadline:
    deadline = await session.get(Deadline, deadline_id)
    if deadline is None:
        raise NotFound(f"There is no deadline #{deadline_id}.")
    return deadline


async def upcoming_deadlines(
    source: ReadSource,
    *,
    now: datetime,
    track_ids: Sequence[int] | None,
    include_restricted: bool,
    limit: int = 100,
) -> list[Deadline]:
    query = _listing("upcoming", track_ids is not None, include_restricted)
    params = _params(now, track_ids, limit=limit)
    return list(await reading(source).all(query, params))


async def count_upcoming(
    source: ReadSource,
    *,
    now: datetime,
    track_ids: Sequence[int] | None,
    include_restricted: bool,
    until: datetime | None = None,
) -> int:
    """How many `upcoming_deadlines` there are, past any limit (due by `until`, if given)."""
    which = "count" if until is None else "count_until"
    query = _listing(which, track_ids is not None, include_restricted)
    params = _params(now, track_ids, **({} if until is None else {"until": until}))
    return int(await reading(source).one(query, params))


#: How long an open deadline past its due time stays "recently passed" (SPEC §3).
RECENTLY = timedelta(days=7)


async def recently_passed(
    source: ReadSource,
    *,
    now: datetime,
    track_ids: Sequence[int] | None,
    include_restricted: bool,
    limit: int = 20,
) -> list[Deadline]:
    """Open deadlines due in the last 7 days, latest first: passed, outcome not yet marked."""
    query = _listing("recently_passed", track_ids is not None, include_restricted)
    params = _params(now, track_ids, since=now - RECENTLY, limit=limit)
    return list(await reading(source).all(query, params))


@cache
def _both_listings(scoped: bool, include_restricted: bool) -> Any:
    """`upcoming` and `recently_passed` as one statement: each listing's ids (its own order
    and limit: `limit`, `passed_limit`), then their rows, each marked whether it passed.
    On PostgreSQL a statement is a round trip: `/deadline` made two."""
    where = _bound_scope(scoped, include_restricted)
    now = bindparam("now", type_=UTCDateTime())
    since = bindparam("since", type_=UTCDateTime())
    due, key = col(Deadline.due_at), col(Deadline.id)
    upcoming = (
        select(key).where(*where, due >= now).order_by(due, key).limit(bindparam("limit"))
    ).subquery()
    passed = (
        select(key)
        .where(*where, due < now, due > since)
        .order_by(due.desc(), key.desc())
        .limit(bindparam("passed_limit"))
    ).subquery()
    ids = union_all(select(upcoming.c.id), select(passed.c.id))
    has_passed = (due < now).label("passed")
    return select(Deadline, has_passed).where(key.in_(ids)).order_by(has_passed, due, key)


async def upcoming_and_recently_passed(
    source: ReadSource,
    *,
    now: datetime,
    track_ids: Sequence[int] | None,
    include_restricted: bool,
    limit: int,
    passed_limit: int = 20,
) -> tuple[list[Deadline], list[Deadline]]:
    """`upcoming_deadlines` and `recently_passed` (as each lists them) in one read."""
    query = _both_listings(track_ids is not None, include_restricted)
    params = _params(
        now, track_ids, since=now - RECENTLY, limit=limit, passed_limit=passed_limit
    )
    rows = await reading(source).all(query, params)
    upcoming = [deadline for deadline, passed in rows if not passed]
    passed = [deadline for deadline, passed in rows if passed]
    passed.reverse()  # latest first
    return upcoming, passed


async def add_deadline(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    title: str,
    due_at: datetime,
    zone: str,
    kind: str = DeadlineKind.other,
    track_id: int | None = None,
    truce_id: int | None = None,
    round_id: int | None = None,
    offsets: str | None = None,
    visibility: str = Visibility.team,
    allow_past: bool = False,
    seed_key: str | None = None,
) -> Deadline:
    await require_lead(session, actor)
    if not allow_past and due_at <= now:
        when = f"{due_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        raise InvalidInput(PAST_DEADLINE.format(when=when), field="due")
    deadline = Deadline(
        title=clean_title(title),
        due_at=due_at,
        zone=zone_name(zone),
        kind=choice(kind, DeadlineKind, field="kind", label="Kind"),
        track_id=track_id,
        truce_id=truce_id,
        round_id=round_id,
        offsets=clean_offsets(offsets),
        visibility=choice(visibility, Visibility, field="visibility", label="Visibility"),
        created_at=now,
        planned_from=now,
        seed_key=seed_key,
    )
    if truce_id is not None and deadline.visibility == Visibility.restricted:
        raise InvalidInput(RESTRICTED_EXPIRY, field="visibility")
    await commit_change(session, deadline, actor=actor, at=now, action="add", entity="deadline")
    return deadline


async def update_deadline(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    deadline_id: int,
    title: str | None = None,
    due_at: datetime | None = None,
    zone: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    offsets: str | None = None,
    visibility: str | None = None,
    track_id: int | None | Keep = KEEP,
    action: str = "update",
) -> Deadline:
    """`track_id`: the track it moves to (None: desk-wide); left as it is unless given. A
    truce's expiry keeps its kind and its truce's track: changed, the truce would never
    lapse (its expiry is found by kind) or be heard of where its truce is."""
    await require_lead(session, actor)
    deadline = await get_deadline(session, deadline_id)
    before = snapshot(deadline)
    if deadline.truce_id is not None:
        if kind is not None and kind != DeadlineKind.truce_expiry:
            raise InvalidInput(EXPIRY_KIND.format(id=deadline_id), field="kind")
        if not isinstance(track_id, Keep) and track_id != deadline.track_id:
            raise InvalidInput(EXPIRY_TRACK.format(id=deadline_id), field="track")
    if not isinstance(track_id, Keep):
        deadline.track_id = track_id
    if title is not None:
        deadline.title = clean_title(title)
    previous = deadline.due_at
    if due_at is not None and due_at != deadline.due_at:
        deadline.due_at = due_at
        deadline.planned_from = now
    if zone is not None:
        deadline.zone = zone_name(zone)
    if kind is not None:
        deadline.kind = choice(kind, DeadlineKind, field="kind", label="Kind")
    if status is not None:
        status = choice(status, DeadlineStatus, field="status", label="Status")
        if status == DeadlineStatus.open and deadline.status != DeadlineStatus.open:
            deadline.planned_from = now  # reopened: what fell due meanwhile is history
        deadline.status = status
    if offsets is not None and clean_offsets(offsets) != deadline.offsets:
        deadline.offsets = clean_offsets(offsets)
        deadline.planned_from = now  # new offsets count from now, not from the past
    if visibility is not None:
        deadline.visibility = choice(visibility, Visibility, field="visibility", label="Visibility")
        if deadline.truce_id is not None and deadline.visibility == Visibility.restricted:
            raise InvalidInput(RESTRICTED_EXPIRY, field="visibility")
    refuse_no_change(before, deadline, what=f"deadline #{deadline_id}")
    previous_zone = (before or {}).get("zone")
    await queue_expiry_alerts(
        session, deadline, previous=previous, previous_zone=previous_zone, now=now
    )
    await commit_change(
        session, deadline, actor=actor, at=now, action=action, entity="deadline", before=before
    )
    return deadline


#: Outcomes a lead marks on an open deadline, and the verbs the audit trail records.
OUTCOMES = {
    DeadlineStatus.met: "mark_met",
    DeadlineStatus.missed: "mark_missed",
    DeadlineStatus.cancelled: "mark_cancelled",
}
ALREADY = "Deadline #{id} is {status} already; nothing changed."
NOT_CLOSED = (
    "Deadline #{id} is not closed; only a met, missed or cancelled deadline can be reopened."
)
LAPSED_EXPIRY = (
    "Deadline #{id} is when truce “{title}” expired, and the truce has lapsed: marking the "
    "expiry does not undo that. `/truce extend +90d` (or a date) revives it."
)
EXPIRY_KIND = (
    "Deadline #{id} is a truce's expiry and stays one: the truce lapses at it. Correct its "
    "time here, or extend the truce with `/truce extend`."
)
EXPIRY_OUTCOME = (
    "Deadline #{id} is a truce's expiry: it is not marked {status} by hand. At its time the "
    "truce lapses (and the desk is alerted) unless it is extended (`/truce extend`)."
)
NOT_DUE = (
    "Deadline #{id} is not due yet: it can be marked missed once its time has passed "
    "(met or cancel now)."
)
EXPIRY_TRACK = "Deadline #{id} is a truce's expiry: it stays on its truce's track."
RESTRICTED_EXPIRY = (
    "A truce's expiry is seen by whoever sees the truce, the whole desk: it cannot be "
    "restricted (its countdowns, alerts and digest line would go silent)."
)
LIVE_TRUCE = (TruceStatus.active, TruceStatus.extended)
NOT_OPEN = "Deadline #{id} is {status}; only an open deadline can be marked {wanted}."


async def _refuse_a_lapsed_expiry(
    session: AsyncSession, deadline: Deadline, *, now: datetime
) -> None:
    """A lapsed truce's expiry is not marked met, missed or cancelled: that would not undo
    the lapse (written, or due: the open expiry has passed)."""
    if deadline.truce_id is None:
        return
    truce = await session.get(Truce, deadline.truce_id)
    if truce is None:
        return
    due = deadline.status == DeadlineStatus.open and deadline.due_at <= now
    if truce.status == TruceStatus.lapsed or (truce.status in LIVE_TRUCE and due):
        raise InvalidInput(LAPSED_EXPIRY.format(id=deadline.id, title=truce.title))


async def check_outcome(
    session: AsyncSession, deadline: Deadline, status: str, *, now: datetime
) -> None:
    """Refuses an outcome the deadline cannot take (before anything is written or asked):
    a lapsed truce's expiry takes none, a truce's expiry is never missed or cancelled by
    hand (the truce lapses at it, or is extended), and a deadline is missed only once due."""
    await _refuse_a_lapsed_expiry(session, deadline, now=now)
    if deadline.truce_id is not None and status in (
        DeadlineStatus.missed,
        DeadlineStatus.cancelled,
    ):
        raise InvalidInput(EXPIRY_OUTCOME.format(id=deadline.id, status=status))
    if status == DeadlineStatus.missed and deadline.due_at > now:
        raise InvalidInput(NOT_DUE.format(id=deadline.id))


async def set_outcome(
    session: AsyncSession, *, actor: Actor, now: datetime, deadline_id: int, status: str
) -> Deadline:
    """Marks an open deadline met, missed or cancelled, or reopens a closed one (`open`).

    The change is a conditional UPDATE on the status it starts from, so a button pressed
    twice, or by two leads at once, has one effect and one audit entry; the second press is
    told the deadline is already so, and nothing is written.
    """
    await require_lead(session, actor)
    status = choice(status, DeadlineStatus, field="status", label="Status")
    deadline = await get_deadline(session, deadline_id)
    reopening = status == DeadlineStatus.open
    if not reopening and status not in OUTCOMES:
        raise InvalidInput(f"A deadline cannot be marked {status}.")
    if not reopening:
        await check_outcome(session, deadline, status, now=now)
    starts_from = tuple(OUTCOMES) if reopening else (DeadlineStatus.open,)
    before = snapshot(deadline)
    values: dict[str, object] = {"status": status}
    if reopening:
        values["planned_from"] = now  # what fell due while it was closed is history
    changed = await session.exec(
        update(Deadline)
        .where(col(Deadline.id) == deadline_id, col(Deadline.status).in_(starts_from))
        .values(**values)
    )
    if changed.rowcount != 1:
        await session.rollback()
        current = await get_deadline(session, deadline_id)
        await session.refresh(current)
        if reopening:
            raise InvalidInput(NOT_CLOSED.format(id=deadline_id))
        if current.status == status:
            raise InvalidInput(ALREADY.format(id=deadline_id, status=status))
        raise InvalidInput(NOT_OPEN.format(id=deadline_id, status=current.status, wanted=status))
    await session.refresh(deadline)
    record_change(
        session,
        actor=actor,
        at=now,
        action="reopen" if reopening else OUTCOMES[DeadlineStatus(status)],
        entity="deadline",
        entity_id=deadline_id,
        before=before,
        after=snapshot(deadline),
    )
    await session.commit()
    return deadline
