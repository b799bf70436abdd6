"""Loads the seed files in `seeds/` through the service layer (actor `seed`).

Every item carries a stable `key`; an item whose key is already in the record is skipped,
so loading twice is the same as loading once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import deadlines, events, rounds, sensitivities, tracks, truces
from storage.access import SEED
from storage.errors import InvalidInput
from storage.models import Deadline, Event, Sensitivity, TalksRound, Track, Truce


def default_seed_files() -> list[Path]:
    import seeds

    folder = Path(seeds.__file__).parent
    return sorted(folder.glob("*.yaml"))


@dataclass
class SeedReport:
    added: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    def count(self, kind: str) -> None:
        self.added[kind] = self.added.get(kind, 0) + 1

    def __str__(self) -> str:
        parts = [f"{n} {kind}" for kind, n in self.added.items()]
        return f"added {', '.join(parts) or 'nothing'}; {self.skipped} already present"


def local(text: str | None, zone: str) -> datetime | None:
    if text is None:
        return None
    wall = datetime.strptime(str(text), "%Y-%m-%d %H:%M")
    return wall.replace(tzinfo=ZoneInfo(zone))


def required_local(text: str, zone: str) -> datetime:
    instant = local(text, zone)
    assert instant is not None
    return instant


async def _exists(session: AsyncSession, model: type[SQLModel], key: str) -> bool:
    column = getattr(model, "seed_key")  # noqa: B009  (every seeded table has it)
    return (await session.exec(select(model).where(col(column) == key))).first() is not None


async def _id_by_key(session: AsyncSession, model: type[Any], key: str | None) -> int | None:
    if key is None:
        return None
    row = (await session.exec(select(model).where(col(model.seed_key) == key))).first()
    if row is None:
        raise InvalidInput(f"seed refers to unknown {model.__name__} {key!r}")
    return int(row.id)


async def _track_id(session: AsyncSession, handle: str | None) -> int | None:
    if handle is None:
        return None
    row = (await session.exec(select(Track).where(col(Track.handle) == handle))).first()
    if row is None:
        raise InvalidInput(f"seed refers to unknown track {handle!r}")
    return row.id


def read_seed(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != 1:
        raise InvalidInput(f"{path.name}: not a Parley seed file (expected 'version: 1').")
    return data


async def load_seed(session: AsyncSession, data: dict[str, Any], *, now: datetime) -> SeedReport:
    report = SeedReport()
    for item in data.get("tracks", []):
        if await _exists(session, Track, item["key"]) or await tracks.is_track_handle(
            session, item["key"]
        ):
            report.skipped += 1
            continue
        await tracks.add_track(
            session,
            actor=SEED,
            now=now,
            handle=item["key"],
            name=item["name"],
            parties=list(item.get("parties", [])),
            status=item.get("status", "active"),
            seed_key=item["key"],
        )
        report.count("tracks")
    for item in data.get("sensitivities", []):
        slug = item["key"]
        if (await session.exec(select(Sensitivity).where(col(Sensitivity.slug) == slug))).first():
            report.skipped += 1
            continue
        await sensitivities.add_sensitivity(
            session,
            actor=SEED,
            now=now,
            name=item["name"],
            slug=slug,
            level=item.get("level", "medium"),
            description=item.get("description", ""),
            keywords=list(item.get("keywords", [])),
            visibility=item.get("visibility", "team"),
        )
        report.count("sensitivities")
    for item in data.get("rounds", []):
        if await _exists(session, TalksRound, item["key"]):
            report.skipped += 1
            continue
        zone = item.get("zone", "UTC")
        source = item.get("source") or {}
        await rounds.add_round(
            session,
            actor=SEED,
            now=now,
            title=item["title"],
            place=item.get("place", ""),
            starts_at=required_local(item["starts_at"], zone),
            ends_at=local(item.get("ends_at"), zone),
            zone=zone,
            track_id=await _track_id(session, item.get("track")),
            status=item.get("status", "scheduled"),
            outcome=item.get("outcome") or "",
            delegations=[
                rounds.DelegationInput(d["party"], d["lead"], d.get("title", ""))
                for d in item.get("delegations", [])
            ],
            source_name=source.get("name", ""),
            source_url=source.get("url") or "",
            seed_key=item["key"],
        )
        report.count("rounds")
    for item in data.get("truces", []):
        if await _exists(session, Truce, item["key"]):
            report.skipped += 1
            continue
        zone = item.get("zone", "UTC")
        source = item.get("source") or {}
        truce = await truces.add_truce(
            session,
            actor=SEED,
            now=now,
            title=item["title"],
            parties=list(item.get("parties", [])),
            expires_at=required_local(item["expires_at"], zone),
            zone=zone,
            starts_at=local(item.get("starts_at"), zone),
            track_id=await _track_id(session, item.get("track")),
            status=item.get("status", "active"),
            terms=[
                truces.TermInput(
                    t["party"], t["measure"], str(t.get("rate", "")), t.get("target", "")
                )
                for t in item.get("terms", [])
            ],
            source_name=source.get("name", ""),
            source_url=source.get("url") or "",
            seed_key=item["key"],
        )
        report.count("truces")
        for ext in item.get("extensions", []):
            assert truce.id is not None
            await truces.extend_truce(
                session,
                actor=SEED,
                now=required_local(ext["decided_at"], zone),
                truce_id=truce.id,
                new_expiry=required_local(ext["to"], zone),
                source=(ext.get("source") or {}).get("name", ""),
            )
    for item in data.get("deadlines", []):
        if await _exists(session, Deadline, item["key"]):
            report.skipped += 1
            continue
        zone = item.get("zone", "UTC")
        await deadlines.add_deadline(
            session,
            actor=SEED,
            now=now,
            title=item["title"],
            due_at=required_local(item["due_at"], zone),
            zone=zone,
            kind=item.get("kind", "other"),
            track_id=await _track_id(session, item.get("track")),
            truce_id=await _id_by_key(session, Truce, item.get("truce")),
            round_id=await _id_by_key(session, TalksRound, item.get("round")),
            visibility=item.get("visibility", "team"),
            allow_past=True,
            seed_key=item["key"],
        )
        report.count("deadlines")
    for item in data.get("events", []):
        if await _exists(session, Event, item["key"]):
            report.skipped += 1
            continue
        zone = item.get("zone", "UTC")
        source = item.get("source") or {}
        occurred = required_local(item["occurred_at"], zone)
        await events.add_event(
            session,
            actor=SEED,
            now=now,
            title=item["title"],
            occurred_at=occurred,
            zone=zone,
            kind=item.get("kind", "other"),
            summary=item.get("summary", ""),
            source_name=source.get("name", ""),
            source_url=source.get("url") or "",
            confidence=item.get("confidence", "reported"),
            visibility=item.get("visibility", "team"),
            track_id=await _track_id(session, item.get("track")),
            round_id=await _id_by_key(session, TalksRound, item.get("round")),
            seed_key=item["key"],
        )
        report.count("events")
    return report


async def load_seed_files(session: AsyncSession, paths: list[Path], *, now: datetime) -> SeedReport:
    total = SeedReport()
    for path in paths:
        part = await load_seed(session, read_seed(path), now=now)
        for kind, n in part.added.items():
            total.added[kind] = total.added.get(kind, 0) + n
        total.skipped += part.skipped
    return total
