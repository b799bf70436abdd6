"""The injected clock: every part of Parley asks a `Clock` for the time, never the OS.

`SystemClock` is the real one; `ShiftedClock` runs from a chosen instant (``--as-of``);
`ManualClock` only moves when told (tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, tz-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Runs at real speed from `start`: the desk's view as of that instant."""

    def __init__(self, start: datetime, *, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = start.astimezone(UTC) - self._base.now()

    def now(self) -> datetime:
        return self._base.now() + self._offset

    def advance(self, delta: timedelta) -> None:
        """Jumps ahead (the shell's `:wait`); it then runs on at real speed."""
        self._offset += delta


class ManualClock:
    """Stands still until `advance` or `set` moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)
