"""Typed times over Slack (issue 9 §1): every command and form reads a time the same way,
refuses a past, ambiguous or two-way one with the reason and changes nothing, and repeats
an accepted one as it was read. The desk zone here is Europe/Stockholm; now is AS_OF,
Tue 29 Jul 2025 09:00Z (11:00 CEST)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.render.ids import Field
from handlers import forms
from storage.models import Deadline, Event, Subscription, TalksRound, TruceExtension
from tests.support.bots import RunningBot, start_bot
from tests.support.checks import answer, audit_count, block_text, rows
from tests.support.people import CHANNEL, LEAD

EPHEMERAL = "chat.postEphemeral"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


async def confirmation_after(bot: RunningBot, seen: int) -> dict[str, Any]:
    """The first ephemeral confirmation posted after `seen` of them had been recorded."""
    calls = await bot.standin.wait_for(EPHEMERAL, count=seen + 1)
    return calls[seen].args


def opened(view: Any) -> dict[str, Any]:
    """A view as Slack hands it back on submission (built with the product's own forms)."""
    return {**view.to_dict(), "id": "V0TYPED", "team_id": "T0LOCAL"}


async def deadline_view(bot: RunningBot) -> dict[str, Any]:
    async with bot.db.session() as session:
        view = await forms.deadline_form(
            session,
            channel_id=CHANNEL,
            deadline_id=None,
            track=None,
            default_offsets=bot.settings.countdown_offsets,
        )
    return opened(view)


@pytest.mark.parametrize(
    ("typed", "due", "echo"),
    [
        ("Aug 12 noon", utc(2025, 8, 12, 10, 0), "Tue 12 Aug 2025 12:00 CEST"),
        ("Aug 12 noon EDT", utc(2025, 8, 12, 16, 0), "Tue 12 Aug 2025 12:00 EDT"),
        ("Aug 12 midnight", utc(2025, 8, 11, 22, 0), "Tue 12 Aug 2025 00:00 CEST"),
        ("Tuesday 17:00 CET", utc(2025, 7, 29, 15, 0), "Tue 29 Jul 2025 17:00 CEST"),
        ("25/08/2025 09:00", utc(2025, 8, 25, 7, 0), "Mon 25 Aug 2025 09:00 CEST"),
        ("Aug 12 00:01 New York", utc(2025, 8, 12, 4, 1), "Tue 12 Aug 2025 00:01 EDT"),
    ],
)
async def test_deadline_add_reads_the_day_typed_and_echoes_it(
    bot: RunningBot, typed: str, due: datetime, echo: str
) -> None:
    body = answer(await bot.command("/deadline", f"add Review | {typed}", user=LEAD))
    assert echo in block_text(body)
    (deadline,) = await rows(bot, Deadline, Deadline.title == "Review")
    assert deadline.due_at == due


@pytest.mark.parametrize(
    ("typed", "fragments"),
    [
        (
            "Jul 29 08:00 UTC",
            [
                "already past",
                "a new deadline must lie in the future",
                "No year was written, so the nearest 29 Jul was taken",
                "29 Jul 2026 08:00 UTC",
            ],
        ),
        ("Jul 20 10:00 EDT", ["already past", "20 Jul 2026 10:00 America/New_York"]),
        ("2025-07-01 00:00 UTC", ["already past"]),
        ("Aug 12 00:01 CST", ["CST could be America/Chicago, Asia/Shanghai"]),
        ("Aug 12 00:01 IST", ["IST could be Asia/Kolkata"]),
        ("12/08/2025", ["12 August 2025 or 8 December 2025"]),
        ("Mon 12 Aug", ["is a Tuesday, not a Monday"]),
        ("Feb 30 2026", ["February 2026 has no day 30"]),
    ],
)
async def test_deadline_add_refuses_with_the_reason_and_writes_nothing(
    bot: RunningBot, typed: str, fragments: list[str]
) -> None:
    audits = await audit_count(bot)
    text = answer(await bot.command("/deadline", f"add Review | {typed}", user=LEAD))["text"]
    for fragment in fragments:
        assert fragment in text
    assert await rows(bot, Deadline, Deadline.title == "Review") == []
    assert await audit_count(bot) == audits


async def test_a_past_time_with_its_year_gets_no_year_hint(bot: RunningBot) -> None:
    text = answer(await bot.command("/deadline", "add Review | Jul 1 2025 09:00", user=LEAD))[
        "text"
    ]
    assert "already past" in text
    assert "No year was written" not in text


async def test_deadline_form_refuses_a_year_less_past_date_inline(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(
        await bot.submit_view(
            await deadline_view(bot),
            {Field.headline: "Review", Field.due: "Jul 20 10:00 EDT"},
            user=LEAD,
        )
    )
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.due]
    assert "No year was written" in body["errors"][Field.due]
    assert await rows(bot, Deadline, Deadline.title == "Review") == []
    assert await audit_count(bot) == audits


async def test_deadline_form_confirmation_repeats_the_time_as_read(bot: RunningBot) -> None:
    seen = len(bot.standin.calls_to(EPHEMERAL))
    response = await bot.submit_view(
        await deadline_view(bot),
        {Field.headline: "Review", Field.due: "Aug 12 noon"},
        user=LEAD,
    )
    assert response.status_code == 200 and not response.content  # closed, no errors
    confirmed = await confirmation_after(bot, seen)
    assert "due Tue 12 Aug 2025 12:00 CEST" in confirmed["text"]


async def test_event_form_confirmation_repeats_the_time_as_read(bot: RunningBot) -> None:
    async with bot.db.session() as session:
        view = opened(await forms.event_form(session, channel_id=CHANNEL, track=None))
    seen = len(bot.standin.calls_to(EPHEMERAL))
    response = await bot.submit_view(
        view, {Field.headline: "Call", Field.when: "Jul 28 16:30 Beijing"}, user=LEAD
    )
    assert response.status_code == 200 and not response.content  # closed, no errors
    confirmed = await confirmation_after(bot, seen)
    assert "dated Mon 28 Jul 2025 16:30 UTC+8 Shanghai" in confirmed["text"]
    (event,) = await rows(bot, Event, Event.title == "Call")
    assert event.occurred_at.astimezone(UTC) == utc(2025, 7, 28, 8, 30)


async def test_round_form_confirmation_repeats_the_times_as_read(bot: RunningBot) -> None:
    async with bot.db.session() as session:
        view = opened(
            await forms.round_form(session, channel_id=CHANNEL, round_id=None, track=None)
        )
    seen = len(bot.standin.calls_to(EPHEMERAL))
    response = await bot.submit_view(
        view,
        {
            Field.headline: "Madrid round",
            Field.place: "Madrid",
            Field.starts: "Sep 14 10:00 Madrid",
            Field.ends: "Sep 15 18:00",
        },
        user=LEAD,
    )
    assert response.status_code == 200 and not response.content  # closed, no errors
    confirmed = await confirmation_after(bot, seen)
    assert "Sun 14 Sep 2025 10:00 CEST – Mon 15 Sep 2025 18:00 CEST" in confirmed["text"]
    (talks,) = await rows(bot, TalksRound, TalksRound.title == "Madrid round")
    assert talks.zone == "Europe/Madrid"


async def test_truce_extend_refuses_a_year_less_past_date(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    text = answer(await bot.command("/truce", "extend Jul 20 | oops", user=LEAD))["text"]
    assert "an extension must end in the future" in text
    assert "No year was written" in text
    assert await rows(bot, TruceExtension) == []
    assert await audit_count(bot) == audits


async def test_truce_extend_reads_noon_on_the_day_typed(bot: RunningBot) -> None:
    answer(await bot.command("/truce", "extend Nov 10 noon EST | agreed", user=LEAD))
    (extension,) = await rows(bot, TruceExtension)
    assert extension.to_at.astimezone(UTC) == utc(2025, 11, 10, 17, 0)


@pytest.mark.parametrize(
    ("typed", "time", "zone"),
    [
        ("07:30 CET", "07:30", "Europe/Paris"),
        ("07:30 Stockholm", "07:30", "Europe/Stockholm"),
        ("8am New York weekdays", "08:00", "America/New_York"),
        ("Asia/Shanghai 09:00", "09:00", "Asia/Shanghai"),
    ],
)
async def test_subscribe_reads_times_and_zones_like_every_form(
    bot: RunningBot, typed: str, time: str, zone: str
) -> None:
    body = answer(await bot.command("/desk", f"subscribe {typed}", user=LEAD))
    assert f"{time} {zone}" in body["text"]
    (sub,) = await rows(bot, Subscription)
    assert (sub.digest_time, sub.digest_zone) == (time, zone)


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("07:30 CST", "CST could be America/Chicago"),
        ("07:30 BST", "BST could be Europe/London or Asia/Dhaka"),
        ("hourly", 'Could not read "hourly" as a time of day'),
        ("25:00", "not a time of day"),
    ],
)
async def test_subscribe_refuses_an_unclear_time(
    bot: RunningBot, typed: str, fragment: str
) -> None:
    body = answer(await bot.command("/desk", f"subscribe {typed}", user=LEAD))
    assert fragment in body["text"]
    assert await rows(bot, Subscription) == []


@pytest.mark.parametrize(
    ("order", "due"), [("DMY", utc(2025, 8, 12, 10, 0)), ("MDY", utc(2025, 12, 8, 11, 0))]
)
async def test_the_desk_date_order_reads_two_way_dates(
    bot: RunningBot, order: str, due: datetime
) -> None:
    server, task, url = await start_bot(bot.db, bot.standin, bot.clock, date_order=order)
    try:
        other = RunningBot(url, bot.http, bot.standin, bot.db, bot.clock, bot.settings)
        answer(await other.command("/deadline", "add Review | 12/08/2025 12:00", user=LEAD))
    finally:
        server.should_exit = True
        await task
    (deadline,) = await rows(bot, Deadline, Deadline.title == "Review")
    assert deadline.due_at == due


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("Feb 29", "29 Feb 2028 00:00 Europe/Stockholm"),  # 2025–2027 have no 29 February
        ("Jul 1", "1 Jul 2026 00:00 Europe/Stockholm"),
    ],
)
async def test_the_hint_for_a_past_date_without_a_year_is_a_date_that_exists(
    bot: RunningBot, typed: str, hint: str
) -> None:
    body = answer(await bot.command("/deadline", f"add Q | {typed}", user=LEAD))
    assert f"write the year, e.g. {hint}." in body["text"], body["text"]
    again = answer(await bot.command("/deadline", f"add Q | {hint}", user=LEAD))
    assert "Deadline #2 added: *Q*" in block_text(again)  # the hint reads back
