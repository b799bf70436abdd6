"""Export and import: the whole record moves between databases unchanged, or not at all."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from storage import deadlines, sources, subscriptions, truces
from storage.access import CLI, Actor
from storage.backup import checksum, export_record, import_record
from storage.db import Database
from storage.errors import InvalidInput, NotPermitted
from storage.models import Delivery, FeedItem, HandledRequest
from storage.search import search_record
from tests.support.databases import drop_pg_database, make_database_url, seed
from tests.support.record import NOW, Seeded, assert_utc, audit_trail, load_ids, row_counts, utc

LATER = NOW + timedelta(hours=1)


async def _export(db: Database) -> dict[str, Any]:
    async with db.session() as s:
        return await export_record(s, now=LATER)


async def _import(db: Database, raw: str, *, replace: bool = False) -> dict[str, int]:
    async with db.session() as s:
        return await import_record(s, actor=CLI, now=LATER, raw=raw, replace=replace)


async def _full_record(db: Database) -> None:
    """The seed plus a row in every table the seed leaves empty."""
    await seed(db)
    ids = await load_ids(db)
    async with db.session() as s:
        await truces.extend_truce(
            s, actor=CLI, now=NOW, truce_id=ids.truce, new_expiry=utc(2025, 11, 10, 5, 1)
        )
        await subscriptions.subscribe(
            s, actor=CLI, now=NOW, channel_id="CDESK", tracks=["us-china"], weekdays_only=True
        )
        from storage.roles import grant_lead

        await grant_lead(s, actor=CLI, now=NOW, user_id="ULEAD")
        s.add(
            Delivery(
                key="countdown:1:2025-08-12T04:01:00Z:7d:CDESK",
                kind="countdown",
                channel_id="CDESK",
                due_at=utc(2025, 8, 5, 4, 1),
                status="sent",
                attempts=1,
                payload={"text": "7 days left", "blocks": []},
                created_at=NOW,
                sent_at=NOW + timedelta(seconds=3),
                ts="1753779600.1",
            )
        )
        s.add(HandledRequest(request_id="Ev01", handled_at=NOW))
        await s.commit()
        wire = await sources.add_source(
            s,
            actor=CLI,
            now=NOW,
            url="https://wire.example.com/rss",
            name="Wire",
            tracks=["us-china"],
        )
        paper = await sources.add_source(
            s,
            actor=CLI,
            now=NOW,
            url="https://paper.example.com/rss",
            name="Paper",
        )
        first = FeedItem(
            source_id=wire.id,
            key="urn:1",
            title="Taiwan transit postponed",
            link="https://wire.example.com/1",
            published_at=NOW,
            fetched_at=NOW,
            state="added",
            matched=["taiwan"],
            mentioned=[],
            event_id=1,
            decided_by="ULEAD",
            decided_at=NOW,
        )
        s.add(first)
        await s.flush()
        s.add(
            FeedItem(
                source_id=paper.id,
                key="https://paper.example.com/9",
                title="Taiwan: transit postponed",
                fetched_at=NOW,
                matched=["taiwan"],
                mentioned=[],
                same_as_id=first.id,
            )
        )
        await s.commit()


async def test_export_then_import_sqlite_to_postgres_to_sqlite_keeps_every_row(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    source = Database(await make_database_url("sqlite", tmp_path / "a"))
    pg_url = await make_database_url("postgres", tmp_path)
    middle = Database(pg_url)
    back = Database(await make_database_url("sqlite", tmp_path / "b"))
    try:
        for database in (source, middle, back):
            await database.upgrade()
        await _full_record(source)
        original = await _export(source)
        assert all(original["tables"][name] for name in original["tables"])

        await _import(middle, json.dumps(original))
        in_postgres = await _export(middle)
        _assert_same_plus_one_import(original["tables"], in_postgres["tables"], imports=1)

        await _import(back, json.dumps(in_postgres))
        in_sqlite = await _export(back)
        _assert_same_plus_one_import(in_postgres["tables"], in_sqlite["tables"], imports=2)

        for database in (middle, back):
            ids = await load_ids(database)
            async with database.session() as s:
                expiry = await deadlines.get_deadline(s, ids.expiry)
                assert_utc(expiry.due_at)
                assert expiry.due_at == utc(2025, 11, 10, 5, 1)
                added = await deadlines.add_deadline(
                    s,
                    actor=CLI,
                    now=LATER,
                    title="After the move",
                    due_at=LATER + timedelta(days=1),
                    zone="UTC",
                )
            assert added.id == max(r["id"] for r in original["tables"]["deadline"]) + 1
    finally:
        for database in (source, middle, back):
            await database.dispose()
        await drop_pg_database(pg_url)


def _assert_same_plus_one_import(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]], *, imports: int
) -> None:
    assert set(after) == set(before)
    for name, rows in before.items():
        if name == "audit_entry":
            continue
        assert after[name] == rows, name
    assert after["audit_entry"][:-1] == before["audit_entry"]
    added = after["audit_entry"][-1]
    assert (added["actor"], added["action"], added["entity"]) == ("cli", "import", "record")
    assert sum(1 for e in after["audit_entry"] if e["action"] == "import") == imports


async def test_import_adds_exactly_one_audit_entry_by_cli(db: Database, tmp_path: Path) -> None:
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        await other.upgrade()
        await seed(other)
        document = await _export(other)
    finally:
        await other.dispose()
    counts = await _import(db, json.dumps(document))
    trail = await audit_trail(db)
    assert len(trail) == len(document["tables"]["audit_entry"]) + 1
    assert (trail[-1].actor, trail[-1].action) == ("cli", "import")
    assert trail[-1].after == {"rows": counts}
    assert counts["event"] == 12


async def test_an_imported_record_is_searchable_and_the_replaced_one_is_not(
    db: Database, seeded: Seeded, tmp_path: Path
) -> None:
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        await other.upgrade()
        async with other.session() as s:
            await deadlines.add_deadline(
                s, actor=CLI, now=NOW, title="Wombat quota review",
                due_at=NOW + timedelta(days=2), zone="UTC",
            )  # fmt: skip
        document = await _export(other)
    finally:
        await other.dispose()
    assert await _found(db, "rare earths")  # the seeded record, before
    await _import(db, json.dumps(document), replace=True)
    assert await _found(db, "wombat") == ["Wombat quota review"]
    assert await _found(db, "rare earths") == []


async def _found(db: Database, typed: str) -> list[str]:
    async with db.session() as s:
        _, hits = await search_record(s, typed=typed, include_restricted=True)
    return [h.title for h in hits]


async def test_import_into_a_non_empty_record_is_refused_without_replace(
    db: Database, seeded: Seeded
) -> None:
    document = await _export(db)
    before = await row_counts(db)
    with pytest.raises(InvalidInput, match="not empty"):
        await _import(db, json.dumps(document))
    assert await row_counts(db) == before


async def test_import_with_replace_replaces_the_record(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    document = await _export(db)
    async with db.session() as s:
        await deadlines.add_deadline(
            s, actor=lead, now=NOW, title="Added after the export", due_at=LATER, zone="UTC"
        )
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id="CLATE")
    await _import(db, json.dumps(document), replace=True)
    after = await _export(db)
    for name, rows in document["tables"].items():
        if name != "audit_entry":
            assert after["tables"][name] == rows, name
    assert after["tables"]["audit_entry"][:-1] == document["tables"]["audit_entry"]
    assert after["tables"]["audit_entry"][-1]["action"] == "import"


def _resealed(document: dict[str, Any]) -> str:
    document["sha256"] = checksum(document["tables"])
    return json.dumps(document)


def _bad_documents(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    raw = json.dumps(document)
    edited = json.loads(raw)
    edited["tables"]["truce_term"][0]["rate"] = "3%"
    wrong_format = json.loads(raw)
    wrong_format["format"] = "other-tool-export"
    bad_time = json.loads(raw)
    bad_time["tables"]["deadline"][0]["due_at"] = "12 August, probably"
    bad_int = json.loads(raw)
    bad_int["tables"]["truce_term"][0]["position"] = "first"
    missing = json.loads(raw)
    del missing["tables"]["track"][0]["handle"]
    return {
        "truncated": (raw[: len(raw) // 2], "truncated"),
        "edited": (json.dumps(edited), "checksum does not match"),
        "wrong format": (json.dumps(wrong_format), "not a Parley export"),
        "bad datetime": (_resealed(bad_time), "table 'deadline', row 1: due_at"),
        "bad integer": (_resealed(bad_int), "table 'truce_term', row 1: position"),
        "missing column": (_resealed(missing), "table 'track', row 1: handle"),
    }


@pytest.mark.parametrize(
    "case",
    ["truncated", "edited", "wrong format", "bad datetime", "bad integer", "missing column"],
)
async def test_a_damaged_export_is_refused_naming_the_reason_and_nothing_changes(
    db: Database, seeded: Seeded, case: str
) -> None:
    document = await _export(db)
    raw, reason = _bad_documents(document)[case]
    before = await _export(db)
    with pytest.raises(InvalidInput) as refused:
        await _import(db, raw, replace=True)
    assert reason in str(refused.value)
    after = await _export(db)
    assert after["tables"] == before["tables"]


async def test_a_naive_timestamp_in_an_export_is_refused_as_invalid_input(
    db: Database, seeded: Seeded
) -> None:
    document = await _export(db)
    document["tables"]["deadline"][0]["due_at"] = "2025-08-12T04:01:00"
    before = await _export(db)
    try:
        with pytest.raises(InvalidInput, match="deadline"):
            await _import(db, _resealed(document), replace=True)
    finally:
        assert (await _export(db))["tables"] == before["tables"]


@pytest.mark.parametrize(
    ("table", "field", "value"),
    [
        ("truce", "starts_at", "2025-05-14T04:01:00"),  # a nullable column
        ("event", "occurred_at", "2025-05-12"),  # a bare date
        ("audit_entry", "at", "2025-07-29 09:00:00"),
    ],
)
async def test_any_naive_time_is_refused_naming_table_row_and_field(
    db: Database, seeded: Seeded, table: str, field: str, value: str
) -> None:
    document = await _export(db)
    document["tables"][table][0][field] = value
    before = await _export(db)
    with pytest.raises(InvalidInput) as refused:
        await _import(db, _resealed(document), replace=True)
    assert f"table {table!r}, row 1: {field}" in str(refused.value)
    assert "no time zone" in str(refused.value)
    assert (await _export(db))["tables"] == before["tables"]


async def test_a_time_with_a_non_utc_offset_is_imported_as_the_same_instant_in_utc(
    db: Database, seeded: Seeded
) -> None:
    document = await _export(db)
    document["tables"]["deadline"][0]["due_at"] = "2025-08-12T06:01:00+02:00"
    await _import(db, _resealed(document), replace=True)
    [deadline] = (await _export(db))["tables"]["deadline"]
    assert deadline["due_at"] == "2025-08-12T04:01:00Z"


async def test_only_an_admin_can_import(db: Database, lead: Actor) -> None:
    document = await _export(db)
    before = await row_counts(db)
    with pytest.raises(NotPermitted):
        async with db.session() as s:
            await import_record(s, actor=lead, now=LATER, raw=json.dumps(document), replace=True)
    assert await row_counts(db) == before


async def test_export_is_sealed_with_a_checksum_of_its_tables(db: Database, seeded: Seeded) -> None:
    document = await _export(db)
    assert (document["format"], document["version"]) == ("parley-export", 1)
    assert document["sha256"] == checksum(document["tables"])
    assert document["exported_at"] == LATER.isoformat()
    assert len(document["tables"]["event"]) == 12


def test_every_table_of_the_record_is_exported() -> None:
    # The round trip above compares every exported table; this keeps a new table from
    # being left out of the export (and so out of every backup).
    from sqlmodel import SQLModel

    from storage.backup import BY_NAME

    assert set(BY_NAME) == set(SQLModel.metadata.tables)


async def test_unreadable_countdown_offsets_in_an_export_are_refused(
    db: Database, seeded: Seeded
) -> None:
    document = await _export(db)
    document["tables"]["deadline"][0]["offsets"] = "7d,soon"
    before = await _export(db)
    with pytest.raises(InvalidInput) as refused:
        await _import(db, _resealed(document), replace=True)
    assert "table 'deadline', row 1: offsets:" in str(refused.value)
    assert '"soon"' in str(refused.value)
    assert (await _export(db))["tables"] == before["tables"]
