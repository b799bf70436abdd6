"""Every instant a service writes is held in UTC from the flush on, whatever offset the
caller gave: returned rows and audit snapshots show the stored instant (storage/types.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import StatementError

from storage import events, truces
from storage.access import Actor
from storage.db import Database
from storage.models import HandledRequest
from tests.support.record import NOW, Seeded, assert_utc, audit_trail

TOKYO = ZoneInfo("Asia/Tokyo")


async def test_add_truce_returns_and_audits_its_start_in_utc(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        truce = await truces.add_truce(
            s,
            actor=lead,
            now=NOW,
            title="Standstill",
            parties=["US", "EU"],
            expires_at=(NOW + timedelta(days=9)).astimezone(TOKYO),
            zone="UTC",
            starts_at=NOW.astimezone(TOKYO),
        )
    assert truce.starts_at == NOW
    assert_utc(truce.starts_at)
    entry = (await audit_trail(db))[-1]
    assert entry.after is not None
    for instant in (entry.after["truce"]["starts_at"], entry.after["expiry"]["due_at"]):
        assert datetime.fromisoformat(instant).utcoffset() == timedelta(0)


async def test_add_event_returns_and_audits_its_time_in_utc(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        view = await events.add_event(
            s,
            actor=lead,
            now=NOW,
            title="Talks end",
            occurred_at=NOW.astimezone(TOKYO),
            zone="Asia/Tokyo",
            kind="talks",
            confidence="official",
        )
    assert view.event.occurred_at == NOW
    assert_utc(view.event.occurred_at)
    entry = (await audit_trail(db))[-1]
    assert entry.after is not None
    assert datetime.fromisoformat(entry.after["occurred_at"]).utcoffset() == timedelta(0)


async def test_a_naive_instant_is_still_refused_at_the_flush(db: Database) -> None:
    async with db.session() as s:
        s.add(HandledRequest(request_id="Ev1", handled_at=NOW.replace(tzinfo=None)))
        with pytest.raises(StatementError, match="naive"):
            await s.flush()
