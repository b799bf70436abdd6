"""Deadlines: UTC instants with their zone; bad input is refused and changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage import deadlines
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput, NotFound
from storage.models import Deadline
from tests.support.record import NOW, Seeded, assert_utc, audit_trail, row_counts, utc

NEW_YORK = ZoneInfo("America/New_York")


async def test_add_deadline_stores_utc_and_reads_back_tz_aware_with_its_zone(
    db: Database, lead: Actor
) -> None:
    local = utc(2025, 8, 12, 4, 1).astimezone(NEW_YORK)
    async with db.session() as s:
        added = await deadlines.add_deadline(
            s,
            actor=lead,
            now=NOW,
            title="Tariffs snap back",
            due_at=local,
            zone="America/New_York",
            kind="tariff_action",
        )
    async with db.session() as s:
        row = await deadlines.get_deadline(s, added.id or 0)
    assert row.due_at == utc(2025, 8, 12, 4, 1)
    assert_utc(row.due_at)
    assert_utc(row.created_at)
    assert (row.zone, row.kind, row.status, row.visibility) == (
        "America/New_York",
        "tariff_action",
        "open",
        "team",
    )
    entry = (await audit_trail(db))[-1]
    assert entry.after is not None
    assert datetime.fromisoformat(entry.after["due_at"]) == utc(2025, 8, 12, 4, 1)


async def test_add_deadline_returns_and_audits_the_due_time_in_utc(
    db: Database, lead: Actor
) -> None:
    local = utc(2025, 8, 12, 4, 1).astimezone(NEW_YORK)
    async with db.session() as s:
        added = await deadlines.add_deadline(
            s,
            actor=lead,
            now=NOW,
            title="Tariffs snap back",
            due_at=local,
            zone="America/New_York",
        )
    assert_utc(added.due_at)
    entry = (await audit_trail(db))[-1]
    assert entry.after is not None
    assert entry.after["due_at"] in ("2025-08-12T04:01:00Z", "2025-08-12T04:01:00+00:00")


async def test_update_deadline_returns_and_audits_a_moved_due_time_in_utc(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        added = await deadlines.add_deadline(
            s,
            actor=lead,
            now=NOW,
            title="Tariffs snap back",
            due_at=utc(2025, 8, 12, 4, 1),
            zone="UTC",
        )
    async with db.session() as s:
        moved = await deadlines.update_deadline(
            s,
            actor=lead,
            now=NOW,
            deadline_id=added.id or 0,
            due_at=utc(2025, 8, 13, 4, 1).astimezone(NEW_YORK),
            zone="America/New_York",
        )
    assert moved.due_at == utc(2025, 8, 13, 4, 1)
    assert_utc(moved.due_at)
    entry = (await audit_trail(db))[-1]
    assert entry.after is not None
    assert entry.after["due_at"] in ("2025-08-13T04:01:00Z", "2025-08-13T04:01:00+00:00")


async def test_a_past_due_time_given_in_an_offset_is_reported_in_utc(
    db: Database, lead: Actor
) -> None:
    past = (NOW - timedelta(hours=1)).astimezone(NEW_YORK)  # 04:00 in New York
    error = await _refused(db, lead, "already past", due_at=past)
    assert f"{NOW - timedelta(hours=1):%Y-%m-%d %H:%M} UTC" in str(error)


async def _refused(db: Database, lead: Actor, match: str, **overrides: object) -> InvalidInput:
    fields: dict[str, object] = {
        "title": "Senate vote",
        "due_at": NOW + timedelta(days=2),
        "zone": "UTC",
    }
    fields.update(overrides)
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match=match) as refused:
            await deadlines.add_deadline(s, actor=lead, now=NOW, **fields)  # type: ignore[arg-type]
    assert await row_counts(db) == before
    return refused.value


async def test_a_past_due_time_for_a_new_deadline_is_refused_with_the_reason(
    db: Database, lead: Actor
) -> None:
    error = await _refused(db, lead, "already past", due_at=NOW - timedelta(minutes=1))
    assert "future" in str(error)
    assert error.field == "due"


async def test_a_due_time_equal_to_now_is_refused(db: Database, lead: Actor) -> None:
    await _refused(db, lead, "already past", due_at=NOW)


async def test_a_151_character_title_is_refused_naming_the_limit(db: Database, lead: Actor) -> None:
    error = await _refused(db, lead, "limit is 150", title="x" * 151)
    assert "151" in str(error)
    assert error.field == "title"


async def test_a_150_character_title_is_accepted(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        added = await deadlines.add_deadline(
            s, actor=lead, now=NOW, title="x" * 150, due_at=NOW + timedelta(days=1), zone="UTC"
        )
    assert len(added.title) == 150


async def test_an_empty_title_is_refused(db: Database, lead: Actor) -> None:
    await _refused(db, lead, "required", title="   ")


async def test_an_unknown_zone_is_refused(db: Database, lead: Actor) -> None:
    error = await _refused(db, lead, "Unknown time zone 'Mars/Olympus'", zone="Mars/Olympus")
    assert error.field == "zone"


async def test_an_invalid_kind_is_refused_listing_the_choices(db: Database, lead: Actor) -> None:
    error = await _refused(db, lead, "Kind must be one of", kind="deadline-ish")
    assert "truce_expiry" in str(error) and "'deadline-ish'" in str(error)


async def test_an_invalid_visibility_is_refused(db: Database, lead: Actor) -> None:
    await _refused(db, lead, "Visibility must be one of", visibility="secret")


async def test_update_deadline_records_before_and_after(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await deadlines.update_deadline(
            s, actor=lead, now=NOW, deadline_id=seeded.expiry, status="met"
        )
    entry = (await audit_trail(db))[-1]
    assert entry.before is not None and entry.after is not None
    assert (entry.before["status"], entry.after["status"]) == ("open", "met")
    assert entry.entity_id == str(seeded.expiry)


async def test_update_deadline_with_an_invalid_status_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Status must be one of"):
            await deadlines.update_deadline(
                s, actor=lead, now=NOW, deadline_id=seeded.expiry, title="New", status="done"
            )
    assert await row_counts(db) == before
    async with db.session() as s:
        row = await deadlines.get_deadline(s, seeded.expiry)
    assert (row.title, row.status) == ("US–China tariff truce (Geneva, 90 days) expires", "open")


async def test_update_of_an_unknown_deadline_is_not_found(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        with pytest.raises(NotFound, match="#999"):
            await deadlines.update_deadline(s, actor=lead, now=NOW, deadline_id=999, title="x")


async def test_upcoming_deadlines_are_soonest_first_and_respect_scope_and_visibility(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        for title, days, track, visibility in [
            ("EU vote", 5, seeded.us_eu, "team"),
            ("Desk-wide review", 4, None, "team"),
            ("Briefing", 2, seeded.us_china, "restricted"),
            ("Old item", -1, seeded.us_china, "team"),
        ]:
            s.add(
                Deadline(
                    title=title,
                    due_at=NOW + timedelta(days=days),
                    zone="UTC",
                    track_id=track,
                    visibility=visibility,
                    created_at=NOW,
                )
            )
        await s.commit()
        china = await deadlines.upcoming_deadlines(
            s, now=NOW, track_ids=[seeded.us_china], include_restricted=False
        )
        everything = await deadlines.upcoming_deadlines(
            s, now=NOW, track_ids=None, include_restricted=True
        )
    assert [d.title for d in china] == [
        "Desk-wide review",
        "US–China tariff truce (Geneva, 90 days) expires",
    ]
    assert [d.title for d in everything] == [
        "Briefing",
        "Desk-wide review",
        "EU vote",
        "US–China tariff truce (Geneva, 90 days) expires",
    ]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("7d, 1d,12h ,0", "7d,1d,12h,0"), ("1h30m,90m", "1h30m"), ("2w", "14d"), ("", None)],
)
async def test_offsets_are_checked_and_stored_one_way(
    db: Database, seeded: Seeded, lead: Actor, typed: str, stored: str | None
) -> None:
    async with db.session() as s:
        deadline = await deadlines.add_deadline(
            s, actor=lead, now=NOW, title="Hearing", due_at=NOW + timedelta(days=9),
            zone="UTC", offsets=typed,
        )  # fmt: skip
    assert deadline.offsets == stored


@pytest.mark.parametrize("typed", ["7d,soon", "-1d", "30"])
async def test_bad_offsets_are_refused_by_storage_and_nothing_is_written(
    db: Database, seeded: Seeded, lead: Actor, typed: str
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput) as refused:
            await deadlines.add_deadline(
                s, actor=lead, now=NOW, title="Hearing", due_at=NOW + timedelta(days=9),
                zone="UTC", offsets=typed,
            )  # fmt: skip
    assert refused.value.field == "offsets"
    assert await row_counts(db) == before


@pytest.mark.parametrize("include_restricted", [False, True])
async def test_count_upcoming_counts_past_the_listing_limit(
    db: Database, seeded: Seeded, lead: Actor, include_restricted: bool
) -> None:
    async with db.session() as s:
        for n in range(30):
            await deadlines.add_deadline(
                s, actor=lead, now=NOW, title=f"Review {n}", due_at=NOW + timedelta(days=1 + n),
                zone="UTC", track_id=seeded.us_china if n % 2 else seeded.us_eu,
                visibility="restricted" if n % 3 == 0 else "team",
            )  # fmt: skip
    async with db.session() as s:
        for track_ids in (None, [seeded.us_china], [seeded.us_eu]):
            listed = await deadlines.upcoming_deadlines(
                s, now=NOW, track_ids=track_ids, include_restricted=include_restricted, limit=5
            )
            everything = await deadlines.upcoming_deadlines(
                s, now=NOW, track_ids=track_ids, include_restricted=include_restricted, limit=999
            )
            counted = await deadlines.count_upcoming(
                s, now=NOW, track_ids=track_ids, include_restricted=include_restricted
            )
            assert len(listed) == 5 and counted == len(everything) > 5


async def test_both_listings_in_one_read_are_the_two_listings(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    """`/deadline`'s one statement gives what `upcoming_deadlines` and `recently_passed`
    give, in their orders, at every scope and clock: ties of due time, restricted ones, a
    limit that cuts either list, deadlines just inside and just past the 7-day window."""
    due = NOW + timedelta(days=2)
    async with db.session() as s:
        for n, (offset, visibility, track) in enumerate(
            [
                (timedelta(0), "team", seeded.us_china),  # a tie with the next
                (timedelta(0), "restricted", None),
                (timedelta(hours=5), "team", seeded.us_eu),
                (-timedelta(days=3), "team", None),
                (timedelta(days=9), "team", seeded.us_china),
                (timedelta(days=9, seconds=1), "restricted", seeded.us_eu),
            ]
        ):
            await deadlines.add_deadline(
                s, actor=lead, now=NOW, title=f"Listed {n}", due_at=due + offset,
                zone="UTC", kind="legislative_step", visibility=visibility, track_id=track,
                allow_past=True,
            )  # fmt: skip
    clocks = [NOW + timedelta(days=d, seconds=s) for d in (-1, 0, 2, 4, 6, 9, 12) for s in (0, 1)]
    clocks += [due + deadlines.RECENTLY, due + deadlines.RECENTLY - timedelta(microseconds=1)]
    scopes = [None, [seeded.us_china], [seeded.us_eu], []]
    checked = 0
    async with db.reads() as reads:
        for now in clocks:
            for track_ids in scopes:
                for restricted in (True, False):
                    for limit, passed_limit in ((45, 20), (1, 1), (2, 3)):
                        both = await deadlines.upcoming_and_recently_passed(
                            reads, now=now, track_ids=track_ids,
                            include_restricted=restricted, limit=limit,
                            passed_limit=passed_limit,
                        )  # fmt: skip
                        upcoming = await deadlines.upcoming_deadlines(
                            reads, now=now, track_ids=track_ids,
                            include_restricted=restricted, limit=limit,
                        )  # fmt: skip
                        passed = await deadlines.recently_passed(
                            reads, now=now, track_ids=track_ids,
                            include_restricted=restricted, limit=passed_limit,
                        )  # fmt: skip
                        got = ([d.id for d in both[0]], [d.id for d in both[1]])
                        assert got == ([d.id for d in upcoming], [d.id for d in passed])
                        checked += bool(got[0]) and bool(got[1])
    assert checked > 20  # both lists non-empty in many of them: the comparison says much
