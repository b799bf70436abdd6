"""How long until a deadline, and how to show a deadline's time (SPEC §3 countdowns).

Decisions (pinned by ``tests/bot/test_timeleft.py``):

* Days, hours and minutes are elapsed time (``due - now``), not wall-calendar differences:
  across a DST change "1 day" is always 24 real hours. Seconds are dropped (floored), so a
  countdown never claims more time than is left.
* Business days are the Monday-to-Friday local dates *strictly after* today's local date,
  up to and *including* the due date's local date, both taken in the given zone (the
  deadline's own). Due on Tuesday, asked on the Tuesday before: Wed, Thu, Fri, Mon, Tue = 5.
  Due later today: 0. Public holidays are not known and not skipped. A past deadline has 0.
* A countdown post states the time left *at its mark*, from its offset (``7 days left``,
  ``12 hours left``, ``1 day 12 hours left``), not the floor of the few seconds fewer left
  when it goes out. It states the real time left, and says "late", only when it is: a
  catch-up after downtime (planned late, SPEC §4), or a post held back (retries) past
  `mark_slack` of its mark or past the due time. Answers typed at any time keep the floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.zones import zone_label

__all__ = [
    "TICK_SLACK",
    "TimeLeft",
    "countdown_left",
    "describe_at_mark",
    "describe_time_left",
    "format_day",
    "format_local",
    "mark_name",
    "mark_slack",
    "on_its_mark",
    "slack_date",
    "time_left",
    "unchanged_until",
]

NAIVE_DATETIME = "{name} must be timezone-aware (got {value!r})"
DUE_NOW = "due now"
UNDER_A_MINUTE_LEFT = "under a minute left"
PASSED_JUST_NOW = "passed just now"
#: How late a scheduled post may go out and still be on time (a tick, a slow round).
TICK_SLACK = timedelta(seconds=60)
#: A held-back countdown keeps its mark for a tenth of its offset, at most this long.
MARK_SLACK_MAX = timedelta(hours=1)

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SLACK_DATE_FORMAT = "{date_short_pretty} {time}"


@dataclass(frozen=True)
class TimeLeft:
    """The gap between now and a due instant, split the way a countdown shows it."""

    total: timedelta  # due - now (negative when past)
    days: int  # whole days of abs(total)
    hours: int  # remaining whole hours (0-23)
    minutes: int  # remaining whole minutes (0-59)
    business_days: int  # see the module docstring
    past: bool


def _require_aware(name: str, value: datetime) -> None:
    """A naive datetime would silently mean the host's zone: refuse it instead."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(NAIVE_DATETIME.format(name=name, value=value))


def _weekdays_after(start: date, end: date) -> int:
    """Mon-Fri dates d with start < d <= end (0 when end <= start)."""
    if end <= start:
        return 0
    span = (end - start).days
    full_weeks, rest = divmod(span, 7)
    count = full_weeks * 5
    for step in range(1, rest + 1):
        if (start + timedelta(days=step)).weekday() < 5:
            count += 1
    return count


def time_left(due: datetime, *, now: datetime, zone: str) -> TimeLeft:
    """Elapsed-time countdown; business days counted on local dates in `zone`."""
    _require_aware("due", due)
    _require_aware("now", now)
    tz = ZoneInfo(zone)
    # In UTC: two datetimes sharing one ZoneInfo subtract as wall times, ignoring DST.
    total = due.astimezone(UTC) - now.astimezone(UTC)
    remaining = abs(total)
    hours, rest = divmod(remaining.seconds, 3600)
    past = total < timedelta(0)
    business = 0 if past else _weekdays_after(now.astimezone(tz).date(), due.astimezone(tz).date())
    return TimeLeft(
        total=total,
        days=remaining.days,
        hours=hours,
        minutes=rest // 60,
        business_days=business,
        past=past,
    )


def unchanged_until(due: datetime, *, now: datetime) -> datetime:
    """The first instant after `now` at which `describe_time_left` may read differently for
    `due` (an exclusive bound), so an answer made at `now` can be shown until then.

    Whole minutes of elapsed time are what the wording shows (seconds are floored away);
    business days change at a local midnight, which is a whole UTC minute, so the bound is
    never later than the next whole minute either.
    """
    _require_aware("due", due)
    _require_aware("now", now)
    now = now.astimezone(UTC)
    minute = timedelta(minutes=1)
    next_minute = now.replace(second=0, microsecond=0) + minute
    total = due.astimezone(UTC) - now
    whole = timedelta(seconds=(abs(total).days * 86400 + abs(total).seconds) // 60 * 60)
    if total > timedelta(0):
        # The floor stays until exactly `whole` is left; under a minute, until "due now".
        bound = due - whole + timedelta(microseconds=1) if whole else due
    elif total == timedelta(0):
        bound = now + timedelta(microseconds=1)
    else:
        bound = due + whole + minute  # "passed … ago" grows a minute at a time
    return min(bound.astimezone(UTC), next_minute)


def _plural(amount: int, unit: str) -> str:
    return f"{amount} {unit}" if amount == 1 else f"{amount} {unit}s"


def _span(left: TimeLeft) -> str:
    """``13 days 19 hours`` from a day up; ``5 hours 30 minutes`` below (whole units only)."""
    if left.days:
        parts = [_plural(left.days, "day")]
        if left.hours:
            parts.append(_plural(left.hours, "hour"))
        return " ".join(parts)
    parts = []
    if left.hours:
        parts.append(_plural(left.hours, "hour"))
    if left.minutes:
        parts.append(_plural(left.minutes, "minute"))
    return " ".join(parts)


def describe_time_left(left: TimeLeft) -> str:
    """One short phrase for countdowns and answers, saying "left" once and nesting nothing.

    ``13 days 19 hours left · 10 business days``, ``5 hours 30 minutes left``,
    ``passed 2 days 3 hours ago``, ``due now``.
    """
    if left.total == timedelta(0):
        return DUE_NOW
    span = _span(left)
    if left.past:
        return f"passed {span} ago" if span else PASSED_JUST_NOW
    if not span:
        return UNDER_A_MINUTE_LEFT
    if left.days:
        return f"{span} left · {_plural(left.business_days, 'business day')}"
    return f"{span} left"


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _exact_units(delta: timedelta) -> list[tuple[int, str]]:
    seconds = int(abs(delta).total_seconds())
    units = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            units.append((amount, unit))
    return units


def describe_at_mark(offset: timedelta, *, due: datetime, zone: str) -> str:
    """What a countdown says at its mark, `offset` before `due`: every unit of the offset
    (``7 days left · 5 business days``, ``1 day 12 hours left · 1 business day``,
    ``12 hours left``, ``1 hour 30 minutes left``); business days as counted at the mark."""
    _require_aware("due", due)
    if offset <= timedelta(0):
        return DUE_NOW
    span = " ".join(_plural(amount, unit) for amount, unit in _exact_units(offset))
    at_mark = time_left(due, now=due - offset, zone=zone)
    if at_mark.days:
        return f"{span} left · {_plural(at_mark.business_days, 'business day')}"
    return f"{span} left"


def mark_name(offset: timedelta) -> str:
    """``7-day``, ``12-hour``, ``1-day 12-hour``: the mark, as in "the 7-day countdown"."""
    return " ".join(f"{amount}-{unit}" for amount, unit in _exact_units(offset)) or "final"


def mark_slack(offset: timedelta) -> timedelta:
    """How long after its mark a countdown still reads as the mark: a tick, plus a tenth of
    its offset up to an hour (a retried 1-hour countdown keeps "1 hour left" for 7 minutes,
    "7 days left" holds for 61 minutes, "deadline reached" is on time for a minute)."""
    return TICK_SLACK + min(offset / 10, MARK_SLACK_MAX)


def on_its_mark(offset: timedelta, *, due: datetime, now: datetime) -> bool:
    """Whether a countdown going out at `now` may state its mark: within `mark_slack` of it,
    and (but for the final one) before the due time."""
    _require_aware("due", due)
    _require_aware("now", now)
    late_by = now.astimezone(UTC) - (due.astimezone(UTC) - offset)
    if offset > timedelta(0) and now >= due:
        return False
    return late_by <= mark_slack(offset)


def countdown_left(
    offset: timedelta, *, due: datetime, now: datetime, zone: str, late: bool
) -> str:
    """A countdown post's phrase. On its mark: `describe_at_mark`; at offset 0, nothing
    (the post says "deadline reached"). Late (`late`: a catch-up after downtime; or held back
    past its mark, see `on_its_mark`): ``late: 7-day countdown; 6 days 20 hours left · …``,
    the real time left, floored, as an answer shows it."""
    if not late and on_its_mark(offset, due=due, now=now):
        return describe_at_mark(offset, due=due, zone=zone) if offset else ""
    real = describe_time_left(time_left(due, now=now, zone=zone))
    if not offset:
        return f"late: {real}"
    return f"late: {mark_name(offset)} countdown; {real}"


#: Instants shown and remembered: each answer shows the same few again (a deadline's due
#: time in its zone and the reader's), at some 5 µs each, several times an answer.
SHOWN_INSTANTS = 4096


def format_local(instant: datetime, zone: str) -> str:
    """``Tue 12 Aug 2025 00:01 EDT``, ``Tue 12 Aug 2025 12:01 UTC+8 Shanghai``: fixed English
    names, so the host locale can't change it, and a zone named only as `bot.zones.zone_label`
    names it (never an abbreviation with several meanings, such as CST or IST)."""
    _require_aware("instant", instant)
    return _format_utc(instant.astimezone(UTC), zone)


@lru_cache(maxsize=SHOWN_INSTANTS)
def _format_utc(instant: datetime, zone: str) -> str:
    """Remembered by the instant in UTC: two datetimes of one zone an hour apart in a DST
    fold (01:30 EDT, 01:30 EST) are equal to Python, and would share a memo."""
    local = instant.astimezone(ZoneInfo(zone))
    return (
        f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} "
        f"{local.hour:02d}:{local.minute:02d} {zone_label(local, zone)}"  # strftime: 2x slower
    )


def format_day(instant: datetime, zone: str) -> str:
    """``Tue 29 Jul``: the local day of `instant`, for "since Tue 29 Jul"."""
    _require_aware("instant", instant)
    local = instant.astimezone(ZoneInfo(zone))
    return f"{_WEEKDAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"


def _escape_fallback(text: str) -> str:
    """Slack mrkdwn escaping, plus the token's own separators ('|' ends it, '^' splits it)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace("|", "/").replace("^", " ")
    return " ".join(escaped.split())  # no newline may end up inside the token


def slack_date(instant: datetime, fallback: str, *, label: str = "") -> str:
    """``<!date^…>`` token: Slack shows the instant in each reader's own zone (SPEC §1).

    `label` (``your time:``) is part of the token's format, so it is shown only where Slack
    did put the time in the reader's zone; a client that shows `fallback` instead never
    reads it under that label.
    """
    _require_aware("instant", instant)
    stamp = int(instant.astimezone(UTC).timestamp())
    shown = _SLACK_DATE_FORMAT
    if label.strip():
        shown = f"{_escape_fallback(label)} {shown}"
    return f"<!date^{stamp}^{shown}|{_escape_fallback(fallback)}>"
