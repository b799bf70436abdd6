"""Every slash command's main answers, over HTTP, on both databases."""

from __future__ import annotations

from storage.models import Deadline, RoleGrant, Subscription, TruceExtension
from tests.support.bots import RunningBot
from tests.support.checks import answer, assert_valid_message, audit_count, block_text, rows
from tests.support.people import ADMIN, CHANNEL, LEAD, MEMBER

SEEDED_EXPIRY_NY = "Tue 12 Aug 2025 00:01 EDT"
SEEDED_EXPIRY_LA = "Mon 11 Aug 2025 21:01 PDT"


async def test_truce_shows_terms_and_the_expiry_in_its_zone_and_the_readers(
    e2e: RunningBot,
) -> None:
    e2e.standin.users[MEMBER] = {"tz": "America/Los_Angeles", "tz_offset": -25200}
    body = answer(await e2e.command("/truce", user=MEMBER))
    text = block_text(body)
    assert body["response_type"] == "ephemeral"
    assert "United States → China: additional tariff on Chinese goods, 30%" in text
    assert SEEDED_EXPIRY_NY in text  # the deadline's own zone
    assert f"|{SEEDED_EXPIRY_LA}>" in text  # the reader's zone, as the <!date^…> fallback
    assert "13 days 19 hours" in text
    assert_valid_message(body)

    answer(await e2e.command("/deadline", user=MEMBER))
    assert len(e2e.standin.calls_to("users.info")) == 1  # the reader's zone is cached


async def test_lead_extends_the_truce_by_90_days(e2e: RunningBot) -> None:
    audits = await audit_count(e2e)
    body = answer(await e2e.command("/truce", "extend +90d | agreed in Stockholm", user=LEAD))
    assert "Mon 10 Nov 2025 00:01 EST" in str(body)
    (extension,) = await rows(e2e, TruceExtension)
    assert extension.note == "agreed in Stockholm"
    assert await audit_count(e2e) > audits


async def test_deadline_lists_and_a_lead_adds_while_a_past_time_is_refused(
    e2e: RunningBot,
) -> None:
    listed = block_text(answer(await e2e.command("/deadline", user=MEMBER)))
    assert "Upcoming deadlines (1)" in listed and SEEDED_EXPIRY_NY in listed

    added = answer(await e2e.command("/deadline", "add Hearing | +3d", user=LEAD))
    assert "*Hearing*" in block_text(added)
    assert await rows(e2e, Deadline, Deadline.title == "Hearing")

    audits = await audit_count(e2e)
    refused = answer(await e2e.command("/deadline", "add Late | 2025-07-01 00:00 UTC", user=LEAD))
    assert "past" in str(refused)
    assert await rows(e2e, Deadline, Deadline.title == "Late") == []
    assert await audit_count(e2e) == audits


async def test_talks_shows_the_latest_round_with_delegations(e2e: RunningBot) -> None:
    text = block_text(answer(await e2e.command("/talks", user=MEMBER)))
    assert "US–China economic and trade talks, Stockholm" in text
    assert "United States: Scott Bessent, Treasury Secretary" in text
    assert "China: He Lifeng, Vice Premier" in text


async def test_watch_lists_sensitivities_and_a_topics_timeline(e2e: RunningBot) -> None:
    overview = block_text(answer(await e2e.command("/watch", user=MEMBER)))
    assert "*Taiwan*  ·  high" in overview
    topic = answer(await e2e.command("/watch", "taiwan", user=MEMBER))
    assert "Watch: Taiwan (high)" in block_text(topic)


async def test_desk_help_subscribe_and_naming_a_lead(e2e: RunningBot) -> None:
    assert "/deadline add" in block_text(answer(await e2e.command("/desk", user=MEMBER)))

    answer(await e2e.command("/desk", "subscribe", user=LEAD))
    (subscription,) = await rows(e2e, Subscription, Subscription.channel_id == CHANNEL)
    assert subscription.digest_zone

    body = answer(await e2e.command("/desk", "lead add <@U0NEWLEAD|nina>", user=ADMIN))
    assert body["text"] == "<@U0NEWLEAD> is now a lead."
    assert await rows(e2e, RoleGrant, RoleGrant.user_id == "U0NEWLEAD")


async def test_unknown_subcommands_get_usage_and_change_nothing(e2e: RunningBot) -> None:
    audits = await audit_count(e2e)
    for command in ("/truce", "/deadline", "/talks", "/desk"):
        body = answer(await e2e.command(command, "frobnicate", user=LEAD))
        assert f"I did not understand `{command} frobnicate`" in body["text"], body
    body = answer(await e2e.command("/watch", "frobnicate", user=LEAD))  # /watch takes a topic
    assert "No watch topic matches 'frobnicate'" in body["text"]
    assert await audit_count(e2e) == audits
