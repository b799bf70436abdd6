"""Issue 4's benchmark: one countdown fanned out to 500 subscribed channels (SPEC §8).

    python -m bench.fanout

The Slack stand-in allows one post per second per channel and answers 10 % of posts with
429 (`Retry-After: 1`). All 500 must be delivered and none twice. The ideal is the same
fan-out measured in the same run against a stand-in that never rate-limits; the figure is
the ratio of the two wall times.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.report import Check, Report, main
from bot.clock import ManualClock
from bot.scheduler import METADATA_TYPE, Scheduler, delivery_client
from bot.settings import Settings
from storage.access import CLI
from storage.db import Database
from storage.deadlines import add_deadline
from storage.models import Subscription
from tests.support.slack import SlackStandIn

CHANNELS = 500
LIMITED_SHARE = 0.1
START = datetime(2025, 8, 1, 9, 0, tzinfo=UTC)
DUE = START + timedelta(days=2)


async def _record(folder: Path, name: str) -> Database:
    db = Database(f"sqlite:///{folder / name}")
    await db.upgrade()
    async with db.session() as session:
        await add_deadline(
            session,
            actor=CLI,
            now=START,
            title="Tariff snapback",
            due_at=DUE,
            zone="America/New_York",
            offsets="1d",
        )
        rows = [
            {
                "channel_id": f"C{n:09d}",
                "digest_enabled": False,
                "digest_time": "08:00",
                "digest_zone": "UTC",
                "weekdays_only": False,
                "countdowns_enabled": True,
                "restricted": False,
                "active": True,
                "created_by": "cli",
                "created_at": START,
                "active_since": START,
            }
            for n in range(CHANNELS)
        ]
        await session.exec(insert(Subscription).values(rows))
        await session.commit()
    return db


async def _fan_out(db: Database, *, limited: bool) -> tuple[float, Counter[str], int]:
    """Wall time of the tick that posts the countdown, the keys posted, the 429s answered."""
    async with SlackStandIn(strict=False) as standin:
        if limited:
            standin.rate_limit_per_channel = 1.0
            standin.rate_limit_ratio = LIMITED_SHARE
        settings = Settings(bot_token="xoxb-bench", api_url=standin.api_url)
        clock = ManualClock(DUE - timedelta(days=1) + timedelta(seconds=1))
        scheduler = Scheduler(
            db=db, client=delivery_client(settings), clock=clock, settings=settings
        )
        started = time.perf_counter()
        await scheduler.tick()
        wall = time.perf_counter() - started
        posted = Counter(
            c.args["metadata"]["event_payload"]["key"]
            for c in standin.calls_to("chat.postMessage")
            if isinstance(c.response, dict)
            and c.response.get("ok")
            and (c.args.get("metadata") or {}).get("event_type") == METADATA_TYPE
        )
        answered_429 = sum(1 for c in standin.calls_to("chat.postMessage") if c.status == 429)
    return wall, posted, answered_429


async def run() -> Report:
    report = Report(f"Fan-out: one countdown to {CHANNELS} channels through a rate-limited Slack")
    with tempfile.TemporaryDirectory() as folder:
        ideal_db = await _record(Path(folder), "ideal.db")
        limited_db = await _record(Path(folder), "limited.db")
        try:
            ideal, ideal_posted, _ = await _fan_out(ideal_db, limited=False)
            wall, posted, answered_429 = await _fan_out(limited_db, limited=True)
        finally:
            await ideal_db.dispose()
            await limited_db.dispose()
    twice = sum(1 for n in posted.values() if n > 1)
    report.figures += [
        f"ideal (no rate limit): {ideal:.2f} s for {len(ideal_posted)} posts",
        f"rate-limited: {wall:.2f} s for {len(posted)} posts; {answered_429} answered 429 "
        f"and retried after Retry-After",
        f"ratio to ideal: {wall / ideal:.2f}",
    ]
    report.checks += [
        Check(
            "all delivered",
            f"{len(posted)} of {CHANNELS}",
            f"{CHANNELS} of {CHANNELS}",
            len(posted) == CHANNELS,
        ),
        Check("none twice", f"{twice} posted twice", "0", twice == 0),
    ]
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
