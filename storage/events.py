"""Timeline events, tagged with the sensitivities whose keywords they mention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, func, union_all
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import SEED, Actor, require_lead
from storage.alerts import queue_event_alerts
from storage.audit import commit_change, snapshot
from storage.checks import SUMMARY_LIMIT, choice, clean_text, clean_title, clean_url, zone_name
from storage.direct import ReadSource, reading
from storage.feed_items import stage_added
from storage.models import (
    Confidence,
    Event,
    EventKind,
    EventSensitivity,
    Level,
    Sensitivity,
    Visibility,
)
from storage.scope import bound_scope
from storage.sensitivities import all_sensitivities, mentions, sensitivity_order
from storage.types import UTCDateTime


@dataclass(frozen=True)
class Headline:
    """An event as a topic's latest are listed (`/watch`, App Home, the digest): six of its
    columns, read as a row rather than loaded as a whole `Event` with its summary."""

    id: int
    title: str
    occurred_at: datetime
    zone: str
    created_at: datetime
    track_id: int | None


HEADLINE_COLUMNS = tuple(
    getattr(Event, name)
    for name in ("id", "title", "occurred_at", "zone", "created_at", "track_id")
)


@dataclass
class EventView:
    event: Event
    sensitivities: list[Sensitivity] = field(default_factory=list)


@lru_cache(maxsize=2)
def _tags_query(include_restricted: bool) -> Any:
    """The sensitivities of the events bound as `ids`: built once per visibility."""
    ids: Any = bindparam("ids", expanding=True)
    query = (
        select(EventSensitivity.event_id, Sensitivity)
        .join(Sensitivity, col(Sensitivity.id) == col(EventSensitivity.sensitivity_id))
        .where(col(EventSensitivity.event_id).in_(ids))
    )
    if not include_restricted:
        query = query.where(col(Sensitivity.visibility) == Visibility.team)
    return query.order_by(col(EventSensitivity.event_id), col(Sensitivity.id))


def _tags_joined(query: Any, include_restricted: bool) -> Any:
    """`query` (of events, ordered) with each event's sensitivities outer-joined, as `tag`
    reads them (a restricted one's name only for who may see it): one statement, not two."""
    shown = col(Sensitivity.id) == col(EventSensitivity.sensitivity_id)
    if not include_restricted:
        shown = and_(shown, col(Sensitivity.visibility) == Visibility.team)
    return (
        query.add_columns(Sensitivity)
        .outerjoin(EventSensitivity, col(EventSensitivity.event_id) == col(Event.id))
        .outerjoin(Sensitivity, shown)
        .order_by(col(Sensitivity.id))
    )


def _tagged_views(rows: Sequence[Any]) -> list[tuple[EventView, Any]]:
    """Rows of (event, mark, sensitivity or None), each event's together: a view for each
    event, with its mark."""
    views: list[tuple[EventView, Any]] = []
    for event, mark, sensitivity in rows:
        if not views or views[-1][0].event is not event:
            views.append((EventView(event=event), mark))
        if sensitivity is not None:
            views[-1][0].sensitivities.append(sensitivity)
    return views


async def _with_tags(
    source: ReadSource, events: Sequence[Event], include_restricted: bool, tagged: bool = True
) -> list[EventView]:
    """The events with their sensitivities; a restricted sensitivity's name is itself
    restricted, so it is left out unless `include_restricted`. Untagged (`tagged` False),
    for a caller that tags several lists at once (`tag`)."""
    views = [EventView(event=e) for e in events]
    if tagged:
        await tag(source, views, include_restricted=include_restricted)
    return views


async def tag(source: ReadSource, views: Sequence[EventView], *, include_restricted: bool) -> None:
    """Fills in the views' sensitivities, in one query however many lists they came from."""
    if not views:
        return
    params = {"ids": [v.event.id for v in views]}
    rows = await reading(source).all(_tags_query(include_restricted), params)
    tags: dict[int, list[Sensitivity]] = {}
    for event_id, sensitivity in rows:
        tags.setdefault(event_id, []).append(sensitivity)
    for view in views:
        view.sensitivities = tags.get(view.event.id or 0, [])


async def event_views(
    session: AsyncSession, event_ids: Sequence[int], *, include_restricted: bool
) -> list[EventView]:
    query = select(Event).where(col(Event.id).in_(event_ids))
    return await _with_tags(session, (await session.exec(query)).all(), include_restricted)


@cache
def _latest_query(scoped: bool, include_restricted: bool, since: bool, until: bool) -> Any:
    """`latest_events`' statement, built once per shape (App Home and the digest ask on every
    answer; building it each time cost as much as running it)."""
    query = select(Event).where(
        *bound_scope(Event, scoped=scoped, include_restricted=include_restricted)
    )
    if since:
        query = query.where(col(Event.created_at) > bindparam("since", type_=UTCDateTime()))
    if until:
        query = query.where(col(Event.occurred_at) <= bindparam("until", type_=UTCDateTime()))
    return query.order_by(col(Event.occurred_at).desc(), col(Event.id).desc()).limit(
        bindparam("limit")
    )


@cache
def _upcoming_query(scoped: bool, include_restricted: bool) -> Any:
    now = bindparam("now", type_=UTCDateTime())
    return (
        select(Event)
        .where(*bound_scope(Event, scoped=scoped, include_restricted=include_restricted))
        .where(
            col(Event.occurred_at) > now,
            col(Event.created_at) <= now,
            # Not `seed_key IS NULL`: SQLite would read that off the unique index on
            # seed_key, as if it picked few rows, and sort every unseeded event (4.8 ms at
            # 10,000); this way it walks the occurred_at index from now and stops at `limit`.
            func.coalesce(col(Event.seed_key), "") == "",
        )
        .order_by(col(Event.occurred_at), col(Event.id))
        .limit(bindparam("limit"))
    )


def _scope_params(track_ids: Sequence[int] | None, **values: Any) -> dict[str, Any]:
    params = {name: value for name, value in values.items() if value is not None}
    if track_ids is not None:
        params["track_ids"] = list(track_ids)
    return params


async def latest_events(
    source: ReadSource,
    *,
    track_ids: Sequence[int] | None,
    include_restricted: bool,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10,
    tagged: bool = True,
) -> list[EventView]:
    """The latest events, newest first: with `until` (now), only those dated by then, so an
    event dated in the future is never "latest" (see `upcoming_events`)."""
    query = _latest_query(
        track_ids is not None, include_restricted, since is not None, until is not None
    )
    params = _scope_params(track_ids, since=since, until=until, limit=limit)
    events = await reading(source).all(query, params)
    return await _with_tags(source, events, include_restricted, tagged)


async def upcoming_events(
    source: ReadSource,
    *,
    now: datetime,
    track_ids: Sequence[int] | None,
    include_restricted: bool,
    limit: int = 5,
    tagged: bool = True,
) -> list[EventView]:
    """Events dated after `now` that the desk knew of by `now` (an announced meeting, a
    scheduled vote), soonest first. Seeded events are history: in a replay (`--as-of`) one
    dated later is news that has not happened yet, shown only from its time on."""
    query = _upcoming_query(track_ids is not None, include_restricted)
    params = _scope_params(track_ids, now=now, limit=limit)
    events = await reading(source).all(query, params)
    return await _with_tags(source, events, include_restricted, tagged)


def _past_and_coming(latest: Any, coming: Any, include_restricted: bool) -> Any:
    """The events of two subqueries of ids, what has happened (`latest`) and what is still
    to come after `now` (`coming`), each row marked which, with their tags: one statement."""
    ids = union_all(select(latest.c.id), select(coming.c.id))
    to_come = (col(Event.occurred_at) > bindparam("now", type_=UTCDateTime())).label("coming")
    ordered = (
        select(Event, to_come)
        .where(col(Event.id).in_(ids))
        .order_by(to_come, col(Event.occurred_at), col(Event.id))
    )
    return _tags_joined(ordered, include_restricted)


def _newest_and_soonest(rows: Sequence[Any]) -> tuple[list[EventView], list[EventView]]:
    """`_past_and_coming`'s rows as (what happened, newest first; what is to come, soonest
    first)."""
    views = _tagged_views(rows)
    latest = [view for view, to_come in views if not to_come]
    latest.reverse()
    return latest, [view for view, to_come in views if to_come]


@cache
def _latest_and_coming_query(scoped: bool, include_restricted: bool) -> Any:
    """`latest_events` (dated by `now`) and `upcoming_events` as one statement: each
    list's ids by its own order and limit (`limit`, `coming_limit`), then their rows, each
    marked whether it is still to come. On PostgreSQL a statement is a round trip."""
    latest = (
        _latest_query(scoped, include_restricted, False, True)
        .with_only_columns(col(Event.id))
        .subquery()
    )
    coming = (
        _upcoming_query(scoped, include_restricted)
        .with_only_columns(col(Event.id))
        .limit(bindparam("coming_limit"))
        .subquery()
    )
    return _past_and_coming(latest, coming, include_restricted)


async def latest_and_coming(
    source: ReadSource,
    *,
    now: datetime,
    track_ids: Sequence[int] | None,
    include_restricted: bool,
    limit: int,
    coming_limit: int,
) -> tuple[list[EventView], list[EventView]]:
    """`latest_events(until=now)` and `upcoming_events`, as each lists them and with their
    tags, in one read (App Home shows both)."""
    query = _latest_and_coming_query(track_ids is not None, include_restricted)
    params = _scope_params(track_ids, until=now, now=now, limit=limit, coming_limit=coming_limit)
    return _newest_and_soonest(await reading(source).all(query, params))


async def timeline(
    source: ReadSource,
    *,
    sensitivity_id: int,
    include_restricted: bool,
    until: datetime | None = None,
    limit: int = 20,
    tagged: bool = True,
) -> list[EventView]:
    """A topic's latest `limit` events, newest first, with their tags (unless `tagged` is
    False: see `tag`): one range of the tags' recency index (see `latest_by_sensitivity`),
    not every event of the topic joined and sorted (on PostgreSQL at 10,000 events, most
    of a `/watch taiwan`)."""
    statement = _latest_per_topic(1, include_restricted, until is not None, limit)
    params: dict[str, Any] = {"topic_0": sensitivity_id}
    if until is not None:
        params["until"] = until
    pairs = await reading(source).all(statement, params)
    newest = sorted((e for _, e in pairs), key=lambda e: (e.occurred_at, e.id), reverse=True)
    return await _with_tags(source, newest, include_restricted, tagged)


async def coming_up(
    source: ReadSource,
    *,
    sensitivity_id: int,
    include_restricted: bool,
    now: datetime,
    limit: int = 5,
    tagged: bool = True,
) -> list[EventView]:
    """A topic's next `limit` events dated later than `now` (upcoming, SPEC §3) that the desk
    knew of by `now`, soonest first, with their tags (unless `tagged` is False): read off
    the same recency index as `timeline`, the other way. Seeded ones are history, as in
    `upcoming_events`."""
    params = {"topic": sensitivity_id, "now": now, "limit": limit}
    found = await reading(source).all(_coming_query(include_restricted), params)
    return await _with_tags(source, list(found), include_restricted, tagged)


@cache
def _coming_query(include_restricted: bool) -> Any:
    tag = EventSensitivity
    query: Any = select(Event).join(tag, col(tag.event_id) == col(Event.id))
    now = bindparam("now", type_=UTCDateTime())
    query = query.where(
        col(tag.sensitivity_id) == bindparam("topic"),
        col(tag.occurred_at) > now,
        # as `upcoming_events`: known by now, and not seeded (in a replay, news to come)
        col(Event.created_at) <= now,
        func.coalesce(col(Event.seed_key), "") == "",
    )
    if not include_restricted:
        query = query.where(col(tag.visibility) == Visibility.team)
    return query.order_by(col(tag.occurred_at), col(tag.event_id)).limit(bindparam("limit"))


@cache
def _topic_both_query(include_restricted: bool) -> Any:
    """`timeline(until=now)` and `coming_up` as one statement: each list's ids off the tags'
    recency index by its own order and limit (`limit`, `coming_limit`), then their events,
    each marked whether it is still to come."""
    tag = EventSensitivity
    past: Any = select(col(tag.event_id).label("id")).where(
        col(tag.sensitivity_id) == bindparam("topic"),
        col(tag.occurred_at).is_not(None),
        col(tag.occurred_at) <= bindparam("now", type_=UTCDateTime()),
    )
    if not include_restricted:
        past = past.where(col(tag.visibility) == Visibility.team)
    latest = (
        past.order_by(col(tag.occurred_at).desc(), col(tag.event_id).desc())
        .limit(bindparam("limit"))
        .subquery()
    )
    coming = _coming_query(include_restricted).with_only_columns(col(tag.event_id).label("id"))
    coming = coming.limit(bindparam("coming_limit")).subquery()
    return _past_and_coming(latest, coming, include_restricted)


async def topic_timeline_and_coming(
    source: ReadSource,
    *,
    sensitivity_id: int,
    include_restricted: bool,
    now: datetime,
    limit: int = 20,
    coming_limit: int = 5,
) -> tuple[list[EventView], list[EventView]]:
    """`timeline(until=now)` and `coming_up`, as each lists them and with their tags, in one
    read (`/watch <topic>` shows both)."""
    params = {"topic": sensitivity_id, "now": now, "limit": limit, "coming_limit": coming_limit}
    return _newest_and_soonest(
        await reading(source).all(_topic_both_query(include_restricted), params)
    )


@lru_cache(maxsize=256)
def _latest_per_topic(
    topics: int, include_restricted: bool, bounded: bool, per_topic: int, *, whole: bool = True
) -> Any:
    """Each of `topics` topics' latest `per_topic` tags (the values bound per call: topic_0 …,
    until), with their events: one short range of the index (sensitivity_id, occurred_at,
    event_id) per topic, however many events the record holds. Built once per shape; built
    for each call, the statement and its cache key cost more than the query."""
    tag = EventSensitivity
    parts = []
    for n in range(topics):
        query: Any = select(
            col(tag.sensitivity_id).label("topic"), col(tag.event_id).label("event")
        ).where(
            col(tag.sensitivity_id) == bindparam(f"topic_{n}"), col(tag.occurred_at).is_not(None)
        )
        if not include_restricted:
            query = query.where(col(tag.visibility) == Visibility.team)
        if bounded:
            query = query.where(col(tag.occurred_at) <= bindparam("until"))
        latest = (
            query.order_by(col(tag.occurred_at).desc(), col(tag.event_id).desc())
            .limit(per_topic)
            .subquery()  # SQLite takes a LIMIT in a compound's part only inside a subquery
        )
        parts.append(select(latest.c.topic, latest.c.event))
    every: Any = union_all(*parts).subquery()
    shown: tuple[Any, ...] = (Event,) if whole else HEADLINE_COLUMNS
    return select(every.c.topic, *shown).join(Event, col(Event.id) == every.c.event)


async def latest_by_sensitivity(
    source: ReadSource,
    *,
    sensitivity_ids: Sequence[int],
    include_restricted: bool,
    until: datetime | None = None,
    per_topic: int = 2,
) -> dict[int, list[Headline]]:
    """The latest `per_topic` events of each sensitivity, newest first: `timeline` for many
    topics in one query, not one per topic. Each topic's latest are read off the tags' own
    copy of their event's time and visibility (migration 0006_topic_recency): at 10,000
    events 1 ms of SQL, against 11 ms ranking every tagged event through the event table.
    Each event comes as its `Headline`: what lists it under a topic needs no more."""
    topics = list(dict.fromkeys(sensitivity_ids))
    if not topics:
        return {}
    params: dict[str, Any] = {f"topic_{n}": topic for n, topic in enumerate(topics)}
    if until is not None:
        params["until"] = until
    statement = _latest_per_topic(
        len(topics), include_restricted, until is not None, per_topic, whole=False
    )
    rows = await reading(source).all(statement, params)
    found: dict[int, list[Headline]] = {topic: [] for topic in sensitivity_ids}
    for topic, *columns in sorted(rows, key=lambda r: (r[3], r[1]), reverse=True):
        found[topic].append(Headline(*columns))  # newest first in each topic
    return found


@lru_cache(maxsize=64)
def _topics_with_latest(
    include_restricted: bool, levels: tuple[Level, ...], bounded: bool, per_topic: int
) -> Any:
    """Every sensitivity (in view, at `levels`) with its latest `per_topic` events' headlines,
    outer-joined: each of its latest is a subquery of one row (`OFFSET n`) on the tags'
    recency index (sensitivity_id, occurred_at, event_id), as `_latest_per_topic` reads them,
    correlated to the sensitivity instead of bound by id, so the topics need no read first."""
    tag = EventSensitivity

    def nth_latest(n: int) -> Any:
        query: Any = select(tag.event_id).where(
            col(tag.sensitivity_id) == col(Sensitivity.id), col(tag.occurred_at).is_not(None)
        )
        if not include_restricted:
            query = query.where(col(tag.visibility) == Visibility.team)
        if bounded:
            query = query.where(col(tag.occurred_at) <= bindparam("until"))
        ordered = query.order_by(col(tag.occurred_at).desc(), col(tag.event_id).desc())
        return ordered.limit(1).offset(n).correlate(Sensitivity).scalar_subquery()

    latest = [nth_latest(n) for n in range(per_topic)]
    on = col(Event.id) == latest[0] if per_topic == 1 else col(Event.id).in_(latest)
    query: Any = select(Sensitivity, *HEADLINE_COLUMNS).outerjoin(Event, on)
    if not include_restricted:
        query = query.where(col(Sensitivity.visibility) == Visibility.team)
    if levels:
        query = query.where(col(Sensitivity.level).in_([str(level) for level in levels]))
    return query


async def topics_with_latest(
    source: ReadSource,
    *,
    include_restricted: bool,
    levels: Sequence[Level] = (),
    until: datetime | None = None,
    per_topic: int = 2,
) -> list[tuple[Sensitivity, list[Headline]]]:
    """`all_sensitivities` (in its order), each with what `latest_by_sensitivity` gives for
    it, in one read: `/watch` and App Home showed both with two."""
    statement = _topics_with_latest(include_restricted, tuple(levels), until is not None, per_topic)
    rows = await reading(source).all(statement, {"until": until} if until is not None else {})
    latest: dict[int, tuple[Sensitivity, list[Headline]]] = {}
    for topic, event_id, *columns in rows:
        shown = latest.setdefault(topic.id or 0, (topic, []))
        if event_id is not None:
            shown[1].append(Headline(event_id, *columns))
    for _, headlines in latest.values():
        headlines.sort(key=lambda h: (h.occurred_at, h.id), reverse=True)  # newest first
    return sorted(latest.values(), key=lambda pair: sensitivity_order(pair[0]))


async def add_event(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    title: str,
    occurred_at: datetime,
    zone: str = "UTC",
    kind: str = EventKind.other,
    summary: str = "",
    source_name: str = "",
    source_url: str = "",
    confidence: str = Confidence.reported,
    visibility: str = Visibility.team,
    track_id: int | None = None,
    round_id: int | None = None,
    sensitivity_ids: Sequence[int] = (),
    seed_key: str | None = None,
    from_item_id: int | None = None,
) -> EventView:
    """Adds the event, tagged with the sensitivities named and those its text mentions;
    `from_item_id` names the feed item it was made from, linked to it in one transaction."""
    await require_lead(session, actor)
    event = Event(
        title=clean_title(title),
        occurred_at=occurred_at,
        zone=zone_name(zone),
        kind=choice(kind, EventKind, field="kind", label="Kind"),
        summary=clean_text(
            summary, field="summary", label="The summary", limit=SUMMARY_LIMIT, required=False
        ),
        source_name=clean_text(
            source_name, field="source", label="The source", limit=300, required=False
        ),
        source_url=clean_url(source_url, field="source_url", label="The source URL", limit=1000),
        confidence=choice(confidence, Confidence, field="confidence", label="Confidence"),
        visibility=choice(visibility, Visibility, field="visibility", label="Visibility"),
        track_id=track_id,
        round_id=round_id,
        created_at=now,
        created_by=actor.id,
        seed_key=seed_key,
    )
    session.add(event)
    await session.flush()
    assert event.id is not None
    text = f"{event.title}\n{event.summary}"
    tagged = [
        s for s in await all_sensitivities(session) if s.id in sensitivity_ids or mentions(s, text)
    ]
    for sensitivity in tagged:
        assert sensitivity.id is not None
        session.add(EventSensitivity(event_id=event.id, sensitivity_id=sensitivity.id))
    if actor != SEED:  # seeded events are history, not news
        await queue_event_alerts(session, event, tagged, now=now)
    if from_item_id is not None:
        await stage_added(session, actor=actor, now=now, item_id=from_item_id, event_id=event.id)
    after = snapshot(event) or {}
    after["sensitivities"] = [s.slug for s in tagged]
    await commit_change(
        session,
        event,
        actor=actor,
        at=now,
        action="add",
        entity="event",
        after=after,
    )
    return EventView(event=event, sensitivities=tagged)
