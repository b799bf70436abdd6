"""Talks rounds: delegations, time checks, latest and next."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from storage import rounds, tracks
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput
from storage.models import TalksRound
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


# --- latest and next, on many records (the query reads only what it can show) ------------

ZONES = ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Shanghai", "America/New_York")
STATUSES = ("scheduled", "in_progress", "concluded", "cancelled")


def expected_latest_and_next(
    every: list[TalksRound], now: datetime, track_ids: list[int] | None
) -> tuple[list[str], list[str]]:
    """The rule, read over every round (what `latest_and_next` did before it queried only
    the rounds it can show)."""
    shown = sorted(
        (
            r
            for r in every
            if r.status != "cancelled"
            and (track_ids is None or r.track_id is None or r.track_id in track_ids)
        ),
        key=lambda r: (r.starts_at, r.id),
    )
    begun = [r for r in shown if r.starts_at <= now]
    latest = begun[-1:]
    current = [r for r in begun if rounds.status_at(r, now) == "in_progress" and r not in latest]
    upcoming = [r for r in shown if r.starts_at > now][:3]
    return [r.title for r in current + latest], [r.title for r in upcoming]


@pytest.mark.parametrize("seed", range(4))
async def test_latest_and_next_matches_the_rule_on_random_records(
    db: Database, seeded: Seeded, lead: Actor, seed: int
) -> None:
    """Random rounds (no end, ended, still running, settled by hand, cancelled, in zones
    from UTC-11 to UTC+14), asked at many instants and scopes: the rule's answer each time."""
    pick = random.Random(seed)
    async with db.session() as s:
        for n in range(30):
            starts = NOW + timedelta(minutes=pick.randrange(-6 * 24 * 60, 6 * 24 * 60, 30))
            ends = pick.choice([None, None, starts + timedelta(hours=pick.randrange(1, 60))])
            await rounds.add_round(
                s,
                actor=lead,
                now=NOW,
                title=f"Round {seed}-{n}",
                starts_at=starts,
                ends_at=ends,
                zone=pick.choice(ZONES),
                status=pick.choice(STATUSES),
                track_id=pick.choice([None, seeded.us_china, seeded.us_eu]),
            )
    async with db.session() as s:
        every = list((await s.exec(select(TalksRound))).all())
        for _ in range(25):
            now = NOW + timedelta(minutes=pick.randrange(-8 * 24 * 60, 8 * 24 * 60, 15))
            scope = pick.choice([None, [seeded.us_china], [seeded.us_eu], []])
            latest, upcoming = await rounds.latest_and_next(s, now=now, track_ids=scope)
            got = ([v.round.title for v in latest], [v.round.title for v in upcoming])
            assert got == expected_latest_and_next(every, now, scope), (now, scope)
            assert all(v.status == rounds.status_at(v.round, now) for v in latest + upcoming)


async def test_latest_and_next_reads_two_statements_however_many_rounds(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        for n in range(60):
            await rounds.add_round(
                s,
                actor=lead,
                now=NOW,
                title=f"Round {n}",
                starts_at=NOW + timedelta(days=n - 30, hours=1),
                ends_at=NOW + timedelta(days=n - 30, hours=3),
                zone="UTC",
                delegations=[rounds.DelegationInput("United States", f"Lead {n}")],
            )
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.session() as s:
            latest, upcoming = await rounds.latest_and_next(s, now=NOW, track_ids=None)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    # the seeded Stockholm round is still in progress; Round 29 is the latest to have begun
    assert [v.round.title for v in latest][-1] == "Round 29"
    assert len(latest) == 2
    assert [v.round.title for v in upcoming] == ["Round 30", "Round 31", "Round 32"]
    assert [len(v.delegations) for v in [latest[-1], *upcoming]] == [1, 1, 1, 1]
    assert len(latest[0].delegations) == 2  # Stockholm's two
    # the rounds with their delegations, and Stockholm's track (before: one statement for
    # every round, then two for each round shown; then one for the rounds, one for their
    # delegations)
    assert len(statements) == 2, statements


async def test_the_tracks_of_the_rounds_shown_are_one_statement_or_none(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    """`/talks` shows up to five rounds: their tracks in one statement, not one each, and in
    none when the answer has read the tracks already (`tracks=`)."""
    async with db.session() as s:
        for n, track in enumerate([seeded.us_china, seeded.us_eu] * 3):
            await rounds.add_round(
                s,
                actor=lead,
                now=NOW,
                title=f"Round {n}",
                starts_at=NOW + timedelta(days=n + 1),
                zone="UTC",
                track_id=track,
            )
    async with db.session() as s:
        known = {t.id: t for t in await tracks.all_tracks(s) if t.id is not None}
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    shown = {}
    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        for given in (None, known):
            async with db.session() as s:  # a new session: nothing in its identity map
                before = len(statements)
                latest, upcoming = await rounds.latest_and_next(
                    s, now=NOW, track_ids=None, tracks=given
                )
                shown[given is not None] = (
                    len(statements) - before,
                    [(v.round.title, v.track.handle if v.track else None) for v in upcoming],
                )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert shown[False][1] == shown[True][1]
    both = {known[seeded.us_china].handle, known[seeded.us_eu].handle}
    assert {handle for _, handle in shown[True][1]} == both
    assert shown[False][0] == 2  # the rounds with their delegations, the tracks of all
    assert shown[True][0] == 1
