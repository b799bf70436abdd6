"""SQLite reads run on the event loop's thread, writes on aiosqlite's worker thread
(`storage.sqlite_reads`): measured by the thread each statement runs on, through the real
engine `Database` builds, and by a writer waiting for the lock while the loop goes on."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, text

from storage.db import SQLITE_POOL, Database
from storage.sqlite_reads import reads_only


@pytest.fixture
async def probe_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A bare SQLite file through `Database`, with `thread()` telling which thread runs it."""
    db = Database(f"sqlite:///{tmp_path / 'probe.db'}")

    @event.listens_for(db.engine.sync_engine, "connect")
    def add_probe(dbapi_connection: Any, _record: Any) -> None:
        raw = dbapi_connection.driver_connection._conn  # the sqlite3.Connection under aiosqlite
        raw.create_function("thread", 0, threading.get_ident)

    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE probe (thread INTEGER, n INTEGER)")
        await conn.exec_driver_sql("INSERT INTO probe VALUES (0, 0)")
    yield db
    await db.dispose()


LOOP_THREAD = threading.get_ident


async def test_a_select_and_its_rows_run_on_the_loops_thread(probe_db: Database) -> None:
    async with probe_db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql("SELECT thread(), n FROM probe")).all()
        assert rows == [(LOOP_THREAD(), 0)]
        lower = (await conn.exec_driver_sql("  select thread()")).scalar_one()
        assert lower == LOOP_THREAD()


async def test_writes_run_on_the_worker_thread_and_so_do_their_returned_rows(
    probe_db: Database,
) -> None:
    async with probe_db.engine.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO probe VALUES (thread(), 1)")
        returned = (
            await conn.exec_driver_sql("INSERT INTO probe VALUES (thread(), 2) RETURNING thread")
        ).scalar_one()
        updated = (
            await conn.exec_driver_sql("UPDATE probe SET n = n WHERE n = 1 RETURNING thread()")
        ).scalar_one()
        # A read inside the write transaction is still inline, and sees its own writes.
        seen = (await conn.exec_driver_sql("SELECT count(*), thread() FROM probe")).one()
    written = [row[0] for row in (await _read_all(probe_db)) if row[1] in (1, 2)]
    assert all(thread != LOOP_THREAD() for thread in [*written, returned, updated])
    assert seen == (3, LOOP_THREAD())


async def _read_all(db: Database) -> list[Any]:
    async with db.engine.connect() as conn:
        return list((await conn.exec_driver_sql("SELECT thread, n FROM probe ORDER BY n")).all())


async def test_a_writer_waiting_for_the_lock_leaves_the_loop_free_and_readers_see_the_last_commit(
    probe_db: Database,
) -> None:
    """Were writes run inline, the second writer would block the loop in SQLite's busy wait,
    and the first could never commit: the read below would not run until it gave up."""
    async with probe_db.engine.connect() as first, probe_db.engine.connect() as second:
        await second.exec_driver_sql("PRAGMA busy_timeout=5000")
        await first.exec_driver_sql("BEGIN IMMEDIATE")  # holds the write lock
        await first.exec_driver_sql("INSERT INTO probe VALUES (0, 10)")
        waiting = asyncio.create_task(second.exec_driver_sql("INSERT INTO probe VALUES (0, 20)"))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # it waits for the lock, on its own thread
        # Meanwhile the loop runs, and a reader sees the last committed state at once.
        assert [n for _, n in await _read_all(probe_db)] == [0]
        await first.exec_driver_sql("COMMIT")
        await asyncio.wait_for(waiting, timeout=5)
        await second.commit()
    assert [n for _, n in await _read_all(probe_db)] == [0, 10, 20]


async def test_a_session_that_only_read_ends_without_the_worker_thread(probe_db: Database) -> None:
    """Its rollback at the end ends no transaction, so it is made inline too: a whole read
    session, statements and end, never waits for the worker thread."""

    async def read() -> None:
        async with probe_db.session() as session:
            conn = await session.connection()
            await conn.execute(text("SELECT n FROM probe"))
            await conn.exec_driver_sql("SELECT thread()")

    await read()  # the pool's connection is made (its PRAGMAs go to the worker thread)
    hops: list[str] = []
    hand_off = aiosqlite.Connection._execute  # aiosqlite's own: the worker thread

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", "?"))
        return await hand_off(self, fn, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", counted)
        await read()
        async with probe_db.session() as session:  # a write still hands off
            conn = await session.connection()
            await conn.exec_driver_sql("INSERT INTO probe VALUES (0, 3)")
            await session.commit()
    assert hops == ["execute", "commit"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", True),
        ("  select * from event", True),
        ("\nSELECT\tx", True),
        ("INSERT INTO t VALUES (1)", False),
        ("UPDATE t SET x = 1", False),
        ("DELETE FROM t", False),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", False),
        ("PRAGMA journal_mode=WAL", False),
        ("BEGIN", False),
        ("SELEC", False),
        ("", False),
        (None, False),
    ],
)
def test_only_a_plain_select_counts_as_a_read(sql: object, expected: bool) -> None:
    assert reads_only(sql) is expected


async def test_answers_in_flight_reuse_the_pools_connections(probe_db: Database) -> None:
    """Ten sessions at once (SPEC §8's concurrency at scale), again and again, open no
    connection after the first round: past the pool's size (it was 5), each session opened
    its own (a thread and its PRAGMAs)."""
    opened: list[object] = []
    event.listen(probe_db.engine.sync_engine, "connect", lambda *_: opened.append(1))

    async def answer() -> None:
        async with probe_db.session() as session:
            conn = await session.connection()
            await conn.exec_driver_sql("SELECT n FROM probe")
            await asyncio.sleep(0)  # all in flight together

    await asyncio.gather(*(answer() for _ in range(10)))
    first_round = len(opened)
    for _ in range(5):
        await asyncio.gather(*(answer() for _ in range(10)))
    assert 0 < first_round <= 10 <= SQLITE_POOL
    assert len(opened) == first_round


async def _second_writer_waiting(second: Any) -> asyncio.Task[Any]:
    """`second` starts a write while another connection's write is open: it must wait."""
    waiting = asyncio.create_task(second.exec_driver_sql("INSERT INTO probe VALUES (0, 20)"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not waiting.done()
    return waiting


async def test_a_second_writer_waits_its_turn_in_the_process_not_in_sqlites_busy_wait(
    probe_db: Database,
) -> None:
    """With no busy wait at all (busy_timeout 0), SQLite refuses a second writer at once;
    here it waits for this process's turn and writes the moment the first commits."""
    async with probe_db.engine.connect() as first, probe_db.engine.connect() as second:
        await second.exec_driver_sql("PRAGMA busy_timeout=0")
        await first.exec_driver_sql("INSERT INTO probe VALUES (0, 10)")  # a write begun
        waiting = await _second_writer_waiting(second)
        await first.commit()
        await asyncio.wait_for(waiting, timeout=5)
        await second.commit()
    assert [n for _, n in await _read_all(probe_db)] == [0, 10, 20]


async def test_a_failed_write_keeps_the_turn_until_its_rollback(probe_db: Database) -> None:
    async with probe_db.engine.connect() as first, probe_db.engine.connect() as second:
        await second.exec_driver_sql("PRAGMA busy_timeout=0")
        await first.exec_driver_sql("INSERT INTO probe VALUES (0, 10)")
        with pytest.raises(Exception, match="no such table"):
            await first.exec_driver_sql("INSERT INTO missing VALUES (1)")
        waiting = await _second_writer_waiting(second)
        await first.rollback()
        await asyncio.wait_for(waiting, timeout=5)
        await second.commit()
    assert [n for _, n in await _read_all(probe_db)] == [0, 20]
