"""The record as storage tests see it: the founding case's ids, row counts, the audit trail,
UTC checks, and one call of every write service (for the permission and audit tests)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import (
    deadlines,
    events,
    roles,
    rounds,
    sensitivities,
    sources,
    subscriptions,
    tracks,
    truces,
)
from storage.access import Actor
from storage.db import Database
from storage.models import (
    AuditEntry,
    Deadline,
    DeadlineKind,
    Sensitivity,
    TalksRound,
    Track,
    Truce,
)
from tests.support.people import AS_OF

MEMBER = Actor("UMEMBER")
LEAD = Actor("ULEAD")
NOW = AS_OF


@dataclass(frozen=True)
class Seeded:
    """Ids in the seeded founding case."""

    us_china: int
    us_eu: int
    truce: int
    expiry: int
    stockholm: int
    taiwan: int


async def load_ids(db: Database) -> Seeded:
    async with db.session() as s:
        by_handle = {t.handle: t.id for t in (await s.exec(select(Track))).all()}
        truce = (await s.exec(select(Truce))).one()
        expiry = (
            await s.exec(
                select(Deadline).where(
                    col(Deadline.truce_id) == truce.id,
                    col(Deadline.kind) == DeadlineKind.truce_expiry,
                )
            )
        ).one()
        stockholm = (
            await s.exec(select(TalksRound).where(col(TalksRound.seed_key) == "stockholm-2025"))
        ).one()
        taiwan = (await s.exec(select(Sensitivity).where(col(Sensitivity.slug) == "taiwan"))).one()
    ids = (by_handle["us-china"], by_handle["us-eu"], truce.id, expiry.id, stockholm.id, taiwan.id)
    assert all(i is not None for i in ids)
    return Seeded(*ids)  # type: ignore[arg-type]


async def row_counts(db: Database) -> dict[str, int]:
    """Rows in every table of the record."""
    counts: dict[str, int] = {}
    async with db.session() as s:
        for name, table in SQLModel.metadata.tables.items():
            counts[name] = (await s.exec(select(func.count()).select_from(table))).one()
    return counts


async def audit_trail(db: Database) -> list[AuditEntry]:
    async with db.session() as s:
        return list((await s.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


WriteCall = Callable[[AsyncSession, Actor, Seeded], Awaitable[Any]]
LATER = NOW + timedelta(days=3)


# One call of every write service: name → (call, expected audit (action, entity)).
WRITES: dict[str, tuple[WriteCall, tuple[str, str]]] = {
    "add_track": (
        lambda s, a, ids: tracks.add_track(
            s, actor=a, now=NOW, handle="us-uk", name="US–UK trade", parties=["US", "UK"]
        ),
        ("add", "track"),
    ),
    "add_deadline": (
        lambda s, a, ids: deadlines.add_deadline(
            s,
            actor=a,
            now=NOW,
            title="Senate vote",
            due_at=LATER,
            zone="America/New_York",
            kind="legislative_step",
            track_id=ids.us_china,
        ),
        ("add", "deadline"),
    ),
    "update_deadline": (
        lambda s, a, ids: deadlines.update_deadline(
            s, actor=a, now=NOW, deadline_id=ids.expiry, title="Tariffs snap back"
        ),
        ("update", "deadline"),
    ),
    "add_truce": (
        lambda s, a, ids: truces.add_truce(
            s,
            actor=a,
            now=NOW,
            title="US–EU standstill",
            parties=["US", "EU"],
            expires_at=LATER,
            zone="Europe/Brussels",
            track_id=ids.us_eu,
            terms=[truces.TermInput("US", "tariff on EU goods", "15%", "EU")],
        ),
        ("add", "truce"),
    ),
    "extend_truce": (
        lambda s, a, ids: truces.extend_truce(
            s, actor=a, now=NOW, truce_id=ids.truce, new_expiry=utc(2025, 11, 10, 5, 1)
        ),
        ("extend", "truce"),
    ),
    "set_terms": (
        lambda s, a, ids: truces.set_terms(
            s,
            actor=a,
            now=NOW,
            truce_id=ids.truce,
            terms=[truces.TermInput("United States", "additional tariff", "20%", "China")],
        ),
        ("set_terms", "truce"),
    ),
    "add_round": (
        lambda s, a, ids: rounds.add_round(
            s,
            actor=a,
            now=NOW,
            title="Madrid round",
            starts_at=LATER,
            zone="Europe/Madrid",
            track_id=ids.us_china,
            delegations=[rounds.DelegationInput("United States", "Scott Bessent")],
        ),
        ("add", "round"),
    ),
    "update_round": (
        lambda s, a, ids: rounds.update_round(
            s, actor=a, now=NOW, round_id=ids.stockholm, status="concluded"
        ),
        ("update", "round"),
    ),
    "add_sensitivity": (
        lambda s, a, ids: sensitivities.add_sensitivity(
            s, actor=a, now=NOW, name="Fentanyl", level="high", keywords=["fentanyl"]
        ),
        ("add", "sensitivity"),
    ),
    "update_sensitivity": (
        lambda s, a, ids: sensitivities.update_sensitivity(
            s, actor=a, now=NOW, sensitivity_id=ids.taiwan, level="critical"
        ),
        ("update", "sensitivity"),
    ),
    "add_event": (
        lambda s, a, ids: events.add_event(
            s,
            actor=a,
            now=NOW,
            title="Talks end without a deal",
            occurred_at=NOW,
            track_id=ids.us_china,
        ),
        ("add", "event"),
    ),
    "subscribe": (
        lambda s, a, ids: subscriptions.subscribe(s, actor=a, now=NOW, channel_id="CNEWS"),
        ("subscribe", "subscription"),
    ),
    "add_source": (
        lambda s, a, ids: sources.add_source(
            s, actor=a, now=NOW, url="https://ustr.gov/feed", name="USTR", tracks=["us-china"]
        ),
        ("add", "source"),
    ),
    "grant_lead": (
        lambda s, a, ids: roles.grant_lead(s, actor=a, now=NOW, user_id="UNEWLEAD"),
        ("grant", "role"),
    ),
}
LEAD_WRITES = [name for name in WRITES if name != "grant_lead"]
