"""The handler tests' scheduler: the bot's own database and clock, posting to its stand-in."""

from __future__ import annotations

import pytest

from bot.scheduler import Scheduler
from tests.support.bots import RunningBot, make_scheduler


@pytest.fixture
def scheduler(bot: RunningBot) -> Scheduler:
    return make_scheduler(bot)
