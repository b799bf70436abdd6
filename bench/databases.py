"""The databases a benchmark runs on: a SQLite file in its work folder, and a PostgreSQL
database of its own (a random name, dropped afterwards) on the server at
`PARLEY_BENCH_POSTGRES_URL` (default: the local socket, as the tests use).

    PARLEY_BENCH_DATABASES=sqlite python -m bench http    # one kind only
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

KINDS = ("sqlite", "postgres")
POSTGRES_URL = os.environ.get(
    "PARLEY_BENCH_POSTGRES_URL", "postgresql+asyncpg://root@/postgres?host=/var/run/postgresql"
)


def chosen_kinds() -> list[str]:
    wanted = os.environ.get("PARLEY_BENCH_DATABASES", ",".join(KINDS))
    kinds = [k.strip() for k in wanted.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise SystemExit(f"PARLEY_BENCH_DATABASES: unknown {', '.join(unknown)}; known {KINDS}")
    return kinds


async def _admin(sql: str) -> None:
    import asyncpg

    url = make_url(POSTGRES_URL)
    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.query.get("host") or url.host,
        port=url.port,
        database=url.database,
        timeout=5,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def bench_database(kind: str, folder: Path) -> AsyncIterator[str]:
    """The URL of an empty database of `kind`, removed when the block ends."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'parley.db'}"
        return
    name = f"parley_bench_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
