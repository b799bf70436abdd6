"""The end-to-end suite: the seeded bot over real HTTP (signed requests, uvicorn on loopback,
the Web API stand-in), once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.clock import ManualClock
from bot.settings import Settings
from bot.standin import SlackStandIn
from storage.access import CLI
from storage.db import Database
from storage.roles import grant_lead
from tests.conftest import (
    ADMIN,
    AS_OF,
    LEAD,
    RunningBot,
    _drop_pg_database,
    make_database_url,
    seed,
    start_bot,
)


@pytest.fixture(params=["sqlite", "postgres"])
async def e2e(
    request: pytest.FixtureRequest, tmp_path: Any, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[RunningBot]:
    """The seeded bot on each database; ADMIN is in PARLEY_ADMINS, LEAD is granted lead."""
    url = await make_database_url(request.param, tmp_path)
    db = Database(url)
    try:
        await db.upgrade()
        await seed(db)
        async with db.session() as session:
            await grant_lead(session, actor=CLI, now=AS_OF, user_id=LEAD)
        server, task, base = await start_bot(db, standin, clock)
        async with httpx.AsyncClient(timeout=10) as http:
            settings = Settings(admins=frozenset({ADMIN}), timezone="Europe/Stockholm")
            yield RunningBot(base, http, standin, db, clock, settings)
        server.should_exit = True
        await task
    finally:
        await db.dispose()
        if request.param == "postgres":
            await _drop_pg_database(url)


@pytest.fixture(autouse=True)
def _standin_saw_no_violations(standin: SlackStandIn) -> Iterator[None]:
    """Nothing the bot sent broke a Block Kit limit or pinged the workspace."""
    yield
    assert standin.violations == [], "\n".join(standin.violations)


@pytest.fixture(autouse=True)
def _uvicorn_logging_restored() -> Iterator[None]:
    """`start_bot`'s uvicorn applies its own logging config process-wide (levels, handlers,
    no propagation); the tests that come later (the log tests) expect it as it was."""
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    yield
    for logger, (level, propagate, handlers) in zip(loggers, saved, strict=True):
        logger.setLevel(level)
        logger.propagate = propagate
        logger.handlers = handlers
