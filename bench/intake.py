"""Issue 14's benchmark: one poll round of 200 sources × 50 items against a local feed
server (its own process) takes ≤ 10 s on a 2-core machine; CPU per item and memory printed.

    python -m bench.intake

Three rounds, each timed: the first (every entry new: parsed, stored, not proposed), an
unchanged one (every source answers 304), and one where each feed has one new entry (a
few of which match a sensitivity and are proposed). CPU is this process's (the poller's)
user + system time; the feed server's is its own.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

from bench.feed_server import ITEMS, START
from bench.report import Check, Report, main
from bench.servers import free_port, rss_mb, spawn
from bot.clock import ManualClock
from bot.intake.poll import Intake
from bot.settings import Settings
from storage import sources
from storage.access import CLI
from storage.db import Database
from storage.seed import default_seed_files, load_seed_files

SOURCES = 200
TARGET_SECONDS = 10.0
REPO = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _round(intake: Intake) -> tuple[float, float, int, int, int]:
    """(seconds, CPU seconds, new items, proposals, errors) of one round."""
    cpu, started = _cpu(), time.perf_counter()
    outcomes = await intake.poll_due()
    seconds, used = time.perf_counter() - started, _cpu() - cpu
    assert len(outcomes) == SOURCES, f"polled {len(outcomes)} of {SOURCES}"
    errors = [o.error for o in outcomes if o.status == "error"]
    return (
        seconds,
        used,
        sum(o.new for o in outcomes),
        sum(len(o.proposed) for o in outcomes),
        len(errors),
    )


async def run() -> Report:
    report = Report(f"Intake: one poll round of {SOURCES} sources × {ITEMS} items (SQLite)")
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = await spawn(
            "feed server",
            [sys.executable, "-m", "bench.feed_server", str(port)],
            port=port,
            env={},
            cwd=REPO,
            log_path=Path(folder) / "feeds.log",
        )
        db = Database(f"sqlite:///{Path(folder) / 'intake.db'}")
        try:
            await db.upgrade()
            clock = ManualClock(START)
            async with db.session() as s:
                await load_seed_files(s, default_seed_files(), now=START)
                for n in range(SOURCES):
                    await sources.add_source(
                        s,
                        actor=CLI,
                        now=START,
                        url=f"{server.url}/feed/{n}",
                        name=f"Feed {n}",
                        allow_private=True,
                    )
            settings = Settings(intake_allow_private=True)
            intake = Intake(db=db, clock=clock, settings=settings, worker="bench")
            rss_before = rss_mb(os.getpid())
            first = await _round(intake)
            clock.advance(timedelta(minutes=20))
            unchanged = await _round(intake)
            async with aiohttp.ClientSession() as http:
                await http.post(f"{server.url}/bump")
            clock.advance(timedelta(minutes=20))
            changed = await _round(intake)
            rss_after = rss_mb(os.getpid())
        finally:
            await db.dispose()
            server.stop()
    for name, parsed, (seconds, cpu, new, proposed, errors) in (
        ("first round (all new)", SOURCES * ITEMS, first),
        ("unchanged round (304s)", 0, unchanged),
        ("one new entry a feed", SOURCES * (ITEMS + 1), changed),
    ):
        per_item = f", {cpu / parsed * 1000:.2f} ms CPU per entry parsed" if parsed else ""
        report.figures.append(
            f"{name}: {seconds:.2f} s, {cpu:.2f} s CPU{per_item}; {new} new items, "
            f"{proposed} proposed, {errors} errors"
        )
    report.figures.append(
        f"poller memory: {rss_before:.0f} MB RSS before, {rss_after:.0f} MB after"
    )
    report.notes.append(
        f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(the wall times include waiting for the CPU when others use it)"
    )
    worst = max(first[0], unchanged[0], changed[0])
    report.checks.append(
        Check(
            "slowest poll round",
            f"{worst:.2f} s",
            f"≤ {TARGET_SECONDS:.0f} s",
            worst <= TARGET_SECONDS and not (first[4] or unchanged[4] or changed[4]),
        )
    )
    report.checks.append(
        Check(
            "first round stores every entry, proposes none",
            f"{first[2]} / {first[3]}",
            f"{SOURCES * ITEMS} / 0",
            first[2] == SOURCES * ITEMS and first[3] == 0,
        )
    )
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
