"""The reader's time (SPEC §3, "your time"): in a post many read it is Slack's `<!date^…>`
token, whose label lives inside the token and whose fallback is UTC; an ephemeral answer
keeps its one reader's zone (users.info) as the fallback. Never the deadline's own zone
under a reader label."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import slack_requests as slack
from bot.scheduler import Scheduler
from bot.slack_text import message_text
from bot.timeleft import format_local
from storage.models import HandledRequest
from tests.support.bots import RunningBot
from tests.support.checks import answer, block_text, rows
from tests.support.people import CHANNEL, LEAD, MEMBER

SEEDED_EXPIRY = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)  # Tue 12 Aug 2025 00:01 EDT
EXTENDED_EXPIRY = datetime(2025, 11, 10, 5, 1, tzinfo=UTC)  # +90 days, 00:01 EST
TOKEN = re.compile(r"<!date\^(\d+)\^([^|>]*)\|([^>]*)>")
READER_FORMAT = "your time: {date_short_pretty} {time}"
SPAN_END_FORMAT = "{date_short_pretty} {time}"


def in_shanghai(bot: RunningBot, *users: str) -> None:
    """The people typing read Shanghai time, so their zone cannot pass for everyone's."""
    for user in users:
        bot.standin.users[user] = {"tz": "Asia/Shanghai", "tz_offset": 8 * 3600}


def assert_reader_time_for_everyone(payload: dict[str, Any], instant: datetime) -> None:
    """`your time` is a token (label inside, UTC fallback) and appears nowhere else."""
    raw = block_text(payload)
    tokens = TOKEN.findall(raw)
    assert (str(int(instant.timestamp())), READER_FORMAT, format_local(instant, "UTC")) in tokens
    assert all(fallback.endswith(" UTC") for _, _, fallback in tokens), tokens
    assert "your time" not in TOKEN.sub("", raw).lower(), raw
    # A client that shows the fallback shows UTC, never labelled as the reader's zone.
    assert "your time" not in message_text(payload).lower()


def channel_posts(bot: RunningBot) -> list[dict[str, Any]]:
    return [c.args for c in bot.standin.calls_to("chat.postMessage") if "metadata" in c.args]


async def test_a_countdown_post_gives_your_time_as_a_token_with_a_utc_fallback(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    bot.clock.set(SEEDED_EXPIRY - timedelta(days=7) + timedelta(seconds=3))
    await scheduler.tick()
    [post] = channel_posts(bot)
    assert "Due Tue 12 Aug 2025 00:01 EDT" in message_text(post)  # the deadline's own zone
    assert_reader_time_for_everyone(post, SEEDED_EXPIRY)
    assert "Tue 12 Aug 2025 04:01 UTC" in message_text(post)


async def test_an_expiry_alert_and_the_extension_notice_give_your_time_as_a_token(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    in_shanghai(bot, LEAD)
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    notice = answer(await bot.command("/truce", "extend +90d", user=LEAD))
    # The channel follows the truce: the alert is its one post, the notice the lead's own.
    assert notice["response_type"] == "ephemeral"
    assert "This channel gets the alert." in block_text(notice)
    assert_reader_time_for_everyone(notice, EXTENDED_EXPIRY)
    await scheduler.tick()
    [alert] = channel_posts(bot)
    assert "expiry moved" in message_text(alert)
    assert_reader_time_for_everyone(alert, EXTENDED_EXPIRY)


@pytest.mark.parametrize(
    ("typed", "moved"),
    [
        ("+90d", "from Tue 12 Aug 2025 00:01 EDT to *Mon 10 Nov 2025 00:01 EST*"),
        (
            "2025-11-10 13:01 Asia/Shanghai",
            "from Tue 12 Aug 2025 00:01 EDT to *Mon 10 Nov 2025 13:01 UTC+8 Shanghai*",
        ),
        (
            "2025-09-01 09:00 Europe/London",
            "from Tue 12 Aug 2025 00:01 EDT to *Mon 1 Sep 2025 09:00 UTC+1 London*",
        ),
    ],
)
async def test_an_expiry_alert_gives_the_old_expiry_in_its_own_zone(
    bot: RunningBot, scheduler: Scheduler, typed: str, moved: str
) -> None:
    """An extension typed in another zone moves the expiry there; the alert still names the
    old expiry as the desk knew it (00:01 in New York), not converted to the new zone."""
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    answer(await bot.command("/truce", f"extend {typed}", user=LEAD))
    await scheduler.tick()
    [alert] = channel_posts(bot)
    assert f"the expiry moved {moved}" in message_text(alert), message_text(alert)


async def test_an_extension_typed_in_a_channel_without_the_alert_is_posted_there(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    notice = answer(await bot.command("/truce", "extend +90d", user=LEAD, channel="C0OTHER1"))
    assert notice["response_type"] == "in_channel"  # the only word of it there
    assert "gets the alert" not in block_text(notice)
    await scheduler.tick()
    [alert] = channel_posts(bot)  # in the subscribed channel only
    assert alert["channel"] == CHANNEL and "expiry moved" in message_text(alert)


async def test_the_digest_gives_each_deadline_your_time_as_a_token(bot: RunningBot) -> None:
    in_shanghai(bot, LEAD)
    answer(await bot.command("/deadline", "add Tariff review | +3d", user=LEAD))  # not quiet
    digest = answer(await bot.command("/desk", "digest", user=LEAD))
    assert digest["response_type"] == "in_channel"
    assert_reader_time_for_everyone(digest, SEEDED_EXPIRY)


@pytest.mark.parametrize("command", ["/truce", "/deadline"])
async def test_a_public_answer_is_not_in_the_askers_zone(bot: RunningBot, command: str) -> None:
    in_shanghai(bot, MEMBER)
    body = answer(await bot.command(command, "public", user=MEMBER))
    assert body["response_type"] == "in_channel"
    assert_reader_time_for_everyone(body, SEEDED_EXPIRY)
    assert "Shanghai" not in block_text(body)


@pytest.mark.parametrize("command", ["/truce", "/deadline"])
async def test_an_ephemeral_answer_falls_back_to_its_readers_own_zone(
    bot: RunningBot, command: str
) -> None:
    in_shanghai(bot, MEMBER)
    body = answer(await bot.command(command, user=MEMBER))
    assert body["response_type"] == "ephemeral"
    stamp = str(int(SEEDED_EXPIRY.timestamp()))
    reader = (stamp, READER_FORMAT, "Tue 12 Aug 2025 12:01 UTC+8 Shanghai")
    assert reader in TOKEN.findall(block_text(body))
    assert "Tue 12 Aug 2025 00:01 EDT" in block_text(body)  # and the deadline's own zone


STOCKHOLM_START = datetime(2025, 7, 27, 22, 0, tzinfo=UTC)  # Mon 28 Jul 2025 00:00 CEST
STOCKHOLM_END = datetime(2025, 7, 29, 21, 59, tzinfo=UTC)  # Tue 29 Jul 2025 23:59 CEST


def reader_tokens(payload: dict[str, Any]) -> list[tuple[datetime, str, str]]:
    return [
        (datetime.fromtimestamp(int(stamp), UTC), shown, fallback)
        for stamp, shown, fallback in TOKEN.findall(block_text(payload))
    ]


@pytest.mark.parametrize(
    ("command", "text", "items"),
    [
        ("/talks", "", 1),  # the round in progress (no next one yet)
        ("/watch", "taiwan", 1),
        ("/desk", "search tariff", 5),  # events, rounds and deadlines found, with times
    ],
)
@pytest.mark.parametrize("public", [False, True])
async def test_every_item_with_a_time_gives_the_readers_time_too(
    bot: RunningBot, command: str, text: str, items: int, public: bool
) -> None:
    """SPEC §1: a member sees every time in their own zone as well as the item's: the
    rounds of `/talks`, a topic's timeline, search hits. In an answer only its reader sees,
    a client that cannot convert falls back to that reader's zone; in a public one, UTC."""
    in_shanghai(bot, MEMBER)
    bot.clock.set(datetime(2025, 7, 29, 18, 0, tzinfo=UTC))
    typed = f"{text} public".strip() if public else text
    body = answer(await bot.command(command, typed, user=MEMBER))
    tokens = reader_tokens(body)
    assert len(tokens) >= items, block_text(body)
    zone = "UTC" if public else "Asia/Shanghai"
    for instant, shown, fallback in tokens:
        # a span's end follows its labelled start: "your time: <start> – <end>"
        assert shown in (READER_FORMAT, SPAN_END_FORMAT)
        assert fallback == format_local(instant, zone)
    if command == "/talks":
        assert [i for i, shown, _ in tokens if shown == READER_FORMAT] == [STOCKHOLM_START]
        assert [i for i, shown, _ in tokens if shown == SPAN_END_FORMAT] == [STOCKHOLM_END]
        assert "Mon 28 Jul 2025 00:00 CEST" in block_text(body)  # and the round's own zone
        assert f"^{SPAN_END_FORMAT}|" in block_text(body).split(" – <!date^")[1]


async def test_app_home_gives_each_event_the_readers_time(bot: RunningBot) -> None:
    in_shanghai(bot, MEMBER)
    bot.clock.set(datetime(2025, 7, 29, 18, 0, tzinfo=UTC))
    view = await bot.open_home(MEMBER)
    latest = [b for b in view["blocks"] if b["type"] == "section"]
    tokens = reader_tokens({"blocks": latest})
    assert len(tokens) >= 5 + 1  # five latest events, and the next deadline at least
    assert all(fallback.endswith("Shanghai") for _, _, fallback in tokens)


def reader_fallbacks(payload: dict[str, Any]) -> list[str]:
    return [fallback for _, _, fallback in TOKEN.findall(block_text(payload))]


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Shanghai", "Tue 12 Aug 2025 12:01 UTC+8 Shanghai"),
        ("America/Los_Angeles", "Mon 11 Aug 2025 21:01 PDT"),
        ("Asia/Kolkata", "Tue 12 Aug 2025 09:31 UTC+5:30 Kolkata"),
    ],
)
async def test_a_member_who_changes_zone_reads_the_new_one_at_once(
    bot: RunningBot, zone: str, shown: str
) -> None:
    """Slack's `user_change` carries the member's new `tz`: the next answer's "your time"
    is in it, without waiting out the hour `users.info` is remembered, or asking again."""
    before = reader_fallbacks(answer(await bot.command("/truce", user=MEMBER)))
    assert before == [format_local(SEEDED_EXPIRY, "Europe/Stockholm")]
    asked = len(bot.standin.calls_to("users.info"))
    user = {"id": MEMBER, "name": "member", "tz": zone, "tz_offset": 0}
    bot.standin.users[MEMBER] = user
    claims = len(await rows(bot, HandledRequest))
    envelope = slack.event_callback({"type": "user_change", "user": user})
    for retry in (None, 1):  # Slack's retry of it changes nothing either
        response = await bot.event(envelope, retry=retry)
        assert response.status_code == 200
    assert reader_fallbacks(answer(await bot.command("/truce", user=MEMBER))) == [shown]
    assert len(bot.standin.calls_to("users.info")) == asked
    assert len(await rows(bot, HandledRequest)) == claims  # nothing to claim: no write


async def test_a_user_change_without_a_usable_zone_asks_slack_again(bot: RunningBot) -> None:
    answer(await bot.command("/truce", user=MEMBER))
    asked = len(bot.standin.calls_to("users.info"))
    bot.standin.users[MEMBER] = {"tz": "Asia/Shanghai"}
    bad = {"id": MEMBER, "tz": "Mars/Olympus"}
    assert (
        await bot.event(slack.event_callback({"type": "user_change", "user": bad}))
    ).status_code == 200
    shown = reader_fallbacks(answer(await bot.command("/truce", user=MEMBER)))
    assert shown == ["Tue 12 Aug 2025 12:01 UTC+8 Shanghai"]
    assert len(bot.standin.calls_to("users.info")) == asked + 1


async def test_a_user_change_of_someone_not_yet_read_for_is_not_kept(bot: RunningBot) -> None:
    """Slack sends a user_change for every profile change in the workspace: only people
    whose zone is already remembered are noted, so the memo stays as small as the readers."""
    user = {"id": MEMBER, "tz": "Asia/Kolkata"}
    bot.standin.users[MEMBER] = user
    response = await bot.event(slack.event_callback({"type": "user_change", "user": user}))
    assert response.status_code == 200
    asked = len(bot.standin.calls_to("users.info"))
    shown = reader_fallbacks(answer(await bot.command("/truce", user=MEMBER)))
    assert shown == ["Tue 12 Aug 2025 09:31 UTC+5:30 Kolkata"]
    assert len(bot.standin.calls_to("users.info")) == asked + 1  # asked, as for anyone new
