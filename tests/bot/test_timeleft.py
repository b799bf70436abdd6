"""Countdowns: elapsed days/hours, business days in the deadline's zone, display helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from bot.timeleft import (
    DUE_NOW,
    PASSED_JUST_NOW,
    UNDER_A_MINUTE_LEFT,
    TimeLeft,
    _weekdays_after,
    countdown_left,
    describe_at_mark,
    describe_time_left,
    format_local,
    mark_name,
    mark_slack,
    on_its_mark,
    slack_date,
    time_left,
    unchanged_until,
)
from bot.zones import AMBIGUOUS

NY = "America/New_York"
STOCKHOLM = "Europe/Stockholm"
NOW = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)  # Tue 05:00 in New York
DUE = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)  # Tue 2025-08-12 00:01 America/New_York


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def left(total: timedelta, business_days: int = 0) -> TimeLeft:
    """A TimeLeft as time_left would build it, for the wording tests."""
    remaining = abs(total)
    hours, rest = divmod(remaining.seconds, 3600)
    return TimeLeft(
        total=total,
        days=remaining.days,
        hours=hours,
        minutes=rest // 60,
        business_days=business_days,
        past=total < timedelta(0),
    )


# --- time_left ----------------------------------------------------------------------------


def test_founding_case() -> None:
    result = time_left(DUE, now=NOW, zone=NY)
    assert result == TimeLeft(
        total=timedelta(days=13, hours=19, minutes=1),
        days=13,
        hours=19,
        minutes=1,
        # Wed 30, Thu 31 Jul, Fri 1 Aug; Mon 4 - Fri 8; Mon 11, Tue 12.
        business_days=10,
        past=False,
    )
    assert describe_time_left(result) == "13 days 19 hours left · 10 business days"


def test_seconds_are_floored() -> None:
    result = time_left(utc(2025, 7, 29, 10, 30, 59), now=NOW, zone=NY)
    assert (result.days, result.hours, result.minutes) == (0, 1, 30)


def test_past_deadline() -> None:
    result = time_left(NOW, now=utc(2025, 7, 31, 12, 30), zone=NY)
    assert result.past
    assert result.total == -timedelta(days=2, hours=3, minutes=30)
    assert (result.days, result.hours, result.minutes) == (2, 3, 30)
    assert result.business_days == 0
    assert describe_time_left(result) == "passed 2 days 3 hours ago"


def test_exactly_due() -> None:
    result = time_left(NOW, now=NOW, zone=NY)
    assert not result.past
    assert result.total == timedelta(0)
    assert describe_time_left(result) == DUE_NOW == "due now"


@pytest.mark.parametrize(
    ("now", "due", "zone", "days", "hours"),
    [
        # New York springs forward on 2025-03-09: noon to noon is 23 hours.
        (local(NY, 2025, 3, 8, 12), local(NY, 2025, 3, 9, 12), NY, 0, 23),
        # ... and falls back on 2025-11-02: noon to noon is 25 hours.
        (local(NY, 2025, 11, 1, 12), local(NY, 2025, 11, 2, 12), NY, 1, 1),
        # Stockholm: 2025-03-30 and 2025-10-26.
        (local(STOCKHOLM, 2025, 3, 29, 12), local(STOCKHOLM, 2025, 3, 30, 12), STOCKHOLM, 0, 23),
        (local(STOCKHOLM, 2025, 10, 25, 12), local(STOCKHOLM, 2025, 10, 26, 12), STOCKHOLM, 1, 1),
        # A week across the change: 7 days minus/plus one hour.
        (local(NY, 2025, 3, 5, 12), local(NY, 2025, 3, 12, 12), NY, 6, 23),
        (local(NY, 2025, 10, 30, 12), local(NY, 2025, 11, 6, 12), NY, 7, 1),
    ],
)
def test_elapsed_time_across_dst(
    now: datetime, due: datetime, zone: str, days: int, hours: int
) -> None:
    result = time_left(due, now=now, zone=zone)
    assert (result.days, result.hours, result.minutes) == (days, hours, 0)


def test_zone_of_inputs_does_not_matter_only_the_instants() -> None:
    a = time_left(DUE, now=NOW, zone=NY)
    b = time_left(DUE.astimezone(ZoneInfo("Asia/Tokyo")), now=NOW.astimezone(ZoneInfo(NY)), zone=NY)
    assert a == b


# --- business days ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "due", "expected"),
    [
        # Fri afternoon -> Mon morning: the weekend does not count, Monday does.
        (local(NY, 2025, 8, 1, 15), local(NY, 2025, 8, 4, 9), 1),
        # Fri -> Sat / Sun: no business day in between.
        (local(NY, 2025, 8, 1, 15), local(NY, 2025, 8, 2, 9), 0),
        (local(NY, 2025, 8, 1, 15), local(NY, 2025, 8, 3, 23, 59), 0),
        # Later the same day: 0.
        (local(NY, 2025, 8, 4, 9), local(NY, 2025, 8, 4, 17), 0),
        # Sat -> next Sat: Mon-Fri = 5.
        (local(NY, 2025, 8, 2, 9), local(NY, 2025, 8, 9, 9), 5),
        # Tue -> next Tue: Wed, Thu, Fri, Mon, Tue = 5.
        (local(NY, 2025, 8, 5, 9), local(NY, 2025, 8, 12, 0, 1), 5),
        # Thu -> Mon two weeks on: Fri + 5 + Mon = 7.
        (local(NY, 2025, 7, 31, 9), local(NY, 2025, 8, 11, 9), 7),
    ],
)
def test_business_days(now: datetime, due: datetime, expected: int) -> None:
    assert time_left(due, now=now, zone=NY).business_days == expected


def test_business_days_use_the_given_zone() -> None:
    now = utc(2025, 8, 1, 14, 0)  # Friday in both zones
    due = utc(2025, 8, 5, 2, 0)  # Monday 22:00 in New York, Tuesday in UTC
    assert time_left(due, now=now, zone=NY).business_days == 1
    assert time_left(due, now=now, zone="UTC").business_days == 2
    # Fri 22:00 New York is already Saturday in Stockholm: New York still counts Monday.
    now = utc(2025, 8, 2, 2, 0)
    due = utc(2025, 8, 4, 13, 0)  # Monday 09:00 in New York, 15:00 in Stockholm
    assert time_left(due, now=now, zone=NY).business_days == 1
    assert time_left(due, now=now, zone=STOCKHOLM).business_days == 1


def test_weekday_count_matches_brute_force() -> None:
    start = date(2025, 7, 28)
    for offset in range(7):
        first = start + timedelta(days=offset)
        for span in range(-2, 40):
            last = first + timedelta(days=span)
            brute = sum(1 for n in range(1, span + 1) if (first + timedelta(days=n)).weekday() < 5)
            assert _weekdays_after(first, last) == brute, (first, last)


# --- describe_time_left ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (left(timedelta(days=13, hours=14), 10), "13 days 14 hours left · 10 business days"),
        (left(timedelta(days=1, hours=1), 1), "1 day 1 hour left · 1 business day"),
        (left(timedelta(days=2), 0), "2 days left · 0 business days"),
        (left(timedelta(days=2, minutes=59), 2), "2 days left · 2 business days"),
        (left(timedelta(hours=5, minutes=30)), "5 hours 30 minutes left"),
        (left(timedelta(hours=5)), "5 hours left"),
        (left(timedelta(hours=1, minutes=1)), "1 hour 1 minute left"),
        (left(timedelta(minutes=30)), "30 minutes left"),
        (left(timedelta(seconds=30)), UNDER_A_MINUTE_LEFT),
        (left(timedelta(0)), DUE_NOW),
        (left(-timedelta(days=2, hours=3)), "passed 2 days 3 hours ago"),
        (left(-timedelta(days=1)), "passed 1 day ago"),
        (left(-timedelta(hours=5, minutes=30)), "passed 5 hours 30 minutes ago"),
        (left(-timedelta(seconds=30)), PASSED_JUST_NOW),
    ],
)
def test_describe_time_left(value: TimeLeft, expected: str) -> None:
    assert describe_time_left(value) == expected


# --- format_local -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        (DUE, NY, "Tue 12 Aug 2025 00:01 EDT"),
        (utc(2026, 1, 12, 5, 1), NY, "Mon 12 Jan 2026 00:01 EST"),
        (DUE, STOCKHOLM, "Tue 12 Aug 2025 06:01 CEST"),
        (utc(2025, 12, 1, 9, 5), STOCKHOLM, "Mon 1 Dec 2025 10:05 CET"),
        (DUE, "UTC", "Tue 12 Aug 2025 04:01 UTC"),
        (DUE, "Asia/Tokyo", "Tue 12 Aug 2025 13:01 JST"),
        # Beijing and Taipei call themselves "CST", which also names Chicago and Havana.
        (DUE, "Asia/Shanghai", "Tue 12 Aug 2025 12:01 UTC+8 Shanghai"),
        (utc(2025, 1, 15, 16, 30), "Asia/Shanghai", "Thu 16 Jan 2025 00:30 UTC+8 Shanghai"),
        (DUE, "Asia/Taipei", "Tue 12 Aug 2025 12:01 UTC+8 Taipei"),
        (utc(2025, 12, 31, 23, 59), "Asia/Taipei", "Thu 1 Jan 2026 07:59 UTC+8 Taipei"),
        # "IST" is Kolkata, Jerusalem and Dublin; half and quarter hours keep their minutes.
        (DUE, "Asia/Kolkata", "Tue 12 Aug 2025 09:31 UTC+5:30 Kolkata"),
        (utc(2025, 2, 1, 12, 0), "Asia/Kolkata", "Sat 1 Feb 2025 17:30 UTC+5:30 Kolkata"),
        (DUE, "Asia/Kathmandu", "Tue 12 Aug 2025 09:46 UTC+5:45 Kathmandu"),
        # London: "BST" is also Dhaka's; GMT has one meaning.
        (utc(2025, 7, 1, 11, 0), "Europe/London", "Tue 1 Jul 2025 12:00 UTC+1 London"),
        (utc(2025, 12, 1, 11, 0), "Europe/London", "Mon 1 Dec 2025 11:00 GMT"),
        (utc(2025, 7, 1, 16, 0), NY, "Tue 1 Jul 2025 12:00 EDT"),
        (utc(2025, 12, 1, 17, 0), NY, "Mon 1 Dec 2025 12:00 EST"),
        (utc(2025, 7, 1, 6, 0), STOCKHOLM, "Tue 1 Jul 2025 08:00 CEST"),
        (utc(2025, 12, 1, 7, 0), STOCKHOLM, "Mon 1 Dec 2025 08:00 CET"),
        (utc(2025, 12, 1, 7, 0), "UTC", "Mon 1 Dec 2025 07:00 UTC"),
        # Chicago is "CDT" in summer (also Havana's) and "CST" in winter.
        (utc(2025, 7, 4, 17, 0), "America/Chicago", "Fri 4 Jul 2025 12:00 UTC-5 Chicago"),
        (utc(2025, 1, 4, 17, 0), "America/Chicago", "Sat 4 Jan 2025 11:00 UTC-6 Chicago"),
        (utc(2025, 7, 1, 11, 0), "America/Havana", "Tue 1 Jul 2025 07:00 UTC-4 Havana"),
        (utc(2025, 7, 1, 11, 0), "Europe/Dublin", "Tue 1 Jul 2025 12:00 UTC+1 Dublin"),
        (utc(2025, 1, 1, 12, 0), "Asia/Jerusalem", "Wed 1 Jan 2025 14:00 UTC+2 Jerusalem"),
        (utc(2025, 1, 1, 12, 0), "Asia/Manila", "Wed 1 Jan 2025 20:00 UTC+8 Manila"),
        # Across New York's spring-forward night: the label follows the instant.
        (utc(2025, 3, 9, 6, 59), NY, "Sun 9 Mar 2025 01:59 EST"),
        (utc(2025, 3, 9, 7, 0), NY, "Sun 9 Mar 2025 03:00 EDT"),
    ],
)
def test_format_local(instant: datetime, zone: str, expected: str) -> None:
    shown = format_local(instant, zone)
    assert shown == expected
    assert not set(shown.split()) & set(AMBIGUOUS), shown


@pytest.mark.parametrize("month", [1, 4, 7, 10])
def test_format_local_never_prints_an_ambiguous_abbreviation_in_any_zone(month: int) -> None:
    """Every IANA zone, in each season: no CST/IST/BST …, and an offset label tells the truth."""
    instant = utc(2025, month, 15, 12, 0)
    for zone in sorted(available_timezones()):
        shown = format_local(instant, zone)
        label = shown.split(" ", 5)[5]  # after "Wed 15 Jan 2025 12:00"
        assert label.split()[0] not in AMBIGUOUS, (zone, shown)
        if label.startswith("UTC") and label != "UTC":
            offset = instant.astimezone(ZoneInfo(zone)).utcoffset()
            assert offset is not None
            sign = -1 if label[3] == "-" else 1
            hours, _, minutes = label.split()[0][4:].partition(":")
            written = sign * timedelta(hours=int(hours), minutes=int(minutes or 0))
            assert written == offset, (zone, shown)


def test_format_local_refuses_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_local(datetime(2025, 8, 12, 4, 1), NY)


def test_time_left_refuses_naive() -> None:
    with pytest.raises(ValueError, match="due must be timezone-aware"):
        time_left(datetime(2025, 8, 12, 4, 1), now=NOW, zone=NY)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        time_left(DUE, now=datetime(2025, 7, 29, 9), zone=NY)


# --- slack_date -----------------------------------------------------------------------------


def test_slack_date() -> None:
    assert (
        slack_date(DUE, "Tue 12 Aug 2025 00:01 EDT")
        == "<!date^1754971260^{date_short_pretty} {time}|Tue 12 Aug 2025 00:01 EDT>"
    )


def test_slack_date_label_is_inside_the_token() -> None:
    """Shown only where Slack converted the time; the fallback is never under the label."""
    token = slack_date(DUE, "Tue 12 Aug 2025 04:01 UTC", label="your time:")
    assert token == (
        "<!date^1754971260^your time: {date_short_pretty} {time}|Tue 12 Aug 2025 04:01 UTC>"
    )


def test_slack_date_same_for_any_input_zone() -> None:
    assert slack_date(DUE.astimezone(ZoneInfo(NY)), "x") == slack_date(DUE, "x")


@pytest.mark.parametrize(
    ("fallback", "expected"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("x|<https://evil|click>", "x/&lt;https://evil/click&gt;"),
        ("1^2", "1 2"),
        ("line\nbreak", "line break"),
        ("&amp;", "&amp;amp;"),
    ],
)
def test_slack_date_escapes_fallback(fallback: str, expected: str) -> None:
    token = slack_date(DUE, fallback)
    assert token == f"<!date^1754971260^{{date_short_pretty}} {{time}}|{expected}>"
    # The token stays one token: one opening, one closing, one separator.
    assert token.count("<") == 1 and token.count(">") == 1 and token.count("|") == 1
    assert token.count("^") == 2


def test_slack_date_refuses_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        slack_date(datetime(2025, 8, 12, 4, 1), "x")


# --- unchanged_until ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "now", "until"),
    [
        # 2 h 30 min exactly: the next microsecond is under it.
        (utc(2025, 7, 29, 11, 30), NOW, NOW + timedelta(microseconds=1)),
        # 2 h 29 min 40 s: 2 h 29 min until 09:01:00 inclusive, capped at the minute's turn.
        (utc(2025, 7, 29, 11, 30), utc(2025, 7, 29, 9, 0, 20), utc(2025, 7, 29, 9, 1)),
        # Seconds in the due time: the wording turns at :30 past.
        (utc(2025, 7, 29, 11, 30, 30), NOW, utc(2025, 7, 29, 9, 0, 30, 1)),
        # Under a minute left: until "due now".
        (utc(2025, 7, 29, 9, 0, 45), utc(2025, 7, 29, 9, 0, 10), utc(2025, 7, 29, 9, 0, 45)),
        # Passed 1 min 30 s ago: "passed 2 min ago" from 30 s on.
        (utc(2025, 7, 29, 8, 58, 30), NOW, utc(2025, 7, 29, 9, 0, 30)),
    ],
)
def test_unchanged_until(due: datetime, now: datetime, until: datetime) -> None:
    assert unchanged_until(due, now=now) == until


@pytest.mark.parametrize("zone", [NY, STOCKHOLM, "Asia/Kolkata"])
def test_countdown_reads_the_same_until_unchanged_until(zone: str) -> None:
    """Every 7 s over a day around a due time: the wording holds up to the bound."""
    due = utc(2025, 8, 1, 3, 59, 30)
    for step in range(0, 2 * 86400, 7):
        now = due - timedelta(days=1) + timedelta(seconds=step, microseconds=250_000)
        until = unchanged_until(due, now=now)
        assert until > now
        shown = describe_time_left(time_left(due, now=now, zone=zone))
        last = until - timedelta(microseconds=1)
        assert describe_time_left(time_left(due, now=last, zone=zone)) == shown, (now, until)


# --- countdowns at their mark -----------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(days=30), "30 days left · 22 business days"),  # from Sun 13 Jul
        (timedelta(days=14), "14 days left · 10 business days"),
        (timedelta(days=7), "7 days left · 5 business days"),
        (timedelta(days=3), "3 days left · 2 business days"),  # from Sat 9 Aug 00:01 EDT
        (timedelta(days=1), "1 day left · 1 business day"),
        (timedelta(hours=12), "12 hours left"),
        (timedelta(hours=1), "1 hour left"),
        (timedelta(days=1, hours=12), "1 day 12 hours left · 2 business days"),  # from Sun
        (timedelta(minutes=90), "1 hour 30 minutes left"),
        (timedelta(days=2, minutes=30), "2 days 30 minutes left · 2 business days"),
        (timedelta(seconds=45), "45 seconds left"),
        (timedelta(0), DUE_NOW),
    ],
)
def test_describe_at_mark(offset: timedelta, expected: str) -> None:
    assert describe_at_mark(offset, due=DUE, zone=NY) == expected


@pytest.mark.parametrize(
    ("offset", "name"),
    [
        (timedelta(days=7), "7-day"),
        (timedelta(hours=12), "12-hour"),
        (timedelta(hours=1), "1-hour"),
        (timedelta(days=1, hours=12), "1-day 12-hour"),
        (timedelta(minutes=90), "1-hour 30-minute"),
        (timedelta(0), "final"),
    ],
)
def test_mark_name(offset: timedelta, name: str) -> None:
    assert mark_name(offset) == name


@pytest.mark.parametrize(
    ("offset", "slack"),
    [
        (timedelta(0), timedelta(minutes=1)),
        (timedelta(hours=1), timedelta(minutes=7)),
        (timedelta(hours=12), timedelta(minutes=61)),
        (timedelta(days=30), timedelta(minutes=61)),
    ],
)
def test_mark_slack(offset: timedelta, slack: timedelta) -> None:
    assert mark_slack(offset) == slack


def test_a_countdown_is_on_its_mark_only_within_its_slack_and_before_the_due_time() -> None:
    hour = timedelta(hours=1)
    mark = DUE - hour
    assert on_its_mark(hour, due=DUE, now=mark + timedelta(seconds=3))
    assert on_its_mark(hour, due=DUE, now=mark + timedelta(minutes=7))
    assert not on_its_mark(hour, due=DUE, now=mark + timedelta(minutes=7, seconds=1))
    assert not on_its_mark(timedelta(seconds=30), due=DUE, now=DUE)  # past due: not "30 s left"
    assert on_its_mark(timedelta(0), due=DUE, now=DUE + timedelta(seconds=59))
    assert not on_its_mark(timedelta(0), due=DUE, now=DUE + timedelta(minutes=2))


@pytest.mark.parametrize(
    ("offset", "after_mark", "late", "expected"),
    [
        # A few seconds after the mark: the mark, never "6 days 23 hours" or "59 min".
        (timedelta(days=7), timedelta(seconds=4), False, "7 days left · 5 business days"),
        (timedelta(days=1), timedelta(seconds=9), False, "1 day left · 1 business day"),
        (timedelta(hours=12), timedelta(seconds=2), False, "12 hours left"),
        (timedelta(hours=1), timedelta(seconds=1), False, "1 hour left"),
        (timedelta(0), timedelta(seconds=5), False, ""),
        # A catch-up after downtime (planned late): its mark and the real time left.
        (
            timedelta(days=7),
            timedelta(hours=4),
            True,
            "late: 7-day countdown; 6 days 20 hours left · 5 business days",
        ),
        (timedelta(days=1), timedelta(hours=2), True, "late: 1-day countdown; 22 hours left"),
        (timedelta(0), timedelta(hours=3), True, "late: passed 3 hours ago"),
        # Held back by retries past its slack: late as well.
        (
            timedelta(hours=1),
            timedelta(minutes=20),
            False,
            "late: 1-hour countdown; 40 minutes left",
        ),
        (
            timedelta(hours=1),
            timedelta(minutes=75),
            False,
            "late: 1-hour countdown; passed 15 minutes ago",
        ),
    ],
)
def test_countdown_left(
    offset: timedelta, after_mark: timedelta, late: bool, expected: str
) -> None:
    now = DUE - offset + after_mark
    assert countdown_left(offset, due=DUE, now=now, zone=NY, late=late) == expected


def test_remembered_times_read_as_made_afresh_whatever_zone_the_instant_came_in() -> None:
    """`format_local` remembers what it showed: one instant handed in any zone (equal
    datetimes, so one memo) must read as made afresh for each zone it is shown in, across
    DST changes and folds; a naive datetime is refused every time, never remembered."""
    from bot.render.present import READER_LABEL, in_reader_zone
    from bot.timeleft import format_local, slack_date
    from bot.zones import zone_label

    def made_afresh(instant: datetime, zone: str) -> str:
        local = instant.astimezone(ZoneInfo(zone))
        return f"{local:%a} {local.day} {local:%b %Y %H:%M} {zone_label(local, zone)}"

    zones = ("America/New_York", "Asia/Shanghai", "Europe/London", "Asia/Kolkata", "UTC")
    start = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)
    instants = [start + timedelta(minutes=37 * n) for n in range(400)]  # over 10 days
    folds = [datetime(2025, 11, 2, 1, 30, fold=f, tzinfo=ZoneInfo(zones[0])) for f in (0, 1)]
    assert folds[0] == folds[1] and hash(folds[0]) == hash(folds[1])  # one hour apart
    instants += folds
    for instant in instants:
        for handed_in in zones:
            as_handed = instant.astimezone(ZoneInfo(handed_in))
            for zone in zones:
                assert format_local(as_handed, zone) == made_afresh(instant, zone)
                fallback = made_afresh(instant, zone)
                assert in_reader_zone(as_handed, zone) == slack_date(
                    instant, fallback, label=READER_LABEL
                )
    for _ in range(2):
        with pytest.raises(ValueError):
            format_local(datetime(2025, 8, 12, 0, 1), "UTC")


def test_the_time_left_remembered_reads_as_counted_afresh() -> None:
    """`left_text` remembers its last answers: for every due instant handed in any zone, at
    many `now`s (across a DST fold), it reads as `describe_time_left` counts afresh."""
    from bot.render.present import left_text
    from bot.timeleft import describe_time_left, time_left

    zones = ("America/New_York", "Asia/Shanghai", "UTC")
    due = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)  # 01:30 EDT, the fold's first
    dues = [due, due + timedelta(hours=1)]  # and 01:30 EST: equal in New York's zone
    nows = [due - timedelta(minutes=17 * n) for n in range(-20, 200)]
    for now in nows:
        for instant in dues:
            for handed_in in zones:
                for zone in zones:
                    as_handed = instant.astimezone(ZoneInfo(handed_in))
                    expected = describe_time_left(time_left(instant, now=now, zone=zone))
                    assert left_text(as_handed, now=now, zone=zone) == expected
    for _ in range(2):
        with pytest.raises(ValueError):
            left_text(datetime(2025, 8, 12, 0, 1), now=due, zone="UTC")


@pytest.mark.parametrize("seed", range(6))
def test_the_time_left_remembered_holds_only_while_it_reads_the_same(seed: int) -> None:
    """`left_text` keeps each deadline's words for the span `unchanged_until` gives: a clock
    walked forward (and sometimes back) by steps of a microsecond to a day, across local
    midnights of zones at odd offsets and their DST changes, always reads as counted afresh."""
    import random

    from bot.render.present import left_text
    from bot.timeleft import describe_time_left, time_left

    rng = random.Random(seed)
    zones = ("Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe", "Europe/London", "UTC")
    start = datetime(2025, 3, 28, 23, 58, 30, tzinfo=UTC)  # the week of Europe's spring change
    dues = [
        start + timedelta(days=rng.randint(0, 9), seconds=rng.randint(0, 86399),
                          microseconds=rng.choice([0, 1, 999_999, rng.randint(0, 999_999)]))
        for _ in range(6)
    ]  # fmt: skip
    steps = [
        timedelta(microseconds=1), timedelta(seconds=1), timedelta(seconds=29),
        timedelta(seconds=59, microseconds=999_999), timedelta(minutes=1),
        timedelta(minutes=1, microseconds=1), timedelta(minutes=13), timedelta(hours=1),
        timedelta(hours=5, minutes=45), timedelta(days=1), -timedelta(minutes=3),
    ]  # fmt: skip
    now = start
    for _ in range(600):
        now += rng.choice(steps)
        for due in [*dues, now + timedelta(seconds=rng.randint(-90, 90))]:
            for zone in zones:
                expected = describe_time_left(time_left(due, now=now, zone=zone))
                assert left_text(due, now=now, zone=zone) == expected, (due, now, zone)
