"""Time left is said once, cleanly, on every surface (answers, App Home, digest, countdown,
alerts): "left" at most once on a line and no parentheses inside parentheses."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.scheduler import Scheduler
from bot.slack_text import message_text
from tests.support.bots import RunningBot
from tests.support.checks import answer
from tests.support.people import LEAD, MEMBER

SEEDED_EXPIRY = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)  # Tue 12 Aug 2025 00:01 EDT
TRUCE = "US–China tariff truce (Geneva, 90 days)"
LEFT_AT_AS_OF = "13 days 19 hours left · 10 business days"  # 13 d 19 h 1 min at 09:00 UTC
LEFT = re.compile(r"\bleft\b", re.IGNORECASE)


def nesting(line: str) -> int:
    deepest = depth = 0
    for char in line:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    return deepest


def assert_said_once(text: str) -> None:
    for line in text.splitlines():
        assert len(LEFT.findall(line)) <= 1, f"'left' twice: {line!r}"
        assert nesting(line) <= 1, f"nested parentheses: {line!r}"


def test_nesting_is_measured() -> None:
    assert nesting("a (b) (c)") == 1
    assert nesting("(6 days 12 hours left (4 business days))") == 2


@pytest.mark.parametrize("command", ["/truce", "/deadline"])
async def test_an_answer_says_the_time_left_once(bot: RunningBot, command: str) -> None:
    text = message_text(answer(await bot.command(command, user=MEMBER)))
    assert_said_once(text)
    assert any(line.startswith(LEFT_AT_AS_OF) for line in text.splitlines()), text
    assert "Time left" not in text


async def test_the_truce_answer_has_its_time_left_on_a_line_of_its_own(bot: RunningBot) -> None:
    lines = message_text(answer(await bot.command("/truce", user=MEMBER))).splitlines()
    assert LEFT_AT_AS_OF in lines


async def test_a_deadline_added_says_its_time_left_once(bot: RunningBot) -> None:
    added = answer(await bot.command("/deadline", "add Hearing | 2025-08-05 21:00 UTC", user=LEAD))
    text = message_text(added)
    assert_said_once(text)
    assert "7 days 12 hours left · 5 business days" in text.splitlines()


async def test_the_app_home_says_the_time_left_once(bot: RunningBot) -> None:
    text = message_text(await bot.open_home(MEMBER))
    assert_said_once(text)
    assert LEFT_AT_AS_OF in text


async def test_the_digest_line_has_no_parentheses_inside_parentheses(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Tariff review | +3d", user=LEAD))  # not quiet
    text = message_text(answer(await bot.command("/desk", "digest", user=LEAD)))
    assert_said_once(text)
    deadline = next(line for line in text.splitlines() if line.startswith("• *Tariff review*"))
    assert deadline == (
        "• *Tariff review* #2 — Fri 1 Aug 2025 11:00 CEST  ·  Fri 1 Aug 2025 09:00 UTC  ·  "
        "3 days left · 3 business days"
    )
    # the truce's own expiry is on the truce's line, not repeated as a deadline
    assert not any(line.startswith(f"• *{TRUCE} expires") for line in text.splitlines())
    truce = next(line for line in text.splitlines() if line.startswith(f"• *{TRUCE}* —"))
    assert truce == (
        f"• *{TRUCE}* — expires Tue 12 Aug 2025 00:01 EDT  ·  Tue 12 Aug 2025 04:01 UTC  ·  "
        f"{LEFT_AT_AS_OF}"
    )


async def test_countdowns_and_alerts_say_the_time_left_once(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    bot.clock.set(SEEDED_EXPIRY - timedelta(days=7) + timedelta(seconds=2))
    await scheduler.tick()
    answer(await bot.command("/truce", "extend +90d", user=LEAD))
    await scheduler.tick()
    posted = [
        message_text(c.args)
        for c in bot.standin.calls_to("chat.postMessage")
        if "metadata" in c.args
    ]
    assert len(posted) == 2 and "expiry moved" in posted[1]
    for text in posted:
        assert_said_once(text)
    # 90 days from 00:01 EDT to 00:01 EST is 90 days and an hour; from the 7-day mark, 2 s ago.
    assert "97 days left · 69 business days" in posted[1].splitlines()
