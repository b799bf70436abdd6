"""Polling: the sources due by the injected clock, claimed once across replicas, fetched
concurrently, their new entries stored and proposed, and their health recorded.

The scheduler's tick calls `poll_due`; `/desk source check` calls `check`, which claims one
source now, due or not. A source's first good poll records its entries without proposing
them, so adding a feed never floods the review channel with its back catalogue.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.intake.fetch import WHOLE_TIMEOUT, FetchError, fetch, http_client
from bot.intake.parse import Parsed, ParseError, parse
from bot.settings import Settings
from storage import feed_items, sources
from storage.db import Database
from storage.feed_items import Matcher
from storage.models import Source
from storage.sources import PollOutcome

if TYPE_CHECKING:
    import httpx  # imported with the client, when a source is first polled (bot.intake.fetch)

log = logging.getLogger("parley.intake")

LEASE = timedelta(minutes=2)  # a poll takes at most 20 s; the rest is room for the database


class Intake:
    """Polls the news sources for one process; see the module docstring."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        settings: Settings,
        worker: str,
        lease: timedelta = LEASE,
        batch: int = 500,
        concurrency: int = 50,
        whole_timeout: float = WHOLE_TIMEOUT,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.worker = worker
        self.lease = lease
        self.batch = batch
        self.whole_timeout = whole_timeout
        self._slots = asyncio.Semaphore(concurrency)
        # Fetches overlap; writes take turns: SQLite has one writer at a time, and 50 polls
        # writing at once would wait out its busy timeout.
        self._writing = asyncio.Lock()

    async def poll_due(self) -> list[PollOutcome]:
        """Polls every source due by now that no other worker holds."""
        outcomes: list[PollOutcome] = []
        for _ in range(100):  # bounded: each round claims what is due at its start
            async with self.db.session() as session:
                claimed = await sources.claim_due_sources(
                    session,
                    worker=self.worker,
                    now=self.clock.now(),
                    lease=self.lease,
                    limit=self.batch,
                )
                matcher = await feed_items.load_matcher(session) if claimed else None
            if not claimed or matcher is None:
                break
            async with http_client() as client:
                outcomes += await asyncio.gather(
                    *(self._poll_guarded(client, s, matcher) for s in claimed)
                )
        return outcomes

    async def check(self, source_id: int) -> PollOutcome:
        """Polls one source now, due or not, and says what it found."""
        async with self.db.session() as session:
            source = await sources.claim_source(
                session,
                source_id=source_id,
                worker=self.worker,
                now=self.clock.now(),
                lease=self.lease,
            )
            matcher = await feed_items.load_matcher(session)
        if source is None:
            return PollOutcome(source=f"#{source_id}", status="busy")
        async with http_client() as client:
            return await self._poll_guarded(client, source, matcher)

    async def _poll_guarded(
        self, client: httpx.AsyncClient, source: Source, matcher: Matcher
    ) -> PollOutcome:
        """One poll that never raises: an unexpected failure is the source's error too."""
        async with self._slots:
            try:
                return await self._poll(client, source, matcher)
            except Exception as exc:  # noqa: BLE001  (recorded on the source, tried again later)
                log.exception("poll of source %s failed unexpectedly", source.id)
                return await self._failed(source, f"{type(exc).__name__}: {exc}")

    async def _poll(
        self, client: httpx.AsyncClient, source: Source, matcher: Matcher
    ) -> PollOutcome:
        assert source.id is not None
        now = self.clock.now()
        try:
            fetched = await fetch(
                client,
                source.url,
                etag=source.etag,
                last_modified=source.last_modified,
                allow_private=self.settings.intake_allow_private,
                whole_timeout=self.whole_timeout,
            )
            found = (
                Parsed()
                if fetched.not_modified
                else parse(source.kind, fetched.body, fetched.headers, now=now)
            )
        except FetchError as exc:
            return await self._failed(source, str(exc), retry_after=exc.retry_after)
        except ParseError as exc:
            return await self._failed(source, str(exc))
        first = source.last_success_at is None
        async with self._writing, self.db.session() as session:
            report = await feed_items.store_items(
                session,
                source=source,
                items=found.items,
                matcher=matcher,
                now=now,
                propose=not first,
            )
            kept = fetched.not_modified  # a 304 keeps the validators it answered
            done = await sources.record_success(
                session,
                source_id=source.id,
                worker=self.worker,
                now=now,
                etag=source.etag if kept else fetched.headers.get("etag"),
                last_modified=(
                    source.last_modified if kept else fetched.headers.get("last-modified")
                ),
                new_items=len(report.new),
            )
            if done is None:
                await session.rollback()
                return PollOutcome(source=source.name, status="busy")
        return PollOutcome(
            source=source.name,
            status="not-modified" if fetched.not_modified else "ok",
            new=len(report.new),
            first=first and not fetched.not_modified,
            proposed=[i.title for i in report.proposed],
            same_story=len(report.same_story),
            skipped=found.skipped,
        )

    async def _failed(
        self, source: Source, error: str, *, retry_after: float | None = None
    ) -> PollOutcome:
        assert source.id is not None
        async with self._writing, self.db.session() as session:
            await sources.record_failure(
                session,
                source_id=source.id,
                worker=self.worker,
                now=self.clock.now(),
                error=error,
                retry_after=retry_after,
            )
        log.info("source %s failed: %s", source.name, error)
        return PollOutcome(source=source.name, status="error", error=error)
