"""SQLite reads on the event loop's own thread; writes on aiosqlite's worker thread, one
connection at a time.

aiosqlite runs every call on one worker thread per connection and hands the result back
through the event loop: a cursor, the statement, its rows and the cursor's close are four
round trips per statement, and that hand-off costs several times what SQLite takes to
answer an indexed read (measured: 1.66 ms against 0.68 ms of CPU for one ORM statement).

In WAL mode a reader never waits for a lock: it reads the last committed state whatever
writers do. So a SELECT (and fetching its rows) runs inline, with no hand-off, and cannot
stall the loop on another connection's lock. Everything that may wait for the write lock
or for the disk — INSERT, UPDATE, DELETE, BEGIN, a commit of a real transaction,
`executescript` — still runs on the worker thread, as aiosqlite intends, and waits its turn
behind this process's other writers (`WriteTurn`) rather than in SQLite's busy handler.

    engine = create_async_engine(url, async_creator=inline_reads_creator(url))
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url

#: sqlite3.Cursor methods that only read what its last statement produced.
FETCHES = frozenset({"fetchone", "fetchmany", "fetchall"})
#: Calls that run SQL.
STATEMENTS = frozenset({"execute", "executemany", "executescript"})
#: As long as a writer waits for another of this process (PRAGMA busy_timeout, storage.db).
WRITE_WAIT_SECONDS = 30.0


def reads_only(sql: object) -> bool:
    """A statement that reads and cannot write: a plain SELECT (PRAGMAs and CTEs, which may
    precede an INSERT, are left to the worker thread)."""
    return _opens_with(sql, "SELECT")


def _opens_with(sql: object, keyword: str) -> bool:
    return isinstance(sql, str) and sql.lstrip()[: len(keyword)].upper() == keyword


class InlineReadsConnection(aiosqlite.Connection):
    """An aiosqlite connection whose reads skip the worker thread (see the module's text).

    SQLAlchemy awaits each call on a connection before it makes the next, so the worker
    thread is idle whenever a call runs inline: the sqlite3 connection is never used from
    two threads at once.
    """

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        iter_chunk_size: int,
        turn: WriteTurn | None = None,
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        self._reading: set[int] = set()  # ids of the cursors whose last statement was a SELECT
        self._turn = turn or WriteTurn()
        self._writing = False  # holds the turn: a write began and has not ended

    @property
    def holds_write(self) -> bool:
        """A write began on this connection and has not ended: ending it (commit, rollback)
        goes to the worker thread; with none, a rollback or a close runs inline."""
        return self._writing or bool(self._connection and self._connection.in_transaction)

    def _inline(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
        owner = getattr(fn, "__self__", None)
        name = getattr(fn, "__name__", "")
        if isinstance(owner, sqlite3.Cursor):
            if name == "execute":
                if reads_only(args[0] if args else None):
                    self._reading.add(id(owner))
                    return True
                self._reading.discard(id(owner))
                return False
            if name in FETCHES:
                return id(owner) in self._reading
            if name == "close":
                self._reading.discard(id(owner))
                return True
            return False
        if isinstance(owner, sqlite3.Connection):
            if name == "cursor":  # touches no file
                return True
            # Ending a transaction that never began (only SELECTs ran) is a no-op.
            return name in ("commit", "rollback") and not owner.in_transaction
        return False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is not None and self._running and self._inline(fn, args):
            return fn(*args, **kwargs)
        if not self._writing and _writes(fn, args):
            await self._turn.take()
            self._writing = True
        try:
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            if self._writing and not (self._connection and self._connection.in_transaction):
                self._writing = False
                self._turn.give_back()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._writing:
                self._writing = False
                self._turn.give_back()


def _writes(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """A statement not run inline may write, so it waits for this process's turn; but not a
    PRAGMA (a connection's settings, made as it opens: a writer waiting for a connection
    would otherwise wait for itself)."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "")
    if not isinstance(owner, sqlite3.Cursor | sqlite3.Connection) or name not in STATEMENTS:
        return False
    sql = args[0] if args else None
    return not _opens_with(sql, "PRAGMA")


class WriteTurn:
    """One writer at a time among a process's connections to one file, in the order they ask.

    SQLite lets one connection write at a time; the others wait in its busy handler, which
    sleeps 1, 2, 5 … up to 100 ms between tries: at 10 answers in flight that each write
    (App Home claims its event id), the unlucky ones waited most of a second. Here a writer
    waits for an asyncio lock instead, woken the moment the last one commits. Other
    processes (`parley import` beside a server) still meet SQLite's own busy wait.
    """

    def __init__(self, timeout: float = WRITE_WAIT_SECONDS) -> None:
        self._lock = asyncio.Lock()
        self._timeout = timeout

    async def take(self) -> None:
        try:
            await asyncio.wait_for(self._lock.acquire(), self._timeout)
        except TimeoutError:
            # What SQLite itself says when its busy wait runs out.
            raise sqlite3.OperationalError("database is locked") from None

    def give_back(self) -> None:
        self._lock.release()


def inline_reads_creator(url: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An `async_creator` for `create_async_engine`: connections as aiosqlite would make
    them from `url` (same file, same arguments), reading inline."""
    parsed = make_url(url)
    dialect = parsed.get_dialect()()
    args, kwargs = dialect.create_connect_args(parsed)
    connect = partial(sqlite3.connect, *args, **kwargs)

    turn = WriteTurn()

    async def create() -> aiosqlite.Connection:
        connection = InlineReadsConnection(connect, iter_chunk_size=64, turn=turn)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own
        return await connection

    return create
