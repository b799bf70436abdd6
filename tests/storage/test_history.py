"""`storage.history.changes` pages the audit trail as a filter over all of it would: checked
against that filter on random trails (restricted items, tracks, desk-wide items, entries in
the same instant), for pages inside the first read, across it and past the end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlmodel import col, select

from storage.db import Database
from storage.history import RECORD, change_of, changes
from storage.models import AuditEntry, Visibility

START = datetime(2025, 7, 1, tzinfo=UTC)


def _entry(rng: random.Random, n: int) -> dict[str, Any]:
    item = {
        "id": n,
        "track_id": rng.choice([None, 1, 2, 3]),
        "visibility": Visibility.restricted if rng.random() < 0.3 else Visibility.team,
    }
    return {
        "at": START + timedelta(minutes=rng.randrange(0, 400)),  # many share an instant
        "actor": rng.choice(["U1", "U2", "seed", "parley"]),
        "action": "add",
        "entity": rng.choice([*RECORD, "role"]),
        "entity_id": str(n),
        "before": None,
        "after": item,
    }


@pytest.mark.parametrize("seed", [0, 1])
async def test_changes_page_the_trail_as_filtering_all_of_it_would(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    rows = [_entry(rng, n) for n in range(520)]  # over two reads of 200 past the first page
    async with db.session() as session:
        await session.exec(insert(AuditEntry), params=rows)  # type: ignore[call-overload]
        await session.commit()
        every = list(
            (await session.exec(_all_newest_first())).all()  # the whole trail, newest first
        )
        for include_restricted in (True, False):
            for track_ids in (None, [1], [2, 3]):
                expected = [
                    change_of(e)
                    for e in every
                    if e.entity in RECORD
                    and (include_restricted or not change_of(e).restricted)
                    and (
                        track_ids is None
                        or change_of(e).track_id is None
                        or change_of(e).track_id in track_ids
                    )
                ]
                for offset, limit in ((0, 20), (0, 1), (19, 20), (180, 30), (300, 200), (600, 5)):
                    page, more = await changes(
                        session,
                        include_restricted=include_restricted,
                        track_ids=track_ids,
                        offset=offset,
                        limit=limit,
                    )
                    want = expected[offset : offset + limit]
                    assert [c.entry.id for c in page] == [c.entry.id for c in want]
                    # Without `since`, the count only says whether there are more.
                    assert more == (1 if len(expected) > offset + limit else 0)
                since = START + timedelta(minutes=150)
                page, more = await changes(
                    session,
                    include_restricted=include_restricted,
                    track_ids=track_ids,
                    since=since,
                    limit=20,
                )
                after = [c for c in expected if c.entry.at > since]
                assert [c.entry.id for c in page] == [c.entry.id for c in after[:20]]
                assert more == max(0, len(after) - 20)  # with `since`, every one is counted


def _all_newest_first() -> Any:
    return select(AuditEntry).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())


@pytest.mark.parametrize(
    ("every_nth_restricted", "at_most"), [(7, 21 + 12), (3, 21 + 30), (2, 21 + 60)]
)
async def test_a_members_page_reads_little_more_than_it_shows(
    db: Database, every_nth_restricted: int, at_most: int
) -> None:
    """Entries a member may not see are skipped in Python: the next read asks for what is
    still wanted (twice over), not a batch of 200 snapshots."""
    rows = [
        {
            "at": START + timedelta(minutes=n),
            "actor": "U1",
            "action": "add",
            "entity": "event",
            "entity_id": str(n),
            "after": {
                "id": n,
                "track_id": None,
                "visibility": Visibility.restricted
                if n % every_nth_restricted == 0
                else Visibility.team,
            },
        }
        for n in range(500)
    ]
    loaded: list[int] = []

    def seen(entry: AuditEntry, _: object) -> None:
        loaded.append(entry.id or 0)

    async with db.session() as session:
        await session.exec(insert(AuditEntry), params=rows)  # type: ignore[call-overload]
        await session.commit()
        event.listen(AuditEntry, "load", seen)
        try:
            page, more = await changes(session, include_restricted=False, limit=20)
        finally:
            event.remove(AuditEntry, "load", seen)
    assert len(page) == 20 and more == 1
    assert not any(c.restricted for c in page)
    assert 21 < len(loaded) <= at_most
