"""`storage/handled.py`: claiming a Slack request id once, on both databases, below the ORM
where the database allows it and through a session where it does not."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from storage.db import Database
from storage.handled import _claim, claim, first_time, forget_handled
from storage.models import HandledRequest
from tests.support.people import AS_OF


async def claimed(db: Database) -> list[str]:
    async with db.session() as session:
        return sorted(r.request_id for r in (await session.exec(select(HandledRequest))).all())


class OrmStatements:
    """Statements the engine (sessions, Core connections) sent: the direct path sends none."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self.seen)

    def seen(self, *_: Any) -> None:
        self.count += 1


async def test_the_first_claim_wins_and_a_repeat_is_refused(db: Database) -> None:
    assert await claim(db, request_id="Ev01", now=AS_OF) is True
    assert await claim(db, request_id="Ev01", now=AS_OF) is False
    assert await claim(db, request_id="Ev02", now=AS_OF) is True
    async with db.session() as session:
        stored = (await session.exec(select(HandledRequest))).all()
    assert sorted(r.request_id for r in stored) == ["Ev01", "Ev02"]
    assert {r.handled_at for r in stored} == {AS_OF}


async def test_a_claim_is_written_below_the_orm_and_committed(db: Database) -> None:
    statements = OrmStatements(db)
    assert await claim(db, request_id="EvDIRECT", now=AS_OF)
    assert statements.count == 0
    other = Database(db.url)  # another process: sees it, so it was committed
    try:
        assert await claimed(other) == ["EvDIRECT"]
        assert await claim(other, request_id="EvDIRECT", now=AS_OF) is False
    finally:
        await other.dispose()


async def test_concurrent_claims_of_one_id_have_one_winner(db: Database) -> None:
    results = await asyncio.gather(
        *(claim(db, request_id="EvRACE", now=AS_OF) for _ in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]


async def test_two_replicas_claiming_the_same_ids_agree(db: Database) -> None:
    other = Database(db.url)
    try:
        ids = [f"EvBOTH{n}" for n in range(20)]
        mine, theirs = await asyncio.gather(
            asyncio.gather(*(claim(db, request_id=i, now=AS_OF) for i in ids)),
            asyncio.gather(*(claim(other, request_id=i, now=AS_OF) for i in ids)),
        )
        assert [a != b for a, b in zip(mine, theirs, strict=True)] == [True] * len(ids)
        assert await claimed(db) == sorted(ids)
    finally:
        await other.dispose()


async def test_a_claim_through_a_session_rolled_back_is_not_kept(db: Database) -> None:
    async with db.session() as session:
        assert await first_time(session, request_id="EvROLLBACK", now=AS_OF)
        await session.rollback()
    assert await claim(db, request_id="EvROLLBACK", now=AS_OF) is True


async def test_forgetting_drops_only_the_old_ids(db: Database) -> None:
    await claim(db, request_id="EvOLD", now=AS_OF - timedelta(days=2))
    await claim(db, request_id="EvNEW", now=AS_OF)
    async with db.session() as session:
        assert await forget_handled(session, before=AS_OF - timedelta(days=1)) == 1
        await session.commit()
    assert await claim(db, request_id="EvOLD", now=AS_OF) is True
    assert await claim(db, request_id="EvNEW", now=AS_OF) is False


@pytest.mark.parametrize("holder", ["this process", "another process"])
async def test_a_claim_while_another_writer_holds_sqlite_waits_its_turn(
    sqlite_db: Database, holder: str
) -> None:
    """The claim waits on its own thread for the writer's commit, then lands, while the
    event loop goes on (the holder commits on it meanwhile)."""
    holding = sqlite_db if holder == "this process" else Database(sqlite_db.url)
    try:
        async with holding.session() as session:
            assert await first_time(session, request_id="EvHOLDER", now=AS_OF)  # holds the lock
            waiting = asyncio.create_task(claim(sqlite_db, request_id="EvHELD", now=AS_OF))
            await asyncio.sleep(0.05)
            assert not waiting.done()
            await session.commit()
        assert await waiting is True
        assert await claimed(sqlite_db) == ["EvHELD", "EvHOLDER"]
    finally:
        if holding is not sqlite_db:
            await holding.dispose()


async def test_a_claim_on_a_database_without_its_table_is_a_database_error(
    tmp_path: Path,
) -> None:
    """Not "another writer holds the lock": an error, not a silent fall back."""
    from sqlalchemy.exc import OperationalError

    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert db.direct is not None
        with pytest.raises(OperationalError, match="no such table"):
            await db.direct.write_at_once(
                _claim("sqlite"), {"request_id": "EvNONE", "handled_at": AS_OF}
            )
    finally:
        await db.dispose()


async def test_sqlite_claims_commit_without_waiting_on_the_disk(sqlite_db: Database) -> None:
    """A claim is bookkeeping whose loss repeats an idempotent effect at most: its commit is
    not flushed at once (WAL's synchronous=NORMAL), while the record's writers keep SQLite's
    default, flushed, commits."""
    assert await claim(sqlite_db, request_id="EvFLUSH", now=AS_OF)
    writes = sqlite_db.direct._sqlite_writes if sqlite_db.direct else None  # noqa: SLF001
    connection = writes._connection if writes else None  # noqa: SLF001
    assert connection is not None
    assert connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    async with sqlite_db.session() as session:
        conn = await session.connection()
        (level,) = (await conn.exec_driver_sql("PRAGMA synchronous")).one()
    assert level == 2  # FULL, the default
