"""The audit trail: one entry beside every change, committed with it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

import storage.deadlines
import storage.events
import storage.truces
from storage import audit, subscriptions
from storage.access import CLI, Actor
from storage.db import Database
from tests.support.record import (
    LEAD_WRITES,
    NOW,
    WRITES,
    Seeded,
    assert_utc,
    audit_trail,
    row_counts,
)


@pytest.mark.parametrize("write", list(WRITES))
async def test_every_write_service_records_exactly_one_audit_entry(
    db: Database, seeded: Seeded, lead: Actor, write: str
) -> None:
    call, (action, entity) = WRITES[write]
    actor = CLI if write == "grant_lead" else lead
    before = await audit_trail(db)
    async with db.session() as s:
        await call(s, actor, seeded)
    added = (await audit_trail(db))[len(before) :]
    assert len(added) == 1
    [entry] = added
    assert (entry.actor, entry.action, entry.entity) == (actor.id, action, entity)
    assert entry.entity_id not in ("", "None")
    assert entry.at == NOW
    assert_utc(entry.at)
    assert entry.after is not None
    if action in ("add", "grant") or write == "subscribe":  # a new row: nothing before
        assert entry.before is None
    else:
        assert entry.before is not None
        assert entry.before != entry.after


@pytest.mark.parametrize("write", LEAD_WRITES)
async def test_every_write_service_commits_exactly_once(
    db: Database, seeded: Seeded, lead: Actor, write: str
) -> None:
    call, _ = WRITES[write]
    commits: list[Any] = []

    def on_commit(connection: Any) -> None:
        commits.append(connection)

    event.listen(db.engine.sync_engine, "commit", on_commit)
    try:
        async with db.session() as s:
            await call(s, lead, seeded)
    finally:
        event.remove(db.engine.sync_engine, "commit", on_commit)
    assert len(commits) == 1


def _broken_record_change() -> Any:
    real = audit.record_change

    def record_change(session: Any, **kwargs: Any) -> Any:
        entry = real(session, **kwargs)
        entry.action = None  # type: ignore[assignment]  (NOT NULL: the insert fails)
        return entry

    return record_change


@pytest.mark.parametrize(
    ("module", "write"),
    [
        (storage.deadlines, "add_deadline"),
        (storage.deadlines, "update_deadline"),
        (storage.truces, "add_truce"),
        (storage.truces, "extend_truce"),
        (storage.events, "add_event"),
        (subscriptions, "subscribe"),
    ],
)
async def test_a_change_whose_audit_entry_fails_is_not_kept(
    db: Database,
    seeded: Seeded,
    lead: Actor,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    write: str,
) -> None:
    call, _ = WRITES[write]
    before = await row_counts(db)
    # every service writes its audit entry through storage.audit.commit_change
    monkeypatch.setattr(audit, "record_change", _broken_record_change())
    async with db.session() as s:
        with pytest.raises(IntegrityError):
            await call(s, lead, seeded)
    assert await row_counts(db) == before
    async with db.session() as s:
        expiry = await storage.deadlines.get_deadline(s, seeded.expiry)
        truce = await storage.truces.get_truce(s, seeded.truce)
    assert expiry.title == "US–China tariff truce (Geneva, 90 days) expires"
    assert truce.status == "active"


async def test_recent_entries_are_newest_first(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id="C1")
        await subscriptions.unsubscribe(s, actor=lead, now=NOW, channel_id="C1")
        entries = await audit.recent_entries(s, limit=2)
    assert [e.action for e in entries] == ["unsubscribe", "subscribe"]
