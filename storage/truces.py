"""Truces: terms, an expiry deadline, and the history of its extensions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import and_, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import PARLEY, Actor, require_lead
from storage.alerts import queue_expiry_alerts, queue_lapse_alerts
from storage.audit import commit_change, record_change, snapshot, stage_change
from storage.checks import choice, clean_text, clean_title, zone_name
from storage.direct import ReadSource, reading
from storage.errors import InvalidInput, NotFound
from storage.models import (
    Deadline,
    DeadlineKind,
    DeadlineStatus,
    Track,
    Truce,
    TruceExtension,
    TruceStatus,
    TruceTerm,
)
from storage.scope import in_bound_tracks

CURRENT = (TruceStatus.active, TruceStatus.extended)
EXTENDABLE = (TruceStatus.active, TruceStatus.extended, TruceStatus.lapsed)
#: What `/truce`, App Home and the digest show: the truces in force, and lapsed ones (until
#: a lead extends or supersedes them), so a lapse is never silently dropped from view.
SHOWN = EXTENDABLE


@dataclass(frozen=True)
class TermInput:
    party: str
    measure: str
    rate: str = ""
    target: str = ""


@dataclass
class TruceView:
    """A truce with everything `/truce` shows about it."""

    truce: Truce
    track: Track | None
    expiry: Deadline | None
    terms: list[TruceTerm] = field(default_factory=list)
    extensions: list[TruceExtension] = field(default_factory=list)

    def status_at(self, now: datetime) -> str:
        """The status as the clock reads it: a truce in force whose open expiry has passed
        is lapsed at that instant, whether or not the scheduler has written it yet."""
        if self.truce.status in CURRENT and lapses(self.expiry, now):
            return TruceStatus.lapsed
        return self.truce.status


def lapses(expiry: Deadline | None, now: datetime) -> bool:
    """An open expiry at or before `now`: with no extension, the truce has lapsed."""
    return expiry is not None and expiry.status == DeadlineStatus.open and expiry.due_at <= now


async def get_truce(session: AsyncSession, truce_id: int) -> Truce:
    truce = await session.get(Truce, truce_id)
    if truce is None:
        raise NotFound(f"There is no truce #{truce_id}.")
    return truce


async def expiry_of(session: AsyncSession, truce_id: int) -> Deadline | None:
    query = select(Deadline).where(
        col(Deadline.truce_id) == truce_id, col(Deadline.kind) == DeadlineKind.truce_expiry
    )
    return (await session.exec(query.order_by(col(Deadline.id)))).first()


async def view_of(session: AsyncSession, truce: Truce) -> TruceView:
    assert truce.id is not None
    track = await session.get(Track, truce.track_id) if truce.track_id else None
    view = TruceView(truce=truce, track=track, expiry=await expiry_of(session, truce.id))
    return (await _with_details(session, [view]))[0]


@cache
def _details_queries() -> tuple[Any, Any]:
    """The terms and the extensions of the truces bound as `ids`: built once."""
    ids: Any = bindparam("ids", expanding=True)
    terms = (
        select(TruceTerm)
        .where(col(TruceTerm.truce_id).in_(ids))
        .order_by(col(TruceTerm.position), col(TruceTerm.id))
    )
    extensions = (
        select(TruceExtension)
        .where(col(TruceExtension.truce_id).in_(ids))
        .order_by(col(TruceExtension.decided_at), col(TruceExtension.id))
    )
    return terms, extensions


async def _with_details(source: ReadSource, views: list[TruceView]) -> list[TruceView]:
    """Fills in the terms and extensions of all `views` with one query each."""
    by_id = {view.truce.id: view for view in views if view.truce.id is not None}
    if not by_id:
        return views
    terms, extensions = _details_queries()
    params = {"ids": list(by_id)}
    reads = reading(source)
    for term in await reads.all(terms, params):
        by_id[term.truce_id].terms.append(term)
    for extension in await reads.all(extensions, params):
        by_id[extension.truce_id].extensions.append(extension)
    return views


@cache
def _views_query(scoped: bool) -> Any:
    """Truces with the `statuses` bound, each row with its track, expiry, one of its terms and
    one of its extensions (outer joins: a truce of 3 terms and 2 extensions is 6 rows, one
    statement, where three cost three round trips); `track_ids` when `scoped`."""
    is_expiry = and_(
        col(Deadline.truce_id) == col(Truce.id), col(Deadline.kind) == DeadlineKind.truce_expiry
    )
    statuses: Any = bindparam("statuses", expanding=True)
    # SQLAlchemy's select: sqlmodel's is typed for at most four entities.
    query = (
        sa_select(Truce, Track, Deadline, TruceTerm, TruceExtension)
        .outerjoin(Track, col(Track.id) == col(Truce.track_id))
        .outerjoin(Deadline, is_expiry)
        .outerjoin(TruceTerm, col(TruceTerm.truce_id) == col(Truce.id))
        .outerjoin(TruceExtension, col(TruceExtension.truce_id) == col(Truce.id))
        .where(col(Truce.status).in_(statuses))
    )
    if scoped:
        query = query.where(in_bound_tracks(Truce))
    return query.order_by(
        col(Truce.id),
        col(Deadline.id),
        col(TruceTerm.position),
        col(TruceTerm.id),
        col(TruceExtension.decided_at),
        col(TruceExtension.id),
    )


async def truce_views(
    source: ReadSource,
    *,
    track_ids: Sequence[int] | None,
    statuses: Sequence[str] = SHOWN,
) -> list[TruceView]:
    """The truces with these statuses in scope, each with its track and expiry, terms and
    extensions: one statement however many truces there are."""
    params: dict[str, Any] = {"statuses": [str(status) for status in statuses]}
    if track_ids is not None:
        params["track_ids"] = list(track_ids)
    views: dict[int | None, TruceView] = {}
    kept: set[tuple[type, int | None]] = set()  # the terms and extensions already added
    rows: Sequence[
        tuple[Truce, Track | None, Deadline | None, TruceTerm | None, TruceExtension | None]
    ] = await reading(source).all(_views_query(track_ids is not None), params)
    for truce, track, expiry, term, extension in rows:
        view = views.get(truce.id)
        if view is None:
            # Ordered by deadline id: the first expiry is the truce's, as in `expiry_of`.
            view = views[truce.id] = TruceView(truce=truce, track=track, expiry=expiry)
        # In order: terms by position, extensions by decision, each once however often
        # the joins repeat it.
        if term is not None and (TruceTerm, term.id) not in kept:
            kept.add((TruceTerm, term.id))
            view.terms.append(term)
        if extension is not None and (TruceExtension, extension.id) not in kept:
            kept.add((TruceExtension, extension.id))
            view.extensions.append(extension)
    return list(views.values())


async def extendable_truce(
    session: AsyncSession, *, track_ids: Sequence[int] | None, scope: str = ""
) -> Truce:
    """The one truce `/truce extend` applies to; several → ask for the track. `scope` names
    the track asked for in the refusal (" on us-eu")."""
    views = await truce_views(session, track_ids=track_ids, statuses=EXTENDABLE)
    if not views:
        raise NotFound(f"There is no active or lapsed truce to extend{scope}.")
    if len(views) > 1:
        handles = ", ".join(v.track.handle for v in views if v.track)
        raise InvalidInput(
            "Several truces could be extended; name the track: "
            f"/truce <track> extend … ({handles})."
        )
    return views[0].truce


async def add_truce(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    title: str,
    parties: list[str],
    expires_at: datetime,
    zone: str,
    track_id: int | None = None,
    starts_at: datetime | None = None,
    status: str = TruceStatus.active,
    terms: Sequence[TermInput] = (),
    source_name: str = "",
    source_url: str = "",
    seed_key: str | None = None,
) -> Truce:
    await require_lead(session, actor)
    truce = Truce(
        title=clean_title(title),
        parties=parties,
        track_id=track_id,
        starts_at=starts_at,
        status=choice(status, TruceStatus, field="status", label="Status"),
        source_name=source_name,
        source_url=source_url,
        seed_key=seed_key,
    )
    session.add(truce)
    await session.flush()
    assert truce.id is not None
    expiry = Deadline(
        title=f"{truce.title} expires",
        due_at=expires_at,
        zone=zone_name(zone),
        kind=DeadlineKind.truce_expiry,
        track_id=track_id,
        truce_id=truce.id,
        created_at=now,
        seed_key=f"{seed_key}:expiry" if seed_key else None,
    )
    session.add(expiry)
    _add_terms(session, truce.id, terms)
    await session.flush()
    await commit_change(
        session,
        truce,
        actor=actor,
        at=now,
        action="add",
        entity="truce",
        # as an extension's: the history names the truce's span in its expiry's zone
        after={"truce": snapshot(truce), "expiry": snapshot(expiry)},
    )
    return truce


def _add_terms(session: AsyncSession, truce_id: int, terms: Sequence[TermInput]) -> None:
    for position, term in enumerate(terms):
        session.add(
            TruceTerm(
                truce_id=truce_id,
                party=clean_text(term.party, field="terms", label="A term's party", limit=150),
                measure=clean_text(
                    term.measure, field="terms", label="A term's measure", limit=300
                ),
                rate=term.rate.strip(),
                target=term.target.strip(),
                position=position,
            )
        )


async def set_terms(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    truce_id: int,
    terms: Sequence[TermInput],
) -> TruceView:
    await require_lead(session, actor)
    truce = await get_truce(session, truce_id)
    await _stage_terms(session, truce, actor=actor, now=now, terms=terms)
    await session.commit()
    return await view_of(session, truce)


async def _stage_terms(
    session: AsyncSession,
    truce: Truce,
    *,
    actor: Actor,
    now: datetime,
    terms: Sequence[TermInput],
    source: str = "",
    note: str = "",
) -> None:
    assert truce.id is not None
    old = await view_of(session, truce)
    for term in old.terms:
        await session.delete(term)
    await session.flush()
    _add_terms(session, truce.id, terms)
    await stage_change(
        session,
        truce,
        actor=actor,
        at=now,
        action="set_terms",
        entity="truce",
        before={"title": truce.title, "terms": [t.model_dump(mode="json") for t in old.terms]},
        after={
            "title": truce.title,
            "track_id": truce.track_id,
            "terms": [t.__dict__ for t in terms],
            "source": clean_text(
                source, field="source", label="The source", limit=300, required=False
            ),
            "note": clean_text(note, field="note", label="The note", limit=1000, required=False),
        },
    )


def check_new_expiry(
    current: Deadline, new_expiry: datetime, *, now: datetime, zone: str | None = None
) -> None:
    """Refuses an expiry in the past, equal to the current one or before it (forms check it
    first); `zone` is the one the new expiry was typed in."""
    if new_expiry <= now:
        raise InvalidInput(
            f"The new expiry ({new_expiry:%Y-%m-%d %H:%M} UTC) is already past; "
            "an extension must end in the future.",
            field="expiry",
        )
    if new_expiry == current.due_at:
        raise InvalidInput("That is the current expiry already; nothing to change.", field="expiry")
    if new_expiry < current.due_at:
        raise InvalidInput(
            f"{_wall(new_expiry, zone or current.zone)}{_also(new_expiry, zone, current.zone)} "
            "is before the current expiry, "
            f"{_wall(current.due_at, current.zone)}: an extension must end later. To correct "
            f"the expiry instead, edit its deadline: `/deadline edit {current.id}`.",
            field="expiry",
        )


def _also(instant: datetime, zone: str | None, expiry_zone: str) -> str:
    """`` (Mon 11 Aug 2025 18:00 America/New_York)``: a time typed in another zone, also in
    the expiry's, so the two read side by side."""
    return f" ({_wall(instant, expiry_zone)})" if zone and zone != expiry_zone else ""


def _wall(instant: datetime, zone: str) -> str:
    """``Fri 1 Aug 2025 10:00 America/New_York``: storage names zones, the render layer
    labels them."""
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {zone}"


async def extend_truce(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    truce_id: int,
    new_expiry: datetime,
    zone: str | None = None,
    source: str = "",
    note: str = "",
) -> TruceView:
    """Moves the expiry, records the extension, reopens the expiry deadline."""
    await require_lead(session, actor)
    truce = await get_truce(session, truce_id)
    await _stage_extension(
        session, truce, actor=actor, now=now, new_expiry=new_expiry, zone=zone,
        source=source, note=note,
    )  # fmt: skip
    await session.commit()
    return await view_of(session, truce)


async def edit_truce(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    truce_id: int,
    terms: Sequence[TermInput] | None = None,
    new_expiry: datetime | None = None,
    zone: str | None = None,
    source: str = "",
    note: str = "",
) -> tuple[TruceView, list[str]]:
    """The truce form: new terms and/or a new expiry in one transaction, one audit entry
    per change, so a refused extension leaves the terms as they were. Returns the view and
    what changed ("terms", "expiry"); nothing to change is refused."""
    await require_lead(session, actor)
    truce = await get_truce(session, truce_id)
    current = await view_of(session, truce)
    changed: list[str] = []
    old_terms = [(t.party, t.measure, t.rate, t.target) for t in current.terms]
    if terms is not None and [(t.party, t.measure, t.rate, t.target) for t in terms] != old_terms:
        await _stage_terms(
            session, truce, actor=actor, now=now, terms=terms, source=source, note=note
        )
        changed.append("terms")
    if new_expiry is not None:
        await _stage_extension(
            session, truce, actor=actor, now=now, new_expiry=new_expiry, zone=zone,
            source=source, note=note,
        )  # fmt: skip
        changed.append("expiry")
    if not changed:
        await session.rollback()
        raise InvalidInput("Nothing changed: give a new expiry or edit the terms.", field="expiry")
    await session.commit()
    return await view_of(session, truce), changed


async def _stage_extension(
    session: AsyncSession,
    truce: Truce,
    *,
    actor: Actor,
    now: datetime,
    new_expiry: datetime,
    zone: str | None,
    source: str,
    note: str,
) -> None:
    assert truce.id is not None
    deadline = await expiry_of(session, truce.id)
    if deadline is None:
        raise NotFound(f"Truce #{truce.id} has no expiry to move.")
    check_new_expiry(deadline, new_expiry, now=now, zone=zone_name(zone) if zone else None)
    before = {"truce": snapshot(truce), "expiry": snapshot(deadline)}
    extension = TruceExtension(
        truce_id=truce.id,
        from_at=deadline.due_at,
        to_at=new_expiry,
        decided_at=now,
        decided_by=actor.id,
        source=clean_text(source, field="source", label="The source", limit=300, required=False),
        note=clean_text(note, field="note", label="The note", limit=1000, required=False),
    )
    session.add(extension)
    previous, previous_zone = deadline.due_at, deadline.zone
    deadline.due_at = new_expiry
    deadline.planned_from = now
    if zone is not None:
        deadline.zone = zone_name(zone)
    deadline.status = DeadlineStatus.open
    truce.status = TruceStatus.extended
    session.add_all([deadline, truce])
    await queue_expiry_alerts(
        session, deadline, previous=previous, previous_zone=previous_zone, now=now
    )
    await stage_change(
        session,
        truce,
        actor=actor,
        at=now,
        action="extend",
        entity="truce",
        before=before,
        after={"truce": snapshot(truce), "expiry": snapshot(deadline), "note": extension.note},
    )


def _record_lapse(
    session: AsyncSession,
    truce_id: int,
    expiry: Deadline,
    *,
    before: dict[str, Any] | None,
    actor: Actor,
    now: datetime,
) -> None:
    """The audit entry of a lapse: the truce as it was, lapsed at its expiry."""
    record_change(
        session,
        actor=actor,
        at=now,
        action="lapse",
        entity="truce",
        entity_id=truce_id,
        before=before,
        after={
            **(before or {}),
            "status": TruceStatus.lapsed,
            "expired_at": expiry.due_at.isoformat(),
            "expiry_zone": expiry.zone,
        },
    )


async def record_lapsed_before(
    session: AsyncSession, truce: Truce, *, actor: Actor, now: datetime
) -> bool:
    """A truce put on record after its expiry had passed (a seed loaded late, a replay
    started after the lapse) is written lapsed by whoever recorded it: that lapse is the
    record's history, so no alert is queued and the digest does not call it news. The
    caller commits. True if it was lapsed."""
    assert truce.id is not None
    expiry = await expiry_of(session, truce.id)
    if truce.status not in CURRENT or expiry is None or not lapses(expiry, now):
        return False
    before = snapshot(truce)
    truce.status = TruceStatus.lapsed
    session.add(truce)
    _record_lapse(session, truce.id, expiry, before=before, actor=actor, now=now)
    return True


async def lapse_expired(session: AsyncSession, *, now: datetime) -> list[int]:
    """Writes the lapse of every truce in force whose open expiry has passed: once.

    A conditional UPDATE (status still in force) decides which process writes it, so two
    schedulers on one database write one lapse, one audit entry and one alert per channel;
    the three go in one transaction. Returns the ids of the truces this call lapsed.
    """
    is_expiry = and_(
        col(Deadline.truce_id) == col(Truce.id), col(Deadline.kind) == DeadlineKind.truce_expiry
    )
    due = await session.exec(
        select(Truce.id)
        .join(Deadline, is_expiry)
        .where(
            col(Truce.status).in_(CURRENT),
            col(Deadline.status) == DeadlineStatus.open,
            col(Deadline.due_at) <= now,
        )
        .distinct()
    )
    lapsed: list[int] = []
    for truce_id in [i for i in due.all() if i is not None]:
        truce = await get_truce(session, truce_id)
        expiry = await expiry_of(session, truce_id)
        if expiry is None or not lapses(expiry, now):
            continue  # its first expiry is another, still ahead
        before = snapshot(truce)
        claimed = await session.exec(
            update(Truce)
            .where(col(Truce.id) == truce_id, col(Truce.status).in_(CURRENT))
            .values(status=TruceStatus.lapsed)
        )
        if claimed.rowcount != 1:
            await session.rollback()
            continue  # another process lapsed it first
        _record_lapse(session, truce_id, expiry, before=before, actor=PARLEY, now=now)
        await queue_lapse_alerts(session, truce, expiry, now=now)
        await session.commit()
        lapsed.append(truce_id)
    return lapsed
