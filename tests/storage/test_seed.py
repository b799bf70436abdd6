"""The founding case: loading it twice is the same as once; its facts land as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from storage import rounds, truces
from storage.db import Database
from storage.errors import InvalidInput
from storage.models import TalksRound
from storage.seed import SeedError, default_seed_files, load_seed, load_seed_files
from tests.support.people import AS_OF
from tests.support.record import Seeded, assert_utc, audit_trail, row_counts, utc


async def test_loading_the_founding_case_twice_equals_loading_it_once(db: Database) -> None:
    async with db.session() as s:
        first = await load_seed_files(s, default_seed_files(), now=AS_OF)
    once = await row_counts(db)
    async with db.session() as s:
        second = await load_seed_files(s, default_seed_files(), now=AS_OF)
    assert await row_counts(db) == once
    assert first.added and first.skipped == 0
    assert second.added == {}
    assert second.skipped == sum(first.added.values())
    assert str(second).startswith("added nothing")


async def test_the_seed_adds_each_kind_of_record(db: Database) -> None:
    async with db.session() as s:
        report = await load_seed_files(s, default_seed_files(), now=AS_OF)
    counts = await row_counts(db)
    assert report.added == {
        "tracks": 3,
        "sensitivities": 4,
        "rounds": 3,
        "truces": 1,
        "events": 12,
        "sources": 5,
    }
    assert (counts["track"], counts["sensitivity"], counts["talks_round"]) == (3, 4, 3)
    assert (counts["truce"], counts["deadline"], counts["truce_term"]) == (1, 1, 2)
    assert counts["event"] == 12
    trail = await audit_trail(db)
    assert len(trail) == sum(report.added.values())
    assert {e.actor for e in trail} == {"seed"}
    assert {e.at for e in trail} == {AS_OF}  # dated at seeding, not at the events' times


async def test_the_truce_expires_at_0401_utc_on_12_august_in_new_york_time(
    db: Database, seeded: Seeded
) -> None:
    async with db.session() as s:
        [view] = await truces.truce_views(s, track_ids=None)
    assert view.expiry is not None
    assert view.expiry.due_at == utc(2025, 8, 12, 4, 1)
    assert_utc(view.expiry.due_at)
    assert view.expiry.zone == "America/New_York"
    assert (view.truce.status, view.truce.parties) == ("active", ["United States", "China"])
    assert view.track is not None and view.track.handle == "us-china"
    assert [(t.party, t.rate) for t in view.terms] == [("United States", "30%"), ("China", "10%")]
    assert view.extensions == []


async def test_the_stockholm_round_has_the_bessent_and_he_lifeng_delegations(
    db: Database, seeded: Seeded
) -> None:
    async with db.session() as s:
        stockholm = await rounds.get_round(s, seeded.stockholm)
        view = await rounds.round_view(s, stockholm)
    assert "Stockholm" in stockholm.title
    assert stockholm.zone == "Europe/Stockholm"
    assert stockholm.starts_at == utc(2025, 7, 27, 22, 0)
    assert [(d.party, d.lead_name, d.lead_title) for d in view.delegations] == [
        ("United States", "Scott Bessent", "Treasury Secretary"),
        ("China", "He Lifeng", "Vice Premier"),
    ]


async def test_seeded_rounds_are_in_date_order_geneva_london_stockholm(
    db: Database, seeded: Seeded
) -> None:
    async with db.session() as s:
        rows = (await s.exec(select(TalksRound).order_by(col(TalksRound.starts_at)))).all()
    assert [r.seed_key for r in rows] == ["geneva-2025", "london-2025", "stockholm-2025"]


async def test_seeded_events_are_tagged_with_their_sensitivities(
    db: Database, seeded: Seeded
) -> None:
    from storage.events import timeline

    async with db.session() as s:
        taiwan = await timeline(s, sensitivity_id=seeded.taiwan, include_restricted=False)
    titles = {v.event.title for v in taiwan}
    assert "Taiwan's President Lai Ching-te reportedly postpones a planned visit to the US" in (
        titles
    )


async def test_a_seed_naming_an_unknown_track_is_refused(db: Database) -> None:
    data = {
        "version": 1,
        "rounds": [
            {"key": "r1", "track": "us-mars", "title": "Round", "starts_at": "2025-09-01 10:00"}
        ],
    }
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="unknown track 'us-mars'"):
            await load_seed(s, data, now=AS_OF)
    assert (await row_counts(db))["talks_round"] == 0


HALF_BAD = """version: 1
tracks:
  - key: good
    name: Good
rounds:
  - key: r1
    title: Round
    track: us-mars
    starts_at: "2025-09-01 10:00"
"""


async def test_a_seed_refused_halfway_in_one_transaction_writes_nothing(
    db: Database, tmp_path: Path
) -> None:
    file = tmp_path / "half.yaml"
    file.write_text(HALF_BAD, encoding="utf-8")
    with pytest.raises(SeedError) as refused:
        async with db.transaction() as s:
            await load_seed_files(s, [file], now=AS_OF)
    assert str(refused.value) == (
        f"{file}:8:12: rounds item 1 (r1), track: seed refers to unknown track 'us-mars'"
    )
    counts = await row_counts(db)
    assert counts["track"] == 0 and counts["audit_entry"] == 0  # the track went back too


async def test_the_founding_case_in_one_transaction_is_all_written(db: Database) -> None:
    async with db.transaction() as s:
        report = await load_seed_files(s, default_seed_files(), now=AS_OF)
    counts = await row_counts(db)
    assert (counts["track"], counts["event"], counts["deadline"]) == (3, 12, 1)
    assert len(await audit_trail(db)) == sum(report.added.values())


async def test_a_seed_given_as_data_is_checked_before_loading(db: Database) -> None:
    data = {"version": 1, "tracks": [{"key": "a", "name": "A", "parties": "China"}]}
    async with db.session() as s:
        with pytest.raises(SeedError, match=r"^tracks item 1 \(a\), parties: expected a list"):
            await load_seed(s, data, now=AS_OF)
    assert (await row_counts(db))["track"] == 0


async def test_the_seeded_news_sources_are_disabled_unverified_examples(db: Database) -> None:
    from storage.sources import all_sources

    async with db.session() as s:
        await load_seed_files(s, default_seed_files(), now=AS_OF)
        await load_seed_files(s, default_seed_files(), now=AS_OF)  # twice is once
        found = await all_sources(s)
    assert len(found) == 5
    assert all(not x.enabled and not x.verified and x.added_by == "seed" for x in found)
    by_key = {x.seed_key: x for x in found}
    assert by_key["federal-register-ustr"].kind == "federal_register"
    assert by_key["ustr-press"].confidence == "official"
    assert by_key["ft-world"].confidence == "reported"
