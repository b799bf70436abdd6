"""The suite's fixtures. What they are made of lives in `tests.support` (importable):
the Slack stand-in, the running bot, the databases and the people tests speak as."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from storage.db import Database
from tests.support.bots import RunningBot, running_bot
from tests.support.databases import (
    drop_pg_database,
    drop_the_postgres_template,
    make_database_url,
    migrated_database_url,
)
from tests.support.people import AS_OF
from tests.support.slack import SlackStandIn


def pytest_collection_finish(session: pytest.Session) -> None:
    """The imported code and the collected tests live for the whole run: frozen, they are
    not walked again by each of the collector's full passes (as `parley serve` does)."""
    gc.collect()
    gc.freeze()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(AS_OF)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """A fresh, empty database of each kind: the migration tests start from nothing."""
    url = await make_database_url(request.param, tmp_path)
    yield url
    if request.param == "postgres":
        await drop_pg_database(url)


@pytest.fixture(scope="session", autouse=True)
def _drop_the_postgres_template() -> Iterator[None]:
    yield
    drop_the_postgres_template()


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database of each kind: storage tests run on both. A test that also asks
    for `seeded` (tests/storage) gets it holding the founding case, copied from a template
    seeded once a session rather than loaded for each test."""
    seeded = "seeded" in request.fixturenames
    database = Database(await migrated_database_url(request.param, tmp_path, seeded=seeded))
    yield database
    await database.dispose()
    if request.param == "postgres":
        await drop_pg_database(database.url)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(await migrated_database_url("sqlite", tmp_path, "parley-http.db"))
    yield database
    await database.dispose()


@pytest.fixture
async def seeded_sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite holding the founding case (copied from a template seeded once a session)."""
    url = await migrated_database_url("sqlite", tmp_path, "parley-seeded.db", seeded=True)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    """The Web API stand-in; a test ends with it having seen nothing Slack would reject
    (no Block Kit limit broken, no workspace-wide ping)."""
    server = SlackStandIn(strict=True)
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], "\n".join(server.violations)


@pytest.fixture
async def bot(
    seeded_sqlite_db: Database, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[RunningBot]:
    """The seeded bot over HTTP on SQLite (see `tests.support.bots.running_bot`)."""
    async with running_bot(seeded_sqlite_db, standin, clock) as running:
        yield running
