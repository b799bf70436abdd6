"""Each process keeps a pool of connections (`PARLEY_DB_POOL`): answers in flight up to its
size reuse them, burst after burst, instead of opening and closing their own, on SQLite and
on PostgreSQL (where every statement yields, so each answer in flight holds one)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from bot.settings import Settings
from storage.db import POSTGRES_POOL, SQLITE_POOL, Database


@pytest.mark.parametrize("kept", [1, 3, 12])
async def test_bursts_within_the_pool_open_no_connection_after_the_first(
    db: Database, kept: int
) -> None:
    pooled = Database(db.url, pool=kept)
    opened: list[object] = []
    event.listen(pooled.engine.sync_engine, "connect", lambda *_: opened.append(1))

    async def answer() -> None:
        async with pooled.session() as session:
            connection = await session.connection()
            await connection.exec_driver_sql("SELECT 1")
            await asyncio.sleep(0.001)  # every answer of the burst in flight together

    try:
        await asyncio.gather(*(answer() for _ in range(kept)))
        first_burst = len(opened)
        for _ in range(4):
            await asyncio.sleep(0.01)  # a pause between bursts: what is kept stays open
            await asyncio.gather(*(answer() for _ in range(kept)))
        assert first_burst == kept
        assert len(opened) == kept
        # A burst past the pool is served too (by connections opened for it) …
        await asyncio.gather(*(answer() for _ in range(kept + 2)))
        assert len(opened) == kept + 2
        # … and only those past the pool are closed after it.
        assert pooled.engine.pool.checkedin() == kept  # type: ignore[attr-defined]
    finally:
        await pooled.dispose()


def test_the_default_pools_hold_the_answers_in_flight_of_spec_8() -> None:
    """PostgreSQL: the 50 concurrent clients of SPEC §8; SQLite answers hold a connection
    only while they write, as its reads never yield (storage.sqlite_reads)."""
    assert Database("postgresql://u@h/db").pool_size == POSTGRES_POOL >= 50
    assert Database("sqlite:///x.db").pool_size == SQLITE_POOL >= 10
    assert Database("sqlite:///x.db", pool=3).pool_size == 3


@pytest.mark.parametrize(("typed", "kept"), [(None, None), ("1", 1), ("64", 64), (" 500 ", 500)])
def test_parley_db_pool_is_read(typed: str | None, kept: int | None) -> None:
    settings = Settings.load({} if typed is None else {"PARLEY_DB_POOL": typed})
    assert settings.db_pool == kept


async def test_sqlite_reads_in_flight_together_share_one_connection(sqlite_db: Database) -> None:
    """An answer's session that only read gives its connection back as it ends, without
    first letting the loop run the other answers: fifty at once need one connection (a
    shielded close, in a task of its own, kept every connection out until all had read)."""
    # (Not on PostgreSQL: there every statement yields, so each answer in flight holds one.)
    from storage.models import Track
    from storage.tracks import all_tracks

    pooled = Database(sqlite_db.url, pool=3)
    opened: list[object] = []
    event.listen(pooled.engine.sync_engine, "connect", lambda *_: opened.append(1))

    async def answer() -> list[Track]:
        async with pooled.session() as session:
            found = await all_tracks(session)
            assert session.in_transaction()  # a connection held: the session must close
            return found

    try:
        await answer()  # opening the first connection waits for its thread, as it should
        assert len(opened) == 1
        for _ in range(3):
            answers = await asyncio.gather(*(answer() for _ in range(50)))
            assert len({len(a) for a in answers}) == 1
        assert len(opened) == 1
        assert pooled.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await pooled.dispose()


async def test_a_cancelled_answer_gives_back_a_connection_holding_a_write(db: Database) -> None:
    """Closing a session whose write never committed waits (a rollback on SQLite's worker
    thread, or PostgreSQL's round trip); cancelled meanwhile, it still rolls back and gives
    its connection back, and the write is not kept."""
    from sqlalchemy import text

    from storage.models import Track

    pooled = Database(db.url, pool=2)
    closing = asyncio.Event()

    async def write_then_hang() -> None:
        async with pooled.session() as session:
            session.add(Track(handle="never-kept", name="Never kept", parties=["US"]))
            await session.flush()  # the write is in the transaction, not committed
            closing.set()
            await asyncio.sleep(3600)  # cancelled here; the session then closes

    try:
        task = asyncio.create_task(write_then_hang())
        waiting = asyncio.create_task(closing.wait())
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
        assert closing.is_set(), task.exception()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(200):  # the shielded close runs on in its own task
            if pooled.engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)
        assert pooled.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        async with pooled.engine.connect() as conn:
            kept = await conn.execute(
                text("SELECT count(*) FROM track WHERE handle = 'never-kept'")
            )
            assert kept.scalar_one() == 0
    finally:
        await pooled.dispose()
