"""Reading the times and countdown offsets that people type into Slack.

Every typed time becomes a `When`: a UTC instant plus the IANA zone it was given in, so a
deadline can be shown both in its own zone and in the reader's (SPEC §2-§3).

Decisions (each pinned by a test in ``tests/bot/test_timeparse.py``):

* Zones are always IANA names. The abbreviations in `ABBREVIATIONS` stand for a *place*, not
  a fixed offset: ``Aug 12 00:01 EDT`` and ``Jan 12 00:01 EDT`` are both 00:01 New York wall
  time, in daylight time (04:01Z) and standard time (05:01Z) respectively. A desk that types
  "EDT" in January means New York, not a clock four hours behind UTC.
* Wall times are resolved with zoneinfo and ``fold=0``. A time in the spring-forward gap
  (02:30 on 2025-03-09 in New York) is read with the offset in force before the change, so
  it lands one hour later on the clock (03:30 EDT, 07:30Z). An ambiguous time in the
  fall-back hour (01:30 on 2025-11-02) is its first occurrence (01:30 EDT, 05:30Z).
* ``+Nd`` / ``N days`` / ``+Nw`` count calendar days in the zone (same wall time N days
  later, whatever DST does in between); hours, minutes and seconds are elapsed time, added
  after the days. ``+1d12h`` is "same time tomorrow, then 12 hours more".
* ``+90d`` and ``90 days`` count from `base` (the current expiry for ``/truce extend``);
  ``in 3 days``, ``tomorrow 09:00`` and every absolute form count from `now`.
* A year-less date is the next such date at or after `now` in its zone (dateparser's
  ``PREFER_DATES_FROM='future'``): with now = 2025-07-29, ``Aug 12`` is 2025-08-12 and
  ``Jul 1`` is 2026-07-01; a bare ``Jul 29`` (midnight, already passed) is 2026-07-29.
* An ISO time with a numeric offset keeps its instant; its zone is the one named in the text,
  else `default_zone` when that zone has the same offset at that instant, else UTC.
* Past times are not refused here: the caller knows whether a past time makes sense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import dateparser

__all__ = [
    "ABBREVIATIONS",
    "TimeParseError",
    "When",
    "format_offset",
    "is_valid_zone",
    "parse_offsets",
    "parse_when",
]

EXAMPLES = "2025-08-12 00:01 America/New_York, Aug 12 00:01 EDT, +90d or in 3 days"
EMPTY_TIME = f"No time given. Try {EXAMPLES}."
UNREADABLE_TIME = 'Could not read "{text}" as a time. Try {examples}.'
UNKNOWN_ZONE = (
    'Unknown time zone "{zone}" in "{text}". Use an IANA zone such as America/New_York or '
    "Europe/Stockholm, or one of EDT, PST, CET, UTC: e.g. 2025-08-12 00:01 Europe/Stockholm."
)
TWO_ZONES = (
    'Found two time zones in "{text}" ({first} and {second}). Give one, '
    "e.g. 2025-08-12 00:01 America/New_York."
)
OUT_OF_RANGE = 'The time "{text}" is out of range. Try {examples}.'
OFFSET_EXAMPLE = "30d,14d,7d,3d,1d,12h,1h,0 (units w, d, h, m, s)"
EMPTY_OFFSETS = f"No countdown offsets given. Use a comma list such as {OFFSET_EXAMPLE}."
BAD_OFFSET = 'Could not read "{item}" as a countdown offset. Use a comma list such as {example}.'
NEGATIVE_OFFSET = (
    'Countdown offsets count back from the deadline, so "{item}" cannot be negative. '
    "Use a comma list such as {example}."
)
NAIVE_DATETIME = "{name} must be timezone-aware (got {value!r})"
BAD_DEFAULT_ZONE = "{name} is not a known IANA time zone: {zone!r}"

#: Abbreviations people type, mapped to the place they mean (see the module docstring).
ABBREVIATIONS: dict[str, str] = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "UTC": "UTC",
    "GMT": "UTC",
    "Z": "UTC",
    "BST": "Europe/London",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "JST": "Asia/Tokyo",
    "HKT": "Asia/Hong_Kong",
    "SGT": "Asia/Singapore",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
}

_MAX_QUOTED = 60
_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_WORDS = {
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "d": "d", "day": "d", "days": "d",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
}  # fmt: skip
_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)\s*(?:,|and)?\s*")
_OFFSET = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SPACE = re.compile(r"(?<=[a-z])\s+|\s+(?=[a-z])")  # "1d 12h" -> "1d12h", not "1 2h"
_ISO_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\S*)?")
_IANA_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)+")


class TimeParseError(ValueError):
    """str(err) is a user-facing sentence: what was not understood, and an example that works."""


@dataclass(frozen=True)
class When:
    """A typed time: the instant it names and the zone it was given in (for display)."""

    instant: datetime  # tz-aware, in UTC
    zone: str  # IANA zone name the time was given in (or the default/base zone)


@dataclass(frozen=True)
class _Duration:
    """Calendar days (wall-clock arithmetic) and elapsed seconds, kept apart for DST."""

    days: int
    seconds: int


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


def _extract_zone(text: str) -> tuple[str, str | None]:
    """Pulls one zone word (IANA name or known abbreviation) out of the text."""
    kept: list[str] = []
    found: list[tuple[str, str]] = []  # (as typed, IANA)
    for token in text.split():
        zone = ABBREVIATIONS.get(token.upper())
        if zone is None and _IANA_LIKE.fullmatch(token):
            zone = _canonical_zone(token)
            if zone is None:
                raise TimeParseError(UNKNOWN_ZONE.format(zone=token, text=_quote(text)))
        if zone is None:
            kept.append(token)
        else:
            found.append((token, zone))
    if len(found) > 1:
        raise TimeParseError(
            TWO_ZONES.format(text=_quote(text), first=found[0][0], second=found[1][0])
        )
    return " ".join(kept), (found[0][1] if found else None)


def _parse_iso(text: str, zone: str, named: bool, default_zone: str) -> When | None:
    """ISO 8601 via the standard library: exact, and no guessing about field order."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if _ISO_LIKE.fullmatch(text):
            raise _unreadable(text) from None
        return None
    if parsed.tzinfo is None:
        return When(_localize(parsed, zone), zone)
    instant = parsed.astimezone(UTC)
    if named:
        return When(instant, zone)
    if instant.astimezone(ZoneInfo(default_zone)).utcoffset() == parsed.utcoffset():
        return When(instant, default_zone)
    return When(instant, "UTC")


def _parse_natural(text: str, zone: str, now: datetime) -> datetime | None:
    """dateparser for ``Aug 12 00:01``, ``tomorrow 09:00``, ``next friday 17:00``.

    It returns naive wall time in `zone` (any offset it finds in the text is converted to
    that zone), which zoneinfo then pins to an instant, so DST comes from zoneinfo alone.
    """
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
    if parsed is None:
        return None
    return _localize(parsed.replace(tzinfo=None), zone)


def parse_when(
    text: str,
    *,
    now: datetime,
    default_zone: str,
    base: datetime | None = None,
    base_zone: str | None = None,
) -> When:
    """Reads a typed time (see the module docstring for the forms and the DST rules)."""
    _require_aware("now", now)
    _require_zone("default_zone", default_zone)
    if base is not None:
        _require_aware("base", base)
    if base_zone is not None:
        _require_zone("base_zone", base_zone)
    stripped = " ".join(text.split())
    if not stripped:
        raise TimeParseError(EMPTY_TIME)
    try:
        return _parse_when(stripped, now, default_zone, base, base_zone)
    except OverflowError:
        raise TimeParseError(
            OUT_OF_RANGE.format(text=_quote(stripped), examples=EXAMPLES)
        ) from None


def _parse_when(
    text: str, now: datetime, default_zone: str, base: datetime | None, base_zone: str | None
) -> When:
    lowered = text.lower()
    if text.startswith("+"):
        duration = _parse_duration(text[1:].strip())
        if duration is None:
            raise _unreadable(text)
        zone = base_zone or default_zone
        return When(_shift(base or now, duration, zone), zone)
    if lowered.startswith("in "):
        duration = _parse_duration(text[3:].strip())
        if duration is not None:
            return When(_shift(now, duration, default_zone), default_zone)
    duration = _parse_duration(text)
    if duration is not None:
        zone = base_zone or default_zone
        return When(_shift(base or now, duration, zone), zone)

    rest, named_zone = _extract_zone(text)
    zone = named_zone or default_zone
    if not rest:
        raise _unreadable(text)
    iso = _parse_iso(rest, zone, named_zone is not None, default_zone)
    if iso is not None:
        return iso
    if rest.isdigit() or rest.startswith("-"):
        raise _unreadable(text)  # dateparser would read "5" as the 5th of some month
    instant = _parse_natural(rest, zone, now)
    if instant is None:
        raise _unreadable(text)
    return When(instant, zone)


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
