"""The handler tests' scheduler: the bot's own database and clock, posting to its stand-in."""

from __future__ import annotations

import pytest

from bot.scheduler import Scheduler, delivery_client
from bot.settings import Settings
from tests.support.bots import RunningBot


def make_scheduler(bot: RunningBot) -> Scheduler:
    """A scheduler on the bot's database and clock, posting to its Slack stand-in."""
    settings = Settings(bot_token="xoxb-test-token", api_url=bot.standin.api_url)
    return Scheduler(
        db=bot.db, client=delivery_client(settings), clock=bot.clock, settings=settings
    )


@pytest.fixture
def scheduler(bot: RunningBot) -> Scheduler:
    return make_scheduler(bot)
