"""Every read command and App Home are made from the record below the ORM (storage.direct):
with the answer cache off, their reads are sent on the direct readers' connection, and not
one goes through SQLAlchemy's engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import ManualClock
from storage.db import Database
from tests.handlers.test_answer_cache import counted
from tests.support.bots import RunningBot, running_bot
from tests.support.checks import answer, shown
from tests.support.people import LEAD, MEMBER
from tests.support.slack import SlackStandIn

READS = [
    ("/truce", ""),
    ("/truce", "us-china"),
    ("/deadline", ""),
    ("/deadline", "us-eu public"),
    ("/talks", ""),
    ("/watch", ""),
    ("/watch", "taiwan"),
    ("/desk", "search tariff"),
    ("/desk", 'search "rare earths" kind:event'),
    ("/desk", "history"),
    ("/desk", "history 5 page 2"),
]


@pytest.fixture
async def uncached(
    seeded_sqlite_db: Database, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[RunningBot]:
    async with running_bot(seeded_sqlite_db, standin, clock, answer_cache=False) as bot:
        yield bot


@pytest.mark.parametrize("user", [MEMBER, LEAD])
@pytest.mark.parametrize(("command", "text"), READS)
async def test_a_read_command_reads_below_the_orm(
    uncached: RunningBot, command: str, text: str, user: str
) -> None:
    with counted(uncached.db) as statements:
        said = shown(answer(await uncached.command(command, text, user=user)))
    assert said.strip()
    assert statements.orm == 0, f"{command} {text} went through the ORM"
    assert statements.direct >= 1, f"{command} {text} read nothing"


async def test_app_home_reads_below_the_orm(uncached: RunningBot) -> None:
    await uncached.open_home(MEMBER)  # its first opening: nothing to compare yet
    with counted(uncached.db) as statements:
        view = await uncached.open_home(LEAD)
    assert "Next deadlines" in str(view)
    # The one statement through the engine is the event's claim, a write (bot.retries).
    assert statements.orm <= 2, "App Home read through the ORM"
    assert statements.direct >= 5
