"""Talks rounds: delegations, time checks, latest and next."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import rounds
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput
from tests.support.record import NOW, Seeded, assert_utc, audit_trail, row_counts, utc


async def test_add_round_with_delegations(db: Database, seeded: Seeded, lead: Actor) -> None:
    async with db.session() as s:
        talks = await rounds.add_round(
            s,
            actor=lead,
            now=NOW,
            title="Madrid round",
            place="Madrid",
            starts_at=utc(2025, 9, 14, 8, 0),
            ends_at=utc(2025, 9, 15, 16, 0),
            zone="Europe/Madrid",
            track_id=seeded.us_china,
            delegations=[
                rounds.DelegationInput("United States", "Scott Bessent", "Treasury Secretary"),
                rounds.DelegationInput("China", "He Lifeng", "Vice Premier"),
            ],
        )
    async with db.session() as s:
        view = await rounds.round_view(s, await rounds.get_round(s, talks.id or 0))
    assert_utc(view.round.starts_at)
    assert_utc(view.round.ends_at)
    assert (view.round.status, view.track.handle if view.track else None) == (
        "scheduled",
        "us-china",
    )
    assert [d.lead_name for d in view.delegations] == ["Scott Bessent", "He Lifeng"]


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"ends_at": NOW - timedelta(days=1)}, "cannot end before it starts"),
        ({"status": "postponed"}, "Status must be one of"),
        ({"zone": "Europe/Stockholmm"}, "Unknown time zone"),
        ({"title": "r" * 151}, "limit is 150"),
        ({"delegations": [rounds.DelegationInput("China", "")]}, "A lead is required"),
    ],
    ids=["ends-before-start", "status", "zone", "title", "delegation"],
)
async def test_add_round_refuses_bad_input_and_changes_nothing(
    db: Database, lead: Actor, fields: dict[str, object], match: str
) -> None:
    values: dict[str, object] = {"title": "Madrid round", "starts_at": NOW, "zone": "UTC"}
    values.update(fields)
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match=match):
            await rounds.add_round(s, actor=lead, now=NOW, **values)  # type: ignore[arg-type]
    assert await row_counts(db) == before


async def test_update_round_replaces_delegations_and_audits_the_change(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await rounds.update_round(
            s,
            actor=lead,
            now=NOW,
            round_id=seeded.stockholm,
            status="concluded",
            outcome="Agreed to seek a 90-day extension",
            delegations=[rounds.DelegationInput("United States", "Jamieson Greer", "USTR")],
        )
    async with db.session() as s:
        view = await rounds.round_view(s, await rounds.get_round(s, seeded.stockholm))
    assert view.round.status == "concluded"
    assert [d.lead_name for d in view.delegations] == ["Jamieson Greer"]
    entry = (await audit_trail(db))[-1]
    assert entry.before is not None and entry.after is not None
    assert (entry.before["status"], entry.after["status"]) == ("in_progress", "concluded")


async def test_update_round_ending_before_its_start_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="cannot end before"):
            await rounds.update_round(
                s,
                actor=lead,
                now=NOW,
                round_id=seeded.stockholm,
                ends_at=utc(2025, 7, 1, 0, 0),
            )
    assert await row_counts(db) == before
    async with db.session() as s:
        stockholm = await rounds.get_round(s, seeded.stockholm)
    assert stockholm.ends_at == utc(2025, 7, 29, 21, 59)


async def test_latest_and_next_at_the_founding_date(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await rounds.add_round(
            s,
            actor=lead,
            now=NOW,
            title="Next round",
            starts_at=NOW + timedelta(days=40),
            zone="UTC",
            track_id=seeded.us_china,
        )
        await rounds.add_round(
            s,
            actor=lead,
            now=NOW,
            title="Cancelled round",
            starts_at=NOW + timedelta(days=20),
            zone="UTC",
            status="cancelled",
        )
        latest, upcoming = await rounds.latest_and_next(s, now=NOW, track_ids=[seeded.us_china])
        europe_latest, _ = await rounds.latest_and_next(s, now=NOW, track_ids=[seeded.us_eu])
    assert [v.round.seed_key for v in latest] == ["stockholm-2025"]
    assert [v.round.title for v in upcoming] == ["Next round"]
    assert europe_latest == []
