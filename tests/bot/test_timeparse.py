"""Typed times and countdown offsets: every accepted form, DST in both directions, garbage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.timeparse import (
    EMPTY_OFFSETS,
    EMPTY_TIME,
    TimeParseError,
    When,
    format_offset,
    is_valid_zone,
    parse_offsets,
    parse_when,
)
from bot.zones import PLACES

NY = "America/New_York"
STOCKHOLM = "Europe/Stockholm"
# The founding case: the desk on 2025-07-29 (Tuesday) 09:00Z = 05:00 in New York.
NOW = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)
EXPIRY = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)  # 2025-08-12 00:01 America/New_York


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def when(text: str, default_zone: str = NY, **kwargs: object) -> When:
    return parse_when(text, now=NOW, default_zone=default_zone, **kwargs)  # type: ignore[arg-type]


# --- ISO 8601 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "default_zone", "instant", "zone"),
    [
        ("2025-08-12T04:01:00Z", NY, utc(2025, 8, 12, 4, 1), "UTC"),
        ("2025-08-12T04:01Z", STOCKHOLM, utc(2025, 8, 12, 4, 1), "UTC"),
        # The offset agrees with the desk's zone at that instant: keep the desk's zone.
        ("2025-08-12T00:01-04:00", NY, utc(2025, 8, 12, 4, 1), NY),
        # It does not (Stockholm is +02:00 in August): the offset's own fixed zone, shown
        # as UTC-4, so the deadline reads back as typed (not in UTC).
        ("2025-08-12T00:01-04:00", STOCKHOLM, utc(2025, 8, 12, 4, 1), "Etc/GMT+4"),
        ("2025-08-12T12:01+08:00", NY, utc(2025, 8, 12, 4, 1), "Etc/GMT-8"),
        ("2025-08-12T04:01+00:00", NY, utc(2025, 8, 12, 4, 1), "UTC"),
        # No fixed-offset zone has half hours: UTC, with the instant exact.
        ("2025-08-12T09:31+05:30", NY, utc(2025, 8, 12, 4, 1), "UTC"),
        ("2025-08-12 00:01", NY, utc(2025, 8, 12, 4, 1), NY),
        ("2025-08-12 00:01", STOCKHOLM, utc(2025, 8, 11, 22, 1), STOCKHOLM),
        ("2025-08-12 00:01", "UTC", utc(2025, 8, 12, 0, 1), "UTC"),
        ("2025-08-12", NY, utc(2025, 8, 12, 4, 0), NY),
        ("2026-01-12 00:01", NY, utc(2026, 1, 12, 5, 1), NY),
        ("  2025-08-12T00:01  ", NY, utc(2025, 8, 12, 4, 1), NY),
    ],
)
def test_iso_8601(text: str, default_zone: str, instant: datetime, zone: str) -> None:
    assert when(text, default_zone) == When(instant, zone)


def test_iso_result_is_utc_and_aware() -> None:
    result = when("2025-08-12 00:01")
    assert result.instant.tzinfo is UTC
    assert result.instant.utcoffset() == timedelta(0)


def test_iso_offset_with_named_zone_keeps_instant_and_takes_zone() -> None:
    assert when("2025-08-12T00:01-04:00 Europe/Stockholm", "UTC") == When(
        utc(2025, 8, 12, 4, 1), STOCKHOLM
    )


# --- <date time> <IANA zone> ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "instant", "zone"),
    [
        ("2025-08-12 00:01 America/New_York", utc(2025, 8, 12, 4, 1), NY),
        ("2025-08-12T00:01 America/New_York", utc(2025, 8, 12, 4, 1), NY),
        ("Aug 12 2025 00:01 Europe/Stockholm", utc(2025, 8, 11, 22, 1), STOCKHOLM),
        ("12 August 2025 00:01 Asia/Tokyo", utc(2025, 8, 11, 15, 1), "Asia/Tokyo"),
        ("2025-08-12 00:01 europe/stockholm", utc(2025, 8, 11, 22, 1), STOCKHOLM),
        ("Jan 12 2026 00:01 Europe/Stockholm", utc(2026, 1, 11, 23, 1), STOCKHOLM),
        ("2025-08-12 Europe/Stockholm", utc(2025, 8, 11, 22, 0), STOCKHOLM),
    ],
)
def test_date_time_with_iana_zone(text: str, instant: datetime, zone: str) -> None:
    # The default zone is UTC so that a zone silently ignored would show up.
    assert when(text, "UTC") == When(instant, zone)


# --- abbreviations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "instant", "zone"),
    [
        ("Aug 12 00:01 EDT", utc(2025, 8, 12, 4, 1), NY),
        ("Aug 12 00:01 edt", utc(2025, 8, 12, 4, 1), NY),
        ("Aug 12 2025 00:01 EDT", utc(2025, 8, 12, 4, 1), NY),
        ("2025-08-12 00:01 EDT", utc(2025, 8, 12, 4, 1), NY),
        ("Aug 12 00:01 EST", utc(2025, 8, 12, 4, 1), NY),  # EST in August is still New York
        ("Aug 12 00:01 MDT", utc(2025, 8, 12, 6, 1), "America/Denver"),
        ("Aug 12 at 00:01 PDT", utc(2025, 8, 12, 7, 1), "America/Los_Angeles"),
        ("Aug 12 00:01 UTC", utc(2025, 8, 12, 0, 1), "UTC"),
        ("Aug 12 00:01 GMT", utc(2025, 8, 12, 0, 1), "UTC"),
        ("2025-08-12 00:01 Z", utc(2025, 8, 12, 0, 1), "UTC"),
        ("Aug 12 00:01 CEST", utc(2025, 8, 11, 22, 1), "Europe/Paris"),
        ("Aug 12 00:01 JST", utc(2025, 8, 11, 15, 1), "Asia/Tokyo"),
        ("Aug 12 00:01 HKT", utc(2025, 8, 11, 16, 1), "Asia/Hong_Kong"),
        ("Aug 12 00:01 SGT", utc(2025, 8, 11, 16, 1), "Asia/Singapore"),
        ("Aug 12 00:01 AEST", utc(2025, 8, 11, 14, 1), "Australia/Sydney"),
    ],
)
def test_abbreviations_mean_places(text: str, instant: datetime, zone: str) -> None:
    assert when(text, STOCKHOLM) == When(instant, zone)


def test_abbreviation_table_points_at_real_zones() -> None:
    assert all(is_valid_zone(zone) for zone in PLACES.values())


def test_daylight_abbreviation_in_winter_is_still_new_york_wall_time() -> None:
    # Documented choice: "EDT" names New York; in January that is EST, 00:01 local = 05:01Z
    # (a fixed UTC-4 reading would give 04:01Z).
    assert when("Jan 12 2026 00:01 EDT", "UTC") == When(utc(2026, 1, 12, 5, 1), NY)
    assert when("Jan 12 2026 00:01 CEST", "UTC") == When(utc(2026, 1, 11, 23, 1), "Europe/Paris")


# --- year-less dates are the nearest such date ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("Aug 12 00:01 EDT", utc(2025, 8, 12, 4, 1)),  # later this year
        ("Jan 12 00:01 EDT", utc(2026, 1, 12, 5, 1)),  # 167 days ahead, 198 back: next year
        ("Jul 1 09:00", utc(2025, 7, 1, 13, 0)),  # four weeks ago, not eleven months ahead
        ("Jul 29 08:00", utc(2025, 7, 29, 12, 0)),  # later today (now is 05:00 in New York)
        ("Jul 29 04:00", utc(2025, 7, 29, 8, 0)),  # an hour ago: still today, the caller refuses
        ("12 Aug", utc(2025, 8, 12, 4, 0)),
    ],
)
def test_year_less_date_is_the_nearest_such_date(text: str, instant: datetime) -> None:
    assert when(text).instant == instant


def test_year_less_date_uses_now_in_the_named_zone() -> None:
    # 2025-12-31T23:30Z is already Jan 1 00:30 in Stockholm but still Dec 31 18:30 in New
    # York: each zone's own "today" decides which year a year-less date falls in.
    now = utc(2025, 12, 31, 23, 30)
    stockholm = parse_when("Jan 1 12:00 Europe/Stockholm", now=now, default_zone="UTC")
    assert stockholm.instant == utc(2026, 1, 1, 11, 0)
    assert parse_when("Dec 31 20:00 EST", now=now, default_zone="UTC").instant == utc(
        2026, 1, 1, 1, 0
    )
    # 23:30Z is 00:30 Jan 1 in Stockholm: a Stockholm "Jan 1 00:10" was 20 minutes ago.
    assert parse_when("Jan 1 00:10 CET", now=now, default_zone="UTC").instant == utc(
        2025, 12, 31, 23, 10
    )


# --- relative to base -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("+90d", utc(2025, 11, 10, 5, 1)),  # 90 calendar days: 00:01 EST on Nov 10
        ("+3h", utc(2025, 8, 12, 7, 1)),
        ("+2w", utc(2025, 8, 26, 4, 1)),
        ("+1d12h", utc(2025, 8, 13, 16, 1)),
        ("+ 1d 12h", utc(2025, 8, 13, 16, 1)),
        ("+30m", utc(2025, 8, 12, 4, 31)),
        ("+45s", utc(2025, 8, 12, 4, 1, 45)),
        ("90 days", utc(2025, 11, 10, 5, 1)),
        ("3 hours", utc(2025, 8, 12, 7, 1)),
        ("2 weeks", utc(2025, 8, 26, 4, 1)),
        ("1 day 12 hours", utc(2025, 8, 13, 16, 1)),
        ("90d", utc(2025, 11, 10, 5, 1)),
        ("+0d", utc(2025, 8, 12, 4, 1)),
    ],
)
def test_relative_to_base(text: str, instant: datetime) -> None:
    # /truce extend +90d: the caller passes the current expiry as base.
    assert when(text, "UTC", base=EXPIRY, base_zone=NY) == When(instant, NY)


def test_relative_without_base_counts_from_now_in_default_zone() -> None:
    assert when("+90d") == When(utc(2025, 10, 27, 9, 0), NY)
    assert when("3 hours") == When(utc(2025, 7, 29, 12, 0), NY)


def test_relative_with_base_but_no_base_zone_uses_default_zone() -> None:
    # Calendar days in Stockholm: 06:01 CEST Aug 12 + 90d = 06:01 CET Nov 10 = 05:01Z.
    assert when("+90d", STOCKHOLM, base=EXPIRY) == When(utc(2025, 11, 10, 5, 1), STOCKHOLM)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("in 3 days", utc(2025, 8, 1, 9, 0)),
        ("in 2 hours", utc(2025, 7, 29, 11, 0)),
        ("in 1 week", utc(2025, 8, 5, 9, 0)),
        ("In 90 Days", utc(2025, 10, 27, 10, 0)),  # 11:00 in Stockholm, CEST then CET
        ("in 1d12h", utc(2025, 7, 30, 21, 0)),
    ],
)
def test_in_counts_from_now_even_with_base(text: str, instant: datetime) -> None:
    """From now, in calendar days of the base's zone: a moved expiry keeps its zone."""
    assert when(text, base=EXPIRY, base_zone=STOCKHOLM) == When(instant, STOCKHOLM)
    assert when(text, base=EXPIRY, base_zone=STOCKHOLM).from_now


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("tomorrow 09:00", utc(2025, 7, 30, 13, 0)),  # 09:00 EDT on Wed 30 Jul
        ("next friday 17:00", utc(2025, 8, 1, 21, 0)),  # 17:00 EDT on Fri 1 Aug
        ("friday 17:00", utc(2025, 8, 1, 21, 0)),
    ],
)
def test_natural_language_counts_from_now_in_default_zone(text: str, instant: datetime) -> None:
    assert when(text, base=EXPIRY) == When(instant, NY)


def test_tomorrow_uses_the_local_date_not_the_utc_date() -> None:
    # 2025-07-30T02:00Z is still Jul 29 (22:00) in New York: tomorrow is Jul 30 there.
    result = parse_when("tomorrow 09:00", now=utc(2025, 7, 30, 2, 0), default_zone=NY)
    assert result == When(utc(2025, 7, 30, 13, 0), NY)


# --- DST: calendar days vs elapsed hours -----------------------------------------------------


@pytest.mark.parametrize(
    ("base", "zone", "text", "instant"),
    [
        # Spring forward, New York (2025-03-09): same wall time next day = 23 hours later.
        (local(NY, 2025, 3, 8, 12, 0), NY, "+1d", utc(2025, 3, 9, 16, 0)),
        (local(NY, 2025, 3, 8, 12, 0), NY, "+24h", utc(2025, 3, 9, 17, 0)),
        (local(NY, 2025, 3, 8, 12, 0), NY, "1 day", utc(2025, 3, 9, 16, 0)),
        # Fall back, New York (2025-11-02): same wall time next day = 25 hours later.
        (local(NY, 2025, 11, 1, 12, 0), NY, "+1d", utc(2025, 11, 2, 17, 0)),
        (local(NY, 2025, 11, 1, 12, 0), NY, "+24h", utc(2025, 11, 2, 16, 0)),
        (local(NY, 2025, 11, 1, 12, 0), NY, "+1w", utc(2025, 11, 8, 17, 0)),
        # Stockholm, spring (2025-03-30) and autumn (2025-10-26).
        (local(STOCKHOLM, 2025, 3, 29, 12, 0), STOCKHOLM, "+1d", utc(2025, 3, 30, 10, 0)),
        (local(STOCKHOLM, 2025, 3, 29, 12, 0), STOCKHOLM, "+24h", utc(2025, 3, 30, 11, 0)),
        (local(STOCKHOLM, 2025, 10, 25, 12, 0), STOCKHOLM, "+1d", utc(2025, 10, 26, 11, 0)),
        (local(STOCKHOLM, 2025, 10, 25, 12, 0), STOCKHOLM, "+24h", utc(2025, 10, 26, 10, 0)),
        # Days first (wall clock), then hours (elapsed).
        (local(NY, 2025, 3, 8, 12, 0), NY, "+1d1h", utc(2025, 3, 9, 17, 0)),
        # Landing in the spring-forward gap: 02:30 does not exist, fold=0 gives 03:30 EDT.
        (local(NY, 2025, 3, 8, 2, 30), NY, "+1d", utc(2025, 3, 9, 7, 30)),
        # Landing in the repeated hour: the first 01:30 (EDT).
        (local(NY, 2025, 11, 1, 1, 30), NY, "+1d", utc(2025, 11, 2, 5, 30)),
    ],
)
def test_dst_calendar_days_and_elapsed_hours(
    base: datetime, zone: str, text: str, instant: datetime
) -> None:
    assert when(text, "UTC", base=base, base_zone=zone) == When(instant, zone)


def test_in_days_across_dst_keeps_wall_time() -> None:
    now = utc(2025, 3, 8, 17, 0)  # 12:00 EST
    assert parse_when("in 1 day", now=now, default_zone=NY).instant == utc(2025, 3, 9, 16, 0)
    assert parse_when("in 24 hours", now=now, default_zone=NY).instant == utc(2025, 3, 9, 17, 0)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        # Gap (does not exist): the offset before the change applies -> 03:30 local.
        ("2025-03-09 02:30 America/New_York", utc(2025, 3, 9, 7, 30)),
        ("Mar 9 2025 02:30 EST", utc(2025, 3, 9, 7, 30)),
        ("2025-03-30 02:30 Europe/Stockholm", utc(2025, 3, 30, 1, 30)),
        # Repeated hour (ambiguous): the first occurrence, still on summer time.
        ("2025-11-02 01:30 America/New_York", utc(2025, 11, 2, 5, 30)),
        ("Nov 2 2025 01:30 EDT", utc(2025, 11, 2, 5, 30)),
        ("2025-10-26 02:30 Europe/Stockholm", utc(2025, 10, 26, 0, 30)),
    ],
)
def test_nonexistent_and_ambiguous_wall_times_are_deterministic(
    text: str, instant: datetime
) -> None:
    assert when(text, "UTC").instant == instant


# --- past times are parsed, not refused -------------------------------------------------------


def test_past_times_are_parsed() -> None:
    assert when("2025-05-12 00:01 America/New_York").instant == utc(2025, 5, 12, 4, 1)


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "soonish",
        "next blursday",
        "2025-13-45",
        "2025-08-12 25:00",
        "5",
        "+soon",
        "+90x",
        "-3d",
        "in a while",
        "EDT",
        "Aug 12 00:01 EDT!!! <!channel>",
    ],
)
def test_garbage_names_the_text_and_gives_an_example(text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        when(text)
    message = str(caught.value)
    assert f'"{text}"' in message
    assert "2025-08-12 00:01 America/New_York" in message
    assert "+90d" in message


def test_long_garbage_is_quoted_shortened() -> None:
    text = "blah " * 40
    with pytest.raises(TimeParseError) as caught:
        when(text)
    assert '"blah blah' in str(caught.value)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text(text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        when(text)
    assert str(caught.value) == EMPTY_TIME
    assert "in 3 days" in str(caught.value)


@pytest.mark.parametrize(
    "text", ["Mars/Olympus", "2025-08-12 00:01 Mars/Olympus", "Aug 12 00:01 America/Gotham"]
)
def test_unknown_zone_says_so(text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        when(text)
    message = str(caught.value)
    assert message.startswith("Unknown time zone")
    assert text.split()[-1] in message
    assert "America/New_York" in message


def test_two_zones_are_refused() -> None:
    with pytest.raises(TimeParseError, match="EDT and Europe/Stockholm"):
        when("2025-08-12 00:01 EDT Europe/Stockholm")


def test_out_of_range_is_a_parse_error() -> None:
    with pytest.raises(TimeParseError, match="out of range"):
        when("+99999999999d")


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(TimeParseError, ValueError)


def test_naive_now_or_base_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware") as caught:
        parse_when("+1d", now=datetime(2025, 7, 29, 9), default_zone=NY)
    assert not isinstance(caught.value, TimeParseError)
    with pytest.raises(ValueError, match="base must be timezone-aware"):
        parse_when("+1d", now=NOW, default_zone=NY, base=datetime(2025, 8, 12))


def test_bad_default_zone_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="default_zone") as caught:
        parse_when("+1d", now=NOW, default_zone="Mars/Olympus")
    assert not isinstance(caught.value, TimeParseError)


# --- is_valid_zone ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [NY, STOCKHOLM, "UTC", "Asia/Tokyo", "Etc/GMT+5"])
def test_valid_zones(name: str) -> None:
    assert is_valid_zone(name)


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", " America/New_York", "EDT", "../etc/passwd", "/etc/passwd"]
)
def test_invalid_zones(name: str) -> None:
    assert not is_valid_zone(name)


# --- countdown offsets -------------------------------------------------------------------


def test_default_offsets() -> None:
    assert parse_offsets("30d,14d,7d,3d,1d,12h,1h,0") == [
        timedelta(days=30),
        timedelta(days=14),
        timedelta(days=7),
        timedelta(days=3),
        timedelta(days=1),
        timedelta(hours=12),
        timedelta(hours=1),
        timedelta(0),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h,30d,1h,0,60m", [timedelta(days=30), timedelta(hours=1), timedelta(0)]),
        ("2w", [timedelta(days=14)]),
        (" 1h30m , 90s ,, ", [timedelta(minutes=90), timedelta(seconds=90)]),
        ("1d 12h", [timedelta(hours=36)]),
        ("12H,0S", [timedelta(hours=12), timedelta(0)]),
        ("0", [timedelta(0)]),
        ("1w1d1h1m1s", [timedelta(days=8, hours=1, minutes=1, seconds=1)]),
    ],
)
def test_offsets_sorted_descending_and_unique(text: str, expected: list[timedelta]) -> None:
    assert parse_offsets(text) == expected


@pytest.mark.parametrize(
    "text", ["30", "abc", "1x", "1d-", "d", "1.5h", "1m1h", "30d,soon", "1 2h"]
)
def test_bad_offsets(text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_offsets(text)
    message = str(caught.value)
    assert "30d,14d,7d,3d,1d,12h,1h,0" in message
    assert message.startswith("Could not read")


def test_bad_offset_message_names_the_item() -> None:
    with pytest.raises(TimeParseError, match='"soon"'):
        parse_offsets("30d, soon ,1h")


@pytest.mark.parametrize("text", ["-1d", "30d,-1h"])
def test_negative_offsets(text: str) -> None:
    with pytest.raises(TimeParseError, match="cannot be negative"):
        parse_offsets(text)


@pytest.mark.parametrize("text", ["", " ", ",", " , ,"])
def test_empty_offsets(text: str) -> None:
    with pytest.raises(TimeParseError) as caught:
        parse_offsets(text)
    assert str(caught.value) == EMPTY_OFFSETS


def test_huge_offset_is_refused() -> None:
    with pytest.raises(TimeParseError):
        parse_offsets("99999999999d")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=30), "30d"),
        (timedelta(hours=12), "12h"),
        (timedelta(0), "0"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(days=14), "14d"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=45, microseconds=500), "45s"),
        (timedelta(hours=-1), "-1h"),
    ],
)
def test_format_offset(delta: timedelta, text: str) -> None:
    assert format_offset(delta) == text


def test_format_offset_round_trips() -> None:
    offsets = parse_offsets("30d,14d,7d,3d,1d,12h,1h,1h30m,1d2h3m4s,0")
    assert parse_offsets(",".join(format_offset(o) for o in offsets)) == offsets


@pytest.mark.parametrize(
    ("plus", "words"),
    [
        ("+2h", "in 2 hours"),
        ("+90m", "in 90 minutes"),
        ("+1w", "in 1 week"),
        ("+1d12h", "in 1 day 12 hours"),
        ("+3d", "in 3 days"),
        ("+45m", "45 minutes"),
        ("+30s", "in 30 seconds"),
        ("+2m30s", "in 2 minutes 30 seconds"),
    ],
)
@pytest.mark.parametrize("second", [0, 1, 37, 59])
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_a_plus_offset_from_now_reads_as_its_words(
    plus: str, words: str, second: int, zone: str
) -> None:
    """`+2h` typed at 09:00:37 is due when `in 2 hours` is: the next whole minute, never
    sooner than asked (the time shown is the time counted from), unless seconds were typed."""
    now = datetime(2025, 7, 29, 9, 0, second, 161622, tzinfo=UTC)
    offset = parse_when(plus, now=now, default_zone=zone)
    spoken = parse_when(words, now=now, default_zone=zone)
    assert offset == spoken
    asked = spoken.instant - now
    if "s" in plus:
        assert asked == _typed(plus)  # seconds typed: exact
    else:
        assert offset.instant.second == 0 and offset.instant.microsecond == 0
        assert timedelta(0) <= asked - _typed(plus) < timedelta(minutes=1)


def _typed(plus: str) -> timedelta:
    units = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
    units |= {"m": timedelta(minutes=1), "s": timedelta(seconds=1)}
    total, number = timedelta(0), ""
    for char in plus[1:]:
        if char.isdigit():
            number += char
        else:
            total, number = total + int(number) * units[char], ""
    return total


def test_a_plus_offset_from_a_base_is_exact() -> None:
    """`/truce extend +90d` counts from the current expiry, itself on a minute: exact."""
    base = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)
    now = datetime(2025, 8, 11, 9, 0, 37, tzinfo=UTC)
    extended = parse_when(
        "+90d", now=now, default_zone="UTC", base=base, base_zone="America/New_York"
    )
    assert extended.instant == datetime(2025, 11, 10, 5, 1, tzinfo=UTC)  # 00:01 EST
