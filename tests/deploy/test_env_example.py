"""The root .env.example: every setting Parley reads, each with a comment, and loadable."""

from __future__ import annotations

import re

from dotenv import dotenv_values

from bot.settings import Settings
from tests.deploy.files import ROOT

EXAMPLE = ROOT / ".env.example"
SPEC_SETTINGS = {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "PARLEY_DATABASE_URL",
    "PARLEY_ADMINS",
    "PARLEY_TIMEZONE",
    "PARLEY_COUNTDOWN_OFFSETS",
    "PARLEY_SCHEDULER",
    "PARLEY_CALENDAR_TOKEN",
}


def test_lists_every_setting_parley_reads() -> None:
    listed = set(dotenv_values(EXAMPLE))
    source = (ROOT / "bot" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"((?:SLACK|PARLEY)_[A-Z_]+)"', source))
    assert SPEC_SETTINGS <= read
    assert read <= listed, read - listed


def test_every_setting_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"[A-Z_]+=", line):
            assert lines[number - 1].startswith("# "), line


def test_the_example_as_it_stands_is_accepted() -> None:
    values = {k: v or "" for k, v in dotenv_values(EXAMPLE).items()}
    settings = Settings.load(values)
    assert settings.bot_token is None
    assert settings.scheduler is True
