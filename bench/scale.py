"""SPEC §8 at scale: a generated record of 10,000 events, 500 deadlines, 100 rounds, 50
sensitivities and 500 subscribed channels; every read command at 10 concurrent clients
(p99 ≤ 100 ms, App Home ≤ 150 ms), a channel's digest (≤ 100 ms) and `parley serve`'s
memory after the load (≤ 150 MB RSS), on SQLite and on PostgreSQL.

    python -m bench scale
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp
from sqlalchemy import insert
from sqlmodel import col, select

from bench.commands import APP_HOME, BOT_TOKEN, SIGNING_SECRET, prepare_record
from bench.databases import bench_database, chosen_kinds
from bench.digest import event_audit_rows, rows
from bench.http import chosen_reads
from bench.load import HomeAnswers, drive
from bench.report import Check, Report, main, percentile
from bench.servers import LOOPBACK, free_port, pin_load, spawn
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
    Delegation,
    Event,
    EventKind,
    EventSensitivity,
    Level,
    RoundStatus,
    Sensitivity,
    Subscription,
    TalksRound,
    Track,
    Visibility,
)
from tests.support.slack import SlackStandIn

EVENTS = 10_000
DEADLINES = 500
ROUNDS = 100
SENSITIVITIES = 50
CHANNELS = 500
CLIENTS = 10
WARMUP_REQUESTS = 50
REQUESTS = 400
READ_P99_MS = 100.0
HOME_P99_MS = 150.0
DIGEST_MS = 100.0
DIGEST_RUNS = 20
RSS_MB = 150.0
EVENT_SPAN = timedelta(days=180)
ZONES = ("America/New_York", "Europe/Brussels", "Asia/Shanghai", "Asia/Tokyo", "UTC")
WORDS = (
    "tariff",
    "export controls",
    "rare earths",
    "soybeans",
    "fentanyl",
    "chips",
    "shipping",
    "稀土",
    "关税",
    "Taiwan",
)


async def _ids(db: Database, column: Any) -> list[int]:
    async with db.session() as session:
        return [int(i) for i in (await session.exec(select(column))).all()]


async def add_bulk_record(db: Database, now: datetime) -> None:
    """Tops the seeded case up to the sizes above, in bulk (with the audit entries an added
    event leaves, which the digest's WHAT CHANGED reads back)."""
    pick = random.Random(12).choice
    track_ids: list[int | None] = [*await _ids(db, col(Track.id)), None]
    have = len(await _ids(db, col(Sensitivity.id)))
    sensitivities = [
        {
            "slug": f"topic-{n}",
            "name": f"Topic {n} {WORDS[n % len(WORDS)]}",
            "level": list(Level)[n % 4],
            "description": f"Watch {WORDS[n % len(WORDS)]} around round {n}.",
            "keywords": [f"topic{n}", WORDS[n % len(WORDS)]],
            "visibility": Visibility.restricted if n % 7 == 0 else Visibility.team,
        }
        for n in range(max(0, SENSITIVITIES - have))
    ]
    have_rounds = len(await _ids(db, col(TalksRound.id)))
    rounds = [
        {
            "track_id": pick(track_ids),
            "title": f"Round {n} on {WORDS[n % len(WORDS)]}",
            "place": pick(("Geneva", "London", "Stockholm", "Madrid", "Kuala Lumpur")),
            "starts_at": now + timedelta(days=-150 + 3 * n),
            "ends_at": now + timedelta(days=-150 + 3 * n, hours=30),
            "zone": pick(ZONES),
            "status": RoundStatus.scheduled,
        }
        for n in range(max(0, ROUNDS - have_rounds))
    ]
    async with db.engine.begin() as connection:
        if sensitivities:
            await connection.execute(insert(Sensitivity), rows(Sensitivity, sensitivities))
        if rounds:
            await connection.execute(insert(TalksRound), rows(TalksRound, rounds))
    sensitivity_ids = await _ids(db, col(Sensitivity.id))
    round_ids = await _ids(db, col(TalksRound.id))
    last_event = max(await _ids(db, col(Event.id)) or [0])
    events = []
    for n in range(EVENTS):
        occurred = now - EVENT_SPAN * (n / EVENTS)
        word = WORDS[n % len(WORDS)]
        events.append(
            {
                "track_id": pick(track_ids),
                "occurred_at": occurred,
                "zone": pick(ZONES),
                "kind": pick(list(EventKind)),
                "title": f"Event {n}: statement on {word} & <export controls>",
                "summary": f"Officials suggest the talks on {word} will continue; " * 4,
                "source_name": pick(("Reuters", "Financial Times", "Xinhua", "Bloomberg")),
                "source_url": f"https://example.org/news/{n}",
                "confidence": pick(list(Confidence)),
                "visibility": Visibility.restricted if n % 10 == 0 else Visibility.team,
                "created_at": occurred,
                "created_by": "ULEAD001",
            }
        )
    deadlines = [
        {
            "track_id": pick(track_ids),
            "title": f"Deadline {n}: {WORDS[n % len(WORDS)]} review",
            "due_at": now + timedelta(days=-60 + 180 * n / DEADLINES, minutes=n),
            "zone": pick(ZONES),
            "kind": pick(list(DeadlineKind)),
            "status": DeadlineStatus.open if n % 5 else DeadlineStatus.met,
            "visibility": Visibility.restricted if n % 10 == 0 else Visibility.team,
            "created_at": now - timedelta(days=90),
        }
        for n in range(DEADLINES)
    ]
    tags = [
        {"event_id": last_event + 1 + n, "sensitivity_id": pick(sensitivity_ids)}
        for n in range(0, EVENTS, 3)
    ]
    delegations = [
        {"round_id": r, "party": party, "lead_name": f"Lead of {party}", "lead_title": "Minister"}
        for r in round_ids[-ROUNDS:]
        for party in ("United States", "China")
    ]
    subscriptions = [
        {
            "channel_id": f"CSCALE{n:04d}",
            "digest_time": f"{n % 24:02d}:00",
            "digest_zone": pick(ZONES),
            "restricted": n % 25 == 0,
            "created_by": "ULEAD001",
            "created_at": now - timedelta(days=30),
            "active_since": now - timedelta(days=30),
        }
        for n in range(CHANNELS)
    ]
    audit = event_audit_rows(events, first_id=last_event + 1)
    async with db.engine.begin() as connection:
        await connection.execute(insert(Event), rows(Event, events))
        await connection.execute(insert(Deadline), rows(Deadline, deadlines))
        await connection.execute(insert(EventSensitivity), tags)
        await connection.execute(insert(Delegation), rows(Delegation, delegations))
        await connection.execute(insert(Subscription), rows(Subscription, subscriptions))
        await connection.execute(insert(AuditEntry), audit)
    await db.analyze()  # as after any bulk load (and as `parley serve` does at start)
    # The search index follows by itself: FTS5 triggers, PostgreSQL's generated columns.


async def digest_runs(db: Database, now: datetime) -> list[float]:
    """A subscribed channel's digest as the scheduler makes it: a fresh session each time."""
    runtime = Runtime(settings=Settings(), db=db, clock=ManualClock(now))
    runs = []
    for n in range(3 + DIGEST_RUNS):
        started = time.perf_counter()
        async with db.session() as session:
            digest = await digest_message(session, runtime, "CSCALE0001")
        json.dumps(digest)
        if n >= 3:
            runs.append((time.perf_counter() - started) * 1000)
    return runs


async def measure(kind: str, workdir: Path, url: str, report: Report) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    await prepare_record(url, now)
    db = Database(url)
    try:
        await add_bulk_record(db, now)
        built = time.perf_counter() - started
        digests = await digest_runs(db, now)
    finally:
        await db.dispose()
    report.figures.append(f"== {kind}: record built in {built:.1f} s")
    async with SlackStandIn(strict=True) as standin:
        port = free_port()
        server = await spawn(
            "parley serve",
            [
                str(Path(sys.executable).with_name("parley")),
                "serve",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
            ],
            port=port,
            env={
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": standin.api_url,
                "PARLEY_DATABASE_URL": url,
                "PARLEY_SCHEDULER": "off",
                "PARLEY_ANSWER_CACHE": "off",  # SPEC §8: every answer made from the record
            },
            cwd=workdir,
            log_path=workdir / "parley.log",
        )
        homes = HomeAnswers(standin)
        try:
            async with aiohttp.ClientSession() as http:
                for read in chosen_reads():
                    await drive(
                        http, server, read, requests=WARMUP_REQUESTS, clients=CLIENTS, homes=homes
                    )
                    measured = await drive(
                        http, server, read, requests=REQUESTS, clients=CLIENTS, homes=homes
                    )
                    standin.reset()
                    p50 = percentile(measured.latencies, 0.5) * 1000
                    p99 = percentile(measured.latencies, 0.99) * 1000
                    target = HOME_P99_MS if read.name == APP_HOME else READ_P99_MS
                    report.figures.append(
                        f"{read.name:<20} {measured.throughput:6.0f} req/s, p50 {p50:6.1f} ms, "
                        f"p99 {p99:6.1f} ms, CPU "
                        f"{1000 * measured.server_cpu / max(1, measured.count):.2f} ms/req"
                    )
                    report.checks.append(
                        Check(
                            f"{kind} at scale {read.name}",
                            f"p99 {p99:.1f} ms, {measured.errors} not 200 within 3 s",
                            f"<= {target:.0f} ms, 0",
                            p99 <= target and measured.errors == 0,
                        )
                    )
            rss = server.rss_mb
        finally:
            server.stop()
    report.figures.append(
        f"digest of CSCALE0001: median {median(digests):.1f} ms, "
        f"max {max(digests):.1f} ms over {len(digests)} renders"
    )
    report.checks += [
        Check(
            f"{kind} at scale digest render, median",
            f"{median(digests):.1f} ms",
            f"<= {DIGEST_MS:.0f} ms",
            median(digests) <= DIGEST_MS,
        ),
        Check(
            f"{kind} at scale RSS after load", f"{rss:.1f} MB", f"<= {RSS_MB:.0f} MB", rss <= RSS_MB
        ),
    ]


async def run() -> Report:
    report = Report(
        f"At scale: {EVENTS:,} events, {DEADLINES} deadlines, {ROUNDS} rounds, "
        f"{SENSITIVITIES} sensitivities, {CHANNELS} channels; {CLIENTS} concurrent, "
        f"{REQUESTS} requests per read"
    )
    report.figures.append(pin_load())
    for kind in chosen_kinds():
        with tempfile.TemporaryDirectory(prefix="parley-bench-scale-") as tmp:
            async with bench_database(kind, Path(tmp)) as url:
                await measure(kind, Path(tmp), url, report)
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
