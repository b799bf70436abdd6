"""Status follows time (issue 10 §1), on SQLite and PostgreSQL: a truce lapses at its
expiry exactly once (audit entry and alerts with it, however many processes try), a round's
status follows its times unless settled by hand, a passed open deadline is "recently
passed" for 7 days, and an event dated later than now is upcoming, never "latest"."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, select

from storage import deadlines, events, rounds, subscriptions, truces
from storage.access import Actor
from storage.db import Database
from storage.models import (
    AuditEntry,
    Delivery,
    RoundStatus,
    TalksRound,
    Truce,
    TruceStatus,
)
from tests.support.record import NOW, Seeded, utc

SNAPBACK = utc(2025, 8, 12, 4, 1)  # the seeded truce's expiry, 00:01 in New York
CHANNELS = ("C0DESK", "C0WIRE")


async def subscribe_channels(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        for channel in CHANNELS:
            await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id=channel)


async def lapse_rows(db: Database) -> tuple[list[AuditEntry], list[Delivery]]:
    async with db.session() as s:
        audit = (await s.exec(select(AuditEntry).where(col(AuditEntry.action) == "lapse"))).all()
        alerts = (
            await s.exec(select(Delivery).where(col(Delivery.key).like("alert:lapse:%")))
        ).all()
    return list(audit), list(alerts)


async def test_a_truce_in_force_reads_lapsed_from_its_expiry_on(
    db: Database, seeded: Seeded
) -> None:
    async with db.session() as s:
        view = await truces.view_of(s, await truces.get_truce(s, seeded.truce))
    assert view.status_at(SNAPBACK - timedelta(seconds=1)) == TruceStatus.active
    assert view.status_at(SNAPBACK) == TruceStatus.lapsed
    assert view.status_at(SNAPBACK + timedelta(days=30)) == TruceStatus.lapsed


async def test_nothing_lapses_before_the_expiry(db: Database, seeded: Seeded, lead: Actor) -> None:
    await subscribe_channels(db, lead)
    async with db.session() as s:
        assert await truces.lapse_expired(s, now=SNAPBACK - timedelta(seconds=1)) == []
    assert await lapse_rows(db) == ([], [])


async def test_a_truce_lapses_once_with_one_audit_entry_and_one_alert_per_channel(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await subscribe_channels(db, lead)
    later = SNAPBACK + timedelta(seconds=2)
    async with db.session() as s:
        assert await truces.lapse_expired(s, now=later) == [seeded.truce]
    async with db.session() as s:
        assert await truces.lapse_expired(s, now=later + timedelta(hours=1)) == []
        truce = await s.get(Truce, seeded.truce)
        assert truce is not None and truce.status == TruceStatus.lapsed
    audit, alerts = await lapse_rows(db)
    assert [(a.actor, a.entity, a.entity_id) for a in audit] == [
        ("parley", "truce", str(seeded.truce))
    ]
    assert audit[0].before is not None and audit[0].before["status"] == "active"
    assert audit[0].after is not None and audit[0].after["status"] == "lapsed"
    assert sorted(a.channel_id for a in alerts) == sorted(CHANNELS)
    assert all(a.payload and a.payload["lapse"] for a in alerts)


async def test_two_schedulers_racing_write_one_lapse(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await subscribe_channels(db, lead)
    later = SNAPBACK + timedelta(seconds=3)

    async def one_scheduler() -> list[int]:
        async with db.session() as s:
            return await truces.lapse_expired(s, now=later)

    results = await asyncio.gather(*(one_scheduler() for _ in range(4)))
    assert sorted(sum(results, [])) == [seeded.truce]
    audit, alerts = await lapse_rows(db)
    assert len(audit) == 1
    assert len(alerts) == len(CHANNELS)


async def test_an_extended_truce_does_not_lapse_and_a_lapsed_one_can_be_extended(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    later = SNAPBACK + timedelta(hours=5)
    async with db.session() as s:
        await truces.lapse_expired(s, now=later)
    async with db.session() as s:
        view = await truces.extend_truce(
            s, actor=lead, now=later, truce_id=seeded.truce, new_expiry=utc(2025, 11, 10, 5, 1)
        )
    assert view.truce.status == TruceStatus.extended
    assert view.status_at(later) == TruceStatus.extended
    async with db.session() as s:
        assert await truces.lapse_expired(s, now=later + timedelta(days=1)) == []


async def test_a_met_expiry_never_lapses_its_truce(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await deadlines.update_deadline(
            s, actor=lead, now=NOW, deadline_id=seeded.expiry, status="met", action="mark_met"
        )
    async with db.session() as s:
        assert await truces.lapse_expired(s, now=SNAPBACK + timedelta(days=1)) == []
        view = await truces.view_of(s, await truces.get_truce(s, seeded.truce))
    assert view.status_at(SNAPBACK + timedelta(days=1)) == TruceStatus.active


# ---- talks rounds -----------------------------------------------------------------------

STARTS = utc(2025, 7, 28, 8, 0)
ENDS = utc(2025, 7, 29, 16, 0)


@pytest.mark.parametrize(
    ("stored", "outcome", "ends", "now", "expected"),
    [
        ("scheduled", "", ENDS, STARTS - timedelta(minutes=1), "scheduled"),
        ("scheduled", "", ENDS, STARTS, "in_progress"),
        ("scheduled", "", ENDS, ENDS - timedelta(seconds=1), "in_progress"),
        ("scheduled", "", ENDS, ENDS, "concluded"),
        ("in_progress", "", ENDS, ENDS + timedelta(days=60), "concluded"),
        ("in_progress", "", ENDS, STARTS - timedelta(days=1), "scheduled"),
        ("scheduled", "", None, STARTS + timedelta(hours=10), "in_progress"),  # 20:00 in Stockholm
        ("scheduled", "", None, utc(2025, 7, 28, 22, 0), "concluded"),  # midnight in Stockholm
        ("cancelled", "", ENDS, STARTS + timedelta(hours=1), "cancelled"),
        ("concluded", "Agreed", ENDS, STARTS + timedelta(hours=1), "concluded"),
        ("concluded", "", ENDS, STARTS + timedelta(hours=1), "concluded"),
    ],
)
def test_round_status_follows_its_times_unless_settled_by_hand(
    stored: str, outcome: str, ends: object, now: object, expected: str
) -> None:
    talks = TalksRound(
        title="Stockholm",
        place="Stockholm",
        starts_at=STARTS,
        ends_at=ends,
        zone="Europe/Stockholm",
        status=stored,
        outcome=outcome,
        created_by="seed",
        created_at=STARTS,
    )
    assert rounds.status_at(talks, now) == expected  # type: ignore[arg-type]


async def test_the_seeded_stockholm_round_concludes_by_time(db: Database, seeded: Seeded) -> None:
    async with db.session() as s:
        during, _ = await rounds.latest_and_next(s, now=NOW, track_ids=None)
        after, _ = await rounds.latest_and_next(s, now=utc(2025, 10, 1), track_ids=None)
    assert [(v.round.id, v.status) for v in during][-1] == (
        seeded.stockholm,
        RoundStatus.in_progress,
    )
    assert [(v.round.id, v.status) for v in after][-1] == (seeded.stockholm, RoundStatus.concluded)


# ---- deadlines and events ----------------------------------------------------------------


async def test_a_passed_open_deadline_is_recently_passed_for_seven_days(
    db: Database, seeded: Seeded
) -> None:
    async def lists(now: object) -> tuple[list[int | None], list[int | None]]:
        async with db.session() as s:
            ahead = await deadlines.upcoming_deadlines(
                s,
                now=now,
                track_ids=None,
                include_restricted=True,  # type: ignore[arg-type]
            )
            passed = await deadlines.recently_passed(
                s,
                now=now,
                track_ids=None,
                include_restricted=True,  # type: ignore[arg-type]
            )
        return [d.id for d in ahead], [d.id for d in passed]

    assert await lists(SNAPBACK - timedelta(minutes=1)) == ([seeded.expiry], [])
    assert await lists(SNAPBACK + timedelta(minutes=1)) == ([], [seeded.expiry])
    assert await lists(SNAPBACK + timedelta(days=7) - timedelta(minutes=1)) == ([], [seeded.expiry])
    assert await lists(SNAPBACK + timedelta(days=7)) == ([], [])


async def test_an_event_dated_later_than_now_is_upcoming_not_latest(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await events.add_event(
            s,
            actor=lead,
            now=NOW,
            title="Trump–Xi call planned",
            occurred_at=NOW + timedelta(days=2),
            zone="UTC",
            kind="talks",
        )
    async with db.session() as s:
        latest = await events.latest_events(s, track_ids=None, include_restricted=True, until=NOW)
        upcoming = await events.upcoming_events(s, now=NOW, track_ids=None, include_restricted=True)
        later = await events.latest_events(
            s, track_ids=None, include_restricted=True, until=NOW + timedelta(days=3)
        )
    assert "Trump–Xi call planned" not in [v.event.title for v in latest]
    assert [v.event.title for v in upcoming] == ["Trump–Xi call planned"]
    assert later[0].event.title == "Trump–Xi call planned"
