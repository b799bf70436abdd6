"""Reading the times and countdown offsets that people type into Slack.

Every typed time becomes a `When`: a UTC instant plus the IANA zone it was given in, so a
deadline can be shown both in its own zone and in the reader's (SPEC §2-§3).

Decisions (each pinned by a test in ``tests/bot/test_timeparse.py`` and the table in
``tests/bot/test_typed_times.py``):

* Zones are IANA names, cities of IANA names (``Stockholm``, ``New York``) or the
  abbreviations of `bot.zones`. An abbreviation stands for a *place*, not a fixed offset:
  ``Aug 12 00:01 EDT`` and ``Jan 12 00:01 EDT`` are both 00:01 New York wall time. One that
  names several zones (``CST``, ``IST``, ``BST``) is refused with its candidates.
  ``UTC+8`` is a fixed offset; ``UTC+8 Shanghai`` (how Parley prints times) is Shanghai,
  checked against the offset, so whatever Parley prints it reads back.
* Dates are read by Parley's own small grammar (month names, ordinals, ISO dates,
  ``12/08/2025``, weekdays, ``today``/``tomorrow``, clock times, ``noon``, ``midnight``,
  ``5pm``), so a day and month keep their day whatever time words follow: ``Aug 12 noon``
  is 12 August at 12:00. Phrases outside it (``next friday 17:00``, ``the day after
  tomorrow``) go to dateparser, and its answer is refused if it contradicts a month and
  day the text names.
* A date typed without a year is the *nearest* such date (before or after now): with now
  = 29 Jul 2025, ``Aug 12`` is 2025-08-12, ``Jan 5`` is 2026-01-05 and ``Jul 29 08:00`` is
  this morning. `When.year_guessed` tells the caller, so a past one can be refused with a
  hint to write the year.
* A numeric date that reads two ways (``09/10/2025``) is refused with both readings unless
  a date order (``DMY`` or ``MDY``, setting ``PARLEY_DATE_ORDER``) is given; one that reads
  one way only (``25/08/2025``) is that date.
* A weekday is the next such day whose time is still ahead, today included. A time with
  no date is today's.
* Wall times are resolved with zoneinfo and ``fold=0``: a time in the spring-forward gap
  is read with the offset in force before the change (02:30 → 03:30 EDT); an ambiguous
  fall-back time is its first occurrence.
* ``+Nd`` / ``N days`` / ``+Nw`` count calendar days in the zone; hours, minutes and
  seconds are elapsed time, added after the days. ``+90d`` and ``90 days`` count from
  `base` (the current expiry for ``/truce extend``); with no base they, like ``in 3
  days``, count from `now`, up to the next whole minute (``+30s`` and ``in 30 seconds``
  are exact); dateparser's readings have no seconds unless typed.
* An ISO time with a numeric offset keeps its instant; its zone is the one named in the
  text, else `default_zone` when that zone has the same offset at that instant, else the
  offset's fixed zone (``-04:00`` → Etc/GMT+4, shown as UTC-4), else (half hours) UTC.
* Past times are not refused here: the caller knows whether a past time makes sense.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.zones import abbreviation_zone, ambiguity_message, city_zone

__all__ = [
    "DATE_ORDERS",
    "TimeParseError",
    "When",
    "day_month",
    "format_offset",
    "is_valid_zone",
    "parse_clock",
    "parse_offsets",
    "parse_when",
    "written_with_year",
]

DATE_ORDERS = ("DMY", "MDY")
EXAMPLES = "2025-08-12 00:01 America/New_York, Aug 12 00:01 EDT, +90d or in 3 days"
EMPTY_TIME = f"No time given. Try {EXAMPLES}."
UNREADABLE_TIME = 'Could not read "{text}" as a time. Try {examples}.'
UNKNOWN_ZONE = (
    'Unknown time zone "{zone}" in "{text}". Use an IANA zone such as America/New_York or '
    "Europe/Stockholm, a city such as Stockholm, or one of EDT, CET, JST, UTC: "
    "e.g. 2025-08-12 00:01 Europe/Stockholm."
)
TWO_ZONES = (
    'Found two time zones in "{text}" ({first} and {second}). Give one, '
    "e.g. 2025-08-12 00:01 America/New_York."
)
OFFSET_MISMATCH = (
    '"{text}": {offset} is not the offset of {zone} on that date. '
    "Give the zone or the offset alone, e.g. 2025-08-12 12:00 Asia/Shanghai."
)
ODD_OFFSET = (
    '"{text}": a bare offset must be whole hours (UTC+8). '
    "For {offset} name the zone, e.g. 2025-08-12 12:00 Asia/Kolkata."
)
TWO_WAY_DATE = (
    '"{typed}" could be {first} or {second}. Write the month as a word ({first_short} or '
    "{second_short}) or use ISO 8601 ({first_iso})."
)
NO_SUCH_DAY = '"{text}": {month} {year}has no day {day}. Try {examples}.'
WRONG_WEEKDAY = '"{text}": {day} {month} {year} is a {actual}, not a {typed}.'
BAD_CLOCK = (
    '"{text}": {clock} is not a time of day (00:00 to 23:59, or 12am to 11:59pm). Try {examples}.'
)
OUT_OF_RANGE = 'The time "{text}" is out of range. Try {examples}.'
CLOCK_EXAMPLES = "08:00, 7:30am, 08:00 Europe/Stockholm or 07:30 CET"
UNREADABLE_CLOCK = 'Could not read "{text}" as a time of day. Try {examples}.'
OFFSET_EXAMPLE = "30d,14d,7d,3d,1d,12h,1h,0 (units w, d, h, m, s)"
EMPTY_OFFSETS = f"No countdown offsets given. Use a comma list such as {OFFSET_EXAMPLE}."
BAD_OFFSET = 'Could not read "{item}" as a countdown offset. Use a comma list such as {example}.'
NEGATIVE_OFFSET = (
    'Countdown offsets count back from the deadline, so "{item}" cannot be negative. '
    "Use a comma list such as {example}."
)
NAIVE_DATETIME = "{name} must be timezone-aware (got {value!r})"
BAD_DEFAULT_ZONE = "{name} is not a known IANA time zone: {zone!r}"
BAD_DATE_ORDER = "date_order must be one of {orders} or None (got {value!r})"

_MAX_QUOTED = 60
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_WORDS = {
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "d": "d", "day": "d", "days": "d",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
}  # fmt: skip
_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3,
    "apr": 4, "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7,
    "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10,
    "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "weds": 2, "wednesday": 2, "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4, "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}  # fmt: skip
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_WORDS = {"today": 0, "tomorrow": 1}
_CLOCK_WORDS = {"noon": time(12), "midday": time(12), "midnight": time(0)}
_FILLERS = frozenset({"at", "on", "of", "the", "by"})
# Words that belong to a date or time, so they are never taken for a city.
_DATE_WORDS = (
    frozenset(_MONTHS)
    | frozenset(_WEEKDAYS)
    | frozenset(_DAY_WORDS)
    | frozenset(_CLOCK_WORDS)
    | _FILLERS
    | {"am", "pm", "next", "this", "in", "and"}
)

_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)\s*(?:,|and)?\s*")
_OFFSET = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SPACE = re.compile(r"(?<=[a-z])\s+|\s+(?=[a-z])")  # "1d 12h" -> "1d12h", not "1 2h"
_IANA_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)+")
_UTC_OFFSET = re.compile(r"(?:utc|gmt)([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
_TOKEN = re.compile(
    r"""
    (?P<iso>\d{4}-\d{1,2}-\d{1,2})(?![\d:])
  | (?P<numeric>\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?)(?![\d:])
  | (?P<clock>\d{1,2}(?::\d{2}){1,2}(?:\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?)(?![a-z])
  | (?P<ordinal>\d{1,2})(?:st|nd|rd|th)\b
  | (?P<number>\d+)
  | (?P<word>[a-z]+)\.?
  | (?P<comma>,)
    """,
    re.VERBOSE,
)
_TWELVE_OF_CLOCK = re.compile(r"\s*(?:noon|midnight)\b")
_MONTH_WORD = re.compile(r"\b(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b")


class TimeParseError(ValueError):
    """str(err) is a user-facing sentence: what was not understood, and an example that works."""


@dataclass(frozen=True)
class When:
    """A typed time: the instant it names and the zone it was given in (for display)."""

    instant: datetime  # tz-aware, in UTC
    zone: str  # IANA zone name the time was given in (or the default/base zone)
    #: True when the text named a day and month but no year (the nearest one was taken).
    year_guessed: bool = field(default=False, compare=False)
    #: True when a span was counted from now though a base was given (``in 90 days``):
    #: an extension says so, as ``+90d`` counts from the current expiry.
    from_now: bool = field(default=False, compare=False)
    #: True when dateparser read a span of words (``3 months``, ``next week``) from now
    #: though a base was given: an extension refuses it, as the lead meant the expiry.
    worded_span: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class _Duration:
    """Calendar days (wall-clock arithmetic) and elapsed seconds, kept apart for DST."""

    days: int
    seconds: int


@dataclass(frozen=True)
class _Zone:
    """The zone found in a text: an IANA name, and the fixed offset typed beside it if any."""

    name: str
    typed: str
    offset: timedelta | None = None


@dataclass
class _Parts:
    """What the date grammar found: each field at most once."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None
    days_ahead: int | None = None  # today / tomorrow
    clock: time | None = None
    two_way: tuple[int, int, int | None, str] | None = None  # a, b, year, as typed


def is_valid_zone(name: str) -> bool:
    """True for an IANA zone name zoneinfo knows (exact spelling), so callers can validate."""
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@lru_cache(maxsize=1)
def _zones_by_lower() -> dict[str, str]:
    """Lower-cased IANA names, so a typed ``europe/stockholm`` still finds its zone."""
    return {name.lower(): name for name in available_timezones()}


def _canonical_zone(name: str) -> str | None:
    if is_valid_zone(name):
        return name
    return _zones_by_lower().get(name.lower())


def _quote(text: str) -> str:
    """Keeps error messages short whatever was pasted into the command."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_QUOTED else flat[: _MAX_QUOTED - 1] + "…"


def _unreadable(text: str) -> TimeParseError:
    return TimeParseError(UNREADABLE_TIME.format(text=_quote(text), examples=EXAMPLES))


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(NAIVE_DATETIME.format(name=name, value=value))


def _require_zone(name: str, zone: str) -> ZoneInfo:
    if not is_valid_zone(zone):
        raise ValueError(BAD_DEFAULT_ZONE.format(name=name, zone=zone))
    return ZoneInfo(zone)


def _localize(wall: datetime, zone: str) -> datetime:
    """Naive wall time in `zone` -> UTC instant; fold=0 decides gaps and repeats."""
    return wall.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


def _parse_duration(text: str) -> _Duration | None:
    """``1d12h``, ``90 days``, ``1 day 12 hours``, ``2 weeks`` -> a duration; else None."""
    pos, days, seconds, seen = 0, 0, 0, False
    lowered = text.lower()
    while pos < len(lowered):
        match = _DURATION_PART.match(lowered, pos)
        if match is None or match.end() == pos:
            return None
        unit = _UNIT_WORDS.get(match.group(2))
        if unit is None:
            return None
        amount = int(match.group(1))
        if unit in ("w", "d"):
            days += amount * (7 if unit == "w" else 1)
        else:
            seconds += amount * _UNIT_SECONDS[unit]
        pos, seen = match.end(), True
    return _Duration(days, seconds) if seen else None


def _shift(start: datetime, duration: _Duration, zone: str) -> datetime:
    """Calendar days at the same wall time in `zone`, then elapsed seconds."""
    wall = start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    moved = _localize(wall + timedelta(days=duration.days), zone)
    return moved + timedelta(seconds=duration.seconds)


# ---- zones in the text -------------------------------------------------------------------


def _fixed_offset(match: re.Match[str]) -> timedelta:
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes > 59:
        raise ValueError("offset out of range")
    return sign * timedelta(hours=hours, minutes=minutes)


def _zone_of_token(token: str, text: str) -> _Zone | None:
    """One token as a zone: abbreviation, IANA name or ``UTC+8``; None if it is none."""
    message = ambiguity_message(token, _quote(text)) if token.isalpha() else None
    if message is not None:
        raise TimeParseError(message)
    zone = abbreviation_zone(token)
    if zone is not None:
        return _Zone(zone, token)
    offset_match = _UTC_OFFSET.fullmatch(token)
    if offset_match is not None:
        try:
            offset = _fixed_offset(offset_match)
        except ValueError:
            raise TimeParseError(UNKNOWN_ZONE.format(zone=token, text=_quote(text))) from None
        return _Zone("", token, offset)
    if _IANA_LIKE.fullmatch(token):
        canonical = _canonical_zone(token)
        if canonical is None:
            raise TimeParseError(UNKNOWN_ZONE.format(zone=token, text=_quote(text)))
        return _Zone(canonical, token)
    return None


def _city_at(tokens: list[str], start: int) -> tuple[str, int] | None:
    """The longest city name (up to three words) starting at `start`: (zone, words used)."""
    for size in (3, 2, 1):
        words = tokens[start : start + size]
        if len(words) < size or not all(w.replace("_", "").isalpha() for w in words):
            continue
        if size == 1 and words[0].lower() in _DATE_WORDS:
            continue
        zone = city_zone(" ".join(words))
        if zone is not None:
            return zone, size
    return None


def _extract_zone(text: str) -> tuple[str, _Zone | None]:
    """Pulls the zone (one name, or an offset with the city it belongs to) out of the text."""
    tokens = text.split()
    kept: list[str] = []
    found: list[_Zone] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        zone = _zone_of_token(token, text)
        used = 1
        if zone is None:
            city = _city_at(tokens, index)
            if city is not None:
                zone, used = _Zone(city[0], " ".join(tokens[index : index + city[1]])), city[1]
        if zone is None:
            kept.append(token)
        else:
            found.append(zone)
        index += used
    return " ".join(kept), _one_zone(text, found)


def _one_zone(text: str, found: list[_Zone]) -> _Zone | None:
    """One zone; ``UTC+8 Shanghai`` is one (the place, with the offset to check)."""
    if len(found) == 2:
        offsets = [z for z in found if not z.name]
        places = [z for z in found if z.name]
        if len(offsets) == 1 and len(places) == 1:
            return _Zone(places[0].name, f"{offsets[0].typed} {places[0].typed}", offsets[0].offset)
    if len(found) > 1:
        raise TimeParseError(
            TWO_ZONES.format(text=_quote(text), first=found[0].typed, second=found[1].typed)
        )
    if found and not found[0].name and found[0].offset is not None:
        return _Zone(_etc_zone(found[0].offset, found[0].typed, text), found[0].typed)
    return found[0] if found else None


def _etc_zone(offset: timedelta, typed: str, text: str) -> str:
    """A bare ``UTC+8`` as the IANA zone of that fixed offset (POSIX signs: Etc/GMT-8)."""
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest:
        raise TimeParseError(ODD_OFFSET.format(text=_quote(text), offset=typed))
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


def _settle_zone(zone: _Zone, wall: datetime, text: str) -> tuple[datetime, str]:
    """The instant of `wall` in the found zone, checking a typed offset against its place."""
    instant = _localize(wall, zone.name)
    if zone.offset is not None and instant.astimezone(ZoneInfo(zone.name)).utcoffset() != (
        zone.offset
    ):
        raise TimeParseError(
            OFFSET_MISMATCH.format(text=_quote(text), offset=zone.typed.split()[0], zone=zone.name)
        )
    return instant, zone.name


# ---- the date grammar --------------------------------------------------------------------


def _clock(raw: str, text: str) -> time:
    """``17:00``, ``0:01:30``, ``5pm``, ``5:30 p.m.``, ``12am`` -> a time of day."""
    squeezed = raw.replace(" ", "").replace(".", "").lower()
    meridiem = squeezed[-2:] if squeezed.endswith(("am", "pm")) else ""
    numbers = [int(n) for n in (squeezed[:-2] if meridiem else squeezed).split(":")]
    hour, minute, second = (numbers + [0, 0])[:3]
    bad = TimeParseError(BAD_CLOCK.format(text=_quote(text), clock=raw, examples=EXAMPLES))
    if meridiem:
        if not 1 <= hour <= 12:
            raise bad
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise bad
    return time(hour, minute, second)


def _set(parts: _Parts, name: str, value: object) -> bool:
    """Sets one field; False when the text gives it twice (not this grammar's to read)."""
    if getattr(parts, name) is not None:
        return False
    setattr(parts, name, value)
    return True


def _read_numeric(raw: str, parts: _Parts, date_order: str | None) -> bool:
    """``25/08/2025`` (one reading) or ``09/10/2025`` (two, unless a date order is set)."""
    pieces = re.split(r"[/.]", raw)
    a, b = int(pieces[0]), int(pieces[1])
    year = None
    if len(pieces) == 3:
        year = int(pieces[2]) + (2000 if len(pieces[2]) == 2 else 0)
    if a > 12 and b > 12:
        return False
    if a > 12 or (b <= 12 and date_order == "DMY"):
        day, month = a, b
    elif b > 12 or date_order == "MDY" or a == b:
        day, month = b, a
    else:
        return _set(parts, "two_way", (a, b, year, raw))
    return (
        _set(parts, "day", day)
        and _set(parts, "month", month)
        and (year is None or _set(parts, "year", year))
    )


def _read_parts(text: str, date_order: str | None) -> _Parts | None:
    """The grammar of module docstring; None when the text is not in it (dateparser's turn)."""
    parts = _Parts()
    lowered = text.lower()
    pos, after_at = 0, False
    while pos < len(lowered):
        if lowered[pos].isspace():
            pos += 1
            continue
        match = _TOKEN.match(lowered, pos)
        if match is None:
            return None
        pos = match.end()
        kind, raw = match.lastgroup, match.group(match.lastgroup or 0)
        ok = True
        if kind == "iso":
            year, month, day = (int(p) for p in raw.split("-"))
            ok = (
                _set(parts, "year", year)
                and _set(parts, "month", month)
                and _set(parts, "day", day)
            )
        elif kind == "numeric":
            ok = _read_numeric(raw, parts, date_order)
        elif kind == "clock":
            ok = _set(parts, "clock", _clock(raw, text))
        elif kind == "ordinal":
            ok = _set(parts, "day", int(raw))
        elif kind == "number":
            number = int(raw)
            if (
                raw == "12"
                and _TWELVE_OF_CLOCK.match(lowered, pos)
                and (parts.day is not None or not _MONTH_WORD.search(lowered))
            ):
                continue  # the "12" of "12 noon": the clock word that follows sets the time
            if after_at and number <= 23 and len(raw) <= 2:
                ok = _set(parts, "clock", time(number))
            elif len(raw) == 4:
                ok = _set(parts, "year", number)
            elif 1 <= number <= 31 and len(raw) <= 2:
                ok = _set(parts, "day", number)
            else:
                ok = False
        elif kind == "word":
            ok = _read_word(raw, parts)
        after_at = kind == "word" and raw == "at"
        if not ok:
            return None
    return parts


def _read_word(word: str, parts: _Parts) -> bool:
    if word in _MONTHS:
        return _set(parts, "month", _MONTHS[word])
    if word in _WEEKDAYS:
        return _set(parts, "weekday", _WEEKDAYS[word])
    if word in _DAY_WORDS:
        return _set(parts, "days_ahead", _DAY_WORDS[word])
    if word in _CLOCK_WORDS:
        return _set(parts, "clock", _CLOCK_WORDS[word])
    return word in _FILLERS


def _two_way_error(parts: _Parts, local_now: datetime) -> TimeParseError:
    a, b, year, typed = parts.two_way or (0, 0, None, "")
    shown = year if year is not None else local_now.year
    readings = [(a, b), (b, a)]  # (day, month): day-first, then month-first

    def long(day: int, month: int) -> str:
        return f"{day} {_MONTH_NAMES[month - 1]}" + (f" {year}" if year is not None else "")

    def short(day: int, month: int) -> str:
        return f"{day} {_MONTH_NAMES[month - 1][:3]}" + (f" {year}" if year is not None else "")

    return TimeParseError(
        TWO_WAY_DATE.format(
            typed=typed,
            first=long(*readings[0]),
            second=long(*readings[1]),
            first_short=short(*readings[0]),
            second_short=short(*readings[1]),
            first_iso=f"{shown:04d}-{readings[0][1]:02d}-{readings[0][0]:02d}",
        )
    )


def _nearest_year(month: int, day: int, clock: time, local_now: datetime) -> int | None:
    """The year whose (month, day, clock) lies nearest `local_now`; the later one on a tie."""
    best: tuple[timedelta, int] | None = None
    for year in (local_now.year - 1, local_now.year, local_now.year + 1):
        try:
            candidate = datetime.combine(date(year, month, day), clock)
        except ValueError:  # 29 February in a common year
            continue
        distance = abs(candidate - local_now)
        if best is None or distance <= best[0]:
            best = (distance, year)
    return best[1] if best else None


def _resolve(parts: _Parts, text: str, local_now: datetime) -> tuple[datetime, bool] | None:
    """The naive wall time the parts name (in the text's zone), and whether the year was guessed."""
    if parts.two_way is not None:
        raise _two_way_error(parts, local_now)
    clock = parts.clock or time(0)
    if parts.day is not None or parts.month is not None:
        if parts.day is None or parts.month is None or parts.days_ahead is not None:
            return None
        if not 1 <= parts.month <= 12:
            raise _unreadable(text)
        guessed = parts.year is None
        year = parts.year
        if year is None:
            year = _nearest_year(parts.month, parts.day, clock, local_now)
        try:
            wall = datetime.combine(date(year or local_now.year, parts.month, parts.day), clock)
        except ValueError:
            shown = f"{parts.year} " if parts.year is not None else ""
            raise TimeParseError(
                NO_SUCH_DAY.format(
                    text=_quote(text),
                    month=_MONTH_NAMES[parts.month - 1],
                    year=shown,
                    day=parts.day,
                    examples=EXAMPLES,
                )
            ) from None
        if parts.weekday is not None and wall.weekday() != parts.weekday:
            raise TimeParseError(
                WRONG_WEEKDAY.format(
                    text=_quote(text),
                    day=wall.day,
                    month=_MONTH_NAMES[wall.month - 1],
                    year=wall.year,
                    actual=_WEEKDAY_NAMES[wall.weekday()],
                    typed=_WEEKDAY_NAMES[parts.weekday],
                )
            )
        return wall, guessed
    if parts.year is not None:
        return None
    today = local_now.replace(tzinfo=None)
    if parts.weekday is not None:
        if parts.days_ahead is not None:
            return None
        ahead = (parts.weekday - today.weekday()) % 7
        wall = datetime.combine(today.date() + timedelta(days=ahead), clock)
        if wall <= today:
            wall += timedelta(days=7)
        return wall, False
    if parts.days_ahead is not None or parts.clock is not None:
        return datetime.combine(today.date() + timedelta(days=parts.days_ahead or 0), clock), False
    return None


def _from_now(now: datetime, duration: _Duration, zone: str) -> datetime:
    """`duration` after now, on the next whole minute unless seconds were typed ("in 30
    seconds"): typed at 09:02:37, "in 3 days" is due at 09:03 three days on. Never sooner
    than asked, so its confirmation reads "3 days left", and on a minute, so the time shown
    (09:03) is the time counted from ("passed 23 hours ago", not "22 hours 59 minutes")."""
    moved = _shift(now, duration, zone)
    if duration.seconds % 60 or moved == _to_the_minute(moved):
        return moved
    return _to_the_minute(moved) + timedelta(minutes=1)


def _to_the_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _parse_natural(text: str, zone: str, now: datetime) -> datetime | None:
    """dateparser for what the grammar does not cover (``next friday 17:00``).

    It returns naive wall time in `zone`, which zoneinfo then pins to an instant. Imported
    here, on the first time the grammar cannot read: most starts never need it.
    """
    import dateparser

    settings = {
        "TIMEZONE": zone,
        "RETURN_AS_TIMEZONE_AWARE": False,
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": now.astimezone(ZoneInfo(zone)).replace(tzinfo=None),
    }
    try:
        parsed: datetime | None = dateparser.parse(text, languages=["en"], settings=settings)
    except Exception:  # dateparser raises assorted errors on odd input; all mean "unreadable"
        return None
    if parsed is None or _contradicts(text, parsed):
        return None
    return parsed.replace(tzinfo=None)


def _contradicts(text: str, parsed: datetime) -> bool:
    """True when the text names a month or a day number that dateparser's answer lacks."""
    words = re.findall(r"[a-z]+|\d+", text.lower())
    months = {_MONTHS[w] for w in words if w in _MONTHS}
    if months and parsed.month not in months:
        return True
    days = {int(w) for w in words if w.isdigit() and len(w) <= 2}
    return bool(months) and bool(days) and parsed.day not in days


def _parse_iso(text: str, zone: _Zone | None, default_zone: str) -> When | None:
    """ISO 8601 via the standard library: exact, and no guessing about field order."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        wall_zone = zone or _Zone(default_zone, default_zone)
        instant, name = _settle_zone(wall_zone, parsed, text)
        return When(instant, name)
    instant = parsed.astimezone(UTC)
    if zone is not None and zone.offset is None:
        return When(instant, zone.name)
    if instant.astimezone(ZoneInfo(default_zone)).utcoffset() == parsed.utcoffset():
        return When(instant, default_zone)
    offset = parsed.utcoffset() or timedelta(0)
    if offset % timedelta(hours=1):  # +05:30: no fixed-offset zone has it; shown in UTC
        return When(instant, "UTC")
    return When(instant, _etc_zone(offset, "", text))  # keeps the typed offset: UTC-4


def parse_when(
    text: str,
    *,
    now: datetime,
    default_zone: str,
    base: datetime | None = None,
    base_zone: str | None = None,
    date_order: str | None = None,
) -> When:
    """Reads a typed time (see the module docstring for the forms and the DST rules)."""
    _require_aware("now", now)
    _require_zone("default_zone", default_zone)
    if base is not None:
        _require_aware("base", base)
    if base_zone is not None:
        _require_zone("base_zone", base_zone)
    if date_order is not None and date_order not in DATE_ORDERS:
        raise ValueError(BAD_DATE_ORDER.format(orders=DATE_ORDERS, value=date_order))
    stripped = " ".join(text.split())
    if not stripped:
        raise TimeParseError(EMPTY_TIME)
    try:
        return _parse_when(stripped, now, default_zone, base, base_zone, date_order)
    except OverflowError:
        raise TimeParseError(
            OUT_OF_RANGE.format(text=_quote(stripped), examples=EXAMPLES)
        ) from None


def _parse_when(
    text: str,
    now: datetime,
    default_zone: str,
    base: datetime | None,
    base_zone: str | None,
    date_order: str | None,
) -> When:
    lowered = text.lower()
    if text.startswith("+"):
        duration = _parse_duration(text[1:].strip())
        if duration is None:
            raise _unreadable(text)
        zone = base_zone or default_zone
        return When(_shift(base, duration, zone) if base else _from_now(now, duration, zone), zone)
    if lowered.startswith("in "):
        duration = _parse_duration(text[3:].strip())
        if duration is not None:
            zone = base_zone or default_zone  # a moved expiry keeps its own zone
            return When(_from_now(now, duration, zone), zone, from_now=base is not None)
    duration = _parse_duration(text)
    if duration is not None:
        zone = base_zone or default_zone
        return When(_shift(base, duration, zone) if base else _from_now(now, duration, zone), zone)

    rest, found = _extract_zone(text)
    if not rest:
        raise _unreadable(text)
    iso = _parse_iso(rest, found, default_zone)
    if iso is not None:
        return iso
    place = found or _Zone(default_zone, default_zone)
    local_now = now.astimezone(ZoneInfo(place.name)).replace(tzinfo=None)
    parts = _read_parts(rest, date_order)
    resolved = _resolve(parts, text, local_now) if parts is not None else None
    if resolved is None:
        if parts is not None and (parts.day is not None or parts.month is not None):
            raise _unreadable(text)  # a date the grammar read but could not complete
        if rest.isdigit() or rest.startswith("-"):
            raise _unreadable(text)  # dateparser would read "5" as the 5th of some month
        wall = _parse_natural(rest, place.name, now)
        if wall is None:
            raise _unreadable(text)
        if not re.search(r"\d:\d\d:\d\d", rest):  # no seconds typed: none taken from now
            wall = _to_the_minute(wall)
        resolved = wall, False
        spans = base is not None and _SPAN_WORDS.search(rest) is not None
    else:
        spans = False
    instant, name = _settle_zone(place, resolved[0], text)
    return When(instant, name, year_guessed=resolved[1], worded_span=spans)


#: Words of a span that dateparser counts from now ("3 months", "next year").
_SPAN_WORDS = re.compile(r"\b(day|week|fortnight|month|year)s?\b", re.IGNORECASE)


def day_month(when: When) -> str:
    """``29 Jul``: the day and month of `when` in its zone, as a person writes them."""
    local = when.instant.astimezone(ZoneInfo(when.zone))
    return f"{local.day} {_MONTH_NAMES[local.month - 1][:3]}"


def written_with_year(when: When, *, years: int = 0) -> str:
    """`when` (moved by whole `years`) written so that `parse_when` reads it back exactly."""
    local = when.instant.astimezone(ZoneInfo(when.zone))
    year = local.year + years
    if (local.month, local.day) == (2, 29):  # to the next year that has a 29 February
        while not calendar.isleap(year):
            year += 1
    return f"{local.day} {_MONTH_NAMES[local.month - 1][:3]} {year} {local:%H:%M} {when.zone}"


def parse_clock(text: str) -> tuple[str | None, str | None]:
    """A time of day and/or a zone for a digest: ``07:30 CET`` -> ("07:30", "Europe/Paris").

    The zone follows the rules of `parse_when` (abbreviations, IANA names, cities); either
    part may be missing, and both are None for an empty text.
    """
    stripped = " ".join(text.split())
    if not stripped:
        return None, None
    rest, found = _extract_zone(stripped)
    if found is not None and found.name.startswith("Etc/"):
        raise TimeParseError(
            UNREADABLE_CLOCK.format(text=_quote(stripped), examples=CLOCK_EXAMPLES)
        )
    if not rest:
        return None, found.name if found else None
    try:
        parts = _read_parts(rest, None)
    except TimeParseError as exc:  # told in the words of a time of day, not of a deadline
        raise TimeParseError(str(exc).replace(EXAMPLES, CLOCK_EXAMPLES)) from None
    only_clock = (
        parts is not None and parts.clock is not None and parts == _Parts(clock=parts.clock)
    )
    if parts is None or not only_clock or parts.clock is None:
        raise TimeParseError(
            UNREADABLE_CLOCK.format(text=_quote(stripped), examples=CLOCK_EXAMPLES)
        )
    return f"{parts.clock:%H:%M}", found.name if found else None


def parse_offsets(text: str) -> list[timedelta]:
    """``30d,14d,7d,3d,1d,12h,1h,0`` -> unique offsets, largest first (countdown order).

    Empty items between commas are skipped; spaces around units (``1d 12h``) are allowed.
    """
    offsets: set[timedelta] = set()
    for raw in text.split(","):
        item = _UNIT_SPACE.sub("", raw.strip().lower())
        if not item:
            continue
        if item.startswith("-"):
            raise TimeParseError(
                NEGATIVE_OFFSET.format(item=_quote(raw.strip()), example=OFFSET_EXAMPLE)
            )
        offsets.add(_parse_offset(item, raw.strip()))
    if not offsets:
        raise TimeParseError(EMPTY_OFFSETS)
    return sorted(offsets, reverse=True)


def _parse_offset(item: str, typed: str) -> timedelta:
    bad = TimeParseError(BAD_OFFSET.format(item=_quote(typed), example=OFFSET_EXAMPLE))
    if item.isdigit():
        if int(item) == 0:
            return timedelta(0)
        raise bad  # a bare number has no unit: 30 what?
    match = _OFFSET.fullmatch(item)
    if match is None or not any(match.groups()):
        raise bad
    seconds = sum(
        int(amount) * _UNIT_SECONDS[unit]
        for amount, unit in zip(match.groups(), "wdhms", strict=True)
        if amount is not None
    )
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise bad from None


def format_offset(delta: timedelta) -> str:
    """The inverse of one `parse_offsets` item: 30d, 12h, 1h30m, 0 (whole seconds)."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0"
    sign, total = ("-", -total) if total < 0 else ("", total)
    parts: list[str] = []
    for unit in "dhms":
        amount, total = divmod(total, _UNIT_SECONDS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + "".join(parts)
