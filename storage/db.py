"""The engine and sessions: one `Database` per process, migrations applied by `upgrade`."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.changes import ChangeFeed
from storage.direct import DirectReader, Reads, SessionReads
from storage.revisions import single_head
from storage.sqlite_reads import InlineReadsConnection, inline_reads_creator
from storage.version import VERSION_KEY, RecordSession, RecordVersion

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
ANALYSIS_LIMIT = 1000  # rows SQLite's ANALYZE samples per index: bounded at any size
#: Connections each process keeps open (`PARLEY_DB_POOL`), and as many more for a burst.
#: SQLite: a thread each in aiosqlite; its reads never yield the loop (storage.sqlite_reads),
#: so few are in use at once. PostgreSQL: every statement yields, so each answer in flight
#: holds one, and with fewer kept than that every burst opened and closed connections (at
#: 50 concurrent with 10 kept: 2.8 ms of CPU a `/truce`, p99 286 ms; 50 kept: 2.4, 166).
SQLITE_POOL = 20
POSTGRES_POOL = 50
POOL_OVERFLOW = 20
MIGRATION_LOCK = 0x5061726C6579  # "Parley": the advisory lock key taken while migrating


def async_url(url: str) -> str:
    """`sqlite:///x.db` and `postgresql://…` as the async drivers want them."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif driver not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(f"unsupported database driver {driver!r}: use sqlite:// or postgresql://")
    return parsed.render_as_string(hide_password=False)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config  # here: a start on a database at head never needs it

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")  # a writer waits its turn rather than fail
    cursor.close()


async def _holds_write(session: AsyncSession) -> bool:
    """Whether the SQLite connection of `session` (in a transaction) holds a write; a
    session whose flush failed is taken to hold one (it must roll back either way)."""
    try:
        raw = await (await session.connection()).get_raw_connection()
    except InvalidRequestError:  # PendingRollbackError: the transaction is already failed
        return True
    driver = raw.driver_connection
    return not isinstance(driver, InlineReadsConnection) or driver.holds_write


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    database = make_url(url).database
    return None if not database or database == ":memory:" else str(Path(database).resolve())


class LazySession:
    """An `AsyncSession` made at the first use of any of its attributes."""

    __slots__ = ("_make", "opened")

    def __init__(self, make: Callable[[], AsyncSession]) -> None:
        self._make = make
        self.opened: AsyncSession | None = None

    def __getattr__(self, name: str) -> Any:
        session = self.opened
        if session is None:
            session = self.opened = self._make()
        return getattr(session, name)


class Database:
    """Owns the async engine; `session()` opens one unit of work.

    `version` moves with every committed change to the record (`storage.version`); on
    PostgreSQL it listens for other processes' changes once first asked, or once
    `watch_changes()` is awaited.
    """

    def __init__(self, url: str, *, echo: bool = False, pool: int | None = None) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # As many kept connections as answers in flight: past the pool's size, each session
        # opens a connection of its own and closes it after.
        self.pool_size = pool or (SQLITE_POOL if self.is_sqlite else POSTGRES_POOL)
        kwargs: dict[str, Any] = {
            "echo": echo,
            "pool_size": self.pool_size,
            "max_overflow": POOL_OVERFLOW,
        }
        if self.is_sqlite:
            kwargs.update(async_creator=inline_reads_creator(self.url))
        else:
            kwargs.update(pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._changes: ChangeFeed | None = None
        #: None for an in-memory SQLite database, which no second connection can see.
        self.direct: DirectReader | None = None
        if self.is_sqlite:
            self.version = RecordVersion(sqlite_path=sqlite_file(self.url))
            if sqlite_file(self.url):
                self.direct = DirectReader(self.url, self.engine.dialect, {})
        else:
            self.version = RecordVersion(listening=False)
            _, connect_args = self.engine.dialect.create_connect_args(self.engine.url)
            self._changes = ChangeFeed(dict(connect_args), self.version)
            self.version.wake = self._changes.ensure_running
            self.direct = DirectReader(
                self.url, self.engine.dialect, dict(connect_args), readers=self.pool_size
            )
        self._sessions = async_sessionmaker(
            self.engine,
            class_=AsyncSession,
            sync_session_class=RecordSession,
            expire_on_commit=False,
            info={VERSION_KEY: self.version},
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        session = self._sessions()
        try:
            yield session
        finally:
            # A session that never began a transaction and holds no rows has nothing to
            # release; closing it anyway costs a greenlet switch, as much as a whole cached
            # answer.
            if session.in_transaction() or session.identity_map or session.new:
                await self._close(session)

    async def _close(self, session: AsyncSession) -> None:
        """Closes `session` and gives its connection back, even if the request is cancelled
        meanwhile: shielded (in a task of its own) whenever closing may wait.

        Closing waits for nothing when the session holds no connection, or on SQLite when
        its connection holds no write (the rollback runs inline, storage.sqlite_reads): then
        it is awaited directly, since nothing can interrupt it. A shield's task would first
        let the loop run everything else that is ready: at 50 answers in flight, each one
        kept its connection until all had read, so the pool's 20 ran out and every burst
        opened and closed 20 more (at 50 concurrent, `/truce` cost 2.7 ms of CPU, not 1.5).
        """
        if not session.in_transaction() or (self.is_sqlite and not await _holds_write(session)):
            await session.close()
        else:
            await asyncio.shield(session.close())

    @asynccontextmanager
    async def session_when_used(self) -> AsyncIterator[AsyncSession]:
        """`session()`, opened only if the block uses it: most commands only read (with
        `reads()`), and making a session they never use cost a tenth of their answer."""
        lazy = LazySession(self._sessions)
        try:
            yield cast(AsyncSession, lazy)
        finally:
            session = lazy.opened
            if session is not None and (
                session.in_transaction() or session.identity_map or session.new
            ):
                await self._close(session)

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Reads]:
        """What an answer reads the record with: below the ORM (`storage.direct`), its
        objects detached; through a session where no second connection can read."""
        if self.direct is not None:
            async with self.direct.reads() as reads:
                yield reads
            return
        async with self.session() as session:
            yield SessionReads(session)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose commits (one per service call) are savepoints inside one
        transaction: it commits when the block ends, and rolls back whole if it raises.
        For a load that must land entirely or not at all (`parley seed`)."""
        async with self.engine.connect() as connection:
            await connection.begin()
            if self.is_sqlite:
                # pysqlite begins a transaction only before a write, so the first SAVEPOINT
                # would be the outermost and its RELEASE a commit: begin for real first.
                await connection.exec_driver_sql("BEGIN")
            session = self._sessions(bind=connection, join_transaction_mode="create_savepoint")
            try:
                yield session
            except BaseException:
                await asyncio.shield(session.close())
                await asyncio.shield(connection.rollback())
                raise
            await session.close()
            await connection.commit()
            self.version.bump()

    async def upgrade(self, revision: str = "head") -> None:
        """Applies the migrations. Processes starting together on one database take turns
        (an advisory lock on PostgreSQL, a lock file beside a SQLite file); the later ones
        find the schema at head already. A database already at the head revision is left
        as it is without loading Alembic at all (its statistics are refreshed all the same)."""
        head = single_head() if revision == "head" else None
        if head is not None and await self.recorded_revision() == head:
            if self.is_sqlite:  # as below: PostgreSQL's autovacuum keeps its own statistics
                await self.analyze()
            return

        def run(connection: Connection) -> None:
            from alembic import command

            command.upgrade(alembic_config(connection), revision)

        path = sqlite_file(self.url) if self.is_sqlite else None
        lock = open(f"{path}.migrate-lock", "a+") if path else None  # noqa: SIM115
        try:
            if lock is not None:
                await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            async with self.engine.begin() as conn:
                if not self.is_sqlite:
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                    )
                await conn.run_sync(run)
        finally:
            if lock is not None:
                lock.close()  # closing releases the lock
        if self.is_sqlite:  # PostgreSQL's autovacuum keeps its statistics by itself
            await self.analyze()

    async def analyze(self) -> None:
        """Refreshes the planner's statistics: on SQLite at every start (by `upgrade`, a few
        ms), on both after an import or a bulk load. Without them SQLite picks the track
        index over the time index for "the latest events" and sorts the whole table: 30 ms
        instead of 0.1 ms at 10,000 events.

        On PostgreSQL it also vacuums (outside a transaction, as VACUUM must run): a table
        just filled has no visibility map, so its index-only scans (search's filter, the
        tags' recency) still read the heap, and autovacuum would soon do this work anyway,
        in the middle of whatever runs next."""
        if not self.is_sqlite:
            async with self.engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM (ANALYZE)")
            return
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            await conn.exec_driver_sql("ANALYZE")

    async def recorded_revision(self) -> str | None:
        """The revision the database says it is at; None before the first migration (or
        with several heads recorded: then Alembic decides)."""
        try:
            async with self.engine.connect() as conn:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except DBAPIError:  # no such table yet
            return None
        return str(rows[0][0]) if len(rows) == 1 else None

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def watch_changes(self, timeout: float = 5.0) -> bool:
        """Starts listening for other processes' changes (PostgreSQL); True once listening."""
        if self._changes is None:
            return True
        return await self._changes.wait_listening(timeout)

    async def dispose(self) -> None:
        if self._changes is not None:
            await self._changes.stop()
        self.version.close()
        if self.direct is not None:
            await self.direct.close()
        await self.engine.dispose()
