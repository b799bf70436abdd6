"""The record's version: it moves with every committed change to the record, whichever path
made it and whichever process, and only then; on PostgreSQL it needs its listener."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from storage import deadlines, tracks
from storage.access import CLI
from storage.db import Database
from storage.handled import first_time
from storage.models import Deadline, Track
from storage.version import Version
from tests.support.databases import drop_pg_database, make_database_url
from tests.support.people import AS_OF

NOTIFY_WAIT = 3.0


async def listening_version(db: Database) -> Version:
    assert await db.watch_changes(), "the record's version should be observable"
    version = db.version.current()
    assert version is not None
    return version


async def moved_from(db: Database, before: Version, *, wait: float = 0.0) -> bool:
    """Whether `db`'s version moved from `before`, waiting up to `wait` seconds."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        if db.version.current() not in (before, None):
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.01)


async def test_a_service_call_that_changes_the_record_moves_the_version(db: Database) -> None:
    before = await listening_version(db)
    async with db.session() as session:
        await tracks.add_track(
            session, actor=CLI, now=AS_OF, handle="us-uk", name="US–UK", parties=[]
        )
    assert await moved_from(db, before)


async def test_a_row_written_directly_moves_the_version_too(db: Database) -> None:
    before = await listening_version(db)
    async with db.session() as session:
        session.add(Track(handle="direct", name="Written without a service", parties=[]))
        await session.commit()
    assert await moved_from(db, before)


async def test_reads_and_rolled_back_writes_leave_the_version_alone(db: Database) -> None:
    before = await listening_version(db)
    async with db.session() as session:
        await tracks.all_tracks(session)
        session.add(Track(handle="never", name="Rolled back", parties=[]))
        await session.flush()
        await session.rollback()
    assert db.version.current() == before


async def test_bookkeeping_does_not_move_the_version_on_postgres(tmp_path: Any) -> None:
    """Handled request ids are written on every event; they must not empty the caches.
    (SQLite's data_version moves with any commit: there it is a lost hit, not an error.)"""
    url = await make_database_url("postgres", tmp_path)
    db = Database(url)
    try:
        await db.upgrade()
        before = await listening_version(db)
        async with db.session() as session:
            assert await first_time(session, request_id="Ev01", now=AS_OF)
            await session.commit()
        assert not await moved_from(db, before, wait=0.2)
    finally:
        await db.dispose()
        await drop_pg_database(url)


async def test_a_change_by_another_sqlite_connection_is_seen_at_once(tmp_path: Any) -> None:
    """`parley import` or `parley seed` beside a running server: PRAGMA data_version."""
    url = await make_database_url("sqlite", tmp_path)
    server, other = Database(url), Database(url)
    try:
        await server.upgrade()
        before = await listening_version(server)
        async with other.session() as session:
            await deadlines.add_deadline(
                session,
                actor=CLI,
                now=AS_OF,
                title="Elsewhere",
                due_at=AS_OF + timedelta(days=2),
                zone="UTC",
            )
        assert server.version.current() not in (before, None)
    finally:
        await other.dispose()
        await server.dispose()


async def test_a_change_on_one_postgres_replica_reaches_the_other_by_notify(tmp_path: Any) -> None:
    url = await make_database_url("postgres", tmp_path)
    first, second = Database(url), Database(url)
    try:
        await first.upgrade()
        await listening_version(first)
        before = await listening_version(second)
        async with first.session() as session:
            session.add(
                Deadline(
                    title="From the first replica",
                    due_at=AS_OF + timedelta(days=1),
                    zone="UTC",
                    created_at=AS_OF,
                )
            )
            await session.commit()
        assert await moved_from(second, before, wait=NOTIFY_WAIT)
    finally:
        await first.dispose()
        await second.dispose()
        await drop_pg_database(url)


async def test_without_its_listener_postgres_caches_nothing() -> None:
    down = Database("postgresql+asyncpg://nobody@127.0.0.1:1/parley")
    try:
        assert down.version.current() is None
        assert not await down.watch_changes(timeout=0.3)
        assert down.version.current() is None
    finally:
        await down.dispose()


async def test_a_lost_listener_turns_caching_off_until_it_is_back(tmp_path: Any) -> None:
    url = await make_database_url("postgres", tmp_path)
    db = Database(url)
    try:
        await db.upgrade()
        before = await listening_version(db)
        async with db.session() as session:
            await session.exec(
                text(  # type: ignore[call-overload]
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN %'"
                )
            )
        deadline = asyncio.get_running_loop().time() + NOTIFY_WAIT
        while db.version.current() is not None:  # changes may go unheard: cache nothing
            assert asyncio.get_running_loop().time() < deadline, "the loss went unnoticed"
            await asyncio.sleep(0.01)
        after = await listening_version(db)  # reconnected
        assert after != before  # whatever was cached before the loss is not used again
    finally:
        await db.dispose()
        await drop_pg_database(url)


RAW_WRITES = [
    "INSERT INTO track (handle, name, parties, status) VALUES ('raw', 'By hand', '[]', 'active')",
    "UPDATE sensitivity SET level = 'critical'",
    "DELETE FROM event_sensitivity",
    "UPDATE audit_entry SET actor = 'psql' WHERE id = (SELECT MIN(id) FROM audit_entry)",
]


async def _seeded_postgres(tmp_path: Any) -> tuple[str, Database]:
    from tests.support.databases import seed

    url = await make_database_url("postgres", tmp_path)
    db = Database(url)
    await db.upgrade()
    await seed(db)
    return url, db


@pytest.mark.parametrize("statement", RAW_WRITES)
async def test_a_write_by_psql_reaches_postgres_listeners_by_the_trigger(
    tmp_path: Any, statement: str
) -> None:
    """No session event sees this write: the database's own trigger announces it."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url, db = await _seeded_postgres(tmp_path)
    try:
        before = await listening_version(db)
        parsed = make_url(url)
        psql = await asyncpg.connect(
            user=parsed.username, host=parsed.query.get("host"), database=parsed.database
        )
        try:
            await psql.execute(statement)
        finally:
            await psql.close()
        assert await moved_from(db, before, wait=NOTIFY_WAIT)
    finally:
        await db.dispose()
        await drop_pg_database(url)


async def test_a_core_write_in_this_process_moves_the_version_on_postgres(tmp_path: Any) -> None:
    url, db = await _seeded_postgres(tmp_path)
    try:
        before = await listening_version(db)
        async with db.engine.begin() as connection:  # no session: no session event
            await connection.execute(text("UPDATE deadline SET zone = 'UTC'"))
        assert await moved_from(db, before, wait=NOTIFY_WAIT)
        settled = await listening_version(db)
        async with db.engine.begin() as connection:  # a write that is rolled back
            await connection.execute(text("UPDATE deadline SET zone = 'Asia/Tokyo'"))
            await connection.rollback()
        assert not await moved_from(db, settled, wait=0.3)
    finally:
        await db.dispose()
        await drop_pg_database(url)


async def test_a_raw_sqlite_write_by_another_connection_is_seen_at_once(tmp_path: Any) -> None:
    import sqlite3

    url = await make_database_url("sqlite", tmp_path)
    db = Database(url)
    try:
        await db.upgrade()
        before = await listening_version(db)
        raw = sqlite3.connect(str(tmp_path / "parley-test.db"))
        raw.execute(RAW_WRITES[0])
        raw.commit()
        raw.close()
        assert db.version.current() not in (before, None)
    finally:
        await db.dispose()
