"""The digest tells what changed (issue 10 §3), posted by the scheduler with the injected
clock: every change since the channel's last digest from the audit trail, in words, nothing
from before the subscription, the truce line always there, a quiet day in one line; and
`/desk history` pages the trail in the same words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.render.ids import Field
from bot.scheduler import Scheduler
from bot.slack_text import message_text
from storage import deadlines, rounds, truces
from storage.access import Actor
from tests.support.bots import RunningBot
from tests.support.checks import answer, audit_count, block_text, confirmation
from tests.support.people import AS_OF, LEAD, MEMBER

TRUCE = "US–China tariff truce (Geneva, 90 days)"
TRUCE_EXPIRY = f"{TRUCE} expires"
MORNING = datetime(2025, 7, 30, 6, 0, 1, tzinfo=UTC)  # Wed 30 Jul 08:00 in Stockholm


def digests(bot: RunningBot) -> list[dict[str, Any]]:
    return [
        c.args
        for c in bot.standin.calls_to("chat.postMessage")
        if str(c.args.get("metadata", {}).get("event_payload", {}).get("key", "")).startswith(
            "digest:"
        )
    ]


async def digest_at(bot: RunningBot, scheduler: Scheduler, when: datetime) -> dict[str, Any]:
    before = len(digests(bot))
    bot.clock.set(when)
    await scheduler.tick()
    posted = digests(bot)
    assert len(posted) == before + 1, "one digest a morning"
    return posted[-1]


async def test_the_next_digest_names_the_extension_and_the_new_deadline_and_nothing_older(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    answer(await bot.command("/truce", "extend +90d | agreed in Stockholm", user=LEAD))
    answer(await bot.command("/deadline", "add Section 301 hearing | Aug 20 15:00 UTC", user=LEAD))
    text = message_text(await digest_at(bot, scheduler, MORNING))
    changed = text[text.index("WHAT CHANGED") :]
    assert (
        f"• extended truce “{TRUCE}” from Tue 12 Aug 2025 00:01 EDT to Mon 10 Nov 2025 00:01 EST"
        in changed
    )
    assert "• added deadline #2 “Section 301 hearing”, due Wed 20 Aug 2025 15:00 UTC" in changed
    assert changed.index("added deadline") < changed.index("extended truce")  # newest first
    # nothing from before the subscription: the seeded history is not news
    assert "Geneva joint statement" not in text and "added event" not in text
    # the truce keeps its line though its expiry is now months away
    assert f"• *{TRUCE}* — expires Mon 10 Nov 2025 00:01 EST" in text


async def test_a_digest_asked_for_counts_as_the_channels_last_one(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    """`/desk digest` posts the digest in the channel: the next morning's starts after it, so
    the same changes are not listed twice; what changed after it is."""
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    answer(await bot.command("/deadline", "add Section 301 hearing | Aug 20 15:00 UTC", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=2))
    asked = block_text(answer(await bot.command("/desk", "digest", user=MEMBER)))
    assert "added deadline #2 “Section 301 hearing”" in asked
    bot.clock.set(AS_OF + timedelta(hours=3))
    answer(await bot.command("/deadline", "add Section 232 ruling | Sep 5 17:00 UTC", user=LEAD))
    text = message_text(await digest_at(bot, scheduler, MORNING))
    changed = text[text.index("WHAT CHANGED") :]
    assert "added deadline #3 “Section 232 ruling”" in changed
    assert "Section 301 hearing”" not in changed  # in the digest asked for at 11:00
    # the day's scheduled digest was still posted, once
    assert len(digests(bot)) == 1


async def test_a_digest_asked_for_twice_in_the_same_instant_is_answered_twice(
    bot: RunningBot,
) -> None:
    """Each is recorded under a key of its own: a double submit is not a database error."""
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    first = block_text(answer(await bot.command("/desk", "digest", user=MEMBER)))
    again = block_text(answer(await bot.command("/desk", "digest", user=MEMBER)))
    assert first.startswith("Desk digest") and again.startswith("Desk digest")


async def test_a_digest_asked_for_in_another_channel_moves_nothing_here(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    answer(await bot.command("/deadline", "add Section 301 hearing | Aug 20 15:00 UTC", user=LEAD))
    answer(await bot.command("/desk", "digest", user=MEMBER, channel="C0ELSEWHERE"))
    text = message_text(await digest_at(bot, scheduler, MORNING))
    assert "added deadline #2 “Section 301 hearing”" in text[text.index("WHAT CHANGED") :]


async def test_a_quiet_day_is_one_line(bot: RunningBot, scheduler: Scheduler) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    answer(await bot.command("/truce", "extend +90d", user=LEAD))
    await digest_at(bot, scheduler, MORNING)
    quiet = await digest_at(bot, scheduler, MORNING + timedelta(days=1))
    blocks = quiet["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section"]
    assert message_text(quiet).splitlines()[1] == (
        f"_No changes since Wed 30 Jul; next: *{TRUCE} expires*, "
        "101 days 23 hours left · 72 business days._"
    )


async def test_a_day_with_a_deadline_within_a_week_is_not_quiet(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    await digest_at(bot, scheduler, MORNING)  # the truce expiry is 12 days away: quiet
    text = message_text(await digest_at(bot, scheduler, MORNING + timedelta(days=6)))
    assert "No changes since" not in text  # the truce's expiry is 6 days 22 hours away
    assert f"• *{TRUCE}* — expires Tue 12 Aug 2025 00:01 EDT" in text


async def test_the_lapse_is_in_what_changed_and_the_truce_line_says_lapsed(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    await digest_at(bot, scheduler, datetime(2025, 8, 11, 6, 0, 1, tzinfo=UTC))
    bot.clock.set(datetime(2025, 8, 12, 4, 1, 5, tzinfo=UTC))
    await scheduler.tick()
    text = message_text(await digest_at(bot, scheduler, datetime(2025, 8, 12, 6, 0, 1, tzinfo=UTC)))
    assert f"• truce “{TRUCE}” lapsed at Tue 12 Aug 2025 00:01 EDT with no extension" in text
    assert f"• *{TRUCE}* — lapsed Tue 12 Aug 2025 00:01 EDT" in text
    assert "passed 1 hour 59 minutes ago" in text  # as of 08:00 CEST


async def test_the_first_digest_covers_only_what_changed_since_subscribing(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/deadline", "add Before | Aug 20 15:00 UTC", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=2))
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=3))
    answer(await bot.command("/deadline", "add After | Aug 21 15:00 UTC", user=LEAD))
    text = message_text(await digest_at(bot, scheduler, MORNING))
    changed = text[text.index("WHAT CHANGED") :]
    assert "“After”" in changed and "“Before”" not in changed


async def test_many_changes_are_cut_with_a_pointer_to_history(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    for n in range(20):
        answer(await bot.command("/deadline", f"add Review {n} | Sep {n + 1} 12:00", user=LEAD))
    text = message_text(await digest_at(bot, scheduler, MORNING))
    changed = text[text.index("WHAT CHANGED") :]
    assert changed.count("• added deadline") == 15
    assert "…and 5 more: `/desk history 20` lists them." in changed


async def test_a_restricted_change_stays_out_of_a_team_channel_digest(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    async with bot.db.session() as session:
        await deadlines.add_deadline(
            session,
            actor=Actor(LEAD),
            now=AS_OF + timedelta(hours=1),
            title="Back-channel call",
            due_at=datetime(2025, 8, 20, 12, 0, tzinfo=UTC),
            zone="UTC",
            visibility="restricted",
        )
        await deadlines.add_deadline(
            session,
            actor=Actor(LEAD),
            now=AS_OF + timedelta(hours=1),
            title="Public hearing",
            due_at=datetime(2025, 8, 21, 12, 0, tzinfo=UTC),
            zone="UTC",
        )
    text = message_text(await digest_at(bot, scheduler, MORNING))
    assert "Public hearing" in text and "Back-channel call" not in text
    history = block_text(answer(await bot.command("/desk", "history", user=MEMBER)))
    assert "Public hearing" in history and "Back-channel call" not in history
    lead_history = block_text(answer(await bot.command("/desk", "history", user=LEAD)))
    assert "Back-channel call" in lead_history


# ---- /desk history ----------------------------------------------------------------------------


async def test_history_names_changes_in_words(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Hearing | Aug 20 15:00 UTC", user=LEAD))
    answer(await bot.command("/deadline", "met 2", user=LEAD))
    answer(await bot.command("/truce", "extend +90d", user=LEAD))
    text = block_text(answer(await bot.command("/desk", "history 3", user=MEMBER)))
    lines = text.splitlines()[1:4]
    assert lines[0].endswith(
        f"· <@{LEAD}> · extended truce “{TRUCE}” from Tue 12 Aug 2025 00:01 EDT "
        "to Mon 10 Nov 2025 00:01 EST"
    )
    assert lines[1].endswith(f"· <@{LEAD}> · marked deadline #2 “Hearing” met")
    assert lines[2].endswith(
        f"· <@{LEAD}> · added deadline #2 “Hearing”, due Wed 20 Aug 2025 15:00 UTC"
    )
    assert "mark_met" not in text and "add deadline" not in text


async def test_history_pages_reach_older_entries(bot: RunningBot) -> None:
    first = block_text(answer(await bot.command("/desk", "history 5", user=MEMBER)))
    second = block_text(answer(await bot.command("/desk", "history 5 page 2", user=MEMBER)))
    assert first.splitlines()[0] == "Changes 1–5, newest first"
    assert second.splitlines()[0] == "Changes 6–10, newest first"
    assert "`/desk history 5 page 2`" in first
    assert set(first.splitlines()[1:6]).isdisjoint(second.splitlines()[1:6])


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("history 0", "Ask for 1 to 200 changes"),
        ("history 500", "Ask for 1 to 200 changes"),
        ("history lots", "I did not understand 'lots'"),
        ("history 5 page", "Say which page"),
        ("history 5 page 0", "Say which page"),
        ("history 5 page 999", "There is no page 999: there are "),
    ],
)
async def test_history_refuses_what_it_cannot_read(
    bot: RunningBot, typed: str, fragment: str
) -> None:
    assert fragment in answer(await bot.command("/desk", typed, user=MEMBER))["text"]


@pytest.mark.parametrize("per_page", [1, 3, 5, 7, 20, 200])
async def test_a_page_past_the_end_names_the_last_page(bot: RunningBot, per_page: int) -> None:
    whole = block_text(answer(await bot.command("/desk", "history 200", user=MEMBER)))
    total = len(whole.splitlines()) - 1  # under its heading, one line a change
    assert 0 < total < 200
    last = -(-total // per_page)
    for page in (last + 1, last + 40):
        said = answer(await bot.command("/desk", f"history {per_page} page {page}", user=MEMBER))
        pages = "1 page" if last == 1 else f"{last} pages"
        where = f"{per_page}`" if last == 1 else f"{per_page} page {last}`"
        assert said["text"] == (
            f"There is no page {page}: there are {pages} of {per_page} changes. "
            f"The last: `/desk history {where}."
        )
    if last > 1:  # and that last page is there, with the oldest change
        last_page = f"history {per_page} page {last}"
        shown = block_text(answer(await bot.command("/desk", last_page, user=MEMBER)))
        assert shown.splitlines()[-1] == whole.splitlines()[-1]


async def test_an_on_time_digest_states_the_time_left_at_its_own_time(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    """Posted a second after 08:00, it reads as of 08:00, as a countdown reads its mark."""
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    answer(await bot.command("/deadline", "add Hearing | Aug 12 16:00 UTC", user=LEAD))
    text = message_text(await digest_at(bot, scheduler, MORNING))
    assert "Desk digest · Wed 30 Jul 2025 08:00 CEST".upper() in text
    assert "*Hearing* #2 — Tue 12 Aug 2025 16:00 UTC" in text
    assert "13 days 10 hours left" in text  # 06:00Z to 16:00Z, not "13 days 9 hours"
    assert f"• *{TRUCE}* — expires Tue 12 Aug 2025 00:01 EDT" in text
    assert "12 days 22 hours left" in text  # 06:00Z to 04:01Z


async def test_the_truce_expiry_is_on_the_truce_line_only(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    answer(await bot.command("/deadline", "add Hearing | Aug 1 16:00 UTC", user=LEAD))
    text = message_text(await digest_at(bot, scheduler, MORNING))
    assert text.count("Tue 12 Aug 2025 00:01 EDT") == 1
    assert f"{TRUCE} expires* #1" not in text


async def test_a_deadline_that_passed_since_the_last_digest_keeps_the_day_from_being_quiet(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    answer(await bot.command("/truce", "extend +90d", user=LEAD))
    answer(await bot.command("/deadline", "add Call | Jul 30 12:00 UTC", user=LEAD))
    await digest_at(bot, scheduler, MORNING)
    passed = message_text(await digest_at(bot, scheduler, MORNING + timedelta(days=1)))
    assert "No changes since" not in passed
    assert "RECENTLY PASSED" in passed and "*Call* #2" in passed
    quiet = message_text(await digest_at(bot, scheduler, MORNING + timedelta(days=2)))
    assert "No changes since Thu 31 Jul" in quiet


async def test_an_alerted_lapse_and_extension_are_marked_so(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    await digest_at(bot, scheduler, datetime(2025, 8, 11, 6, 0, 1, tzinfo=UTC))
    bot.clock.set(datetime(2025, 8, 12, 4, 1, 5, tzinfo=UTC))
    await scheduler.tick()  # the lapse, and its alert
    bot.clock.set(datetime(2025, 8, 12, 5, 0, tzinfo=UTC))
    answer(await bot.command("/truce", "extend +90d | agreed late", user=LEAD))
    await scheduler.tick()  # the expiry alert
    text = message_text(await digest_at(bot, scheduler, datetime(2025, 8, 12, 6, 0, 1, tzinfo=UTC)))
    assert "lapsed at Tue 12 Aug 2025 00:01 EDT with no extension — _already alerted_" in text
    assert "to Mon 10 Nov 2025 00:01 EST: “agreed late” — _already alerted_" in text


async def test_a_channel_that_names_a_dormant_track_hears_of_it_as_its_countdowns_do(
    bot: RunningBot,
) -> None:
    """One rule (`storage.planning.followed_tracks`) for the digest and the countdowns."""
    from storage import subscriptions, tracks
    from storage.access import CLI
    from storage.planning import follows

    async with bot.db.session() as session:
        track = await tracks.add_track(
            session, actor=CLI, now=AS_OF, handle="us-uk", name="US–UK", parties=["US", "UK"],
            status="dormant",
        )  # fmt: skip
        await deadlines.add_deadline(
            session, actor=CLI, now=AS_OF, title="UK steel quota review",
            due_at=datetime(2025, 8, 1, 12, 0, tzinfo=UTC), zone="UTC", track_id=track.id,
        )  # fmt: skip
        subscription = await subscriptions.subscribe(
            session, actor=Actor(LEAD), now=AS_OF, channel_id="C0UKDESK", tracks=["us-uk"]
        )
    assert follows(subscription, track, restricted=False)
    digest = block_text(answer(await bot.command("/desk", "digest", channel="C0UKDESK")))
    assert "UK steel quota review" in digest
    everyone = block_text(answer(await bot.command("/desk", "digest")))
    assert "UK steel quota review" not in everyone  # a dormant track is not followed by default


async def test_the_digest_counts_each_topics_events_since_the_last_one(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    """Per topic, the events added since the last digest (restricted ones only where they
    may be seen), with the latest named: one read for all topics."""
    from storage import events

    answer(await bot.command("/desk", "subscribe", user=LEAD))
    lead = Actor(LEAD)
    for n, (title, visibility) in enumerate(
        [
            ("Taiwan: Lai's transit is postponed again", "team"),
            ("Taiwan: a new arms package is reported", "team"),
            ("Taiwan: restricted cable on the transit", "restricted"),
            ("Rare earths: export licences resume", "team"),
        ]
    ):
        async with bot.db.session() as session:
            await events.add_event(
                session, actor=lead, now=AS_OF + timedelta(hours=1, minutes=n), title=title,
                occurred_at=AS_OF + timedelta(hours=1, minutes=n), visibility=visibility,
            )  # fmt: skip
    text = message_text(await digest_at(bot, scheduler, MORNING))
    topics = text[text.index("SENSITIVITIES") :]
    # Rare earths: this one and a seeded analysis dated after the subscription.
    assert "*Rare earths* (high): 2 recent — latest “Rare earths: export licences resume”" in topics
    assert "*Taiwan* (high): 4 recent — latest" in topics  # two of these, two seeded; not 5
    assert "restricted cable" not in text


@pytest.mark.parametrize(
    ("added", "dated", "counted"),
    [
        (timedelta(hours=-2), timedelta(hours=-1), False),  # added and dated before: old news
        (timedelta(hours=1), timedelta(hours=-30), True),  # added since: new to the desk
        (timedelta(hours=-2), timedelta(hours=10), True),  # added before, dated since: in view now
        (timedelta(hours=-2), timedelta(days=2), False),  # not yet in view
    ],
)
async def test_a_topic_event_that_came_into_view_since_the_last_digest_is_news(
    bot: RunningBot, scheduler: Scheduler, added: timedelta, dated: timedelta, counted: bool
) -> None:
    """An event added before the last digest but dated after it (seeded or imported news,
    out of view until its time) is new to the desk at the next one: named under its topic,
    and the day is not quiet. `added` and `dated` are relative to the first digest."""
    from storage import events

    answer(await bot.command("/desk", "subscribe", user=LEAD))
    first = MORNING + timedelta(days=1)  # past the seeded news of 29 July
    await digest_at(bot, scheduler, first)
    async with bot.db.session() as session:
        await events.add_event(
            session, actor=Actor(LEAD), now=first + added,
            title="Taiwan: the Lai transit note", occurred_at=first + dated,
        )  # fmt: skip
    text = message_text(await digest_at(bot, scheduler, first + timedelta(days=1)))
    assert ("Taiwan: the Lai transit note" in text) is counted
    assert ("No changes since" in text) is not counted


@pytest.mark.parametrize(
    ("later", "since"),
    [
        (timedelta(hours=3, minutes=18), "08:00 today"),  # asked for after the morning's
        (timedelta(hours=15, minutes=59), "08:00 today"),  # 23:59 in Stockholm: still today
        (timedelta(hours=16), "Wed 30 Jul"),  # 00:00 the next day
    ],
)
async def test_a_quiet_line_says_since_when_in_the_readers_day(
    bot: RunningBot, scheduler: Scheduler, later: timedelta, since: str
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    answer(await bot.command("/truce", "extend +90d", user=LEAD))
    await digest_at(bot, scheduler, MORNING)
    bot.clock.set(MORNING + later)
    body = answer(await bot.command("/desk", "digest", user=MEMBER))
    assert f"_No changes since {since}; next:" in message_text(body)


async def edit_deadline(
    bot: RunningBot, ref: int, *, title: str, due: str, visibility: str = "team"
) -> str:
    """Edits deadline `ref` through its form; the confirmation's text."""
    await bot.command("/deadline", f"edit {ref}", user=LEAD)
    view = await bot.opened_view()
    kind = next(b for b in view["blocks"] if b.get("block_id") == Field.kind)
    response = await bot.submit_view(
        view,
        {
            Field.headline: title,
            Field.due: due,
            Field.kind: kind["element"]["initial_option"]["value"],
            Field.visibility: visibility,
        },
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == "", response.text
    return str((await confirmation(bot)).args["text"])


@pytest.mark.parametrize(
    "due, shown",
    [
        ("2025-08-13 00:01 America/New_York", "Wed 13 Aug 2025 00:01 EDT"),
        ("2025-08-11 23:00 UTC", "Mon 11 Aug 2025 23:00 UTC"),
        ("2025-09-01 12:00 Asia/Shanghai", "Mon 1 Sep 2025 12:00 UTC+8 Shanghai"),
        ("2025-11-10 00:01 America/New_York", "Mon 10 Nov 2025 00:01 EST"),
    ],
)
async def test_a_truce_expiry_moved_by_editing_its_deadline_is_marked_already_alerted(
    bot: RunningBot, scheduler: Scheduler, due: str, shown: str
) -> None:
    """Moving the expiry through the deadline form alerts at once (SPEC §4), so the digest
    marks that move as already alerted, as it marks `/truce extend`."""
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    mark = bot.standin.mark()
    confirmed = await edit_deadline(bot, 1, title=TRUCE_EXPIRY, due=due)
    assert f"due {shown}. This is when truce “{TRUCE}” expires" in confirmed
    assert "recorded as a correction of the expiry" in confirmed and "`/truce extend`" in confirmed
    await scheduler.tick()  # the expiry alert
    alert = await bot.standin.next_call("chat.postMessage", after=mark, timeout=5)
    assert shown in message_text(alert.args)
    text = message_text(await digest_at(bot, scheduler, MORNING))
    (line,) = [ln for ln in text.splitlines() if "moved deadline #1" in ln]
    assert f"to {shown}" in line and line.endswith("— _already alerted_"), line


async def test_a_deadline_change_that_sent_no_alert_is_not_marked_alerted(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    """A renamed expiry (same due time) and a moved deadline of no truce send no alert: their
    digest lines say nothing of one."""
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    answer(await bot.command("/deadline", "add Hearing | Aug 20 15:00 UTC", user=LEAD))
    bot.clock.set(AS_OF + timedelta(hours=1))
    for ref, title, due in (
        (1, "Truce expiry (renamed)", "2025-08-12 00:01 America/New_York"),
        (2, "Hearing", "2025-08-21 15:00 UTC"),
    ):
        confirmed = await edit_deadline(bot, ref, title=title, due=due)
        assert confirmed.startswith(f":calendar: Deadline #{ref} updated")
        assert "truce" not in confirmed
    await scheduler.tick()
    text = message_text(await digest_at(bot, scheduler, MORNING))
    changed = text[text.index("WHAT CHANGED") :]
    assert "deadline #1" in changed and "deadline #2" in changed
    assert "already alerted" not in changed


async def test_the_talks_section_names_the_round_then_its_place_once(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    """During the Stockholm round (28–29 Jul) the digest's Talks line names it, its place in
    brackets: the title's "Stockholm" and the place's are not run together."""
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    text = block_text(answer(await bot.command("/desk", "digest", user=MEMBER)))
    talks = text[text.index("Talks") :]
    line = next(ln for ln in talks.splitlines() if ln.startswith("• "))
    assert line == (
        "• *US–China economic and trade talks, Stockholm* (Rosenbad, the Swedish Prime "
        "Minister's office, Stockholm, Sweden) — Mon 28 Jul 2025 00:00 CEST · _in progress_"
    ), line
    # the next morning the round is over, and none starts within 7 days: no Talks section
    later = message_text(await digest_at(bot, scheduler, MORNING))
    assert "TALKS" not in later


async def test_history_names_the_seeded_truce_by_its_span_in_its_own_zone(bot: RunningBot) -> None:
    """The desk is in Stockholm; the truce runs 00:01 to 00:01 New York time, and its line
    says so, not its start in the desk's zone."""
    text = block_text(answer(await bot.command("/desk", "history 50", user=MEMBER)))
    (line,) = [ln for ln in text.splitlines() if "added truce" in ln]
    assert line.endswith(
        f"added truce “{TRUCE}”, Wed 14 May 2025 00:01 EDT to Tue 12 Aug 2025 00:01 EDT"
    ), line


@pytest.mark.parametrize(
    "starts, expires, zone, said",
    [
        (
            datetime(2025, 9, 1, 4, 1, tzinfo=UTC),
            datetime(2025, 11, 30, 5, 1, tzinfo=UTC),
            "America/New_York",
            ", Mon 1 Sep 2025 00:01 EDT to Sun 30 Nov 2025 00:01 EST",  # across DST
        ),
        (
            datetime(2025, 9, 1, 16, 0, tzinfo=UTC),
            datetime(2025, 10, 1, 16, 0, tzinfo=UTC),
            "Asia/Shanghai",
            ", Tue 2 Sep 2025 00:00 UTC+8 Shanghai to Thu 2 Oct 2025 00:00 UTC+8 Shanghai",
        ),
        (
            None,
            datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
            "UTC",
            ", expiring Thu 1 Jan 2026 00:00 UTC",
        ),
    ],
)
async def test_an_added_truce_is_named_with_its_span_in_its_expirys_zone(
    bot: RunningBot, starts: datetime | None, expires: datetime, zone: str, said: str
) -> None:
    async with bot.db.session() as session:
        await truces.add_truce(
            session,
            actor=Actor(LEAD),
            now=AS_OF,
            title="EU–China EV price undertaking",
            parties=["EU", "China"],
            starts_at=starts,
            expires_at=expires,
            zone=zone,
        )
    text = block_text(answer(await bot.command("/desk", "history 3", user=MEMBER)))
    (line,) = [ln for ln in text.splitlines() if "EU–China EV" in ln]
    assert line.endswith(f"added truce “EU–China EV price undertaking”{said}"), line


async def test_a_truce_expiry_cannot_be_made_restricted(bot: RunningBot) -> None:
    """Restricted, the expiry of a truce the whole desk sees would lose its countdowns, its
    lapse alert and its digest line in every team channel: refused at the field."""
    audits = await audit_count(bot)
    await bot.command("/deadline", "edit 1", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(
        view,
        {
            Field.headline: TRUCE_EXPIRY,
            Field.due: "2025-08-12 00:01 America/New_York",
            Field.kind: "truce_expiry",
            Field.visibility: "restricted",
        },
        user=LEAD,
    )
    body = response.json()
    assert body["response_action"] == "errors" and list(body["errors"]) == [Field.visibility]
    assert "A truce's expiry is seen by whoever sees the truce" in body["errors"][Field.visibility]
    assert await audit_count(bot) == audits
    # another deadline can still be restricted
    answer(await bot.command("/deadline", "add Hearing | Aug 20 15:00 UTC", user=LEAD))
    confirmed = await edit_deadline(
        bot, 2, title="Hearing", due="2025-08-20 15:00 UTC", visibility="restricted"
    )
    assert confirmed.startswith(":calendar: Deadline #2 updated")


@pytest.mark.parametrize(
    ("starts", "quiet"),
    [
        (datetime(2025, 7, 30, 8, 0, tzinfo=UTC), False),  # in progress at the 31 Jul digest
        (datetime(2025, 8, 6, 8, 0, tzinfo=UTC), False),  # starts within 7 days
        (datetime(2025, 8, 20, 8, 0, tzinfo=UTC), True),  # three weeks off
    ],
)
async def test_talks_in_progress_or_this_week_keep_a_day_from_being_quiet(
    bot: RunningBot, scheduler: Scheduler, starts: datetime, quiet: bool
) -> None:
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    answer(await bot.command("/truce", "extend +90d", user=LEAD))  # no truce expiry within 7 days
    async with bot.db.session() as session:
        await rounds.add_round(
            session,
            actor=Actor(LEAD),
            now=AS_OF,
            title="Madrid round",
            place="Madrid",
            starts_at=starts,
            ends_at=starts + timedelta(days=1, hours=10),
            zone="Europe/Madrid",
        )
    await digest_at(bot, scheduler, MORNING)  # the changes above are news on 30 Jul
    text = message_text(await digest_at(bot, scheduler, MORNING + timedelta(days=1)))
    assert ("No changes since" in text) is quiet, text
    if not quiet:
        assert "TALKS" in text and "*Madrid round* (Madrid)" in text


@pytest.mark.parametrize("typed", ["history public", "history 3 public", "history 3 page 2 public"])
async def test_history_public_is_still_shown_to_the_asker_alone_and_says_why(
    bot: RunningBot, typed: str
) -> None:
    """History names people; posted in a channel, each mention would notify them."""
    body = answer(await bot.command("/desk", typed, user=MEMBER))
    assert body["response_type"] == "ephemeral"
    text = block_text(body)
    assert text.splitlines()[-1].startswith("Shown to you alone, though you asked for `public`")
    plain = typed.removesuffix(" public")
    private = block_text(answer(await bot.command("/desk", plain, user=MEMBER)))
    assert text.splitlines()[:-1] == private.splitlines()  # the same page, and the note


@pytest.mark.parametrize("hidden", [1, 2, 5])
async def test_an_empty_public_deadline_list_tells_a_lead_what_it_leaves_out(
    bot: RunningBot, hidden: int
) -> None:
    """Past the truce's lapse (and its 7 days as recently passed), only restricted deadlines
    are ahead: posted in #desk they are left out, and the lead is told so, not "none"."""
    later = datetime(2025, 8, 25, 9, 0, tzinfo=UTC)
    bot.clock.set(later)
    async with bot.db.session() as session:
        for n in range(hidden):
            await deadlines.add_deadline(
                session,
                actor=Actor(LEAD),
                now=later,
                title=f"Secret review {n}",
                due_at=later + timedelta(days=3 + n),
                zone="UTC",
                visibility="restricted",
            )
    body = answer(await bot.command("/deadline", "public", user=LEAD))
    assert body["response_type"] == "ephemeral"
    noun = "deadline is" if hidden == 1 else "deadlines are"
    pronoun = "it" if hidden == 1 else "them"
    assert body["text"] == (
        f"Nothing to post in this channel: {hidden} restricted upcoming {noun} not shown in "
        f"it. Without `public`, you see {pronoun}."
    )
    assert "Secret review 0" in block_text(answer(await bot.command("/deadline", user=LEAD)))
    member = answer(await bot.command("/deadline", "public", user=MEMBER))
    assert member["text"] == "No upcoming deadlines are on record."
