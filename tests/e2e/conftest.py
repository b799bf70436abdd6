"""The end-to-end suite: the seeded bot over real HTTP (signed requests, uvicorn on loopback,
the Web API stand-in), once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from storage.db import Database
from tests.support.bots import RunningBot, running_bot
from tests.support.databases import (
    drop_pg_database,
    migrated_database_url,
)
from tests.support.slack import SlackStandIn


@pytest.fixture(params=["sqlite", "postgres"])
async def e2e(
    request: pytest.FixtureRequest, tmp_path: Path, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[RunningBot]:
    """The seeded bot on each database (see `tests.support.bots.running_bot`)."""
    db = Database(await migrated_database_url(request.param, tmp_path, seeded=True))
    try:
        async with running_bot(db, standin, clock) as running:
            yield running
    finally:
        await db.dispose()
        if request.param == "postgres":
            await drop_pg_database(db.url)
