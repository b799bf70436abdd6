"""The PostgreSQL connections the answers read on, handed out in turn.

asyncpg's own `Pool` costs more CPU than a read: a timed acquire is a task and a timer
(`wait_for`), a release a shielded task, a reset hook and a holder's bookkeeping; 160 µs
per answer in this process against 93 µs for a `fetch` of `SELECT 1`. An answer here takes
an idle connection without awaiting anything; with none idle (and none left to open), it
waits its turn: a connection given back goes straight to the answer that has waited
longest, so none is overtaken by one that came later (when that happened, the p99 was 4×
the median).

The readers hold no state between answers: their statements only read, or write in a
statement of their own, outside any explicit transaction. A connection whose answer was
interrupted mid-statement (cancelled, timed out, its socket lost) may be anywhere in the
protocol: it is closed, never handed on; `release(broken=True)` says so. A connection is
kept as long as it works: asyncpg's pool also recycled one after 50,000 queries and closed
those idle for 5 minutes, which readers that keep no state need not; one that a server or
a proxy closed is replaced when next asked for (and a read that met it is tried once more).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import OperationalError


def _closed_error() -> OperationalError:
    return OperationalError("direct reads", [], ConnectionError("the readers are closed"))


class ReaderPool:
    """At most `size` connections made by `connect`, each lent to one answer at a time."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], size: int) -> None:
        if size < 1:
            raise ValueError(f"a reader pool needs at least one connection, not {size}")
        self._connect = connect
        self._size = size
        self._idle: list[Any] = []  # the last given back is lent first: its cache is warm
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._opened = 0  # connections open or being opened
        self._out: set[Any] = set()  # connections lent
        self._closed = False
        self._opening: set[asyncio.Task[None]] = set()
        self._all_back = asyncio.Event()
        self._all_back.set()

    def get_size(self) -> int:
        """Connections open (or being opened) now: lent and idle."""
        return self._opened

    def get_idle_size(self) -> int:
        return len(self._idle)

    async def acquire(self, timeout: float) -> Any:
        """A connection for one answer; past `timeout` of waiting, a TimeoutError."""
        if self._closed:
            raise _closed_error()
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                self._lent(connection)
                return connection
            connection.terminate()  # closed by the server while it sat idle
            self._opened -= 1
        if self._opened < self._size:
            if not self._someone_waits():
                return await self._open(timeout)
            self._opened += 1
            self._replace()  # a free place: opened for the answer waiting longest
        return await self._wait_turn(timeout)

    def release(self, connection: Any, *, broken: bool = False) -> None:
        """Gives `connection` back: to the answer waiting longest, or to the idle ones."""
        if broken or self._closed or connection.is_closed() or connection.is_in_transaction():
            connection.terminate()
            self._given_back(connection)
            self._free_place()  # to the one waiting, if any, opened anew
            return
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # not timed out nor cancelled meanwhile
                waiter.set_result(connection)
                return  # still lent: to the waiter
        self._idle.append(connection)
        self._given_back(connection)

    async def close(self, timeout: float) -> None:
        """No more lending; the idle ones closed, the lent ones waited for up to `timeout`
        and closed as they come back (terminated past it)."""
        self._closed = True
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(_closed_error())
        for opening in list(self._opening):
            opening.cancel()
        await asyncio.gather(*self._opening, return_exceptions=True)
        idle, self._idle = self._idle, []
        self._opened -= len(idle)
        await asyncio.gather(*(c.close(timeout=timeout) for c in idle), return_exceptions=True)
        try:
            await asyncio.wait_for(self._all_back.wait(), timeout)
        except TimeoutError:
            for connection in list(self._out):  # their answers fail, as at any cut-off
                connection.terminate()

    # -- the bookkeeping: how many are out, so that `close` knows when all are back.

    def _lent(self, connection: Any) -> None:
        self._out.add(connection)
        self._all_back.clear()

    def _given_back(self, connection: Any) -> None:
        self._out.discard(connection)
        if not self._out:
            self._all_back.set()

    def _someone_waits(self) -> bool:
        """Whether an answer is still waiting (those timed out or cancelled dropped)."""
        while self._waiting and self._waiting[0].done():
            self._waiting.popleft()
        return bool(self._waiting)

    async def _open(self, timeout: float) -> Any:
        """A new connection in a free place, for the caller."""
        self._opened += 1
        try:
            connection = await asyncio.wait_for(self._connect(), timeout)
        except BaseException:
            self._free_place()  # an answer that queued meanwhile gets it
            raise
        if self._closed:
            self._opened -= 1
            connection.terminate()
            raise _closed_error()
        self._lent(connection)
        return connection

    def _free_place(self) -> None:
        """A place counted in `_opened` is free again: a connection is opened in it for the
        answer waiting longest, if any; else it is given up."""
        if self._someone_waits() and not self._closed:
            self._replace()
        else:
            self._opened -= 1

    def _replace(self) -> None:
        """Opens a connection in a place already counted (`_opened`) for the answers waiting;
        the task is kept until done (the loop holds only a weak reference to it)."""
        opening = asyncio.get_running_loop().create_task(self._open_for_waiter())
        self._opening.add(opening)
        opening.add_done_callback(self._opening.discard)

    async def _wait_turn(self, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(waiter)
        timer = loop.call_later(timeout, _time_out, waiter, timeout)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Cancelled after a connection was handed to it: not lost, given on.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())
            raise
        finally:
            timer.cancel()

    async def _open_for_waiter(self) -> None:
        try:
            connection = await asyncio.wait_for(self._connect(), _OPEN_SECONDS)
        except Exception as error:
            if self._someone_waits() and not self._closed:
                # The answer waiting longest is told why, as if it had opened it itself;
                # the place goes on to the next one.
                self._waiting.popleft().set_exception(error)
            self._free_place()
            return
        except BaseException:  # cancelled (closing)
            self._opened -= 1
            raise
        if self._closed:
            self._opened -= 1
            connection.terminate()
            return
        self._lent(connection)
        self.release(connection)  # to the answer waiting longest (or idle, if none is now)


#: How long a connection opened in place of a broken one may take (the waiter's own wait
#: still bounds how long it waits).
_OPEN_SECONDS = 10.0


def _time_out(waiter: asyncio.Future[Any], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"no database reader free within {timeout:g} s"))
