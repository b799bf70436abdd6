"""Changes to the record, read back from the audit trail: what the digest's WHAT CHANGED and
`/desk history` show, each with the track it belongs to and whether it is restricted, so a
team channel never learns of a restricted item from its audit entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select

from storage.direct import ReadSource, reading
from storage.models import AuditEntry, Visibility
from storage.types import UTCDateTime

#: The entities that make up the record (roles, subscriptions and imports are the desk's
#: housekeeping, not news).
RECORD = ("event", "deadline", "truce", "round", "sensitivity", "track")
#: Everything `/desk history` shows: the record and the desk's housekeeping.
EVERYTHING = (*RECORD, "role", "subscription", "record", "source")
_BATCH = 200


@dataclass(frozen=True)
class Change:
    """One audit entry of the record, with what decides who may read it."""

    entry: AuditEntry
    track_id: int | None
    restricted: bool

    @property
    def snapshot(self) -> dict[str, Any]:
        """The item as the change left it (as it was, for a removal)."""
        return _item(self.entry.after) or _item(self.entry.before)

    @property
    def previous(self) -> dict[str, Any]:
        return _item(self.entry.before)


def _item(snapshot: dict[str, Any] | None) -> dict[str, Any]:
    """A truce's extension stores {"truce": …, "expiry": …}; everything else the row."""
    if not snapshot:
        return {}
    inner = snapshot.get("truce")
    return inner if isinstance(inner, dict) else snapshot


def change_of(entry: AuditEntry) -> Change:
    item = _item(entry.after) or _item(entry.before)
    expiry = (entry.after or {}).get("expiry") or {}
    restricted = Visibility.restricted in (item.get("visibility"), expiry.get("visibility"))
    track_id = item.get("track_id") if entry.entity != "track" else item.get("id")
    return Change(entry, track_id if isinstance(track_id, int) else None, restricted)


def _visible(change: Change, track_ids: Sequence[int] | None, include_restricted: bool) -> bool:
    if change.restricted and not include_restricted:
        return False
    return track_ids is None or change.track_id is None or change.track_id in track_ids


@cache
def _changes_query(without_actors: bool, since: bool, until: bool) -> Any:
    """The audit trail newest first, a batch (`start`, `size`) at a time: built once per
    shape, its values bound per call."""
    entities: Any = bindparam("entities", expanding=True)
    query = select(AuditEntry).where(col(AuditEntry.entity).in_(entities))
    if without_actors:
        actors: Any = bindparam("actors", expanding=True)
        query = query.where(col(AuditEntry.actor).not_in(actors))
    if since:
        query = query.where(col(AuditEntry.at) > bindparam("since", type_=UTCDateTime()))
    if until:
        query = query.where(col(AuditEntry.at) <= bindparam("until", type_=UTCDateTime()))
    query = query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return query.offset(bindparam("start")).limit(bindparam("size"))


async def changes(
    source: ReadSource,
    *,
    include_restricted: bool,
    track_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 20,
    without_actors: Sequence[str] = (),
    entities: Sequence[str] = RECORD,
) -> tuple[list[Change], int]:
    """The changes in scope, newest first: (`limit` of them after `offset`, how many more).

    With `since`, everything after it is counted; without, the count stops at one (there are
    older ones), so paging the whole trail never reads all of it.
    """
    query = _changes_query(bool(without_actors), since is not None, until is not None)
    params: dict[str, Any] = {"entities": list(entities), "actors": list(without_actors)}
    if since is not None:
        params["since"] = since
    if until is not None:
        params["until"] = until
    reads = reading(source)
    page: list[Change] = []
    skipped = more = 0
    start = 0
    # The page and one more, when every entry may be shown (the common case): a first page
    # of 20 reads 21 entries, not a batch of 200 with their snapshots.
    size = min(_BATCH, offset + limit + 1)
    while True:
        batch = await reads.all(query, {**params, "start": start, "size": size})
        for entry in batch:
            change = change_of(entry)
            if not _visible(change, track_ids, include_restricted):
                continue
            if skipped < offset:
                skipped += 1
            elif len(page) < limit:
                page.append(change)
            else:
                more += 1
                if since is None:
                    return page, more
        if len(batch) < size:
            return page, more
        start += size
        # The next batch: what is still wanted, twice over for the entries this reader may
        # not see (a member's page of 20 with three restricted ones reads 21, then 10).
        wanted = offset + limit + 1 - (skipped + len(page) + more)
        size = _BATCH if since is not None else min(_BATCH, max(2 * wanted, 10))
