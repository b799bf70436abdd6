"""Reads below the ORM (storage.direct) give what the ORM gives: for every read an answer
makes, on both databases, the same objects with the same values of the same types."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import bindparam, func, inspect, literal, text
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel, col, select

from storage import deadlines, events, history, rounds, search, sensitivities, tracks, truces
from storage.access import Actor
from storage.db import Database, LazySession
from storage.direct import MOST_PLANS, POSTGRES_READERS, Planner, SessionReads
from storage.lookups import command_context
from storage.models import Deadline, Event, Sensitivity, Track, Truce, TruceTerm
from tests.support.record import LEAD, LEAD_WRITES, NOW, WRITES, Seeded

Read = Callable[[Any, Seeded], Awaitable[Any]]
LATER = NOW + timedelta(days=40)


def plain(value: Any) -> Any:
    """A value as comparable data: a model as its class and columns, every leaf with its
    type (a str is not an enum, a naive time is not an aware one)."""
    if isinstance(value, SQLModel):
        keys = [a.key for a in inspect(type(value)).column_attrs]
        return (type(value).__name__, {k: plain(getattr(value, k)) for k in keys})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__name__, {f.name: plain(getattr(value, f.name)) for f in fields})
    if isinstance(value, Row):  # what a session gives for several columns: a tuple here
        return ("tuple", [plain(v) for v in value])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [plain(v) for v in value])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), value.utcoffset())
    return (type(value).__name__, value)


def _query(typed: str) -> search.Query:
    return search.read_query(typed)


#: Every read the answers make (handlers), with the shapes of their arguments.
READS: dict[str, Read] = {
    "command_context member": lambda r, ids: command_context(r, Actor("UMEMBER"), "CDESK"),
    "command_context lead": lambda r, ids: command_context(r, LEAD, ""),
    "truce_views all": lambda r, ids: truces.truce_views(r, track_ids=None),
    "truce_views scoped": lambda r, ids: truces.truce_views(r, track_ids=[ids.us_china]),
    "truce_views none": lambda r, ids: truces.truce_views(r, track_ids=[]),
    "upcoming": lambda r, ids: deadlines.upcoming_deadlines(
        r, now=NOW, track_ids=None, include_restricted=True
    ),
    "upcoming team scoped": lambda r, ids: deadlines.upcoming_deadlines(
        r, now=NOW, track_ids=[ids.us_eu], include_restricted=False, limit=2
    ),
    "count upcoming": lambda r, ids: deadlines.count_upcoming(
        r, now=NOW, track_ids=None, include_restricted=False
    ),
    "count until": lambda r, ids: deadlines.count_upcoming(
        r, now=NOW, track_ids=[ids.us_china], include_restricted=True, until=LATER
    ),
    "recently passed": lambda r, ids: deadlines.recently_passed(
        r, now=NOW + timedelta(days=5), track_ids=None, include_restricted=True
    ),
    "upcoming and passed": lambda r, ids: deadlines.upcoming_and_recently_passed(
        r, now=NOW + timedelta(days=5), track_ids=None, include_restricted=True, limit=45
    ),
    "upcoming and passed team scoped": lambda r, ids: deadlines.upcoming_and_recently_passed(
        r, now=NOW, track_ids=[ids.us_china], include_restricted=False, limit=2, passed_limit=1
    ),
    "talks": lambda r, ids: rounds.latest_and_next(r, now=NOW, track_ids=None),
    "talks scoped": lambda r, ids: rounds.latest_and_next(r, now=LATER, track_ids=[ids.us_eu]),
    "sensitivities": lambda r, ids: sensitivities.all_sensitivities(r, include_restricted=False),
    "hot sensitivities": lambda r, ids: sensitivities.all_sensitivities(
        r, levels=(sensitivities.Level.critical, sensitivities.Level.high)
    ),
    "find sensitivity": lambda r, ids: sensitivities.find_sensitivity(
        r, "taiwan", include_restricted=True
    ),
    "timeline": lambda r, ids: events.timeline(
        r, sensitivity_id=ids.taiwan, include_restricted=True, until=NOW
    ),
    "timeline unbounded": lambda r, ids: events.timeline(
        r, sensitivity_id=ids.taiwan, include_restricted=False, limit=3
    ),
    "coming up": lambda r, ids: events.coming_up(
        r, sensitivity_id=ids.taiwan, include_restricted=True, now=NOW
    ),
    "latest by topic": lambda r, ids: events.latest_by_sensitivity(
        r, sensitivity_ids=[ids.taiwan, ids.taiwan + 1, 99], include_restricted=True, until=NOW
    ),
    "latest events": lambda r, ids: events.latest_events(
        r, track_ids=[ids.us_china], include_restricted=True, until=NOW, limit=5
    ),
    "upcoming events": lambda r, ids: events.upcoming_events(
        r, now=NOW, track_ids=None, include_restricted=False, limit=3
    ),
    "latest and coming": lambda r, ids: events.latest_and_coming(
        r, now=NOW, track_ids=None, include_restricted=True, limit=5, coming_limit=3
    ),
    "latest and coming team scoped": lambda r, ids: events.latest_and_coming(
        r, now=NOW, track_ids=[ids.us_china], include_restricted=False, limit=2, coming_limit=1
    ),
    "topics with latest": lambda r, ids: events.topics_with_latest(
        r, include_restricted=True, until=NOW, per_topic=2
    ),
    "hot topics with latest, team": lambda r, ids: events.topics_with_latest(
        r, include_restricted=False, levels=(sensitivities.Level.critical,), per_topic=1
    ),
    "topic timeline and coming": lambda r, ids: events.topic_timeline_and_coming(
        r, sensitivity_id=ids.taiwan, include_restricted=True, now=NOW, limit=3
    ),
    "history": lambda r, ids: history.changes(r, include_restricted=True, limit=7),
    "history page 2": lambda r, ids: history.changes(
        r, include_restricted=False, offset=5, limit=5, track_ids=[ids.us_china]
    ),
    "history since": lambda r, ids: history.changes(
        r,
        include_restricted=True,
        since=NOW - timedelta(days=400),
        until=NOW,
        without_actors=["parley"],
        entities=history.EVERYTHING,
    ),  # fmt: skip
    "tracks": lambda r, ids: tracks.all_tracks(r),
    "search words": lambda r, ids: search.search_record(
        r, typed="tariff", include_restricted=True, until=NOW
    ),
    "search phrase": lambda r, ids: search.search_record(
        r, typed='"rare earths" -nvidia kind:event', include_restricted=False
    ),
    "search track": lambda r, ids: search.search_record(
        r, typed="truce track:us-china", include_restricted=True, until=NOW
    ),
    "search chinese": lambda r, ids: search.search_record(r, typed="台湾", include_restricted=True),
    "search topic": lambda r, ids: search.search_record(
        r, typed="export controls", include_restricted=True, until=NOW
    ),
    "search substring": lambda r, ids: search.search_record(
        r, typed="rif", include_restricted=True
    ),
}


#: The reads that find nothing, as they should (an empty scope).
EMPTY = {"truce_views none"}


async def _more_of_the_record(db: Database, seeded: Seeded, lead: Actor) -> None:
    """Every write service once (a second truce, an extension, a round …) and a restricted
    deadline, so that the reads meet every kind of row."""
    for name in LEAD_WRITES:
        write, _ = WRITES[name]
        async with db.session() as s:
            await write(s, lead, seeded)
    async with db.session() as s:
        await deadlines.add_deadline(
            s, actor=lead, now=NOW, title="Closed-door review", due_at=LATER,
            zone="Asia/Kolkata", kind="legislative_step", visibility="restricted",
        )  # fmt: skip
        for visibility in ("team", "restricted"):  # news dated later than it was entered
            await events.add_event(
                s, actor=lead, now=NOW, title=f"Taiwan arms sale vote ({visibility})",
                occurred_at=LATER, zone="Asia/Taipei", visibility=visibility,
                track_id=seeded.us_china, sensitivity_ids=[seeded.taiwan],
            )  # fmt: skip


@pytest.mark.parametrize("name", list(READS))
async def test_a_direct_read_gives_what_the_orm_gives(
    db: Database, seeded: Seeded, lead: Actor, name: str
) -> None:
    await _more_of_the_record(db, seeded, lead)
    read = READS[name]
    async with db.session() as session:
        found = await read(SessionReads(session), seeded)
    through_the_orm = plain(found)
    assert found or name in EMPTY, f"{name} found nothing: the comparison would prove little"
    assert db.direct is not None
    for _ in range(2):  # planned, then from the plan
        async with db.reads() as reads:
            assert not isinstance(reads, SessionReads)
            assert plain(await read(reads, seeded)) == through_the_orm


async def test_the_shapes_a_statement_can_have(db: Database, seeded: Seeded) -> None:
    ids: Any = bindparam("ids", expanding=True)
    terms = select(TruceTerm).where(col(TruceTerm.truce_id).in_(ids)).order_by(col(TruceTerm.id))
    joined = (
        select(Truce, Track)
        .outerjoin(Track, col(Track.id) == col(Truce.track_id) + 1000)
        .where(col(Truce.id) == seeded.truce)
    )
    values = select(Deadline.title, literal(7).label("seven"), Deadline.due_at).where(
        col(Deadline.kind).in_(["truce_expiry", "nothing"])  # a literal list, not a bound one
    )
    count = select(func.count()).select_from(Event)

    async def every_shape(reads: Any) -> list[Any]:
        return [
            plain(await reads.all(terms, {"ids": []})),
            plain(await reads.all(terms, {"ids": [seeded.truce, seeded.truce]})),
            plain(await reads.all(joined)),
            plain(await reads.all(values)),
            plain(await reads.one(count)),
            plain(await reads.get(Sensitivity, seeded.taiwan)),
            plain(await reads.get(Sensitivity, 9999)),
            plain(await reads.first(terms, {"ids": [9999]})),
        ]

    async with db.session() as session:
        expected = await every_shape(SessionReads(session))
    async with db.reads() as reads:
        got = await every_shape(reads)
    assert got == expected
    assert got[2][1][0][1][1] == ("NoneType", None)  # the outer join found no track
    assert len(got[1][1]) == 2 and got[0] == ("list", [])


async def test_what_a_direct_read_gives_is_detached_and_never_written(
    db: Database, seeded: Seeded
) -> None:
    async with db.reads() as reads:
        item = await reads.get(Sensitivity, seeded.taiwan)
    assert item is not None and inspect(item).detached
    item.name = "Changed on a read copy"
    async with db.session() as session:
        await session.commit()
        stored = await session.get(Sensitivity, seeded.taiwan)
    assert stored is not None and stored.name != "Changed on a read copy"


async def test_a_failed_direct_read_is_a_database_error(db: Database) -> None:
    broken = select(literal(1)).where(func.no_such_function(1) == 1)
    async with db.reads() as reads:
        with pytest.raises(DBAPIError):
            await reads.all(broken)


def test_a_statement_is_compiled_once_and_the_plans_are_bounded(db: Database) -> None:
    planner = Planner(db.engine.dialect)
    query = select(Track).order_by(col(Track.handle))
    assert planner.plan(query) is planner.plan(query)
    built_per_call = [select(Track).where(col(Track.id) == n) for n in range(MOST_PLANS + 5)]
    for statement in built_per_call:
        planner.plan(statement)
    assert len(planner._plans) == MOST_PLANS  # noqa: SLF001
    assert planner.plan(built_per_call[-1]) is planner.plan(built_per_call[-1])


async def test_many_answers_at_once_share_the_readers_and_give_them_back(
    db: Database, seeded: Seeded
) -> None:
    async def answer() -> int:
        async with db.reads() as reads:
            found = await truces.truce_views(reads, track_ids=None)
            await asyncio.sleep(0)  # another answer runs meanwhile
            found += await truces.truce_views(reads, track_ids=[seeded.us_china])
            return len(found)

    counts = await asyncio.gather(*(answer() for _ in range(POSTGRES_READERS * 3)))
    assert set(counts) == {2}
    if not db.is_sqlite:
        assert db.direct is not None and db.direct._pool is not None  # noqa: SLF001
        assert db.direct._pool.get_idle_size() == db.direct._pool.get_size()  # noqa: SLF001


async def test_a_direct_read_sees_a_write_committed_just_before(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.reads() as reads:
        before = await deadlines.count_upcoming(
            reads, now=NOW, track_ids=None, include_restricted=True
        )
    async with db.session() as s:
        await deadlines.add_deadline(
            s, actor=lead, now=NOW, title="Vote", due_at=LATER, zone="UTC",
            kind="legislative_step",
        )  # fmt: skip
    async with db.reads() as reads:
        after = await deadlines.count_upcoming(
            reads, now=NOW, track_ids=None, include_restricted=True
        )
    assert after == before + 1


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_long_statement_stays_prepared_on_postgres(db: Database, seeded: Seeded) -> None:
    """asyncpg prepares a statement over 15 KB afresh on every call unless told otherwise:
    a `/watch` of 45 topics is one (7 ms of planning each time, against 2 ms)."""
    topics = [seeded.taiwan, *range(1000, 1044)]  # the ids need not exist
    async with db.reads() as reads:
        statement = events._latest_per_topic(45, True, False, 2, whole=False)  # noqa: SLF001
        sql, _ = db.direct.planner.plan(statement).sql_and_values(  # type: ignore[union-attr]
            {f"topic_{n}": t for n, t in enumerate(topics)}
        )
        assert len(sql) > 15 * 1024
        await events.latest_by_sensitivity(reads, sensitivity_ids=topics, include_restricted=True)
        connection = reads._connection  # type: ignore[attr-defined]  # noqa: SLF001
        kept = await connection.fetchval(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", sql
        )
    assert kept == 1


async def test_a_session_when_used_is_made_at_its_first_use_and_closed_after(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session_when_used() as unused:
        assert cast(LazySession, unused).opened is None
    assert cast(LazySession, unused).opened is None  # a read-only command made none
    async with db.session_when_used() as used:
        await deadlines.add_deadline(
            used, actor=lead, now=NOW, title="Written through a lazy session", due_at=LATER,
            zone="UTC", kind="legislative_step",
        )  # fmt: skip
        opened = cast(LazySession, used).opened
        assert opened is not None
    assert not opened.in_transaction()  # committed and given back
    async with db.reads() as reads:
        titles = [d.title for d in await deadlines.upcoming_deadlines(
            reads, now=NOW, track_ids=None, include_restricted=True
        )]  # fmt: skip
    assert "Written through a lazy session" in titles


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_the_readers_take_the_url_options_sqlalchemy_takes(
    db: Database, seeded: Seeded
) -> None:
    """`?prepared_statement_cache_size=0` (SQLAlchemy's advice behind PgBouncer) is not an
    asyncpg option: the readers take it as asyncpg's own statement cache size."""
    url = make_url(db.url).update_query_dict({"prepared_statement_cache_size": "0"})
    behind_a_proxy = Database(url.render_as_string(hide_password=False))
    try:
        async with behind_a_proxy.reads() as reads:
            assert [t.handle for t in await tracks.all_tracks(reads)]
    finally:
        await behind_a_proxy.dispose()


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_reader_the_server_closed_fails_no_answer(db: Database, seeded: Seeded) -> None:
    async with db.reads() as reads:
        await tracks.all_tracks(reads)
        pid = reads._connection.get_server_pid()  # type: ignore[attr-defined]  # noqa: SLF001
    async with db.engine.connect() as other:  # as a failover or a proxy's idle timeout would
        await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.1)
    async with db.reads() as reads:
        assert await tracks.all_tracks(reads)


async def test_after_close_a_late_answer_opens_nothing(db: Database) -> None:
    assert db.direct is not None
    async with db.reads() as reads:
        await tracks.all_tracks(reads)
    await db.direct.close()
    if db.is_sqlite:
        return  # SQLite's one connection reopens on the next read and is closed with it
    with pytest.raises(DBAPIError):
        async with db.reads() as reads:
            await tracks.all_tracks(reads)
    assert db.direct._pool is None  # noqa: SLF001


async def test_a_database_file_that_cannot_be_opened_is_a_database_error(
    tmp_path: Path,
) -> None:
    missing = Database(f"sqlite:///{tmp_path / 'no-such-folder' / 'parley.db'}")
    try:
        async with missing.reads() as reads:
            with pytest.raises(DBAPIError):
                await tracks.all_tracks(reads)
    finally:
        await missing.dispose()


async def test_instants_come_back_in_utc_whatever_the_driver_gives(
    db: Database, seeded: Seeded
) -> None:
    """`UTCDateTime` in one step (storage.direct): aware, in UTC, the instant stored."""
    query = select(Deadline.due_at, Deadline.zone).order_by(col(Deadline.id))
    async with db.session() as session:
        expected = [plain(row) for row in (await session.exec(query)).all()]
    async with db.reads() as reads:
        got = await reads.all(query)
    assert [plain(row) for row in got] == expected
    assert got and all(due.utcoffset() == timedelta(0) for due, _ in got)


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_with_every_reader_busy_an_answer_waits_then_reads_or_says_unavailable(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A free reader is taken at once; with none free, the answer waits for one given back,
    and past the wait (`ACQUIRE_SECONDS`) fails with a TimeoutError (an OSError: "the record
    is unavailable", handlers.errors), not a hang."""
    from storage import direct

    assert db.direct is not None
    monkeypatch.setattr(direct, "ACQUIRE_SECONDS", 0.3)
    count = select(func.count()).select_from(Track)
    held: list[Any] = []
    release = asyncio.Event()

    async def holding() -> None:
        async with db.reads() as reads:
            await reads.one(count)  # takes a reader
            held.append(reads)
            await release.wait()

    holders = [asyncio.create_task(holding()) for _ in range(db.direct.readers)]
    while len(held) < db.direct.readers:
        await asyncio.sleep(0.01)
    with pytest.raises(TimeoutError):  # none given back within the wait
        async with db.reads() as reads:
            await reads.one(count)
    async with db.reads() as reads:
        waiting = asyncio.create_task(reads.one(count))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        release.set()  # the holders give theirs back
        assert await waiting == 0
    await asyncio.gather(*holders)
    pool = db.direct._pool  # noqa: SLF001
    assert pool is not None and pool.get_idle_size() == pool.get_size()


async def test_a_parent_repeated_by_a_join_is_one_object_as_the_orm_gives(
    db: Database, seeded: Seeded
) -> None:
    query = (
        select(Truce, TruceTerm)
        .join(TruceTerm, col(TruceTerm.truce_id) == col(Truce.id))
        .order_by(col(TruceTerm.id))
    )
    async with db.session() as session:
        through_the_orm = (await session.exec(query)).all()
    async with db.reads() as reads:
        below_it = await reads.all(query)
    assert len(below_it) == len(through_the_orm) >= 2
    assert [plain(tuple(r)) for r in below_it] == [plain(tuple(r)) for r in through_the_orm]
    assert len({id(truce) for truce, _ in below_it}) == 1
    assert len({id(term) for _, term in below_it}) == len(below_it)
