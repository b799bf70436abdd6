"""What the desk reads follows the clock (issue 10 §1-§2), over real HTTP with the injected
clock: the truce reads lapsed from its expiry and the channel is told once, the Stockholm
round concludes by its times, a passed deadline waits under "recently passed", and a
deadline's outcome can be marked once and undone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.render.ids import Action, Field
from bot.slack_text import message_text
from storage.models import AuditEntry, Deadline, DeadlineStatus, Truce, TruceStatus
from tests.support.bots import RunningBot, make_scheduler
from tests.support.checks import answer, audit_count, block_text, rows
from tests.support.people import LEAD, MEMBER

EXPIRY = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)  # Tue 12 Aug 2025 00:01 EDT
TRUCE_EXPIRY_DEADLINE = 1


def lapse_posts(bot: RunningBot) -> list[str]:
    return [
        message_text(c.args)
        for c in bot.standin.calls_to("chat.postMessage")
        if str(c.args.get("metadata", {}).get("event_payload", {}).get("key", "")).startswith(
            "alert:lapse:"
        )
    ]


async def test_truce_reads_lapsed_from_its_expiry_even_before_the_scheduler_runs(
    bot: RunningBot,
) -> None:
    bot.clock.set(EXPIRY + timedelta(days=1, hours=4))
    body = answer(await bot.command("/truce", user=MEMBER))
    text = block_text(body)
    assert "Lapsed truce" in text
    assert "status *lapsed*" in text
    assert "*Lapsed* Tue 12 Aug 2025 00:01 EDT" in text
    assert "passed 1 day 4 hours ago" in text
    assert "lapsed Tue 12 Aug 2025 00:01 EDT" in body["text"]
    assert "Active truce" not in text and "status *active*" not in text
    assert "*Terms that lapsed*" in text and "*Terms*" not in text  # not read as in force


async def test_a_lead_is_offered_to_extend_a_lapsed_truce_and_can(bot: RunningBot) -> None:
    bot.clock.set(EXPIRY + timedelta(days=1))
    lead_view = answer(await bot.command("/truce", user=LEAD))
    assert Action.open_truce_form in str(lead_view["blocks"])
    answer(await bot.command("/truce", "extend Nov 10 00:01 EDT | agreed late", user=LEAD))
    text = block_text(answer(await bot.command("/truce", user=MEMBER)))
    assert "Active truce" in text and "status *extended*" in text
    assert "*Terms*" in text and "lapsed" not in text.lower()


async def test_the_lapse_is_written_once_and_alerted_once_per_channel(bot: RunningBot) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD, channel="C0WIRE01"))
    first, second = make_scheduler(bot), make_scheduler(bot)
    bot.clock.set(EXPIRY - timedelta(seconds=1))
    await first.tick()
    assert lapse_posts(bot) == []
    bot.clock.set(EXPIRY + timedelta(seconds=2))
    await first.tick()
    await second.tick()
    await first.tick()
    alerts = lapse_posts(bot)
    assert len(alerts) == 2
    for alert in alerts:
        assert "US–China tariff truce (Geneva, 90 days) lapsed" in alert
        assert "Tue 12 Aug 2025 00:01 EDT" in alert
        assert "the tariffs it suspended snap back" in alert and "Terms that lapsed:" in alert
        assert "United States → China: additional tariff on Chinese goods, 30%" in alert
    (truce,) = await rows(bot, Truce)
    assert truce.status == TruceStatus.lapsed
    lapses = await rows(bot, AuditEntry, AuditEntry.action == "lapse")
    assert [(a.actor, a.entity) for a in lapses] == [("parley", "truce")]


async def test_an_extension_before_the_alert_goes_out_cancels_it(bot: RunningBot) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    scheduler = make_scheduler(bot)
    bot.clock.set(EXPIRY + timedelta(seconds=2))
    async with bot.db.session() as session:
        from storage import truces

        await truces.lapse_expired(session, now=bot.clock.now())  # written, not yet posted
    answer(await bot.command("/truce", "extend Nov 10 00:01 EDT", user=LEAD))
    await scheduler.tick()
    assert lapse_posts(bot) == []


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (datetime(2025, 7, 27, 12, 0, tzinfo=UTC), "scheduled"),
        (datetime(2025, 7, 29, 9, 0, tzinfo=UTC), "in progress"),
        (datetime(2025, 10, 1, 9, 0, tzinfo=UTC), "concluded"),
    ],
)
async def test_the_stockholm_round_status_follows_its_times(
    bot: RunningBot, now: datetime, status: str
) -> None:
    bot.clock.set(now)
    text = block_text(answer(await bot.command("/talks", user=MEMBER)))
    stockholm = text[text.index("US–China economic and trade talks, Stockholm") :]
    assert stockholm.splitlines()[1].endswith(f"·  _{status}_")


async def test_a_passed_deadline_waits_under_recently_passed_with_its_outcome_open(
    bot: RunningBot,
) -> None:
    answer(await bot.command("/deadline", "add Hearing | 2025-08-12 01:01 UTC", user=LEAD))
    bot.clock.set(EXPIRY + timedelta(hours=3))
    text = block_text(answer(await bot.command("/deadline", user=MEMBER)))
    ahead, _, passed = text.partition("Recently passed (1)")
    assert "No upcoming deadlines" in ahead
    assert "*Hearing*" in passed
    assert "passed 6 hours ago" in passed
    assert "outcome not marked" in passed
    # the truce's expiry is its truce's lapse, shown by /truce: no outcome is asked for
    assert "US–China tariff truce" not in text
    bot.clock.set(EXPIRY + timedelta(days=7, hours=1))
    assert (
        "No upcoming deadlines are on record"
        in answer(await bot.command("/deadline", user=MEMBER))["text"]
    )


# ---- outcomes: once, with undo ------------------------------------------------------------


async def add_hearing(bot: RunningBot) -> int:
    answer(await bot.command("/deadline", "add Hearing | 2025-08-20 15:00 UTC", user=LEAD))
    (deadline,) = await rows(bot, Deadline, Deadline.title == "Hearing")
    assert deadline.id is not None
    return deadline.id


@pytest.mark.parametrize("verb", ["met", "missed", "cancel"])
async def test_a_closed_deadline_can_be_reopened(bot: RunningBot, verb: str) -> None:
    ref = await add_hearing(bot)
    if verb == "missed":  # only once due
        bot.clock.set(datetime(2025, 8, 20, 16, 0, tzinfo=UTC))
    closed = answer(await bot.command("/deadline", f"{verb} {ref}", user=LEAD))
    assert Action.reopen_deadline in str(closed["blocks"])
    audits = await audit_count(bot)
    reopened = answer(await bot.command("/deadline", f"reopen {ref}", user=LEAD))
    assert f"Deadline #{ref} “Hearing” is now open." == reopened["text"]
    (deadline,) = await rows(bot, Deadline, Deadline.id == ref)
    assert deadline.status == DeadlineStatus.open
    assert await audit_count(bot) == audits + 1
    (entry,) = [e for e in await rows(bot, AuditEntry) if e.action == "reopen"]
    assert entry.actor == LEAD and entry.entity_id == str(ref)


@pytest.mark.parametrize(
    ("later", "said"),
    [
        (timedelta(days=6, hours=23), None),  # still under "Recently passed"
        (timedelta(days=8), "passed 8 days ago"),
        (timedelta(days=40, hours=5), "passed 40 days 5 hours ago"),
    ],
)
async def test_reopening_a_long_past_deadline_says_it_is_listed_nowhere(
    bot: RunningBot, later: timedelta, said: str | None
) -> None:
    """Open again but more than 7 days past, it is neither upcoming nor recently passed:
    the confirmation says so and how to give it a new due time."""
    ref = await add_hearing(bot)
    bot.clock.set(datetime(2025, 8, 20, 15, 0, tzinfo=UTC))  # due now: it can be missed
    answer(await bot.command("/deadline", f"missed {ref}", user=LEAD))
    bot.clock.set(datetime(2025, 8, 20, 15, 0, tzinfo=UTC) + later)
    text = block_text(answer(await bot.command("/deadline", f"reopen {ref}", user=LEAD)))
    listing = block_text(answer(await bot.command("/deadline", user=LEAD)))
    if said is None:
        assert "no longer lists it" not in text
        assert "Hearing" in listing
    else:
        assert f"It {said}, so `/deadline` no longer lists it" in text
        assert f"/deadline edit {ref}" in text
        assert "Hearing" not in listing


async def test_the_reopen_button_reopens(bot: RunningBot) -> None:
    ref = await add_hearing(bot)
    answer(await bot.command("/deadline", f"met {ref}", user=LEAD))
    await bot.click(Action.reopen_deadline, str(ref), user=LEAD)
    assert "is now open" in (await bot.reply("response_url")).args["text"]
    (deadline,) = await rows(bot, Deadline, Deadline.id == ref)
    assert deadline.status == DeadlineStatus.open


async def test_reopening_an_open_deadline_is_refused_and_changes_nothing(bot: RunningBot) -> None:
    ref = await add_hearing(bot)
    audits = await audit_count(bot)
    text = answer(await bot.command("/deadline", f"reopen {ref}", user=LEAD))["text"]
    assert "only a met, missed or cancelled deadline can be reopened" in text
    assert await audit_count(bot) == audits


async def test_mark_met_pressed_twice_has_one_effect(bot: RunningBot) -> None:
    ref = await add_hearing(bot)
    audits = await audit_count(bot)
    await bot.click(Action.mark_deadline_met, str(ref), user=LEAD)
    first = await bot.reply("response_url")
    await bot.click(Action.mark_deadline_met, str(ref), user=LEAD)
    second = await bot.reply("response_url")
    assert "is now met" in first.args["text"]
    assert "is met already; nothing changed" in second.args["text"]
    assert await audit_count(bot) == audits + 1


async def test_the_truce_expiry_is_marked_met_only_after_confirming(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    asked = answer(await bot.command("/deadline", f"met {TRUCE_EXPIRY_DEADLINE}", user=LEAD))
    assert "its countdowns stop and the truce will not lapse" in block_text(asked)
    assert Action.confirm_deadline_met in str(asked["blocks"])
    (deadline,) = await rows(bot, Deadline, Deadline.id == TRUCE_EXPIRY_DEADLINE)
    assert deadline.status == DeadlineStatus.open
    assert await audit_count(bot) == audits
    await bot.click(Action.confirm_deadline_met, str(TRUCE_EXPIRY_DEADLINE), user=LEAD)
    assert "is now met" in (await bot.reply("response_url")).args["text"]
    (deadline,) = await rows(bot, Deadline, Deadline.id == TRUCE_EXPIRY_DEADLINE)
    assert deadline.status == DeadlineStatus.met
    assert await audit_count(bot) == audits + 1


async def test_a_truce_expiry_marked_met_reads_so_not_as_passed(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", f"met {TRUCE_EXPIRY_DEADLINE}", user=LEAD))
    await bot.click(Action.confirm_deadline_met, str(TRUCE_EXPIRY_DEADLINE), user=LEAD)
    await bot.reply("response_url")
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    for when in (datetime(2025, 8, 1, tzinfo=UTC), datetime(2025, 8, 15, tzinfo=UTC)):
        bot.clock.set(when)
        text = block_text(answer(await bot.command("/truce", user=MEMBER)))
        assert "Expiry marked met: the truce does not lapse at it." in text
        assert "passed" not in text and "left" not in text
        said = "*Expired* Tue 12 Aug" if when.day == 15 else "*Expires* Tue 12 Aug"
        assert said in text, text
        # a deadline within 7 days: the digest is not a quiet day's one line
        due = f"{when + timedelta(days=2):%Y-%m-%d} 12:00 UTC"
        answer(await bot.command("/deadline", f"add Hearing {when.day} | {due}", user=LEAD))
        digest = block_text(answer(await bot.command("/desk", "digest", user=MEMBER)))
        (line,) = [ln for ln in digest.splitlines() if "US–China tariff truce" in ln]
        assert "Expiry marked met" in line and "passed" not in line, digest


@pytest.mark.parametrize("written", [False, True], ids=["lapse due", "lapse written"])
@pytest.mark.parametrize("verb", ["met", "missed", "cancel"])
async def test_a_lapsed_truces_expiry_is_not_marked_and_says_why(
    bot: RunningBot, written: bool, verb: str
) -> None:
    bot.clock.set(datetime(2025, 8, 12, 4, 5, tzinfo=UTC))  # 4 minutes after the expiry
    if written:
        await make_scheduler(bot).tick()  # the lapse is written (and alerted)
    audits = await audit_count(bot)
    body = answer(await bot.command("/deadline", f"{verb} {TRUCE_EXPIRY_DEADLINE}", user=LEAD))
    assert "the truce has lapsed: marking the expiry does not undo that" in body["text"]
    assert "`/truce extend +90d` (or a date) revives it" in body["text"]
    assert Action.confirm_deadline_met not in str(body.get("blocks", ""))
    # the confirmation button of an older answer is refused alike
    await bot.click(Action.confirm_deadline_met, str(TRUCE_EXPIRY_DEADLINE), user=LEAD)
    assert "the truce has lapsed" in (await bot.reply("response_url")).args["text"]
    (deadline,) = await rows(bot, Deadline, Deadline.id == TRUCE_EXPIRY_DEADLINE)
    assert deadline.status == DeadlineStatus.open
    assert await audit_count(bot) == audits


async def test_a_member_confirming_changes_nothing(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    await bot.click(Action.confirm_deadline_met, str(TRUCE_EXPIRY_DEADLINE), user=MEMBER)
    assert "Only a desk lead" in (await bot.reply("response_url")).args["text"]
    (deadline,) = await rows(bot, Deadline, Deadline.id == TRUCE_EXPIRY_DEADLINE)
    assert deadline.status == DeadlineStatus.open
    assert await audit_count(bot) == audits


async def test_search_finds_what_watch_shows_and_nothing_dated_later(bot: RunningBot) -> None:
    """At 09:00Z on 29 July the report's 12:00 Stockholm items are an hour ahead."""
    early = block_text(answer(await bot.command("/desk", "search extension", user=MEMBER)))
    assert "possible 90-day extension" not in early
    bot.clock.set(datetime(2025, 7, 29, 10, 0, tzinfo=UTC))
    later = block_text(answer(await bot.command("/desk", "search extension", user=MEMBER)))
    assert "possible 90-day extension" in later


@pytest.mark.parametrize("words", ["稀土", "rare earths", "Rare Earths", "rare-earths"])
async def test_search_by_a_topic_keyword_finds_its_tagged_events(
    bot: RunningBot, words: str
) -> None:
    """The seeded rare-earths analysis is in English; its topic's Chinese keyword finds it."""
    bot.clock.set(datetime(2025, 7, 29, 18, 0, tzinfo=UTC))
    text = block_text(answer(await bot.command("/desk", f"search {words}", user=MEMBER)))
    assert "China's dominance of rare earths" in text
    assert text.count("Analysts: China's dominance") == 1  # the event, once
    assert text.startswith("2 items match")  # the event and the topic itself
    assert "Sensitivity  ·  *Rare earths*" in text


@pytest.mark.parametrize("verb", ["missed", "cancel"])
@pytest.mark.parametrize(
    "when",
    [datetime(2025, 8, 1, 9, 0, tzinfo=UTC), datetime(2025, 8, 12, 3, 59, tzinfo=UTC)],
    ids=["weeks before", "a minute before"],
)
async def test_a_live_truces_expiry_is_not_marked_missed_or_cancelled(
    bot: RunningBot, verb: str, when: datetime
) -> None:
    """Marked so, the expiry would stop the truce from ever lapsing, with no alert."""
    bot.clock.set(when)
    audits = await audit_count(bot)
    body = answer(await bot.command("/deadline", f"{verb} {TRUCE_EXPIRY_DEADLINE}", user=LEAD))
    status = "missed" if verb == "missed" else "cancelled"
    assert body["text"].startswith(
        f"Deadline #1 is a truce's expiry: it is not marked {status} by hand."
    ), body["text"]
    (deadline,) = await rows(bot, Deadline, Deadline.id == TRUCE_EXPIRY_DEADLINE)
    assert deadline.status == DeadlineStatus.open
    assert await audit_count(bot) == audits


@pytest.mark.parametrize("hours", [-48, -1, 0])
async def test_a_deadline_not_yet_due_is_not_marked_missed(bot: RunningBot, hours: int) -> None:
    ref = await add_hearing(bot)  # due 2025-08-20 15:00 UTC
    bot.clock.set(datetime(2025, 8, 20, 15, 0, tzinfo=UTC) + timedelta(hours=hours))
    body = answer(await bot.command("/deadline", f"missed {ref}", user=LEAD))
    if hours < 0:
        assert body["text"].startswith(f"Deadline #{ref} is not due yet"), body["text"]
        (deadline,) = await rows(bot, Deadline, Deadline.id == ref)
        assert deadline.status == DeadlineStatus.open
    else:
        assert "is now *missed*" in block_text(body)


async def test_a_lapsed_truces_expiry_asks_for_no_outcome(bot: RunningBot) -> None:
    bot.clock.set(datetime(2025, 8, 13, 9, 0, tzinfo=UTC))
    text = block_text(answer(await bot.command("/deadline", user=LEAD)))
    assert "US–China tariff truce (Geneva, 90 days) expires" not in text
    assert "Lapsed truce" in block_text(answer(await bot.command("/truce", user=LEAD)))


@pytest.mark.parametrize(
    ("values", "field", "said"),
    [
        ({Field.kind: "other"}, Field.kind, "Deadline #1 is a truce's expiry and stays one"),
        ({Field.track: "us-eu"}, Field.track, "Deadline #1 is a truce's expiry: it stays on"),
        ({Field.track: "-"}, Field.track, "Deadline #1 is a truce's expiry: it stays on"),
    ],
)
async def test_a_truces_expiry_keeps_its_kind_and_track(
    bot: RunningBot, values: dict[str, str], field: str, said: str
) -> None:
    await bot.command("/deadline", "edit 1", user=LEAD)
    view = await bot.opened_view()
    audits = await audit_count(bot)
    body = answer(await bot.submit_view(view, values, user=LEAD))
    assert body["response_action"] == "errors" and list(body["errors"]) == [field]
    assert body["errors"][field].startswith(said)
    assert await audit_count(bot) == audits


async def test_a_deadlines_track_is_changed_by_its_form(bot: RunningBot) -> None:
    ref = await add_hearing(bot)  # desk-wide
    for handle in ("us-eu", "us-china", "-"):  # "-": desk-wide
        await bot.command("/deadline", f"edit {ref}", user=LEAD)
        view = await bot.opened_view()
        response = await bot.submit_view(view, {Field.track: handle}, user=LEAD)
        assert response.status_code == 200 and response.text == "", response.text
        text = block_text(answer(await bot.command("/deadline", user=MEMBER)))
        line = next(ln for ln in text.splitlines() if ln.startswith("*Hearing*"))
        if handle == "-":
            assert line == "*Hearing*", line
        else:
            assert line == f"*Hearing*  ·  `{handle}`", line
