"""Issue 4's benchmark: a channel's digest over 10,000 events and 500 deadlines renders in
≤ 100 ms (SPEC §8).

    python -m bench.digest

Times `bot.render.digest.digest_message` (queries, sections, Block Kit and the JSON that is
posted) in a fresh session per run, against a big record and, alternately, against the
seeded founding case alone: the baseline measured in the same run.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import insert
from sqlmodel import SQLModel, col, select

from bench.report import Check, Report, main, percentile
from bot.clock import ManualClock
from bot.render.digest import digest_message
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import Database
from storage.models import (
    AuditEntry,
    Confidence,
    Deadline,
    DeadlineKind,
    DeadlineStatus,
    Event,
    EventKind,
    EventSensitivity,
    Sensitivity,
    Track,
    Visibility,
)
from storage.seed import default_seed_files, load_seed_files

EVENTS = 10_000
DEADLINES = 500
RUNS = 20
WARMUP_RUNS = 3
TARGET_MS = 100.0
CHANNEL = "CDIGEST01"
EVENT_SPAN = timedelta(days=180)
ZONES = ("America/New_York", "Europe/Brussels", "Asia/Shanghai", "Asia/Tokyo", "UTC")


@dataclass
class Timings:
    runs_ms: list[float]
    blocks: int
    characters: int

    @property
    def median_ms(self) -> float:
        return median(self.runs_ms)

    def line(self, name: str) -> str:
        return (
            f"{name}: median {self.median_ms:.1f} ms, p90 {percentile(self.runs_ms, 0.9):.1f} ms,"
            f" max {max(self.runs_ms):.1f} ms over {len(self.runs_ms)} runs "
            f"({self.blocks} blocks, {self.characters} characters of JSON)"
        )


def rows(model: type[SQLModel], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Column values as the model fills them (its defaults included), without the id."""
    return [model.model_validate(item).model_dump(exclude={"id"}) for item in items]


def event_audit_rows(events: list[dict[str, Any]], *, first_id: int) -> list[dict[str, Any]]:
    """The audit entry each bulk-added event would have left (WHAT CHANGED reads them back);
    the events' ids run from `first_id` in order."""
    return [
        {
            "at": e["created_at"],
            "actor": e["created_by"],
            "action": "add",
            "entity": "event",
            "entity_id": str(first_id + n),
            "after": {
                "title": e["title"],
                "track_id": e["track_id"],
                "visibility": str(e["visibility"]),
                "occurred_at": e["occurred_at"].isoformat(),
                "zone": e["zone"],
                "confidence": str(e["confidence"]),
            },
        }
        for n, e in enumerate(events)
    ]


async def seeded_database(path: Path, now: datetime) -> Database:
    db = Database(f"sqlite:///{path}")
    await db.upgrade()
    async with db.session() as session:
        await load_seed_files(session, default_seed_files(), now=now)
    return db


async def add_bulk_record(db: Database, now: datetime) -> None:
    """EVENTS events (a third tagged with a sensitivity) and DEADLINES deadlines, in bulk."""
    pick = random.Random(4).choice
    async with db.session() as session:
        track_ids = [t.id for t in (await session.exec(select(Track))).all()] + [None]
        sensitivity_ids = [s.id for s in (await session.exec(select(Sensitivity))).all()]
        last_seeded_id = (
            await session.exec(select(col(Event.id)).order_by(col(Event.id).desc()))
        ).first() or 0
    events = []
    for n in range(EVENTS):
        occurred = now - EVENT_SPAN * (n / EVENTS)
        events.append(
            {
                "track_id": pick(track_ids),
                "occurred_at": occurred,
                "zone": pick(ZONES),
                "kind": pick(list(EventKind)),
                "title": f"Event {n}: statement on tariffs & <export controls>",
                "summary": "Officials suggest the talks will continue; " * 4,
                "source_name": pick(("Reuters", "Financial Times", "Xinhua", "Bloomberg")),
                "source_url": f"https://example.org/news/{n}",
                "confidence": pick(list(Confidence)),
                "visibility": Visibility.restricted if n % 10 == 0 else Visibility.team,
                "created_at": occurred,
                "created_by": "ULEAD001",
            }
        )
    deadlines = []
    for n in range(DEADLINES):
        deadlines.append(
            {
                "track_id": pick(track_ids),
                "title": f"Deadline {n}: tariff review",
                "due_at": now + timedelta(days=-60 + 180 * n / DEADLINES, minutes=n),
                "zone": pick(ZONES),
                "kind": pick(list(DeadlineKind)),
                "status": DeadlineStatus.open if n % 5 else DeadlineStatus.met,
                "visibility": Visibility.restricted if n % 10 == 0 else Visibility.team,
                "created_at": now - timedelta(days=90),
            }
        )
    tags = [
        {"event_id": last_seeded_id + 1 + n, "sensitivity_id": pick(sensitivity_ids)}
        for n in range(0, EVENTS, 3)
    ]
    # Each event added by a lead leaves its audit entry, which WHAT CHANGED reads back.
    audit = event_audit_rows(events, first_id=last_seeded_id + 1)
    async with db.engine.begin() as connection:
        await connection.execute(insert(Event), rows(Event, events))
        await connection.execute(insert(Deadline), rows(Deadline, deadlines))
        await connection.execute(insert(EventSensitivity), tags)
        await connection.execute(insert(AuditEntry), audit)


async def render_once(db: Database, runtime: Runtime) -> tuple[float, dict[str, Any], str]:
    """One digest as the scheduler makes it: a fresh session, the message, its JSON."""
    started = time.perf_counter()
    async with db.session() as session:
        digest = await digest_message(session, runtime, CHANNEL)
    posted = json.dumps(digest)
    return (time.perf_counter() - started) * 1000, digest, posted


async def measure(big: Database, small: Database, now: datetime) -> tuple[Timings, Timings]:
    """Alternates the big record and the baseline, so noise on the machine hits both."""
    settings = Settings()
    runtimes = {
        id(db): Runtime(settings=settings, db=db, clock=ManualClock(now)) for db in (big, small)
    }
    timings: dict[int, Timings] = {}
    for n in range(WARMUP_RUNS + RUNS):
        for db in (big, small) if n % 2 == 0 else (small, big):
            elapsed, digest, posted = await render_once(db, runtimes[id(db)])
            measured = timings.setdefault(id(db), Timings([], len(digest["blocks"]), len(posted)))
            if n >= WARMUP_RUNS:
                measured.runs_ms.append(elapsed)
    return timings[id(big)], timings[id(small)]


async def run() -> Report:
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="parley-bench-digest-") as tmp:
        big = await seeded_database(Path(tmp) / "big.db", now)
        small = await seeded_database(Path(tmp) / "seeded.db", now)
        try:
            started = time.perf_counter()
            await add_bulk_record(big, now)
            built_in = time.perf_counter() - started
            big_timings, small_timings = await measure(big, small, now)
        finally:
            await big.dispose()
            await small.dispose()
    report = Report(f"Digest: {EVENTS:,} events and {DEADLINES} deadlines, {RUNS} renders")
    report.figures += [
        f"record built in {built_in:.1f} s (bulk insert)",
        big_timings.line("big record"),
        small_timings.line("baseline, the seeded case alone"),
        f"big/baseline: median {big_timings.median_ms / small_timings.median_ms:.2f}",
    ]
    report.checks.append(
        Check(
            "digest render, median",
            f"{big_timings.median_ms:.1f} ms (max {max(big_timings.runs_ms):.1f} ms)",
            f"<= {TARGET_MS:.0f} ms",
            big_timings.median_ms <= TARGET_MS,
        )
    )
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
