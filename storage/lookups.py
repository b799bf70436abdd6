"""What every slash command reads before anything else — the tracks, the asker's role, whether
the channel is restricted — memoised per record version, so a warm command reads nothing.

    version = db.version.current()             # once, before any read of the request
    known = await lookups.tracks(session, version)

Each value is kept under the version read *before* it was fetched: it is then at least as
new as that version, and the first commit after it moves the version past it. A None
version (changes cannot be seen) reads straight through. Write paths never use these: a
service call checks the role again at the write.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import bindparam, literal, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import tracks as track_store
from storage.access import Actor, role_of
from storage.direct import ReadSource, reading
from storage.models import Role, RoleGrant, Subscription, Track
from storage.subscriptions import get_subscription
from storage.version import Version

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MEMO_SIZE = 1024
MEMO_SECONDS = 60.0


class VersionedMemo(Generic[K, V]):
    """Values for one version of the record at a time, at most `size` of them (LRU), none
    older than `max_age` seconds: a bound even if a change were ever missed."""

    def __init__(self, size: int = MEMO_SIZE, max_age: float = MEMO_SECONDS) -> None:
        self._size = size
        self._max_age = max_age
        self._version: Version | None = None
        self._values: OrderedDict[K, tuple[V, float]] = OrderedDict()

    async def get(self, version: Version | None, key: K, read: Callable[[], Awaitable[V]]) -> V:
        if version is not None and version == self._version and key in self._values:
            value, read_at = self._values[key]
            if time.monotonic() - read_at < self._max_age:
                self._values.move_to_end(key)
                return value
        read_at = time.monotonic()
        value = await read()
        if version is not None:
            if version != self._version:
                self._values.clear()
                self._version = version
            self._values[key] = (value, read_at)
            self._values.move_to_end(key)
            if len(self._values) > self._size:
                self._values.popitem(last=False)
        return value


class RecordLookups:
    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._tracks: VersionedMemo[None, tuple[Track, ...]] = VersionedMemo(1)
        self._roles: VersionedMemo[str, Role] = VersionedMemo(size)
        self._restricted: VersionedMemo[str, bool] = VersionedMemo(size)

    async def tracks(self, session: AsyncSession, version: Version | None) -> list[Track]:
        """Every track, by handle. Shared between requests: callers only read them."""

        async def read() -> tuple[Track, ...]:
            found = await track_store.all_tracks(session)
            if version is None:
                return tuple(found)
            # Copies, out of any session: a rollback there cannot expire what others read.
            return tuple(Track(**track.model_dump()) for track in found)

        return list(await self._tracks.get(version, None, read))

    async def role(self, session: AsyncSession, version: Version | None, actor: Actor) -> Role:
        if actor.configured_admin:
            return Role.admin
        return await self._roles.get(version, actor.id, lambda: role_of(session, actor))

    async def restricted_channel(
        self, session: AsyncSession, version: Version | None, channel_id: str
    ) -> bool:
        async def read() -> bool:
            subscription = await get_subscription(session, channel_id)
            return bool(subscription and subscription.restricted)

        return await self._restricted.get(version, channel_id, read)


@cache
def _context_query() -> Any:
    """Built once (its values bound per call): building it costs more than SQLite's answer."""
    role = (
        select(RoleGrant.role)
        .where(col(RoleGrant.user_id) == bindparam("user_id"))
        .scalar_subquery()
    )
    restricted = (
        select(Subscription.restricted)
        .where(col(Subscription.channel_id) == bindparam("channel_id"))
        .scalar_subquery()
    )
    one = select(literal(1).label("one")).subquery()
    return (
        select(role.label("role"), restricted.label("restricted"), Track)
        .select_from(one)
        .outerjoin(Track, true())
        .order_by(col(Track.handle))
    )


async def command_context(
    source: ReadSource, actor: Actor, channel_id: str
) -> tuple[list[Track], Role, bool]:
    """The tracks, the asker's role and whether the channel is restricted, in one query
    (what `RecordLookups` memoises, read straight from the record)."""
    params = {"user_id": actor.id, "channel_id": channel_id}
    rows = await reading(source).all(_context_query(), params)
    granted, is_restricted = (rows[0][0], rows[0][1]) if rows else (None, None)
    found = [track for _, _, track in rows if track is not None]
    if actor.configured_admin:
        kind = Role.admin
    else:
        kind = Role(granted) if granted else Role.member
    return found, kind, bool(is_restricted and channel_id)
