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
