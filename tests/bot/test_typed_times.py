"""The table of typed times (issue 9 §1): what a desk types, at several clocks and desk zones,
and the instant it means, or the refusal it gets. Each expectation was worked out by hand
from the rules in `bot.timeparse`'s docstring, not copied from the parser's output.

Clocks: A = Tue 29 Jul 2025 09:00Z (the founding case), B = Wed 31 Dec 2025 23:30Z (a year
boundary: already 1 Jan in Stockholm), C = Sun 9 Mar 2025 06:00Z (US spring-forward day,
01:00 EST in New York), D = Fri 24 Oct 2025 15:00Z.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.timeparse import TimeParseError, parse_clock, parse_when, written_with_year
from bot.zones import AMBIGUOUS, PLACES, zone_label

A = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)
B = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
C = datetime(2025, 3, 9, 6, 0, tzinfo=UTC)
D = datetime(2025, 10, 24, 15, 0, tzinfo=UTC)
CLOCKS = {"A": A, "B": B, "C": C, "D": D}

NY, STO, SHA, PAR = "America/New_York", "Europe/Stockholm", "Asia/Shanghai", "Europe/Paris"
UTC_ = "UTC"

# (clock, desk zone, typed, expected instant "YYYY-MM-DDTHH:MM" in UTC, expected zone)
ACCEPTED: list[tuple[str, str, str, str, str]] = [
    # -- a day and month keep their day whatever time words follow
    ("A", UTC_, "Aug 12 noon", "2025-08-12T12:00", UTC_),
    ("A", UTC_, "Aug 12 noon EDT", "2025-08-12T16:00", NY),
    ("A", UTC_, "Aug 12 midnight", "2025-08-12T00:00", UTC_),
    ("A", UTC_, "Aug 12 midday", "2025-08-12T12:00", UTC_),
    ("A", UTC_, "Aug 12 at 5pm", "2025-08-12T17:00", UTC_),
    ("A", UTC_, "Aug 12 5 pm", "2025-08-12T17:00", UTC_),
    ("A", UTC_, "Aug 12 5:30 p.m.", "2025-08-12T17:30", UTC_),
    ("A", UTC_, "Aug 12 12am", "2025-08-12T00:00", UTC_),
    ("A", UTC_, "Aug 12 12pm", "2025-08-12T12:00", UTC_),
    ("A", UTC_, "Aug 12 17:00", "2025-08-12T17:00", UTC_),
    ("A", UTC_, "Aug 12 at 17", "2025-08-12T17:00", UTC_),
    ("A", UTC_, "Aug 12 12 noon", "2025-08-12T12:00", UTC_),
    ("A", UTC_, "noon Aug 12", "2025-08-12T12:00", UTC_),
    ("A", UTC_, "August 12th, 9:30am", "2025-08-12T09:30", UTC_),
    ("A", UTC_, "12 August 17:00", "2025-08-12T17:00", UTC_),
    ("A", UTC_, "12th of August at 00:01", "2025-08-12T00:01", UTC_),
    ("A", UTC_, "Aug 12, 2025 00:01:30", "2025-08-12T00:01:30", UTC_),
    ("A", UTC_, "2025-08-12 noon", "2025-08-12T12:00", UTC_),
    ("A", UTC_, "2025-08-12 5pm EDT", "2025-08-12T21:00", NY),
    # -- zones: abbreviations stand for places, cities, IANA names, printed offsets
    ("A", UTC_, "Aug 12 00:01 EDT", "2025-08-12T04:01", NY),
    ("A", UTC_, "Aug 12 00:01 EST", "2025-08-12T04:01", NY),
    ("A", UTC_, "Aug 12 00:01 ET", "2025-08-12T04:01", NY),
    ("A", UTC_, "Aug 12 00:01 America/New_York", "2025-08-12T04:01", NY),
    ("A", UTC_, "Aug 12 00:01 New York", "2025-08-12T04:01", NY),
    ("A", UTC_, "Aug 12 00:01 new_york", "2025-08-12T04:01", NY),
    ("A", UTC_, "Aug 12 00:01 Washington", "2025-08-12T04:01", NY),
    ("A", UTC_, "Aug 12 00:01 PDT", "2025-08-12T07:01", "America/Los_Angeles"),
    ("A", UTC_, "Aug 12 00:01 CEST", "2025-08-11T22:01", PAR),
    ("A", UTC_, "Aug 12 00:01 CET", "2025-08-11T22:01", PAR),
    ("A", UTC_, "Aug 12 00:01 JST", "2025-08-11T15:01", "Asia/Tokyo"),
    ("A", UTC_, "Aug 12 00:01 KST", "2025-08-11T15:01", "Asia/Seoul"),
    ("A", UTC_, "Aug 12 00:01 HKT", "2025-08-11T16:01", "Asia/Hong_Kong"),
    ("A", UTC_, "Aug 12 12:00 Asia/Shanghai", "2025-08-12T04:00", SHA),
    ("A", UTC_, "Aug 12 12:00 Shanghai", "2025-08-12T04:00", SHA),
    ("A", UTC_, "Aug 12 12:00 Beijing", "2025-08-12T04:00", SHA),
    ("A", UTC_, "Aug 12 12:00 Taipei", "2025-08-12T04:00", "Asia/Taipei"),
    ("A", UTC_, "Tue 12 Aug 2025 12:00 UTC+8 Shanghai", "2025-08-12T04:00", SHA),
    ("A", UTC_, "Aug 12 12:00 UTC+8", "2025-08-12T04:00", "Etc/GMT-8"),
    ("A", UTC_, "Aug 12 12:00 UTC+5:30 Kolkata", "2025-08-12T06:30", "Asia/Kolkata"),
    ("A", UTC_, "Aug 12 09:00 Stockholm", "2025-08-12T07:00", STO),
    ("A", UTC_, "Aug 12 09:00 UTC+1 London", "2025-08-12T08:00", "Europe/London"),
    ("A", UTC_, "Aug 12 09:00 Sao Paulo", "2025-08-12T12:00", "America/Sao_Paulo"),
    # -- a date without a year is the nearest such date (past ones are the caller's to refuse)
    ("A", UTC_, "Jul 29 08:00 UTC", "2025-07-29T08:00", UTC_),
    ("A", UTC_, "Jul 29 10:00 UTC", "2025-07-29T10:00", UTC_),
    ("A", UTC_, "Jul 20 10:00 EDT", "2025-07-20T14:00", NY),
    ("A", UTC_, "Jan 5", "2026-01-05T00:00", UTC_),
    ("A", UTC_, "Dec 25", "2025-12-25T00:00", UTC_),
    ("A", UTC_, "Feb 1", "2025-02-01T00:00", UTC_),
    ("A", UTC_, "Jan 28", "2025-01-28T00:00", UTC_),  # 182 days back, 183 ahead
    ("A", UTC_, "Jan 27", "2026-01-27T00:00", UTC_),  # 183 days back, 182 ahead
    # -- numeric dates: one reading accepted; two readings need PARLEY_DATE_ORDER (below)
    ("A", UTC_, "25/08/2025", "2025-08-25T00:00", UTC_),
    ("A", UTC_, "08/25/2025", "2025-08-25T00:00", UTC_),
    ("A", UTC_, "25.08.2025 17:00", "2025-08-25T17:00", UTC_),
    ("A", UTC_, "05/05/2025", "2025-05-05T00:00", UTC_),
    ("A", UTC_, "13/8/25 noon", "2025-08-13T12:00", UTC_),
    # -- a weekday is the next one whose time is still ahead, today included
    ("A", PAR, "Tuesday 17:00 CET", "2025-07-29T15:00", PAR),
    ("A", UTC_, "Tuesday 17:00 CET", "2025-07-29T15:00", PAR),
    ("A", UTC_, "Tuesday 08:00 CET", "2025-08-05T06:00", PAR),
    ("A", UTC_, "Tue 5pm", "2025-07-29T17:00", UTC_),
    ("A", UTC_, "Tuesday", "2025-08-05T00:00", UTC_),
    ("A", UTC_, "Wednesday 09:00", "2025-07-30T09:00", UTC_),
    ("A", UTC_, "friday 17:00", "2025-08-01T17:00", UTC_),
    ("A", UTC_, "Mon", "2025-08-04T00:00", UTC_),
    ("A", UTC_, "Tue 12 Aug", "2025-08-12T00:00", UTC_),
    ("A", UTC_, "Tuesday, August 12 at 9am", "2025-08-12T09:00", UTC_),
    # -- days and clock times
    ("A", UTC_, "tomorrow 09:00", "2025-07-30T09:00", UTC_),
    ("A", UTC_, "today 17:00", "2025-07-29T17:00", UTC_),
    ("A", UTC_, "tomorrow noon", "2025-07-30T12:00", UTC_),
    ("A", UTC_, "17:00", "2025-07-29T17:00", UTC_),
    ("A", UTC_, "noon", "2025-07-29T12:00", UTC_),
    ("A", UTC_, "12 noon", "2025-07-29T12:00", UTC_),
    ("A", UTC_, "next friday 17:00", "2025-08-01T17:00", UTC_),
    # -- relative and ISO
    ("A", UTC_, "+90d", "2025-10-27T09:00", UTC_),
    ("A", UTC_, "in 3 days", "2025-08-01T09:00", UTC_),
    ("A", UTC_, "2025-08-12 00:01 America/New_York", "2025-08-12T04:01", NY),
    ("A", UTC_, "2025-08-12T00:01-04:00", "2025-08-12T04:01", "Etc/GMT+4"),
    ("A", NY, "2025-08-12T00:01-04:00", "2025-08-12T04:01", NY),
    # -- desk in New York (05:00 there at clock A)
    ("A", NY, "Aug 12 00:01", "2025-08-12T04:01", NY),
    ("A", NY, "Aug 12 noon", "2025-08-12T16:00", NY),
    ("A", NY, "Jul 29 04:00", "2025-07-29T08:00", NY),
    ("A", NY, "Tuesday 17:00", "2025-07-29T21:00", NY),
    ("A", NY, "Tuesday 04:00", "2025-08-05T08:00", NY),
    ("A", NY, "tomorrow 09:00", "2025-07-30T13:00", NY),
    ("A", NY, "17:00", "2025-07-29T21:00", NY),
    ("A", NY, "Aug 12 00:01 UTC", "2025-08-12T00:01", UTC_),
    ("A", NY, "Jan 12 00:01", "2026-01-12T05:01", NY),
    # -- desk in Shanghai (17:00 there at clock A)
    ("A", SHA, "Aug 12 noon", "2025-08-12T04:00", SHA),
    ("A", SHA, "Tuesday 18:00", "2025-07-29T10:00", SHA),
    ("A", SHA, "Tuesday 16:00", "2025-08-05T08:00", SHA),
    ("A", SHA, "tomorrow 09:00", "2025-07-30T01:00", SHA),
    ("A", SHA, "Jul 29 20:00", "2025-07-29T12:00", SHA),
    # -- clock B: a year boundary (00:30 on 1 Jan 2026 in Stockholm, 18:30 on 31 Dec in NY)
    ("B", STO, "Jan 1 12:00", "2026-01-01T11:00", STO),
    ("B", STO, "Dec 31 20:00", "2025-12-31T19:00", STO),
    ("B", STO, "Jan 5", "2026-01-04T23:00", STO),
    ("B", STO, "Dec 1", "2025-11-30T23:00", STO),
    ("B", STO, "tomorrow 09:00", "2026-01-02T08:00", STO),
    ("B", STO, "Thursday 09:00", "2026-01-01T08:00", STO),
    ("B", STO, "Wednesday 09:00", "2026-01-07T08:00", STO),
    ("B", STO, "Jan 1 00:10", "2025-12-31T23:10", STO),
    ("B", UTC_, "Dec 31 23:00", "2025-12-31T23:00", UTC_),
    ("B", NY, "Jan 1 09:00", "2026-01-01T14:00", NY),
    ("B", NY, "Wednesday 20:00", "2026-01-01T01:00", NY),
    # -- clock C: New York springs forward at 02:00 local (07:00Z)
    ("C", NY, "Mar 9 02:30", "2025-03-09T07:30", NY),
    ("C", NY, "Mar 9 12:00", "2025-03-09T16:00", NY),
    ("C", NY, "Mar 8 12:00", "2025-03-08T17:00", NY),
    ("C", NY, "Sunday 12:00", "2025-03-09T16:00", NY),
    ("C", NY, "tomorrow 09:00", "2025-03-10T13:00", NY),
    ("C", UTC_, "Mar 9 12:00 EST", "2025-03-09T16:00", NY),
    ("C", UTC_, "Nov 2 01:30 EDT", "2024-11-02T05:30", NY),
    ("C", STO, "Mar 30 02:30", "2025-03-30T01:30", STO),
    ("C", UTC_, "Mar 9 02:30 America/New_York", "2025-03-09T07:30", NY),
    # -- clock D
    ("D", UTC_, "Fri 17:00", "2025-10-24T17:00", UTC_),
    ("D", UTC_, "Friday 14:00", "2025-10-31T14:00", UTC_),
    ("D", UTC_, "Nov 10 00:01 EST", "2025-11-10T05:01", NY),
    ("D", UTC_, "Oct 26 02:30 Europe/Stockholm", "2025-10-26T00:30", STO),
    ("D", UTC_, "Nov 2 01:30 New York", "2025-11-02T05:30", NY),
    ("D", UTC_, "Aug 12", "2025-08-12T00:00", UTC_),
    ("D", UTC_, "Apr 30", "2025-04-30T00:00", UTC_),
    ("D", UTC_, "Apr 27", "2025-04-27T00:00", UTC_),  # 180.6 days back, 184.4 ahead
    ("D", UTC_, "Apr 20", "2026-04-20T00:00", UTC_),  # 187.6 days back, 177.4 ahead
    ("D", UTC_, "24/10/2025 17:00", "2025-10-24T17:00", UTC_),
    ("D", UTC_, "10/24/2025", "2025-10-24T00:00", UTC_),
    ("D", UTC_, "Oct 24 5pm", "2025-10-24T17:00", UTC_),
]


@pytest.mark.parametrize(("clock", "desk_zone", "text", "instant", "zone"), ACCEPTED)
def test_typed_time_means_this_instant(
    clock: str, desk_zone: str, text: str, instant: str, zone: str
) -> None:
    when = parse_when(text, now=CLOCKS[clock], default_zone=desk_zone)
    assert when.instant == datetime.fromisoformat(instant).replace(tzinfo=UTC)
    assert when.zone == zone


# (clock, typed, a fragment of the refusal)
REFUSED: list[tuple[str, str, str]] = [
    ("A", "Aug 12 00:01 CST", "CST could be America/Chicago, Asia/Shanghai, Asia/Taipei or"),
    ("A", "Aug 12 00:01 cst", "CST could be"),
    ("A", "Aug 12 00:01 IST", "IST could be Asia/Kolkata, Asia/Jerusalem or Europe/Dublin"),
    ("A", "Aug 12 00:01 BST", "BST could be Europe/London or Asia/Dhaka"),
    ("A", "Aug 12 00:01 PST", "PST could be America/Los_Angeles or Asia/Manila"),
    ("A", "Aug 12 00:01 CDT", "CDT could be America/Chicago or America/Havana"),
    ("A", "Aug 12 00:01 AST", "AST could be"),
    ("A", "12/08/2025", '"12/08/2025" could be 12 August 2025 or 8 December 2025'),
    ("A", "09/10/2025", "9 October 2025 or 10 September 2025"),
    ("A", "09/10", "9 October or 10 September"),
    ("D", "2/3/2026 17:00", "2 March 2026 or 3 February 2026"),
    ("A", "Mon 12 Aug", "12 August 2025 is a Tuesday, not a Monday"),
    ("A", "Feb 30", "February has no day 30"),
    ("A", "Feb 29 2025", "February 2025 has no day 29"),
    ("A", "Aug 32", 'Could not read "Aug 32"'),
    ("A", "Aug 12 25:00", "25:00 is not a time of day"),
    ("A", "Aug 12 13pm", "13pm is not a time of day"),
    ("A", "13/13/2025", 'Could not read "13/13/2025"'),
    ("A", "Aug", 'Could not read "Aug"'),
    ("A", "2025", 'Could not read "2025"'),
    ("A", "Aug 12 00:01 Mars/Olympus", 'Unknown time zone "Mars/Olympus"'),
    ("A", "Aug 12 00:01 EDT Europe/Stockholm", "two time zones"),
    ("A", "Aug 12 Stockholm London", "two time zones"),
    ("A", "Aug 12 12:00 UTC+9 Shanghai", "UTC+9 is not the offset of Asia/Shanghai"),
    ("A", "Aug 12 12:00 UTC+5:30", "a bare offset must be whole hours"),
    ("A", "Aug 12 tomorrow", 'Could not read "Aug 12 tomorrow"'),
]


@pytest.mark.parametrize(("clock", "text", "fragment"), REFUSED)
def test_typed_time_is_refused_with_the_reason(clock: str, text: str, fragment: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_when(text, now=CLOCKS[clock], default_zone=UTC_)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("order", "text", "instant"),
    [
        ("DMY", "12/08/2025", "2025-08-12T00:00"),
        ("MDY", "12/08/2025", "2025-12-08T00:00"),
        ("DMY", "12/08/2025 noon", "2025-08-12T12:00"),
        ("DMY", "12.08.2025 17:00", "2025-08-12T17:00"),
        ("MDY", "09/10/2025 9am", "2025-09-10T09:00"),
        ("DMY", "09/10", "2025-10-09T00:00"),
        # a date that reads one way only is that date whatever the order
        ("MDY", "25/08/2025", "2025-08-25T00:00"),
        ("DMY", "08/25/2025", "2025-08-25T00:00"),
    ],
)
def test_date_order_reads_two_way_dates_one_way(order: str, text: str, instant: str) -> None:
    when = parse_when(text, now=A, default_zone=UTC_, date_order=order)
    assert when.instant == datetime.fromisoformat(instant).replace(tzinfo=UTC)


def test_an_unknown_date_order_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="date_order"):
        parse_when("12/08/2025", now=A, default_zone=UTC_, date_order="YMD")


@pytest.mark.parametrize(
    ("text", "guessed"),
    [
        ("Aug 12 noon", True),
        ("12 August", True),
        ("25/08", True),
        ("Aug 12 2025 noon", False),
        ("2025-08-12 noon", False),
        ("25/08/2025", False),
        ("Tuesday 17:00", False),
        ("tomorrow 09:00", False),
        ("+90d", False),
    ],
)
def test_the_reader_says_when_it_guessed_the_year(text: str, guessed: bool) -> None:
    assert parse_when(text, now=A, default_zone=UTC_).year_guessed is guessed


@pytest.mark.parametrize("abbreviation", sorted(AMBIGUOUS))
def test_every_ambiguous_abbreviation_is_refused_with_all_its_candidates(
    abbreviation: str,
) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_when(f"Aug 12 00:01 {abbreviation}", now=A, default_zone=UTC_)
    message = str(caught.value)
    assert message.startswith(f"{abbreviation} could be")
    assert all(candidate in message for candidate in AMBIGUOUS[abbreviation])
    assert "write the zone" in message


def test_no_abbreviation_is_both_one_place_and_several() -> None:
    assert not set(PLACES) & set(AMBIGUOUS)


@pytest.mark.parametrize("abbreviation", sorted(PLACES))
def test_every_unambiguous_abbreviation_is_wall_time_in_its_place(abbreviation: str) -> None:
    when = parse_when(f"Aug 12 2025 09:00 {abbreviation}", now=A, default_zone=STO)
    local = when.instant.astimezone(ZoneInfo(PLACES[abbreviation]))
    assert (local.month, local.day, local.hour, local.minute) == (8, 12, 9, 0)


# -- what Parley prints, it reads back ---------------------------------------------------

ZONES = [
    UTC_, NY, STO, SHA, "Asia/Taipei", "Asia/Kolkata", "Asia/Kathmandu", "Europe/London",
    "America/Chicago", "America/Havana", "Asia/Tokyo", "Australia/Sydney", "Europe/Dublin",
    "America/St_Johns", "Pacific/Auckland", "Asia/Singapore", "Etc/GMT+5",
]  # fmt: skip
INSTANTS = [A + timedelta(days=37 * i, hours=5 * i, minutes=13 * i) for i in range(12)]


def _printed(instant: datetime, zone: str) -> str:
    local = instant.astimezone(ZoneInfo(zone))
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return (
        f"{days[local.weekday()]} {local.day} {months[local.month - 1]} {local.year} "
        f"{local:%H:%M} {zone_label(local, zone)}"
    )


@pytest.mark.parametrize("zone", ZONES)
def test_a_printed_time_reads_back_as_the_same_instant(zone: str) -> None:
    for instant in INSTANTS:
        printed = _printed(instant, zone)
        when = parse_when(printed, now=A, default_zone=STO)
        assert when.instant == instant.replace(second=0, microsecond=0), printed


@pytest.mark.parametrize("zone", ZONES)
def test_a_time_written_with_its_year_reads_back(zone: str) -> None:
    for instant in INSTANTS:
        first = parse_when(f"{instant:%Y-%m-%dT%H:%MZ}", now=A, default_zone=zone)
        from_text = parse_when(written_with_year(first), now=A, default_zone=STO)
        assert from_text.instant == first.instant


# -- the digest's time of day (/desk subscribe) --------------------------------------------


@pytest.mark.parametrize(
    ("text", "clock", "zone"),
    [
        ("07:30 CET", "07:30", PAR),
        ("07:30 Stockholm", "07:30", STO),
        ("7:30am Europe/Stockholm", "07:30", STO),
        ("08:00 New York", "08:00", NY),
        ("8am EDT", "08:00", NY),
        ("noon", "12:00", None),
        ("17:45", "17:45", None),
        ("Asia/Shanghai", None, SHA),
        ("Beijing", None, SHA),
        ("", None, None),
    ],
)
def test_digest_time_of_day(text: str, clock: str | None, zone: str | None) -> None:
    assert parse_clock(text) == (clock, zone)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("07:30 CST", "CST could be"),
        ("07:30 IST", "IST could be"),
        ("Aug 12 07:30", "as a time of day"),
        ("25:00", "not a time of day"),
        ("tomorrow 08:00", "as a time of day"),
        ("07:30 Gotham/City", "Unknown time zone"),
    ],
)
def test_digest_time_of_day_refused(text: str, fragment: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_clock(text)
    assert fragment in str(caught.value)


# --- a time counted from now carries none of now's seconds --------------------------------

WITH_SECONDS = datetime(2025, 7, 29, 9, 2, 37, 512000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("in 3 days", timedelta(days=3)),
        ("in 90 minutes", timedelta(minutes=90)),
        ("in 2 hours", timedelta(hours=2)),
        ("in 1 week", timedelta(weeks=1)),
        ("3 days", timedelta(days=3)),
        ("in 1 day 12 hours", timedelta(days=1, hours=12)),
    ],
)
@pytest.mark.parametrize("desk_zone", [UTC_, NY, SHA, "Asia/Kolkata"])
def test_a_time_counted_from_now_is_on_the_next_whole_minute(
    text: str, asked: timedelta, desk_zone: str
) -> None:
    """Typed at 09:02:37.5, "in 3 days" was due at 09:02:37.5 three days on: the digest then
    read "22 hours 59 minutes" for a time shown as 09:02. On the minute before, it read "2
    days 23 hours left" in its own confirmation. Now: the next minute, never sooner."""
    when = parse_when(text, now=WITH_SECONDS, default_zone=desk_zone)
    assert (when.instant.second, when.instant.microsecond) == (0, 0), when
    assert WITH_SECONDS + asked <= when.instant < WITH_SECONDS + asked + timedelta(minutes=1)
    exact = datetime(2025, 7, 29, 9, 2, tzinfo=UTC)  # already on a minute: as asked
    assert parse_when(text, now=exact, default_zone=desk_zone).instant == exact + asked


@pytest.mark.parametrize(
    "text",
    ["tomorrow", "tomorrow 09:00", "next friday", "next friday 17:00", "friday", "noon",
     "Aug 12 noon", "Aug 12"],
)  # fmt: skip
def test_a_named_time_typed_at_an_odd_second_has_no_seconds(text: str) -> None:
    when = parse_when(text, now=WITH_SECONDS, default_zone=UTC_)
    assert (when.instant.second, when.instant.microsecond) == (0, 0), when


@pytest.mark.parametrize(
    ("text", "after"),
    [("in 3 seconds", timedelta(seconds=3)), ("in 1 minute 30 seconds", timedelta(seconds=90))],
)
def test_a_duration_typed_with_seconds_is_counted_exactly(text: str, after: timedelta) -> None:
    when = parse_when(text, now=WITH_SECONDS, default_zone=UTC_)
    assert when.instant == WITH_SECONDS + after


def test_seconds_typed_or_counted_from_a_base_are_kept() -> None:
    typed = parse_when("2025-08-12 00:01:30", now=WITH_SECONDS, default_zone=UTC_)
    assert typed.instant == datetime(2025, 8, 12, 0, 1, 30, tzinfo=UTC)
    base = datetime(2025, 8, 12, 4, 1, 15, tzinfo=UTC)
    extended = parse_when("+90d", now=WITH_SECONDS, default_zone=UTC_, base=base)
    assert extended.instant == base + timedelta(days=90)
