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


async def test_a_reader_the_server_closed_while_idle_is_replaced(
    db: Database, pool: ReaderPool
) -> None:
    connection = await pool.acquire(timeout=5)
    pid = await _pid(connection)
    pool.release(connection)
    other = await pool.acquire(timeout=5)  # the same one: idle ones are lent first
    killer = await pool.acquire(timeout=5)
    await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    pool.release(killer)
    await eventually(other.is_closed)  # the server's close seen
    pool.release(other)  # closed: not kept
    again = await pool.acquire(timeout=5)
    assert await _pid(again) != pid
    pool.release(again)


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


async def test_closing_terminates_a_reader_not_given_back_in_time(pool: ReaderPool) -> None:
    lent = await pool.acquire(timeout=5)
    await pool.close(timeout=0.05)
    assert lent.is_closed()
    pool.release(lent)  # given back late: nothing more to do
    assert pool.get_size() == 0
