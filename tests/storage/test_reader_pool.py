"""The PostgreSQL readers' pool (storage.reader_pool), on real connections: lent in turn,
never lost, never handed on in a state another answer could trip over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from storage.db import Database
from storage.reader_pool import ReaderPool
from tests.support.checks import eventually

pytestmark = pytest.mark.parametrize("db", ["postgres"], indirect=True)


@pytest.fixture
async def pool(db: Database) -> AsyncIterator[ReaderPool]:
    assert db.direct is not None
    made = ReaderPool(db.direct._connect_reader, size=2)  # noqa: SLF001
    yield made
    await made.close(timeout=5)


async def _pid(connection: Any) -> int:
    return int(await connection.fetchval("SELECT pg_backend_pid()"))


async def test_an_idle_reader_is_lent_again_and_none_is_opened_past_the_size(
    pool: ReaderPool,
) -> None:
    first = await pool.acquire(timeout=5)
    pid = await _pid(first)
    pool.release(first)
    again = await pool.acquire(timeout=5)
    assert await _pid(again) == pid  # the one given back, not a new one
    second = await pool.acquire(timeout=5)
    assert await _pid(second) != pid
    assert (pool.get_size(), pool.get_idle_size()) == (2, 0)
    with pytest.raises(TimeoutError):
        await pool.acquire(timeout=0.1)
    pool.release(again)
    pool.release(second)
    assert (pool.get_size(), pool.get_idle_size()) == (2, 2)


@pytest.mark.parametrize("waiters", [1, 3, 8])
async def test_answers_waiting_for_a_reader_get_one_in_the_order_they_came(
    pool: ReaderPool, waiters: int
) -> None:
    held = [await pool.acquire(timeout=5), await pool.acquire(timeout=5)]
    served: list[int] = []

    async def answer(n: int) -> None:
        connection = await pool.acquire(timeout=5)
        served.append(n)
        await connection.fetchval("SELECT 1")
        pool.release(connection)

    tasks = []
    for n in range(waiters):
        tasks.append(asyncio.create_task(answer(n)))
        await asyncio.sleep(0)  # each in the queue before the next comes
    for connection in held:
        pool.release(connection)
    # One that comes now, after the two were given back, is not served ahead of those
    # already waiting.
    late = asyncio.create_task(answer(waiters))
    await asyncio.gather(*tasks, late)
    assert served == list(range(waiters + 1))
    assert pool.get_idle_size() == pool.get_size() == 2


async def test_a_waiter_that_timed_out_or_was_cancelled_loses_no_reader(
    pool: ReaderPool,
) -> None:
    held = [await pool.acquire(timeout=5), await pool.acquire(timeout=5)]
    with pytest.raises(TimeoutError, match="no database reader free"):
        await pool.acquire(timeout=0.05)
    cancelled = asyncio.create_task(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    pool.release(held[0])  # handed to the waiter …
    cancelled.cancel()  # … which is cancelled before it runs with it
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    pool.release(held[1])
    assert pool.get_idle_size() == pool.get_size() == 2


async def test_a_broken_reader_is_closed_and_a_waiter_gets_a_new_one(
    pool: ReaderPool,
) -> None:
    held = [await pool.acquire(timeout=5), await pool.acquire(timeout=5)]
    broken_pid = await _pid(held[0])
    waiting = asyncio.create_task(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    pool.release(held[0], broken=True)
    given = await waiting
    assert await _pid(given) not in {broken_pid, await _pid(held[1])}
    assert held[0].is_closed()
    pool.release(given)
    pool.release(held[1])
    assert pool.get_idle_size() == pool.get_size() == 2


async def test_a_reader_left_in_a_transaction_is_not_lent_again(pool: ReaderPool) -> None:
    connection = await pool.acquire(timeout=5)
    await connection.execute("BEGIN")
    pool.release(connection)
    assert connection.is_closed()
    assert (pool.get_size(), pool.get_idle_size()) == (0, 0)
    fresh = await pool.acquire(timeout=5)
    assert not fresh.is_in_transaction()
    pool.release(fresh)


async def test_a_reader_the_server_closed_while_lent_is_not_kept(
    db: Database, pool: ReaderPool
) -> None:
    connection = await pool.acquire(timeout=5)
    pid = await _pid(connection)
    killer = await pool.acquire(timeout=5)
    await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    pool.release(killer)
    await eventually(connection.is_closed)  # the server's close seen
    pool.release(connection)  # closed: not kept
    assert (pool.get_size(), pool.get_idle_size()) == (1, 1)
    again = await pool.acquire(timeout=5)
    assert await _pid(again) != pid
    pool.release(again)


async def test_a_reader_the_server_closed_while_idle_is_replaced(
    db: Database, pool: ReaderPool
) -> None:
    import asyncpg

    assert db.direct is not None
    connection = await pool.acquire(timeout=5)
    pid = await _pid(connection)
    pool.release(connection)
    outside = await asyncpg.connect(**db.direct._connect_args)  # noqa: SLF001
    try:
        await outside.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await outside.close()
    await eventually(connection.is_closed)  # idle in the pool when the server closed it
    again = await pool.acquire(timeout=5)
    assert again is not connection and await _pid(again) != pid
    assert pool.get_size() == 1
    pool.release(again)


async def test_a_broken_reader_given_back_keeps_its_place_for_the_one_waiting(
    pool: ReaderPool,
) -> None:
    """Its replacement is opened for the answer waiting; one that asks in the same turn
    (as a read retried after a closed connection does) waits behind it, and the pool never
    holds more connections than its size."""
    held = [await pool.acquire(timeout=5), await pool.acquire(timeout=5)]
    first = asyncio.create_task(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    pool.release(held[0], broken=True)
    later = asyncio.create_task(pool.acquire(timeout=5))
    assert pool.get_size() == 2
    given = await first  # the replacement
    assert not later.done() and pool.get_size() == 2
    pool.release(held[1])
    pool.release(await later)
    pool.release(given)
    await eventually(lambda: not pool._opening)  # noqa: SLF001
    assert (pool.get_size(), pool.get_idle_size()) == (2, 2)


async def test_an_answer_asking_as_a_broken_reader_is_given_back_opens_none_of_its_own(
    pool: ReaderPool,
) -> None:
    """As a read retried after a closed connection does: it gives the broken one back and
    asks again at once, before the replacement (for the answer waiting) has started."""
    held = [await pool.acquire(timeout=5), await pool.acquire(timeout=5)]
    first = asyncio.create_task(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_later(0.1, pool.release, held[1])  # served by this
    pool.release(held[0], broken=True)
    again = await pool.acquire(timeout=5)  # in the same turn
    pool.release(again)
    pool.release(await first)
    await eventually(lambda: not pool._opening)  # noqa: SLF001
    assert (pool.get_size(), pool.get_idle_size()) == (2, 2)  # never a third


async def _slow_pool(db: Database, gate: asyncio.Event, failures: list[BaseException]) -> Any:
    """A pool of one whose connections open when `gate` is set, failing with the errors
    in `failures` first (the driver's connect, held or refused as a down server would)."""
    assert db.direct is not None
    connect = db.direct._connect_reader  # noqa: SLF001

    async def slow() -> Any:
        await gate.wait()
        if failures:
            raise failures.pop(0)
        return await connect()

    return ReaderPool(slow, size=1)


@pytest.mark.parametrize("how", ["refused", "cancelled"])
async def test_an_answer_waiting_behind_a_connection_that_never_opened_gets_the_place(
    db: Database, how: str
) -> None:
    gate = asyncio.Event()
    failures: list[BaseException] = [OSError("connection refused")] if how == "refused" else []
    pool = await _slow_pool(db, gate, failures)
    try:
        opener = asyncio.create_task(pool.acquire(timeout=5))  # opens the only place
        await asyncio.sleep(0)
        waiter = asyncio.create_task(pool.acquire(timeout=5))  # waits behind it
        await asyncio.sleep(0)
        if how == "cancelled":
            opener.cancel()
        gate.set()
        with pytest.raises(OSError if how == "refused" else asyncio.CancelledError):
            await opener
        connection = await asyncio.wait_for(waiter, 2)  # not left to its own time-out
        assert await connection.fetchval("SELECT 1") == 1
        assert pool.get_size() == 1
        pool.release(connection)
    finally:
        await pool.close(timeout=5)


async def test_when_no_connection_can_be_opened_each_waiter_is_told_why(db: Database) -> None:
    gate = asyncio.Event()
    failures: list[BaseException] = [OSError(f"refused {n}") for n in range(3)]
    pool = await _slow_pool(db, gate, failures)
    try:
        tasks = []
        for _ in range(3):
            tasks.append(asyncio.create_task(pool.acquire(timeout=5)))
            await asyncio.sleep(0)
        gate.set()
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2)
        assert [str(o) for o in outcomes] == ["refused 0", "refused 1", "refused 2"]
        assert pool.get_size() == 0
        connection = await pool.acquire(timeout=5)  # the server back: lent at once
        pool.release(connection)
    finally:
        await pool.close(timeout=5)


async def test_an_answer_cancelled_mid_statement_leaves_its_reader_unused(
    db: Database, seeded: Any
) -> None:
    """Cancelled during a statement, an answer's connection is mid-protocol: the next
    answer reads on another one, and reads right."""
    from sqlalchemy import func, select, text

    assert db.direct is not None
    started = asyncio.Event()
    pids: list[int] = []

    async def slow() -> None:
        async with db.reads() as reads:
            pids.append(await reads.one(select(func.pg_backend_pid())))
            started.set()
            await reads.all(select(text("1")).where(func.pg_sleep(5).is_not(None)))

    task = asyncio.create_task(slow())
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(db.direct.readers):  # whichever reader is lent, it is not that one
        async with db.reads() as reads:
            assert await reads.one(select(func.pg_backend_pid())) != pids[0]
            assert await reads.one(select(func.count()).select_from(text("track"))) > 0


async def test_closing_waits_for_lent_readers_then_lends_no_more(pool: ReaderPool) -> None:
    idle = await pool.acquire(timeout=5)
    lent = await pool.acquire(timeout=5)
    pool.release(idle)
    closing = asyncio.create_task(pool.close(timeout=5))
    await asyncio.sleep(0.05)
    assert not closing.done()  # one still lent
    assert idle.is_closed()
    pool.release(lent)
    await closing
    assert lent.is_closed()
    assert pool.get_size() == 0
    with pytest.raises(OperationalError):
        await pool.acquire(timeout=5)


async def test_closing_tells_the_answers_waiting_at_once(pool: ReaderPool) -> None:
    held = [await pool.acquire(timeout=5), await pool.acquire(timeout=5)]
    waiting = asyncio.create_task(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    closing = asyncio.create_task(pool.close(timeout=5))
    with pytest.raises(OperationalError):
        await asyncio.wait_for(waiting, 1)  # not left to time out
    for connection in held:
        pool.release(connection)
    await closing
    assert all(c.is_closed() for c in held)


async def test_closing_stops_a_connection_being_opened_for_a_waiter(db: Database) -> None:
    gate = asyncio.Event()
    pool = await _slow_pool(db, gate, [])
    gate.set()
    held = await pool.acquire(timeout=5)
    gate.clear()
    waiting = asyncio.create_task(pool.acquire(timeout=5))
    await asyncio.sleep(0)
    pool.release(held, broken=True)  # a replacement starts opening, held at the gate
    await asyncio.wait_for(pool.close(timeout=1), 2)  # not held up by it
    with pytest.raises(OperationalError):
        await waiting
    assert pool.get_size() == 0


async def test_closing_terminates_a_reader_not_given_back_in_time(pool: ReaderPool) -> None:
    lent = await pool.acquire(timeout=5)
    await pool.close(timeout=0.05)
    assert lent.is_closed()
    pool.release(lent)  # given back late: nothing more to do
    assert pool.get_size() == 0
