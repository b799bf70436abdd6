"""Every handler test ends with the Slack stand-in having seen nothing Slack would reject:
no Block Kit limit broken and no workspace-wide ping (the stand-in's mention tripwire)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.scheduler import Scheduler, delivery_client
from bot.settings import Settings
from bot.standin import SlackStandIn
from tests.conftest import RunningBot


@pytest.fixture(autouse=True)
def _standin_saw_no_violations(standin: SlackStandIn) -> Iterator[None]:
    yield
    assert standin.violations == [], "\n".join(standin.violations)


def make_scheduler(bot: RunningBot) -> Scheduler:
    """A scheduler on the bot's database and clock, posting to its Slack stand-in."""
    settings = Settings(bot_token="xoxb-test-token", api_url=bot.standin.api_url)
    return Scheduler(
        db=bot.db, client=delivery_client(settings), clock=bot.clock, settings=settings
    )


@pytest.fixture
def scheduler(bot: RunningBot) -> Scheduler:
    return make_scheduler(bot)
