"""Reads below the ORM, for the answers the desk asks for most.

An ORM statement costs far more than the database's answer to it: at 50 answers in
flight, SQLAlchemy's session, its execution context, the greenlet hand-off and the ORM's
row loading were two thirds of `/truce`'s CPU, and four such statements cost more than a
bare Bolt app's whole answer. Here a statement the ORM would run is compiled once per
dialect (`Plan`), and each read sends its SQL straight to the driver: SQLite's `sqlite3`
on the event loop's own thread (in WAL mode a read never waits), or a pool of `asyncpg`
connections of its own (`storage.reader_pool`).
The rows come back through the same result processors the ORM applies, as the same model
objects, detached (nothing the answer changes on them is ever written).

`SessionReads` answers the same calls through a session, for the writers, who must read
what their own transaction holds; the test of this module checks that both give equal
objects for every statement the answers use.

One small write per request goes the same way (`DirectReader.write_at_once`): an Events
API event's claim, one autocommitted statement, on a thread of its own on SQLite.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Protocol, cast

from sqlalchemy import bindparam
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapper, class_mapper
from sqlalchemy.orm.base import instance_state
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.changes import NOT_FOR_ASYNCPG
from storage.reader_pool import ReaderPool
from storage.sqlite_reads import WRITE_WAIT_SECONDS
from storage.types import UTCDateTime, as_utc

#: Statements whose plans are kept.
MOST_PLANS = 512
#: How long an answer waits for a PostgreSQL reader before it says the record is unavailable.
ACQUIRE_SECONDS = 10.0
#: How long a reader may take to connect.
CONNECT_SECONDS = 5.0
#: The longest statement asyncpg keeps prepared (its default, 15 KB, is shorter than a
#: `/watch` of 45 topics).
MOST_STATEMENT_BYTES = 256 * 1024
#: The PostgreSQL connections this process's answers read on, at most (fewer when
#: `PARLEY_DB_POOL` is set lower).
POSTGRES_READERS = 20


class Reads(Protocol):
    """What an answer reads with: the rows of an ORM `select`, shaped as `session.exec`
    shapes them (one entity or column per row: the values; several: tuples)."""

    @property
    def dialect(self) -> str: ...

    async def all(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]: ...

    async def first(self, statement: Any, params: dict[str, Any] | None = None) -> Any: ...

    async def one(self, statement: Any, params: dict[str, Any] | None = None) -> Any: ...

    async def get(self, model: type[Any], ident: Any) -> Any: ...


class SessionReads:
    """`Reads` through a session: what its transaction holds, its objects attached."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def all(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        return list((await self.session.exec(statement, params=params or {})).all())

    async def first(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        return (await self.session.exec(statement, params=params or {})).first()

    async def one(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        return (await self.session.exec(statement, params=params or {})).one()

    async def get(self, model: type[Any], ident: Any) -> Any:
        return await self.session.get(model, ident)


@dataclass(frozen=True)
class _Entity:
    """How a row's columns `start:stop` become one detached model object."""

    mapper: Mapper[Any]
    keys: tuple[str, ...]
    start: int
    stop: int
    primary: tuple[int, ...]  # positions of the primary key in the row
    _new: Callable[[], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_new", self.mapper.class_manager.new_instance)

    def build(self, row: Sequence[Any], seen: dict[Any, Any] | None = None) -> Any:
        """The row's object, or None when the outer join found none; with `seen`, the one
        already built for the same identity in this result (as the ORM's identity map
        gives: a joined one-to-many repeats its parent on every row)."""
        primary = self.primary
        if len(primary) == 1:
            identity: tuple[Any, ...] = (row[primary[0]],)
            if identity[0] is None:
                return None
        else:
            identity = tuple(row[i] for i in primary)
            if all(part is None for part in identity):
                return None
        key = (self.mapper.class_, identity, None)
        if seen is not None:
            found = seen.get(key)
            if found is not None:
                return found
        instance = self._new()
        instance.__dict__.update(zip(self.keys, row[self.start : self.stop], strict=True))
        instance_state(instance).key = key
        if seen is not None:
            seen[key] = instance
        return instance


@dataclass(frozen=True)
class _Column:
    position: int

    def build(self, row: Sequence[Any], seen: dict[Any, Any] | None = None) -> Any:
        return row[self.position]


@dataclass
class Plan:
    """One statement compiled for one dialect, with what turns its values into the driver's
    parameters and the driver's rows into the ORM's objects."""

    compiled: SQLCompiler
    defaults: dict[str, Any]
    bind_processors: dict[str, Any]
    expanding: frozenset[str]
    result_processors: tuple[Callable[[Any], Any] | None, ...]
    parts: tuple[_Entity | _Column, ...]
    _expanded: dict[tuple[int, ...], tuple[str, tuple[tuple[str, int | None], ...]]] = field(
        default_factory=dict
    )

    @classmethod
    def of(cls, statement: Any, dialect: Dialect) -> Plan:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.literal_execute_params:
            raise TypeError("direct reads do not render literal_execute parameters")
        # By the name each parameter has in the SQL (an anonymous one's, `level_1`).
        named = {name: bind for bind, name in compiled.bind_names.items()}
        defaults = {name: bind.effective_value for name, bind in named.items() if not bind.required}
        processors = {
            name: proc
            for name, proc in compiled._bind_processors.items()  # noqa: SLF001
            if callable(proc)
        }
        expanding = frozenset(name for name, bind in named.items() if bind.expanding)
        columns = compiled._result_columns  # noqa: SLF001
        result_processors = tuple(_result_processor(entry.type, dialect) for entry in columns)
        return cls(
            compiled=compiled,
            defaults=defaults,
            bind_processors=processors,
            expanding=expanding,
            result_processors=result_processors,
            parts=_parts(statement, columns),
        )

    @cached_property
    def _processed(self) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """The columns whose values the ORM would process, with their processors."""
        return tuple((n, p) for n, p in enumerate(self.result_processors) if p is not None)

    def sql_and_values(self, params: dict[str, Any]) -> tuple[str, list[Any]]:
        defaults = self.defaults
        if self.expanding:
            params = {**defaults, **params} if defaults else params
        lengths = tuple(len(params[name]) for name in sorted(self.expanding))
        expanded = self._expanded.get(lengths)
        if expanded is None:
            expanded = self._expand(params, lengths)
        sql, order = expanded
        values = []
        processors = self.bind_processors
        for name, index in order:
            value = params[name] if name in params else defaults[name]
            if index is not None:
                value = value[index]
            processor = processors.get(name)
            values.append(
                processor(value) if processor is not None and value is not None else value
            )
        return sql, values

    def _expand(
        self, params: dict[str, Any], lengths: tuple[int, ...]
    ) -> tuple[str, tuple[tuple[str, int | None], ...]]:
        """The SQL with each expanding list rendered for its length, as SQLAlchemy renders
        it, and where each positional value comes from."""
        compiled = self.compiled
        if self.expanding:
            state = compiled._process_parameters_for_postcompile(  # noqa: SLF001
                {name: params[name] for name in self.expanding}
            )
            sql, names = state.statement, state.positiontup or []
            source = {
                item: (name, index)
                for name, items in state.parameter_expansion.items()
                for index, item in enumerate(items)
            }
        else:
            sql, names, source = compiled.string, compiled.positiontup or [], {}
        order = tuple(source.get(name, (name, None)) for name in names)
        self._expanded[lengths] = (sql, order)
        return sql, order

    def shape(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        processed = self._processed
        parts = self.parts
        single = parts[0] if len(parts) == 1 else None
        seen: dict[Any, Any] = {}  # several entities a row: each identity built once
        shaped = []
        for raw in rows:
            row = list(raw)
            for position, processor in processed:
                value = row[position]
                if value is not None:
                    row[position] = processor(value)
            if single is not None:
                shaped.append(single.build(row))
            else:
                shaped.append(tuple(part.build(row, seen) for part in parts))
        return shaped


def _result_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What the ORM makes of a column's non-NULL value, in fewer steps for an instant: the
    dialect's processor, then `UTCDateTime`'s, in one call, not three. Every other type's
    as SQLAlchemy's. (tests/storage/test_direct.py compares every read's objects with the
    ORM's.)"""
    if isinstance(type_, UTCDateTime):
        parse: Any = type_.impl_instance._cached_result_processor(dialect, None)  # noqa: SLF001
        if parse is None:
            return as_utc
        return lambda value: as_utc(parse(value))
    return cast(Callable[[Any], Any] | None, type_._cached_result_processor(dialect, None))  # noqa: SLF001


def _parts(statement: Any, columns: Sequence[Any]) -> tuple[_Entity | _Column, ...]:
    """Which of the row's columns make each of the statement's entities (a whole model) and
    which are values of their own (a column or a labelled expression)."""
    if not hasattr(statement, "column_descriptions"):  # text().columns(…): values only
        return tuple(_Column(n) for n in range(len(columns)))
    parts: list[_Entity | _Column] = []
    position = 0
    for description in statement.column_descriptions:
        expr = description["expr"]
        entity = description.get("entity")
        if isinstance(expr, type) and entity is expr:
            mapper: Mapper[Any] = class_mapper(expr)
            width = len(mapper.column_attrs)
            keys = []
            for entry in columns[position : position + width]:
                column = next(o for o in entry.objects if hasattr(o, "table"))
                keys.append(mapper.get_property_by_column(column).key)
            primary = tuple(
                position + keys.index(mapper.get_property_by_column(c).key)
                for c in mapper.primary_key
            )
            parts.append(_Entity(mapper, tuple(keys), position, position + width, primary))
            position += width
        elif description.get("aliased"):
            raise TypeError(f"direct reads do not load aliased entities: {description}")
        else:
            parts.append(_Column(position))
            position += 1
    if position != len(columns):
        raise TypeError(f"direct reads cannot shape {len(columns)} columns as {parts}")
    return tuple(parts)


class Planner:
    """The plans of one dialect, one per statement object, the latest `MOST_PLANS` kept. The
    answers' statements are built once (`functools.cache`); one built per call is compiled
    per call, as correct as the rest but as slow as the ORM."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._plans: OrderedDict[int, tuple[Any, Plan]] = OrderedDict()

    def plan(self, statement: Any) -> Plan:
        key = id(statement)
        found = self._plans.get(key)
        if found is not None and found[0] is statement:
            self._plans.move_to_end(key)
            return found[1]
        plan = Plan.of(statement, self.dialect)
        self._plans[key] = (statement, plan)  # the statement kept: its id is not reused
        if len(self._plans) > MOST_PLANS:
            self._plans.popitem(last=False)
        return plan


def _failed(sql: str, values: Sequence[Any], error: Exception) -> OperationalError:
    """A driver's error as SQLAlchemy's, so that the answer says the record is unavailable
    whichever way it was read."""
    return OperationalError(sql, list(values), error)


class _DriverReads(ABC):
    """What both drivers' `Reads` make of `all`."""

    planner: Planner

    @property
    def dialect(self) -> str:
        return self.planner.dialect.name

    @abstractmethod
    async def all(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        """The rows of `statement`, shaped (`Plan.shape`)."""

    async def first(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        found = await self.all(statement, params)
        return found[0] if found else None

    async def one(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        (found,) = await self.all(statement, params)
        return found

    async def get(self, model: type[Any], ident: Any) -> Any:
        return await self.first(_by_primary_key(model), {"ident": ident})


class SqliteReads(_DriverReads):
    """`Reads` on one `sqlite3` connection of the event loop's thread, read-only."""

    def __init__(self, url: str, planner: Planner) -> None:
        parsed = make_url(url)
        args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
        kwargs = {**kwargs, "check_same_thread": False}
        self._connect: Callable[[], sqlite3.Connection] = partial(sqlite3.connect, *args, **kwargs)
        self._connection: sqlite3.Connection | None = None
        self.planner = planner

    def writes(self) -> SqliteWrites:
        """Writes on a connection of their own, to the same database."""
        return SqliteWrites(self._connect)

    def _open(self) -> sqlite3.Connection:
        connection = self._connect()
        try:
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA query_only=ON")
        except sqlite3.Error:
            connection.close()
            raise
        self._connection = connection
        return connection

    async def all(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        plan = self.planner.plan(statement)
        sql, values = plan.sql_and_values(params or {})
        try:
            connection = self._connection or self._open()
            rows = connection.execute(sql, values).fetchall()
        except sqlite3.Error as error:
            raise _failed(sql, values, error) from error
        return plan.shape(rows)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class SqliteWrites:
    """Single autocommitted writes on one `sqlite3` connection of a thread of their own: one
    hand-off each way, where a session's write makes several (its BEGIN, statement and
    COMMIT each on aiosqlite's thread) and more work for the ORM than the statement itself.

    A writer holding the lock is waited for on that thread, as long as any writer waits
    (`WRITE_WAIT_SECONDS`). A commit here is not flushed to the disk (`synchronous=NORMAL`,
    the WAL's own mode of it: the database stays whole, but a power cut, not a crash of the
    process, may undo the last few): what is written here is bookkeeping that a lost write
    only repeats (an event's claim: at worst one App Home published twice), and App Home
    waited on the disk for every claim (at scale, its p99 was 160 ms; 59 ms without).
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._connection: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-writes")

    async def run(self, sql: str, values: Sequence[Any]) -> int:
        """The rows the statement changed."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._run, sql, values)

    def _run(self, sql: str, values: Sequence[Any]) -> int:
        try:
            connection = self._connection or self._open()
            return int(connection.execute(sql, values).rowcount)
        except sqlite3.Error as error:
            raise _failed(sql, values, error) from error

    def _open(self) -> sqlite3.Connection:
        connection = self._connect()
        try:
            connection.isolation_level = None  # autocommit: each statement commits
            for pragma in (
                f"busy_timeout={int(WRITE_WAIT_SECONDS * 1000)}",
                "foreign_keys=ON",
                "synchronous=NORMAL",
            ):
                connection.execute(f"PRAGMA {pragma}")
        except sqlite3.Error:
            connection.close()
            raise
        self._connection = connection
        return connection

    async def close(self) -> None:
        """Closes the connection on its thread, once the writes handed to it are done."""
        if self._connection is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_here)
        self._thread.shutdown(wait=False)

    def _close_here(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresReads(_DriverReads):
    """`Reads` on one connection of an `asyncpg` pool, taken at the first read and given
    back when the answer's `reads()` block ends."""

    def __init__(self, pool: ReaderPool, planner: Planner) -> None:
        self._pool = pool
        self._connection: Any = None
        self._interrupted = False  # a statement stopped midway: its connection is not reused
        self.planner = planner

    async def all(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        import asyncpg

        plan = self.planner.plan(statement)
        sql, values = plan.sql_and_values(params or {})
        try:
            try:
                rows = await self._fetch(await self._connection_to_read(), sql, values)
            except asyncpg.ConnectionDoesNotExistError:
                # A connection the server or a proxy closed while it sat in the pool: a
                # read changes nothing, so it is tried once more on another.
                await self.release(broken=True)
                rows = await self._fetch(await self._connection_to_read(), sql, values)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise _failed(sql, values, error) from error
        return plan.shape(rows)

    async def _fetch(self, connection: Any, sql: str, values: Sequence[Any]) -> Any:
        import asyncpg

        try:
            return await connection.fetch(sql, *values)
        except asyncpg.PostgresConnectionError:
            self._interrupted = True  # the connection itself failed
            raise
        except asyncpg.PostgresError:
            raise  # the server's answer, whole: the connection is ready for the next
        except BaseException:
            self._interrupted = True  # cancelled, timed out or cut off midway
            raise

    async def _connection_to_read(self) -> Any:
        if self._connection is None:
            self._connection = await _acquire(self._pool)
        return self._connection

    async def release(self, *, broken: bool = False) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._pool.release(connection, broken=broken or self._interrupted)
            self._interrupted = False


async def _acquire(pool: ReaderPool) -> Any:
    """A connection of the pool, waited for in turn (`storage.reader_pool`); past the wait,
    a TimeoutError (an OSError): "the record is unavailable"."""
    return await pool.acquire(timeout=ACQUIRE_SECONDS)


_BY_KEY: dict[type[Any], Any] = {}


def _by_primary_key(model: type[Any]) -> Any:
    """`select(model).where(id == :ident)`, built once per model."""
    query = _BY_KEY.get(model)
    if query is None:
        (key,) = sa_inspect(model).primary_key
        query = _BY_KEY[model] = select(model).where(key == bindparam("ident"))
    return query


async def _postgres_codecs(connection: Any) -> None:
    """JSON decoded as SQLAlchemy's asyncpg dialect decodes it, so that the same result
    processors apply."""
    await connection.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda value: json.loads(value.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + value.encode(),
        decoder=lambda value: json.loads(value[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


class DirectReader:
    """A database's direct reads, `async with reader.reads() as reads`, and its small
    writes of one statement (`write_at_once`)."""

    def __init__(
        self, url: str, dialect: Dialect, connect_args: dict[str, Any], *, readers: int = 0
    ) -> None:
        """`readers`: PostgreSQL connections at most (`POSTGRES_READERS` if fewer, or 0)."""
        self.planner = Planner(dialect)
        self.readers = min(readers or POSTGRES_READERS, POSTGRES_READERS)
        self._sqlite = SqliteReads(url, self.planner) if dialect.name == "sqlite" else None
        self._sqlite_writes = self._sqlite.writes() if self._sqlite is not None else None
        self._connect_args = _asyncpg_args(connect_args)
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._closed = False

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Reads]:
        if self._sqlite is not None:
            yield self._sqlite
            return
        reads = PostgresReads(await self._postgres_pool(), self.planner)
        try:
            yield reads
        finally:
            await reads.release()

    async def write_at_once(self, statement: Any, params: dict[str, Any]) -> int:
        """Runs one write statement (a Core `insert` …) in a transaction of its own, below
        the ORM: the rows it changed. For a small write on every request (an event's claim,
        `storage.handled`): through a session, it cost as much as the whole App Home. On
        SQLite it is not flushed to the disk at once (`SqliteWrites`): for bookkeeping only."""
        plan = self.planner.plan(statement)
        sql, values = plan.sql_and_values(params)
        if self._sqlite_writes is not None:
            return await self._sqlite_writes.run(sql, values)
        import asyncpg

        try:
            pool = await self._postgres_pool()
            conn = await _acquire(pool)
            done = False
            try:
                status = await conn.execute(sql, *values)  # "INSERT 0 1": outside a transaction
                done = True
            except asyncpg.PostgresConnectionError:
                raise  # the connection itself failed: not lent again
            except asyncpg.PostgresError:
                done = True  # refused whole: the connection is ready for the next
                raise
            finally:
                pool.release(conn, broken=not done)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise _failed(sql, values, error) from error
        return int(status.rsplit(" ", 1)[-1])

    async def _postgres_pool(self) -> Any:
        if self._pool is None:

            async with self._opening:
                if self._closed:  # a late answer after `close()`: no pool nothing closes
                    raise OperationalError("direct reads", [], ConnectionError("closed"))
                if self._pool is None:
                    self._pool = ReaderPool(self._connect_reader, self.readers)
        return self._pool

    async def _connect_reader(self) -> Any:
        import asyncpg

        connection = await asyncpg.connect(
            **self._connect_args,
            # Prepared once per connection, however long: asyncpg prepares a statement
            # over 15 KB afresh on every call (a /watch of 45 topics cost 7 ms of planning,
            # against 2 ms).
            max_cacheable_statement_size=MOST_STATEMENT_BYTES,
        )
        try:
            await _postgres_codecs(connection)
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def close(self, timeout: float = ACQUIRE_SECONDS) -> None:
        """Closes the readers, waiting for answers in flight up to `timeout`."""
        self._closed = True
        if self._sqlite is not None:
            self._sqlite.close()
        if self._sqlite_writes is not None:
            await self._sqlite_writes.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close(timeout)


def _asyncpg_args(connect_args: dict[str, Any]) -> dict[str, Any]:
    """The dialect's connect arguments as asyncpg takes them: SQLAlchemy's own left out, its
    statement cache size (`?prepared_statement_cache_size=0`, for PgBouncer) kept as
    asyncpg's, and a connect timeout."""
    args = {k: v for k, v in connect_args.items() if k not in NOT_FOR_ASYNCPG}
    if "prepared_statement_cache_size" in connect_args:
        args["statement_cache_size"] = int(connect_args["prepared_statement_cache_size"])
    args.setdefault("timeout", CONNECT_SECONDS)
    return args


#: What a read function reads from: a session (a writer's, its transaction included) or an
#: answer's direct `Reads`.
ReadSource = AsyncSession | Reads


def reading(source: ReadSource) -> Reads:
    """`source` as `Reads`: a session (or a session opened at first use, `LazySession`) is
    read through; the direct reads are themselves."""
    if isinstance(source, SessionReads | _DriverReads):
        return source
    return SessionReads(cast(AsyncSession, source))
