"""Tracks: the negotiations the desk follows, addressed by their handle."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_lead
from storage.audit import commit_change
from storage.checks import choice, clean_text
from storage.direct import ReadSource, reading
from storage.errors import InvalidInput, NotFound
from storage.models import Track, TrackStatus


@cache
def _all_query() -> Any:
    return select(Track).order_by(col(Track.handle))


async def all_tracks(source: ReadSource) -> list[Track]:
    return list(await reading(source).all(_all_query()))


def find_track(tracks: list[Track], word: str) -> Track | None:
    return next((t for t in tracks if t.handle == word.lower()), None)


def active_tracks(tracks: list[Track]) -> list[Track]:
    return [t for t in tracks if t.status == TrackStatus.active]


async def resolve_tracks(session: AsyncSession, *, handle: str | None) -> list[Track]:
    """The named track, or every active one when no handle is given."""
    tracks = await all_tracks(session)
    if handle is None:
        return active_tracks(tracks)
    found = find_track(tracks, handle)
    if found is not None:
        return [found]
    known = ", ".join(t.handle for t in tracks) or "none yet"
    raise NotFound(f"No track called {handle!r}. Known tracks: {known}.")


async def is_track_handle(session: AsyncSession, word: str) -> bool:
    return find_track(await all_tracks(session), word) is not None


async def add_track(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    handle: str,
    name: str,
    parties: list[str],
    status: str = TrackStatus.active,
    seed_key: str | None = None,
) -> Track:
    await require_lead(session, actor)
    handle = clean_text(handle, field="handle", label="The handle", limit=40).lower()
    if not handle.replace("-", "").isalnum():
        raise InvalidInput("A track handle uses letters, digits and '-' only.", field="handle")
    if await is_track_handle(session, handle):
        raise InvalidInput(f"A track called {handle!r} exists already.", field="handle")
    track = Track(
        handle=handle,
        name=clean_text(name, field="name", label="The name", limit=150),
        parties=parties,
        status=choice(status, TrackStatus, field="status", label="Status"),
        seed_key=seed_key,
    )
    await commit_change(session, track, actor=actor, at=now, action="add", entity="track")
    return track
