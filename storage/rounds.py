"""Talks rounds and their delegations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, union_all
from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_lead
from storage.audit import commit_change, refuse_no_change, snapshot
from storage.checks import choice, clean_text, clean_title, zone_name
from storage.direct import ReadSource, reading
from storage.errors import InvalidInput, NotFound
from storage.models import Delegation, RoundStatus, TalksRound, Track
from storage.scope import in_bound_tracks
from storage.types import UTCDateTime


@dataclass(frozen=True)
class DelegationInput:
    party: str
    lead_name: str
    lead_title: str = ""


@dataclass
class RoundView:
    round: TalksRound
    track: Track | None
    delegations: list[Delegation] = field(default_factory=list)
    status: str = ""  # as the clock reads it (`status_at`); the stored one when no clock

    def __post_init__(self) -> None:
        self.status = self.status or self.round.status


#: Statuses a lead sets by hand, which the clock never overrides.
SETTLED = (RoundStatus.cancelled, RoundStatus.concluded)
#: Stored statuses that both leave the round to its times (`status_at`).
BY_ITS_TIMES = (RoundStatus.scheduled, RoundStatus.in_progress)


def status_at(talks: TalksRound, now: datetime) -> str:
    """Scheduled, in progress or concluded by the round's times, unless settled by hand.

    A round with no end is in progress for the rest of its first local day.
    """
    if talks.status in SETTLED:
        return talks.status
    if now < talks.starts_at:
        return RoundStatus.scheduled
    ends = talks.ends_at
    if ends is None:
        local = talks.starts_at.astimezone(ZoneInfo(talks.zone))
        next_day = datetime.combine(local.date() + timedelta(days=1), time(0), local.tzinfo)
        ends = next_day.astimezone(UTC)
    return RoundStatus.in_progress if now < ends else RoundStatus.concluded


async def get_round(session: AsyncSession, round_id: int) -> TalksRound:
    talks = await session.get(TalksRound, round_id)
    if talks is None:
        raise NotFound(f"There is no talks round #{round_id}.")
    return talks


async def round_view(
    session: AsyncSession, talks: TalksRound, *, now: datetime | None = None
) -> RoundView:
    return (await round_views(session, [talks], now=now))[0]


#: A round with no end is in progress until the end of its first local day: at most a day
#: after it starts, in any zone. Rounds started longer ago than this, with no end or an end
#: already past, can only be the latest one.
NO_END_BOUND = timedelta(days=2)


@cache
def _shown_query(scoped: bool) -> Any:
    """The rounds `/talks` can show (see `latest_and_next`), built once: `now`, `no_end_since`
    and, when `scoped`, `track_ids` are bound per call."""
    in_scope = [col(TalksRound.status) != RoundStatus.cancelled]
    if scoped:
        in_scope.append(in_bound_tracks(TalksRound))
    now = bindparam("now", type_=UTCDateTime())
    started = col(TalksRound.starts_at) <= now
    latest_started = (
        select(TalksRound.id)
        .where(*in_scope, started)
        .order_by(col(TalksRound.starts_at).desc(), col(TalksRound.id).desc())
        .limit(1)
        .subquery()
    )
    maybe_in_progress = select(TalksRound.id).where(
        *in_scope,
        started,
        col(TalksRound.status).not_in(SETTLED),
        or_(
            col(TalksRound.ends_at) > now,
            and_(
                col(TalksRound.ends_at).is_(None),
                col(TalksRound.starts_at) > bindparam("no_end_since", type_=UTCDateTime()),
            ),
        ),
    )
    next_three = (
        select(TalksRound.id)
        .where(*in_scope, col(TalksRound.starts_at) > now)
        .order_by(col(TalksRound.starts_at), col(TalksRound.id))
        .limit(3)
        .subquery()
    )
    shown = union_all(select(latest_started.c.id), maybe_in_progress, select(next_three.c.id))
    # Their delegations joined in: one statement, not two (on PostgreSQL, a round trip).
    return (
        select(TalksRound, Delegation)
        .outerjoin(Delegation, col(Delegation.round_id) == col(TalksRound.id))
        .where(col(TalksRound.id).in_(shown))
        .order_by(col(TalksRound.starts_at), col(TalksRound.id), col(Delegation.id))
    )


async def latest_and_next(
    source: ReadSource,
    *,
    now: datetime,
    track_ids: Sequence[int] | None,
    tracks: Mapping[int, Track] | None = None,
) -> tuple[list[RoundView], list[RoundView]]:
    """(current or latest rounds, upcoming rounds), for `/talks` and the digest.

    One query however many rounds the record holds: the rounds that can be shown (the
    latest started, those possibly in progress, the next three) with their delegations;
    and their tracks, unless `tracks` (by id, as the answer read them already) has them."""
    params: dict[str, Any] = {"now": now, "no_end_since": now - NO_END_BOUND}
    if track_ids is not None:
        params["track_ids"] = list(track_ids)
    rounds: list[TalksRound] = []
    delegations: dict[int, list[Delegation]] = {}
    for talks, delegation in await reading(source).all(_shown_query(track_ids is not None), params):
        if not rounds or rounds[-1] is not talks:  # each round once, its rows together
            rounds.append(talks)
            delegations[talks.id or 0] = []
        if delegation is not None:
            delegations[talks.id or 0].append(delegation)
    begun = [r for r in rounds if r.starts_at <= now]
    latest = begun[-1:]
    current = [r for r in begun if status_at(r, now) == RoundStatus.in_progress and r not in latest]
    upcoming = [r for r in rounds if r.starts_at > now]
    views = await round_views(
        source, current + latest + upcoming, now=now, tracks=tracks, delegations=delegations
    )
    return views[: len(current) + len(latest)], views[len(current) + len(latest) :]


@cache
def _delegations_query() -> Any:
    ids: Any = bindparam("ids", expanding=True)
    return select(Delegation).where(col(Delegation.round_id).in_(ids)).order_by(col(Delegation.id))


@cache
def _tracks_query() -> Any:
    ids: Any = bindparam("ids", expanding=True)
    return select(Track).where(col(Track.id).in_(ids))


async def round_views(
    source: ReadSource,
    shown: Sequence[TalksRound],
    *,
    now: datetime | None,
    tracks: Mapping[int, Track] | None = None,
    delegations: Mapping[int, list[Delegation]] | None = None,
) -> list[RoundView]:
    """Each round with its delegations (one query for all, unless `delegations` by round
    id has them) and track (one query for those `tracks` does not hold); its status as the
    clock reads it at `now`, or as stored when no `now` is given."""
    if not shown:
        return []
    reads = reading(source)
    if delegations is None:
        delegations = {}
        params = {"ids": [r.id for r in shown]}
        for delegation in await reads.all(_delegations_query(), params):
            delegations.setdefault(delegation.round_id, []).append(delegation)
    known = dict(tracks or {})
    missing = sorted({r.track_id for r in shown if r.track_id} - known.keys())
    if missing:
        known.update((t.id, t) for t in await reads.all(_tracks_query(), {"ids": missing}))
    return [
        RoundView(
            round=r,
            track=known.get(r.track_id) if r.track_id else None,
            delegations=delegations.get(r.id or 0, []),
            status=status_at(r, now) if now is not None else r.status,
        )
        for r in shown
    ]


def _check_times(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at < starts_at:
        raise InvalidInput("The round cannot end before it starts.", field="ends")


async def add_round(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    title: str,
    starts_at: datetime,
    zone: str,
    place: str = "",
    ends_at: datetime | None = None,
    track_id: int | None = None,
    status: str = RoundStatus.scheduled,
    outcome: str = "",
    delegations: Sequence[DelegationInput] = (),
    source_name: str = "",
    source_url: str = "",
    seed_key: str | None = None,
) -> TalksRound:
    await require_lead(session, actor)
    _check_times(starts_at, ends_at)
    talks = TalksRound(
        title=clean_title(title),
        place=clean_text(place, field="place", label="The place", limit=150, required=False),
        starts_at=starts_at,
        ends_at=ends_at,
        zone=zone_name(zone),
        track_id=track_id,
        status=choice(status, RoundStatus, field="status", label="Status"),
        outcome=clean_text(
            outcome, field="outcome", label="The outcome", limit=3000, required=False
        ),
        source_name=source_name,
        source_url=source_url,
        seed_key=seed_key,
    )
    session.add(talks)
    await session.flush()
    assert talks.id is not None
    _add_delegations(session, talks.id, delegations)
    await commit_change(session, talks, actor=actor, at=now, action="add", entity="round")
    return talks


def _add_delegations(
    session: AsyncSession, round_id: int, delegations: Sequence[DelegationInput]
) -> None:
    for item in delegations:
        session.add(
            Delegation(
                round_id=round_id,
                party=clean_text(item.party, field="delegations", label="A party", limit=150),
                lead_name=clean_text(
                    item.lead_name, field="delegations", label="A lead", limit=150
                ),
                lead_title=item.lead_title.strip()[:150],
            )
        )


async def update_round(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    round_id: int,
    title: str | None = None,
    place: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    zone: str | None = None,
    status: str | None = None,
    outcome: str | None = None,
    delegations: Sequence[DelegationInput] | None = None,
) -> TalksRound:
    await require_lead(session, actor)
    talks = await get_round(session, round_id)
    before = snapshot(talks)
    if title is not None:
        talks.title = clean_title(title)
    if place is not None:
        talks.place = clean_text(place, field="place", label="The place", limit=150, required=False)
    if starts_at is not None:
        talks.starts_at = starts_at
    if ends_at is not None:
        talks.ends_at = ends_at
    if zone is not None:
        talks.zone = zone_name(zone)
    if status is not None:
        chosen = choice(status, RoundStatus, field="status", label="Status")
        if not (chosen in BY_ITS_TIMES and talks.status in BY_ITS_TIMES):
            talks.status = chosen  # scheduled and in progress both mean "by its times"
    if outcome is not None:
        talks.outcome = clean_text(
            outcome, field="outcome", label="The outcome", limit=3000, required=False
        )
    _check_times(talks.starts_at, talks.ends_at)
    old = list(
        (await session.exec(select(Delegation).where(col(Delegation.round_id) == round_id))).all()
    )
    kept = [(d.party, d.lead_name, d.lead_title) for d in old]
    typed = [
        (d.party.strip(), d.lead_name.strip(), d.lead_title.strip()[:150])
        for d in delegations or []
    ]
    if delegations is None or typed == kept:
        refuse_no_change(before, talks, what=f"talks round #{round_id}")
    else:
        for item in old:
            await session.delete(item)
        await session.flush()
        _add_delegations(session, round_id, delegations)
    await commit_change(
        session, talks, actor=actor, at=now, action="update", entity="round", before=before
    )
    return talks
