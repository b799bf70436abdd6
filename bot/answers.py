"""Read-only command answers (the `/truce` and `/deadline` listings), made once and shown to
everyone who would get the same bytes, until the record or the clock changes them.

    key = answer_key(ask, "/truce", reader_zone)
    payload = await runtime.answers.answer(key, now=now, make=lambda: make_listing(...))

The key holds everything such an answer depends on besides the clock: the record's version
(read before any read of the request), the command and track asked for, `public`, the role,
whether restricted items show, and the reader's zone. The clock is handled by the answer
itself: `make` says until when it holds (`fresh_until`, see `bot.timeleft.unchanged_until`).
Answers that change the record are never made here.

Concurrent askers of one missing key wait for the first one's answer instead of each
making it: at a minute's turn, fifty clients would otherwise all query the database.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.timeleft import unchanged_until
from storage.models import Role
from storage.version import Version

ANSWER_CACHE_SIZE = 512


@dataclass(frozen=True)
class AnswerKey:
    version: Version
    command: str
    track_id: int | None  # the track named, or None for every active one
    public: bool
    role: Role
    sees_restricted: bool
    reader_zone: str | None  # None in a `public` answer: its times are not one reader's


class Answer:
    """A payload made at `made_at`, showing countdowns to the instants in `changes`; until
    when it holds (`fresh_until`, exclusive) is worked out only if a cache asks: with the
    cache off (the benchmarks', PARLEY_ANSWER_CACHE=off) that was 5 % of `/deadline`."""

    def __init__(
        self,
        payload: dict[str, Any],
        *,
        made_at: datetime,
        changes: Iterable[datetime] = (),
        fresh_until: datetime | None = None,
    ) -> None:
        self.payload = payload
        self.made_at = made_at
        self._changes = changes
        self._fresh_until = fresh_until

    @property
    def fresh_until(self) -> datetime:
        if self._fresh_until is None:
            self._fresh_until = fresh_until(self.made_at, self._changes)
        return self._fresh_until

    def holds_at(self, now: datetime) -> bool:
        return self.made_at <= now < self.fresh_until


def fresh_until(now: datetime, dues: Iterable[datetime]) -> datetime:
    """Until when an answer showing countdowns to `dues`, made at `now`, reads the same."""
    now = now.astimezone(UTC)
    bound = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return min([bound, *(unchanged_until(due, now=now) for due in dues)])


class AnswerCache:
    def __init__(self, size: int = ANSWER_CACHE_SIZE) -> None:
        self._size = size
        self._answers: OrderedDict[AnswerKey, Answer] = OrderedDict()
        self._making: dict[AnswerKey, asyncio.Future[Answer | None]] = {}

    async def answer(
        self,
        key: AnswerKey | None,
        *,
        now: datetime,
        make: Callable[[], Awaitable[Answer]],
    ) -> dict[str, Any]:
        """The payload to ack with: a shallow copy, as Bolt's `ack` rewrites its keys."""
        if key is None:
            return (await make()).payload
        found = self._answers.get(key)
        if found is not None and found.holds_at(now):
            self._answers.move_to_end(key)
            return dict(found.payload)
        making = self._making.get(key)
        if making is not None:
            shared = await asyncio.shield(making)
            if shared is not None and shared.holds_at(now):
                return dict(shared.payload)
            return (await make()).payload  # theirs failed or is for another minute
        return dict((await self._make(key, make)).payload)

    async def _make(self, key: AnswerKey, make: Callable[[], Awaitable[Answer]]) -> Answer:
        making: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self._making[key] = making
        made: Answer | None = None
        try:
            made = await make()
        finally:
            del self._making[key]
            making.set_result(made)  # None tells the waiters to make their own
        self._answers[key] = made
        self._answers.move_to_end(key)
        if len(self._answers) > self._size:
            self._answers.popitem(last=False)
        return made
