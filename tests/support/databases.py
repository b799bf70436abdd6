"""Test databases: SQLite files and PostgreSQL databases, migrated once and copied.

A test's database is a copy of a template migrated once per session: a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL (each named at random, so parallel
runs never meet). PostgreSQL is required in CI and skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.seed import default_seed_files, load_seed_files
from tests.support.people import AS_OF

POSTGRES_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql+asyncpg://root@/postgres?host=/var/run/postgresql"
)


async def postgres_available() -> bool:
    import asyncpg

    url = make_url(POSTGRES_URL)
    try:
        conn = await asyncpg.connect(
            user=url.username,
            host=url.query.get("host") or url.host,
            database=url.database,
            timeout=3,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def create_pg_database(template: str | None = None) -> str:
    import asyncpg

    url = make_url(POSTGRES_URL)
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(
        user=url.username, host=url.query.get("host") or url.host, database=url.database
    )
    try:
        # FILE_COPY (PostgreSQL 15+) copies a small template in half the time of WAL_LOG.
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(db_url: str) -> None:
    import asyncpg

    url = make_url(POSTGRES_URL)
    name = make_url(db_url).database
    conn = await asyncpg.connect(
        user=url.username, host=url.query.get("host") or url.host, database=url.database
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def make_database_url(kind: str, tmp_path: Any) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'parley-test.db'}"
    await require_postgres()
    return await create_pg_database()


async def require_postgres() -> None:
    """Fails the test in CI when PostgreSQL is unreachable; skips it, with why, elsewhere."""
    if not await postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES_URL}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set PARLEY_TEST_POSTGRES_URL)")


# Migrated once a session, then copied for each test: a file copy on SQLite, CREATE DATABASE
# … TEMPLATE on PostgreSQL. `database_url` stays an empty database (the migration tests).
_TEMPLATES: dict[tuple[str, bool], str] = {}


async def _prepared(url: str, *, seeded: bool) -> None:
    database = Database(url)
    try:
        await database.upgrade()
        if seeded:
            await seed(database)
    finally:
        await database.dispose()


async def _template(kind: str, folder: Path, *, seeded: bool) -> str:
    """The template of `kind` (a SQLite file, or a PostgreSQL database's name): migrated,
    and if `seeded`, holding the founding case as `parley seed` loads it."""
    key = (kind, seeded)
    if key not in _TEMPLATES:
        if kind == "sqlite":
            path = folder / f"template{'-seeded' if seeded else ''}.db"
            await _prepared(f"sqlite:///{path}", seeded=seeded)
            _TEMPLATES[key] = str(path)
        else:
            url = await create_pg_database()
            await _prepared(url, seeded=seeded)
            _TEMPLATES[key] = str(make_url(url).database)
    return _TEMPLATES[key]


async def migrated_database_url(
    kind: str, tmp_path: Path, name: str = "parley-test.db", *, seeded: bool = False
) -> str:
    """A fresh database of `kind` at the migrations' head (holding the founding case if
    `seeded`), copied from a template made once a session."""
    if kind == "postgres":
        await require_postgres()
    template = await _template(kind, tmp_path.parent, seeded=seeded)  # the session's temp
    if kind == "sqlite":
        target = tmp_path / name
        for suffix in ("", "-wal"):
            if Path(template + suffix).exists():
                shutil.copyfile(template + suffix, f"{target}{suffix}")
        return f"sqlite:///{target}"
    return await create_pg_database(template=template)


def drop_the_postgres_template() -> None:
    """At the end of the session: the PostgreSQL template goes (SQLite's is in tmp)."""
    for key in [key for key in _TEMPLATES if key[0] == "postgres"]:
        url = make_url(POSTGRES_URL).set(database=_TEMPLATES.pop(key))
        asyncio.run(drop_pg_database(url.render_as_string(hide_password=False)))


async def seed(database: Database, now: datetime = AS_OF) -> None:
    async with database.session() as session:
        await load_seed_files(session, default_seed_files(), now=now)
