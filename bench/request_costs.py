"""Where the CPU of one `/truce` or `/deadline` request goes, measured in-process.

    python -m bench.request_costs

`parley serve` is CPU-bound under load, so CPU time per request is the figure that sets its
throughput. cProfile cannot follow SQLAlchemy's greenlets or aiosqlite's worker threads, so
each part is timed on its own (process CPU time, which counts those threads too), one call
after another, against the same seeded record as `bench.http`.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy import event, literal
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.bare_app import build_bare_app
from bench.commands import (
    BOT_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    SignedCommand,
    command_forms,
    prepare_record,
    sign_all,
)
from bench.report import Report, main
from bot.app import build_app, build_client
from bot.clock import SystemClock
from bot.render.blocks import header, message
from bot.render.present import deadline_block, truce_blocks
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.request import read_command
from storage import deadlines, tracks, truces
from storage.access import role_of
from storage.db import Database
from storage.subscriptions import get_subscription
from tests.support.slack import SlackStandIn

CALLS = 200
BATCHES = 5
CONCURRENT = 10  # calls in flight at once, as under load: idle wake-ups are shared out
USER = "UBENCH001"
READER_ZONE = "Europe/Stockholm"


@dataclass(frozen=True)
class Cost:
    part: str
    cpu_ms: float
    statements: float  # SQL statements per call


class StatementCounter:
    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any, **__: Any) -> None:
        self.count += 1


async def cpu_per_call(
    part: str, call: Callable[[], Awaitable[Any]], counter: StatementCounter
) -> Cost:
    """Process CPU time (main thread and database threads) of one call, after warm-up:
    the median over BATCHES batches, so a burst of noise on the machine spoils one at most."""
    await asyncio.gather(*(call() for _ in range(CONCURRENT)))
    per_call: list[float] = []
    counter.count = 0
    for _ in range(BATCHES):
        started = time.process_time()
        for _ in range(CALLS // BATCHES // CONCURRENT):
            await asyncio.gather(*(call() for _ in range(CONCURRENT)))
        per_call.append((time.process_time() - started) / (CALLS // BATCHES))
    return Cost(part, median(per_call) * 1000, counter.count / CALLS)


def dispatcher(app: AsyncApp, request: SignedCommand) -> Callable[[], Awaitable[Any]]:
    """A fresh Bolt request each time: Bolt keeps state (the ack) on the request object."""

    async def dispatch() -> None:
        headers: dict[str, str | Sequence[str]] = dict(request.headers)
        bolt_request = AsyncBoltRequest(body=request.body.decode(), headers=headers)
        response = await app.async_dispatch(bolt_request)
        assert response.status == 200, response.body

    return dispatch


async def measure_costs(database: Path, standin: SlackStandIn) -> list[Cost]:
    settings = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=standin.api_url,
        database_url=f"sqlite:///{database}",
    )
    db = Database(settings.database_url)
    counter = StatementCounter(db)
    runtime = Runtime(settings=settings, db=db, clock=SystemClock())
    parley = build_app(settings=settings, client=build_client(settings), db=db, clock=SystemClock())
    bare = build_bare_app(signing_secret=SIGNING_SECRET, token=BOT_TOKEN, api_url=standin.api_url)
    truce_request, deadline_request = sign_all(command_forms([USER]))
    command = {"text": "", "user_id": USER, "channel_id": CHANNEL}
    now = runtime.now()
    costs: list[Cost] = []

    async def in_session(work: Callable[[AsyncSession], Awaitable[Any]]) -> None:
        async with db.session() as session:
            await work(session)

    async with db.session() as session:
        ask = await read_command(session, runtime, command)
        views = await truces.truce_views(session, track_ids=ask.track_ids)
        ahead = await deadlines.upcoming_deadlines(
            session, now=now, track_ids=ask.track_ids, include_restricted=False
        )
        by_id = {t.id: t for t in await tracks.all_tracks(session) if t.id is not None}

    def render_truce() -> dict[str, Any]:
        groups = [
            block
            for view in views
            for block in truce_blocks(view, now=now, reader_zone=READER_ZONE, is_lead=False)
        ]
        return message("fallback", [header("Active truce"), *groups])

    def render_deadlines() -> dict[str, Any]:
        blocks = [
            deadline_block(d, tracks=by_id, now=now, reader_zone=READER_ZONE, is_lead=False)
            for d in ahead
        ]
        return message("fallback", [header("Upcoming deadlines"), *blocks])

    async def rendered(render: Callable[[], dict[str, Any]]) -> None:
        render()

    parts: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("bare Bolt app: dispatch of a constant ack", dispatcher(bare, truce_request)),
        ("parley: dispatch /truce (all of it)", dispatcher(parley, truce_request)),
        ("parley: dispatch /deadline (all of it)", dispatcher(parley, deadline_request)),
        ("  a session with one SELECT 1", lambda: in_session(lambda s: s.exec(select(literal(1))))),
        (
            "  read_command (session included)",
            lambda: in_session(lambda s: read_command(s, runtime, command)),
        ),
        ("    tracks.all_tracks", lambda: in_session(tracks.all_tracks)),
        ("    get_subscription", lambda: in_session(lambda s: get_subscription(s, CHANNEL))),
        ("    role_of", lambda: in_session(lambda s: role_of(s, runtime.actor(USER)))),
        (
            "  truces.truce_views",
            lambda: in_session(lambda s: truces.truce_views(s, track_ids=ask.track_ids)),
        ),
        (
            "  deadlines.upcoming_deadlines + all_tracks",
            lambda: in_session(lambda s: _upcoming_and_tracks(s, now, ask.track_ids)),
        ),
        ("  render /truce blocks + message", lambda: rendered(render_truce)),
        ("  render /deadline blocks + message", lambda: rendered(render_deadlines)),
    ]
    try:
        for part, call in parts:
            costs.append(await cpu_per_call(part, call, counter))
    finally:
        await db.dispose()
    return costs


async def _upcoming_and_tracks(
    session: AsyncSession, now: datetime, track_ids: list[int] | None
) -> None:
    await deadlines.upcoming_deadlines(
        session, now=now, track_ids=track_ids, include_restricted=False
    )
    await tracks.all_tracks(session)


def cost_lines(costs: list[Cost]) -> list[str]:
    lines = [
        f"CPU per call: median of {BATCHES} batches, {CALLS} calls each, {CONCURRENT} at a time,"
        " in-process (process time, database threads included)"
    ]
    lines += [
        f"  {c.part:<46} {c.cpu_ms:6.2f} ms  {c.statements:4.1f} SQL statements" for c in costs
    ]
    return lines


async def run() -> Report:
    report = Report("Request costs: where one /truce or /deadline spends its CPU")
    with tempfile.TemporaryDirectory(prefix="parley-bench-costs-") as tmp:
        database = Path(tmp) / "parley.db"
        await prepare_record(database, datetime.now(UTC))
        async with SlackStandIn(strict=True) as standin:
            report.figures += cost_lines(await measure_costs(database, standin))
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
