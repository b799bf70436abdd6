"""`/desk`: help, event, lead add/remove/list, history, search, subscriptions, digest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.render.ids import Callback
from handlers.desk import SEARCH_LIMIT
from storage import events
from storage.access import Actor
from storage.models import AuditEntry, Deadline, RoleGrant, Subscription
from tests.support.bots import RunningBot
from tests.support.checks import answer, assert_valid_message, audit_count, block_text, rows
from tests.support.people import ADMIN, AS_OF, CHANNEL, LEAD, MEMBER


@pytest.mark.parametrize("text", ["", "help"])
async def test_desk_help_lists_the_commands_and_tracks(bot: RunningBot, text: str) -> None:
    body = answer(await bot.command("/desk", text, user=MEMBER))
    help_text = block_text(body)
    assert body["response_type"] == "ephemeral"
    for fragment in (
        "/truce",
        "/deadline add",
        "/talks",
        "/watch",
        "/desk lead add",
        "*For leads*",
    ):
        assert fragment in help_text
    assert "`us-china`" in help_text
    assert "Europe/Stockholm" in help_text
    assert "You are a member." in help_text


async def test_desk_help_tells_an_admin_their_role_in_good_english(bot: RunningBot) -> None:
    help_text = block_text(answer(await bot.command("/desk", "help", user=ADMIN)))
    assert "You are an admin." in help_text


async def test_desk_unknown_subcommand_gets_usage(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "frobnicate"))
    assert body["response_type"] == "ephemeral"
    assert "I did not understand `/desk frobnicate`" in body["text"]
    assert "/desk subscribe" in body["text"]


async def test_desk_event_opens_the_event_form_for_a_lead(bot: RunningBot) -> None:
    response = await bot.command("/desk", "event", user=LEAD)
    assert response.status_code == 200
    assert (await bot.opened_view())["callback_id"] == Callback.event_form


async def test_desk_event_by_member_is_refused_without_a_modal(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "event", user=MEMBER))
    assert "Only a desk lead" in body["text"]
    assert bot.standin.calls_to("views.open") == []


async def test_admin_makes_a_lead_who_can_then_change_the_record(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/desk", "lead add <@U123|bob>", user=ADMIN))
    assert body["text"] == "<@U123> is now a lead."
    (grant,) = await rows(bot, RoleGrant, RoleGrant.user_id == "U123")
    assert grant.role == "lead" and grant.granted_by == ADMIN
    assert await audit_count(bot) == audits + 1

    listed = answer(await bot.command("/desk", "lead list", user=MEMBER))["text"]
    assert "<@U123>" in listed and "<@ULEAD001>" in listed and "<@UADMIN01>" in listed

    answer(await bot.command("/deadline", "add Bob's deadline | +3d", user="U123"))
    assert await rows(bot, Deadline, Deadline.title == "Bob's deadline")


async def test_a_lead_cannot_make_leads(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/desk", "lead add <@U123|bob>", user=LEAD))
    assert body["text"] == "Only an admin can name or remove leads."
    assert await rows(bot, RoleGrant, RoleGrant.user_id == "U123") == []
    assert await audit_count(bot) == audits


async def test_admin_removes_a_lead(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", f"lead remove <@{LEAD}>", user=ADMIN))
    assert "is no longer a lead" in body["text"]
    assert await rows(bot, RoleGrant, RoleGrant.user_id == LEAD) == []
    refused = answer(await bot.command("/deadline", "add Test | +3d", user=LEAD))
    assert "Only a desk lead" in refused["text"]


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("lead add bob", "Name the user as a mention"),
        ("lead add", "Name the user as a mention"),
        ("lead add @nobody", "No Slack user is '@nobody' here: pick the person from Slack's @"),
        ("lead remove @ghost", "No Slack user is '@ghost' here"),
    ],
)
async def test_lead_add_without_a_mention_says_how(bot: RunningBot, typed: str, says: str) -> None:
    """A name Slack did not turn into a mention is no one it knows: said as such."""
    body = answer(await bot.command("/desk", typed, user=ADMIN))
    assert says in body["text"] and "/desk lead add @alice" in body["text"]
    assert len(await rows(bot, RoleGrant)) == 1


async def test_desk_history_shows_recent_changes_with_who_and_what(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Tariff review | +3d", user=LEAD))
    body = answer(await bot.command("/desk", "history", user=MEMBER))
    text = block_text(body)
    assert "Changes 1–20, newest first" in text
    (line,) = [x for x in text.split("\n") if "Tariff review" in x]
    assert "<@ULEAD001>" in line
    assert "added deadline #2 “Tariff review”, due Fri 1 Aug 2025 11:00 CEST" in line
    assert line.startswith("Tue 29 Jul 2025 11:00 CEST")  # when, in the reader's zone
    assert " · seed · added event #" in text
    assert "Older changes: `/desk history 20 page 2`." in text
    assert_valid_message(body)


async def test_desk_history_puts_the_change_just_made_first(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Tariff review | +3d", user=LEAD))
    text = block_text(answer(await bot.command("/desk", "history", user=MEMBER)))
    assert "Tariff review" in text.split("\n")[1]


async def test_desk_search_finds_the_rare_earths_event_and_topic(bot: RunningBot) -> None:
    bot.clock.set(AS_OF + timedelta(hours=2))  # the analysis is dated 12:00 CEST (10:00Z)
    body = answer(await bot.command("/desk", "search rare earths", user=MEMBER))
    text = block_text(body)
    assert text.startswith("2 items match “rare earths”.\n")
    assert body["text"] == "2 items match."
    event, topic = body["blocks"][1]["text"]["text"], body["blocks"][2]["text"]["text"]
    assert event.startswith(
        "Event  ·  *Analysts: China's dominance of rare earths remains a powerful leverage point*"
    )
    assert "global *rare* *earths* market" in event  # the snippet, its matches in bold
    assert topic.startswith("Sensitivity  ·  *Rare earths*")


async def test_desk_search_finds_nothing_dated_later_than_now(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "search rare earths kind:event", user=MEMBER))
    assert body["text"] == "Nothing matches “rare earths kind:event”."  # dated 10:00Z


async def _add_events(bot: RunningBot, *titles: str) -> None:
    for n, title in enumerate(titles):
        async with bot.db.session() as session:
            await events.add_event(
                session,
                actor=Actor(LEAD),
                now=AS_OF,
                title=title,
                occurred_at=AS_OF - timedelta(minutes=n),
            )


def _heading_and_titles(body: dict[str, Any]) -> tuple[str, list[str]]:
    """The answer's first line, and the title of each event it lists."""
    texts = [b["text"]["text"] for b in body["blocks"]]
    return texts[0], [t.split("*")[1] for t in texts[1:]]


async def test_desk_search_counts_many_events_in_the_plural(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "search Stockholm talks", user=MEMBER))
    heading, titles = _heading_and_titles(body)
    assert len(titles) > 1
    assert heading == f"{len(titles)} items match “Stockholm talks”."
    assert body["text"] == f"{len(titles)} items match."
    assert_valid_message(body)


@pytest.mark.parametrize(
    ("words", "title"),
    [
        ("50%", "Steel tariff rises to 50%"),
        ("to 50%", "Steel tariff rises to 50%"),
        ("H20_export", "H20_export memo"),
        ("_", "H20_export memo"),
    ],
)
async def test_desk_search_takes_percent_and_underscore_as_text(
    bot: RunningBot, words: str, title: str
) -> None:
    await _add_events(bot, "Steel tariff rises to 50%", "Steel tariff rises to 50 points")
    await _add_events(bot, "H20_export memo", "H20 export memo")
    body = answer(await bot.command("/desk", f"search {words}", user=MEMBER))
    assert _heading_and_titles(body) == (f"1 item matches “{words}”.", [title])


async def test_desk_search_finds_chinese_text_inside_words(bot: RunningBot) -> None:
    await _add_events(bot, "新华社：中方要求取消芬太尼关税", "商务部：对稀土相关物项实施出口管制")
    body = answer(await bot.command("/desk", "search 芬太尼", user=MEMBER))
    assert _heading_and_titles(body) == (
        "1 item matches “芬太尼”.",
        ["新华社：中方要求取消芬太尼关税"],
    )
    body = answer(await bot.command("/desk", "search 稀土 管制", user=MEMBER))
    heading, titles = _heading_and_titles(body)
    assert (heading, titles) == (
        "1 item matches “稀土 管制”.",
        ["商务部：对稀土相关物项实施出口管制"],
    )
    body = answer(await bot.command("/desk", "search 稀土", user=MEMBER))  # a topic's keyword
    heading, titles = _heading_and_titles(body)
    assert "商务部：对稀土相关物项实施出口管制" in titles and "Rare earths" in titles


async def test_desk_search_past_its_limit_says_more_match(bot: RunningBot) -> None:
    await _add_events(bot, *(f"Desk note {n}" for n in range(SEARCH_LIMIT + 1)))
    body = answer(await bot.command("/desk", "search desk note", user=MEMBER))
    heading, titles = _heading_and_titles(body)
    assert heading == (
        f"More than {SEARCH_LIMIT} items match “desk note”; the best {SEARCH_LIMIT} are shown."
    )
    assert titles == [f"Desk note {n}" for n in range(SEARCH_LIMIT)]
    assert_valid_message(body)


async def test_desk_search_without_hits_says_so(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "search pineapple"))
    assert body["text"] == "Nothing matches “pineapple”."
    body = answer(await bot.command("/desk", "search 100%"))
    assert body["text"] == "Nothing matches “100%”."


async def test_desk_search_without_words_says_what_to_write(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "search"))
    assert "/desk search rare earths" in body["text"]


async def test_subscribe_then_subscribe_shows_the_settings(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(
        await bot.command("/desk", "subscribe 08:00 Europe/Stockholm weekdays", user=LEAD)
    )
    assert body["response_type"] == "in_channel"
    assert body["text"].startswith("Subscribed this channel.")
    assert "Digest: 08:00 Europe/Stockholm, weekdays" in body["text"]
    (sub,) = await rows(bot, Subscription, Subscription.channel_id == CHANNEL)
    assert (sub.digest_time, sub.digest_zone, sub.weekdays_only) == (
        "08:00",
        "Europe/Stockholm",
        True,
    )
    assert await audit_count(bot) == audits + 1

    shown_again = answer(await bot.command("/desk", "subscribe", user=LEAD))
    assert shown_again["text"].startswith("This channel is subscribed.")
    assert "Digest: 08:00 Europe/Stockholm, weekdays" in shown_again["text"]
    assert "Countdowns: on" in shown_again["text"]
    assert shown_again["response_type"] == "ephemeral"  # a look, not the channel's news
    by_member = answer(await bot.command("/desk", "subscribe", user=MEMBER))
    assert (by_member["response_type"], by_member["text"]) == ("ephemeral", shown_again["text"])
    assert await audit_count(bot) == audits + 1  # showing changes nothing


async def test_subscribe_with_an_unknown_word_is_refused(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "subscribe hourly", user=LEAD))
    assert 'Could not read "hourly" as a time of day' in body["text"]
    assert "Usage:" in body["text"]
    assert await rows(bot, Subscription) == []


async def test_member_cannot_subscribe_a_channel(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "subscribe 08:00", user=MEMBER))
    assert "Only a desk lead" in body["text"]
    assert await rows(bot, Subscription) == []


async def test_unsubscribe_stops_the_subscription(bot: RunningBot) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    body = answer(await bot.command("/desk", "unsubscribe", user=LEAD))
    assert body["response_type"] == "in_channel"
    assert "unsubscribed" in body["text"]
    (sub,) = await rows(bot, Subscription)
    assert sub.active is False
    (entry,) = await rows(bot, AuditEntry, AuditEntry.action == "unsubscribe")
    assert entry.actor == LEAD


async def test_unsubscribe_of_an_unsubscribed_channel_says_so(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "unsubscribe", user=LEAD))
    assert body["text"] == "This channel is not subscribed."


async def test_desk_digest_posts_deadlines_changes_and_talks_here(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Tariff review | +3d", user=LEAD))
    body = answer(await bot.command("/desk", "digest", user=MEMBER))
    text = block_text(body)
    assert body["response_type"] == "in_channel"
    assert "Desk digest · Tue 29 Jul 2025 11:00 CEST" in text
    assert "Deadlines ahead" in text
    assert "*Tariff review* #2 — Fri 1 Aug 2025 11:00 CEST" in text
    assert "• *US–China tariff truce (Geneva, 90 days)* — expires Tue 12 Aug 2025" in text
    assert "What changed" in text
    assert "• added deadline #2 “Tariff review”, due Fri 1 Aug 2025 11:00 CEST" in text
    assert "Talks" in text and "US–China economic and trade talks, Stockholm" in text
    assert_valid_message(body)


async def test_only_a_private_channel_can_be_marked_restricted(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/desk", "subscribe restricted on", user=LEAD))
    assert "Only a private channel can be marked restricted" in body["text"]
    assert await rows(bot, Subscription) == [] and await audit_count(bot) == audits
    private = "GPRIVATE1"
    body = answer(await bot.command("/desk", "subscribe restricted on", user=LEAD, channel=private))
    assert "Restricted channel: yes" in body["text"]
    (sub,) = await rows(bot, Subscription)
    assert sub.channel_id == private and sub.restricted is True
    body = answer(
        await bot.command("/desk", "subscribe restricted off", user=LEAD, channel=private)
    )
    assert "Restricted channel: no" in body["text"]


async def test_a_member_cannot_mark_a_channel_restricted(bot: RunningBot) -> None:
    body = answer(
        await bot.command("/desk", "subscribe restricted on", user=MEMBER, channel="GPRIVATE1")
    )
    assert "Only a desk lead" in body["text"]
    assert await rows(bot, Subscription) == []


async def test_help_shows_its_placeholders_escaped(bot: RunningBot) -> None:
    """`<words>` sent raw would be read by Slack as a link; only bot markup may use `<`."""
    import json
    import re

    body = answer(await bot.command("/desk", "help", user=MEMBER))
    text = json.dumps(body)
    assert "&lt;words&gt;" in text and "&lt;#&gt;" in text
    assert not re.search(r"<(?![@#!]|https?:)", block_text(body))


@pytest.mark.parametrize(
    ("within", "beyond", "shown", "more"),
    [(3, 0, 3, 0), (13, 5, 13, 0), (14, 0, 14, 0), (14, 3, 14, 0), (15, 0, 14, 1), (40, 6, 15, 26)],
)
async def test_the_digest_counts_the_deadlines_ahead_it_does_not_list(
    bot: RunningBot, within: int, beyond: int, shown: int, more: int
) -> None:
    """15 deadlines listed at most (the truce's expiry among them, on the truce's line);
    the others due within 30 days are counted in a line, never dropped unsaid."""
    from datetime import timedelta

    from storage import deadlines
    from storage.access import Actor

    now = bot.clock.now()
    async with bot.db.session() as session:
        for n in range(within + beyond):
            days = 1 + n % 28 if n < within else 31 + n
            await deadlines.add_deadline(
                session,
                actor=Actor(LEAD),
                now=now,
                title=f"Review {n}",
                due_at=now + timedelta(days=days, hours=1),
                zone="UTC",
            )
    text = block_text(answer(await bot.command("/desk", "digest", user=MEMBER)))
    ahead = text[text.index("Deadlines ahead") :]
    assert ahead.count("*Review ") == shown
    if more:
        assert (
            f"…and {more} more deadline{'s' if more > 1 else ''} due in the next 30 days" in ahead
        )
    else:
        assert "more deadline" not in text


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ("subscribe 07:30 Asia/Shanghai weekdays", "Digest: 07:30 Asia/Shanghai, weekdays"),
        ("subscribe daily", "Digest: 08:00 Europe/Stockholm, daily"),
        ("subscribe countdowns off", "Countdowns: off"),
        ("subscribe digest off", "Digest: off"),
        ("subscribe 09:15", "Digest: 09:15 Europe/Stockholm, weekdays"),
    ],
)
async def test_a_change_to_a_subscription_is_posted_to_the_channel(
    bot: RunningBot, change: str, shown: str
) -> None:
    """The channel learns that its digest moved; a look at the settings stays the asker's."""
    first = answer(
        await bot.command("/desk", "subscribe 08:00 Europe/Stockholm weekdays", user=LEAD)
    )
    assert first["response_type"] == "in_channel"
    audits = await audit_count(bot)
    changed = answer(await bot.command("/desk", change, user=LEAD))
    assert changed["response_type"] == "in_channel"
    assert changed["text"].startswith("Subscription updated.") and shown in changed["text"]
    assert await audit_count(bot) == audits + 1
    looked = answer(await bot.command("/desk", "subscribe", user=LEAD))
    assert looked["response_type"] == "ephemeral" and shown in looked["text"]


@pytest.mark.parametrize("typed", ["25:00", "24:30", "13pm", "08:61", "0:99"])
async def test_a_digest_time_out_of_the_day_is_told_as_a_time_of_day(
    bot: RunningBot, typed: str
) -> None:
    body = answer(await bot.command("/desk", f"subscribe {typed}", user=LEAD))
    text = body["text"]
    assert "is not a time of day (00:00 to 23:59, or 12am to 11:59pm)" in text
    assert "08:00 Europe/Stockholm" in text
    assert "+90d" not in text and "/desk lead" not in text  # no deadline examples, no /desk help
    assert await rows(bot, Subscription) == []


async def test_history_says_what_a_subscription_change_set(bot: RunningBot) -> None:
    answer(await bot.command("/desk", "subscribe 08:00 Europe/Stockholm daily", user=LEAD))
    answer(await bot.command("/desk", "subscribe 07:30 Asia/Shanghai weekdays", user=LEAD))
    answer(await bot.command("/desk", "subscribe countdowns off review on", user=LEAD))
    text = block_text(answer(await bot.command("/desk", "history 3", user=LEAD)))
    lines = [line for line in text.splitlines() if "subscri" in line]
    assert len(lines) == 3, text
    assert lines[0].endswith(f"changed <#{CHANNEL}>'s subscription: countdowns off; review on")
    assert lines[1].endswith("subscription: digest 07:30 Asia/Shanghai, weekdays")
    assert lines[2].endswith(f"subscribed <#{CHANNEL}>")
    assert "or changed its settings" not in text


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ('"pineapple tariff"', "pineapple tariff"),
        ("“pineapple tariff”", "pineapple tariff"),
        ("„pineapple tariff“", "pineapple tariff"),
        ("«pineapple tariff»", "pineapple tariff"),
        ("'pineapple'", "pineapple"),
        ("'China's pineapple'", "China's pineapple"),
        ('"pineapple" OR "mango"', '"pineapple" OR "mango"'),
        ("pineapple", "pineapple"),
        ('"x"', "x"),
    ],
)
async def test_a_search_in_quotes_is_shown_in_one_pair(
    bot: RunningBot, typed: str, shown: str
) -> None:
    body = answer(await bot.command("/desk", f"search {typed}", user=MEMBER))
    assert body["text"] == f"Nothing matches “{shown}”."
