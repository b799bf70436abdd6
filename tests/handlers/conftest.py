"""Every handler test ends with the Slack stand-in having seen nothing Slack would reject:
no Block Kit limit broken and no workspace-wide ping (the stand-in's mention tripwire)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.standin import SlackStandIn


@pytest.fixture(autouse=True)
def _standin_saw_no_violations(standin: SlackStandIn) -> Iterator[None]:
    yield
    assert standin.violations == [], "\n".join(standin.violations)
