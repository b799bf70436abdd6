"""Where one answer's time goes: each read dispatched in-process into Parley's app (signed, as
over HTTP, with `process_before_response` so App Home's `views.publish` is inside the
dispatch), under pyinstrument, which follows the event loop and SQLAlchemy's greenlets.

    python -m bench profile                        # the seeded record, SQLite and PostgreSQL
    PARLEY_BENCH_PROFILE_TREE=1 python -m bench profile   # and each read's call tree
    PARLEY_BENCH_PROFILE_SCALE=1 python -m bench profile  # on bench.scale's big record

For each read: wall time and SQL statements per answer, and the share of sampled time by
part (database driver, ORM loading, SQL compilation, Block Kit models, templates, Bolt …),
each sample counted to the innermost frame of ours or of a library we name.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyinstrument import Profiler
from pyinstrument.frame import Frame
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event

from bench.commands import BOT_TOKEN, READS, SIGNING_SECRET, Read, Signer, prepare_record
from bench.databases import bench_database, chosen_kinds
from bench.report import Report, main
from bot.app import build_app, build_client, kept_alive
from bot.clock import SystemClock
from bot.settings import Settings
from storage.db import Database
from tests.support.slack import SlackStandIn

CALLS = int(os.environ.get("PARLEY_BENCH_PROFILE_CALLS", "150"))
WARMUP = 10
USER = "UBENCH001"

#: (part, path fragment), first match wins: a sample is counted to its innermost known frame.
PARTS: Sequence[tuple[str, str]] = (
    ("database driver (aiosqlite/asyncpg/sqlite3)", "aiosqlite"),
    ("database driver (aiosqlite/asyncpg/sqlite3)", "asyncpg"),
    ("database driver (aiosqlite/asyncpg/sqlite3)", "sqlite3"),
    ("SQL compile (sqlalchemy.sql)", "sqlalchemy/sql/"),
    ("ORM loading (sqlalchemy.orm, sqlmodel)", "sqlalchemy/orm/"),
    ("ORM loading (sqlalchemy.orm, sqlmodel)", "sqlmodel/"),
    ("SQLAlchemy engine/pool/greenlet", "sqlalchemy/"),
    ("SQLAlchemy engine/pool/greenlet", "greenlet"),
    ("Block Kit models (slack_sdk.models)", "slack_sdk/models"),
    ("templates (jinja2, templates/)", "jinja2"),
    ("templates (jinja2, templates/)", "/templates/"),
    ("Web API client (slack_sdk.web, aiohttp)", "slack_sdk/"),
    ("Web API client (slack_sdk.web, aiohttp)", "aiohttp"),
    ("Bolt dispatch (slack_bolt)", "slack_bolt"),
    ("pydantic", "pydantic"),
    ("asyncio", "asyncio/"),
    ("parley storage/", "/storage/"),
    ("parley render (bot/render, bot/timeleft …)", "/bot/"),
    ("parley handlers/", "/handlers/"),
)


def part_of(path: str) -> str | None:
    for part, fragment in PARTS:
        if fragment in path:
            return part
    return None


def attribute(frame: Frame, shares: Counter[str], known: str = "other") -> None:
    here = part_of(frame.file_path or "") or known
    own = frame.time - sum(child.time for child in frame.children)
    if own > 0:
        shares[here] += own
    for child in frame.children:
        attribute(child, shares, here)


class Statements:
    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self.seen)

    def seen(self, *_: Any) -> None:
        self.count += 1


async def profile_reads(url: str, standin: SlackStandIn) -> list[str]:
    settings = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=standin.api_url,
        database_url=url,
        answer_cache=False,  # SPEC §8: every answer made from the record
    )
    db = Database(url)
    statements = Statements(db)
    async with kept_alive(build_client(settings)) as client:  # as `parley serve` calls Slack
        return await _profile_reads(db, statements, settings, client)


async def _profile_reads(
    db: Database, statements: Statements, settings: Settings, client: AsyncWebClient
) -> list[str]:
    app = build_app(
        settings=settings,
        client=client,
        db=db,
        clock=SystemClock(),
        process_before_response=True,
    )
    signer = Signer()
    lines = [
        f"{'read':<20} {'ms/answer':>9} {'SQL/answer':>10}  where the sampled time went (share)"
    ]
    trees: list[str] = []

    async def dispatch(read: Read) -> None:
        request = signer.sign(read, USER)
        headers: dict[str, str | Sequence[str]] = dict(request.headers)
        response = await app.async_dispatch(
            AsyncBoltRequest(body=request.body.decode(), headers=headers)
        )
        assert response.status == 200, response.body

    try:
        for read in READS:
            for _ in range(WARMUP):
                await dispatch(read)
            statements.count = 0
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            started = time.perf_counter()
            with profiler:
                for _ in range(CALLS):
                    await dispatch(read)
            elapsed = time.perf_counter() - started
            shares: Counter[str] = Counter()
            session = profiler.last_session
            root = session.root_frame() if session else None
            if root is not None:
                attribute(root, shares)
            total = sum(shares.values()) or 1.0
            top = ", ".join(
                f"{part} {100 * seconds / total:.0f}%" for part, seconds in shares.most_common(6)
            )
            lines.append(
                f"{read.name:<20} {1000 * elapsed / CALLS:>9.2f} "
                f"{statements.count / CALLS:>10.1f}  {top}"
            )
            if os.environ.get("PARLEY_BENCH_PROFILE_TREE"):
                trees.append(f"---- {read.name}\n" + profiler.output_text(show_all=False))
    finally:
        await db.dispose()
    return lines + trees


async def run() -> Report:
    report = Report(f"Profile: {CALLS} answers of each read, in-process, under pyinstrument")
    for kind in chosen_kinds():
        with tempfile.TemporaryDirectory(prefix="parley-bench-profile-") as tmp:
            async with bench_database(kind, Path(tmp)) as url:
                now = datetime.now(UTC)
                await prepare_record(url, now)
                big = bool(os.environ.get("PARLEY_BENCH_PROFILE_SCALE"))
                if big:
                    from bench.scale import add_bulk_record

                    db = Database(url)
                    try:
                        await add_bulk_record(db, now)
                    finally:
                        await db.dispose()
                async with SlackStandIn(strict=True) as standin:
                    report.figures.append(f"== {kind}{' at scale' if big else ''}")
                    report.figures += await profile_reads(url, standin)
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
