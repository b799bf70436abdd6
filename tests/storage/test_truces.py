"""Truces: extending moves the expiry and records the extension; several → name the track."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from storage import truces
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput, NotFound
from storage.models import Truce, TruceExtension
from tests.support.record import NOW, Seeded, assert_utc, audit_trail, row_counts, utc

SNAPBACK = utc(2025, 8, 12, 4, 1)
NOVEMBER = utc(2025, 11, 10, 5, 1)


async def test_extend_truce_moves_the_expiry_and_records_the_extension(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await truces.extend_truce(
            s,
            actor=lead,
            now=NOW,
            truce_id=seeded.truce,
            new_expiry=NOVEMBER,
            source="White House",
            note="agreed in Stockholm",
        )
    async with db.session() as s:
        view = await truces.view_of(s, await truces.get_truce(s, seeded.truce))
    assert view.truce.status == "extended"
    assert view.expiry is not None
    assert view.expiry.id == seeded.expiry
    assert view.expiry.due_at == NOVEMBER
    assert view.expiry.status == "open"
    [extension] = view.extensions
    assert (extension.from_at, extension.to_at, extension.decided_at) == (SNAPBACK, NOVEMBER, NOW)
    for instant in (extension.from_at, extension.to_at, extension.decided_at):
        assert_utc(instant)
    assert (extension.decided_by, extension.source, extension.note) == (
        lead.id,
        "White House",
        "agreed in Stockholm",
    )
    entry = (await audit_trail(db))[-1]
    assert (entry.action, entry.entity, entry.entity_id) == ("extend", "truce", str(seeded.truce))
    assert entry.before is not None and entry.after is not None
    assert entry.before["truce"]["status"] == "active"
    assert entry.after["truce"]["status"] == "extended"


async def test_extend_truce_can_change_the_zone_of_the_expiry(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        view = await truces.extend_truce(
            s,
            actor=lead,
            now=NOW,
            truce_id=seeded.truce,
            new_expiry=NOVEMBER,
            zone="Asia/Shanghai",
        )
    assert view.expiry is not None and view.expiry.zone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("new_expiry", "match"),
    [
        (NOW - timedelta(hours=1), "already past"),
        (NOW, "already past"),
        (SNAPBACK, "current expiry already"),
        (SNAPBACK - timedelta(minutes=1), "is before the current expiry"),
        (SNAPBACK - timedelta(days=11), "is before the current expiry"),
        (NOW + timedelta(hours=8), "is before the current expiry"),
    ],
    ids=["past", "now", "unchanged", "a minute earlier", "11 days earlier", "in 8 hours"],
)
async def test_extend_truce_refuses_a_past_or_unchanged_expiry_and_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor, new_expiry: object, match: str
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match=match) as refused:
            await truces.extend_truce(
                s,
                actor=lead,
                now=NOW,
                truce_id=seeded.truce,
                new_expiry=new_expiry,  # type: ignore[arg-type]
            )
    assert refused.value.field == "expiry"
    assert await row_counts(db) == before
    async with db.session() as s:
        expiry = await truces.expiry_of(s, seeded.truce)
        truce = await truces.get_truce(s, seeded.truce)
    assert expiry is not None and expiry.due_at == SNAPBACK
    assert truce.status == "active"


async def test_extend_truce_with_an_unknown_zone_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Unknown time zone"):
            await truces.extend_truce(
                s,
                actor=lead,
                now=NOW,
                truce_id=seeded.truce,
                new_expiry=NOVEMBER,
                zone="America/Gotham",
            )
    assert await row_counts(db) == before


async def test_extend_an_unknown_truce_is_not_found(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        with pytest.raises(NotFound, match="#404"):
            await truces.extend_truce(s, actor=lead, now=NOW, truce_id=404, new_expiry=NOVEMBER)


async def test_a_lapsed_truce_can_be_extended_and_its_expiry_reopens(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        truce = await truces.get_truce(s, seeded.truce)
        truce.status = "lapsed"
        expiry = await truces.expiry_of(s, seeded.truce)
        assert expiry is not None
        expiry.status = "missed"
        s.add_all([truce, expiry])
        await s.commit()
    later = SNAPBACK + timedelta(days=2)
    async with db.session() as s:
        found = await truces.extendable_truce(s, track_ids=None)
        assert found.id == seeded.truce
        view = await truces.extend_truce(
            s, actor=lead, now=later, truce_id=seeded.truce, new_expiry=NOVEMBER
        )
    assert view.truce.status == "extended"
    assert view.expiry is not None
    assert (view.expiry.due_at, view.expiry.status) == (NOVEMBER, "open")


async def _second_truce_on_us_eu(db: Database, seeded: Seeded, lead: Actor) -> Truce:
    async with db.session() as s:
        return await truces.add_truce(
            s,
            actor=lead,
            now=NOW,
            title="US–EU standstill",
            parties=["US", "EU"],
            expires_at=NOW + timedelta(days=30),
            zone="Europe/Brussels",
            track_id=seeded.us_eu,
        )


async def test_extendable_truce_with_two_active_truces_asks_to_name_the_track(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _second_truce_on_us_eu(db, seeded, lead)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="name the track") as refused:
            await truces.extendable_truce(s, track_ids=None)
    assert "us-china" in str(refused.value) and "us-eu" in str(refused.value)


async def test_extendable_truce_for_a_named_track_is_that_tracks_truce(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    eu = await _second_truce_on_us_eu(db, seeded, lead)
    async with db.session() as s:
        china = await truces.extendable_truce(s, track_ids=[seeded.us_china])
        europe = await truces.extendable_truce(s, track_ids=[seeded.us_eu])
    assert (china.id, europe.id) == (seeded.truce, eu.id)


async def test_superseded_truces_are_not_extendable(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        truce = await truces.get_truce(s, seeded.truce)
        truce.status = "superseded"
        s.add(truce)
        await s.commit()
        with pytest.raises(NotFound, match="no active or lapsed truce"):
            await truces.extendable_truce(s, track_ids=None)


async def test_add_truce_creates_its_expiry_deadline_and_terms_in_order(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        truce = await truces.add_truce(
            s,
            actor=lead,
            now=NOW,
            title="US–EU standstill",
            parties=["US", "EU"],
            expires_at=utc(2025, 9, 1, 22, 0),
            zone="Europe/Brussels",
            track_id=seeded.us_eu,
            terms=[
                truces.TermInput("United States", "tariff on EU goods", "15%", "EU"),
                truces.TermInput("European Union", "counter-tariffs suspended"),
            ],
        )
    async with db.session() as s:
        view = await truces.view_of(s, await truces.get_truce(s, truce.id or 0))
    assert view.expiry is not None
    assert (view.expiry.kind, view.expiry.zone, view.expiry.due_at) == (
        "truce_expiry",
        "Europe/Brussels",
        utc(2025, 9, 1, 22, 0),
    )
    assert view.expiry.track_id == seeded.us_eu
    assert [(t.party, t.rate, t.position) for t in view.terms] == [
        ("United States", "15%", 0),
        ("European Union", "", 1),
    ]


async def test_add_truce_with_an_unknown_zone_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Unknown time zone"):
            await truces.add_truce(
                s,
                actor=lead,
                now=NOW,
                title="Standstill",
                parties=["US", "EU"],
                expires_at=NOW + timedelta(days=9),
                zone="Europe/Atlantis",
            )
    assert await row_counts(db) == before


async def test_add_truce_with_an_invalid_status_is_refused_and_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Status must be one of") as refused:
            await truces.add_truce(
                s,
                actor=lead,
                now=NOW,
                title="Standstill",
                parties=["US", "EU"],
                expires_at=NOW + timedelta(days=9),
                zone="UTC",
                status="bogus",
            )
    assert "active, extended, lapsed, superseded" in str(refused.value)
    assert refused.value.field == "status"
    assert await row_counts(db) == before


async def test_set_terms_replaces_the_terms_and_audits_old_and_new(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        view = await truces.set_terms(
            s,
            actor=lead,
            now=NOW,
            truce_id=seeded.truce,
            terms=[truces.TermInput("United States", "additional tariff", "20%", "China")],
        )
    assert [(t.party, t.rate) for t in view.terms] == [("United States", "20%")]
    entry = (await audit_trail(db))[-1]
    assert entry.before is not None and entry.after is not None
    assert [t["rate"] for t in entry.before["terms"]] == ["30%", "10%"]
    assert [t["rate"] for t in entry.after["terms"]] == ["20%"]


async def test_set_terms_with_an_empty_measure_keeps_the_old_terms(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="measure is required"):
            await truces.set_terms(
                s,
                actor=lead,
                now=NOW,
                truce_id=seeded.truce,
                terms=[truces.TermInput("United States", " ")],
            )
    assert await row_counts(db) == before
    async with db.session() as s:
        view = await truces.view_of(s, await truces.get_truce(s, seeded.truce))
    assert [t.rate for t in view.terms] == ["30%", "10%"]


async def test_truce_views_show_current_truces_of_the_tracks_asked_for(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _second_truce_on_us_eu(db, seeded, lead)
    async with db.session() as s:
        china = await truces.truce_views(s, track_ids=[seeded.us_china])
        every = await truces.truce_views(s, track_ids=None)
    assert [v.truce.id for v in china] == [seeded.truce]
    assert china[0].track is not None and china[0].track.handle == "us-china"
    assert len(every) == 2


async def test_a_desk_wide_truce_is_in_every_track_scope(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        truce = await truces.get_truce(s, seeded.truce)
        truce.track_id = None
        s.add(truce)
        await s.commit()
        views = await truces.truce_views(s, track_ids=[seeded.us_china, seeded.us_eu])
        europe = await truces.extendable_truce(s, track_ids=[seeded.us_eu])
    assert [v.truce.id for v in views] == [seeded.truce]
    assert views[0].track is None
    assert europe.id == seeded.truce


async def test_extension_history_is_in_decision_order(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await truces.extend_truce(
            s, actor=lead, now=NOW, truce_id=seeded.truce, new_expiry=NOVEMBER
        )
        await truces.extend_truce(
            s,
            actor=lead,
            now=NOW + timedelta(days=1),
            truce_id=seeded.truce,
            new_expiry=NOVEMBER + timedelta(days=30),
        )
    async with db.session() as s:
        rows = (await s.exec(select(TruceExtension).order_by(col(TruceExtension.decided_at)))).all()
    assert [(r.from_at, r.to_at) for r in rows] == [
        (SNAPBACK, NOVEMBER),
        (NOVEMBER, NOVEMBER + timedelta(days=30)),
    ]


async def test_edit_truce_changes_terms_and_expiry_in_one_transaction(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    new_terms = [truces.TermInput("United States", "additional tariff on Chinese goods", "20%")]
    async with db.session() as s:
        view, changed = await truces.edit_truce(
            s, actor=lead, now=NOW, truce_id=seeded.truce, terms=new_terms, new_expiry=NOVEMBER
        )
    assert changed == ["terms", "expiry"]
    assert [t.rate for t in view.terms] == ["20%"]
    assert view.expiry is not None and view.expiry.due_at == NOVEMBER
    actions = [e.action for e in await audit_trail(db) if e.entity == "truce"]
    assert actions[-2:] == ["set_terms", "extend"]


async def test_edit_truce_whose_extension_is_refused_keeps_the_old_terms(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    new_terms = [truces.TermInput("United States", "additional tariff on Chinese goods", "20%")]
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="already past"):
            await truces.edit_truce(
                s, actor=lead, now=NOW, truce_id=seeded.truce, terms=new_terms,
                new_expiry=NOW - timedelta(days=1),
            )  # fmt: skip
    assert await row_counts(db) == before
    async with db.session() as s:
        view = await truces.view_of(s, await truces.get_truce(s, seeded.truce))
    assert [t.rate for t in view.terms] == ["30%", "10%"]


async def test_edit_truce_with_nothing_to_change_is_refused(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Nothing changed"):
            await truces.edit_truce(s, actor=lead, now=NOW, truce_id=seeded.truce)
    assert await row_counts(db) == before


async def test_a_truces_expiry_is_not_added_restricted(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    from storage import deadlines

    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="A truce's expiry is seen by whoever sees") as no:
            await deadlines.add_deadline(
                s,
                actor=lead,
                now=NOW,
                title="Second expiry",
                due_at=NOVEMBER,
                zone="UTC",
                kind="truce_expiry",
                truce_id=seeded.truce,
                visibility="restricted",
            )
    assert no.value.field == "visibility"
    assert await row_counts(db) == before


async def test_a_truce_view_holds_each_term_and_extension_once_in_order_in_one_statement(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    """The views' one statement joins terms and extensions, so a truce of four terms and
    three extensions comes back as twelve rows: each term and extension once, terms by
    position, extensions by decision, on both ways of reading."""
    from sqlalchemy import event

    from storage.models import TruceTerm

    terms = [truces.TermInput("United States", f"measure {n}", f"{n}%", "China") for n in range(4)]
    async with db.session() as s:
        await truces.set_terms(s, actor=lead, now=NOW, truce_id=seeded.truce, terms=terms)
        for n in range(3):
            await truces.extend_truce(
                s,
                actor=lead,
                now=NOW + timedelta(days=n),
                truce_id=seeded.truce,
                new_expiry=NOVEMBER + timedelta(days=30 * n),
            )
    async with db.session() as s:
        stored_terms = (
            await s.exec(
                select(TruceTerm)
                .where(col(TruceTerm.truce_id) == seeded.truce)
                .order_by(col(TruceTerm.position), col(TruceTerm.id))
            )
        ).all()
        stored_extensions = (
            await s.exec(select(TruceExtension).order_by(col(TruceExtension.decided_at)))
        ).all()
    statements: list[str] = []

    def seen(*_: object) -> None:
        statements.append("one")

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.session() as s:
            (through_a_session,) = [
                v for v in await truces.truce_views(s, track_ids=None) if v.truce.id == seeded.truce
            ]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    async with db.reads() as reads:
        (below_the_orm,) = [
            v for v in await truces.truce_views(reads, track_ids=None) if v.truce.id == seeded.truce
        ]
    for view in (through_a_session, below_the_orm):
        assert [(t.id, t.measure) for t in view.terms] == [
            (t.id, t.measure) for t in stored_terms
        ]
        assert [t.measure for t in view.terms] == [f"measure {n}" for n in range(4)]
        assert [(e.id, e.to_at) for e in view.extensions] == [
            (e.id, e.to_at) for e in stored_extensions
        ]
        assert len(view.extensions) == 3
        assert view.expiry is not None and view.expiry.due_at == NOVEMBER + timedelta(days=60)
