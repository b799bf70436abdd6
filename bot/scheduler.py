"""The bot speaking up on its own: plans what is due, claims it, posts it, marks it sent.

APScheduler (3.x, in-memory job store, one per process) only provides the cadence: a tick
every few seconds. What is due, and who has claimed it, lives in the database (the
outbox), so any number of replicas can tick against one PostgreSQL and each post is made
once. Decisions use the injected clock, so tests call `tick()` after moving a manual clock.

Exactly once, step by step: a delivery is claimed (a conditional UPDATE) before the Slack
call and marked sent with the message `ts` after it. If a process dies between the post
and the mark, its claim's lease runs out and another worker takes the delivery over; since
the delivery has been attempted before, that worker first looks for the delivery's key in
the channel's recent messages (posted with Slack message `metadata`) and only posts if it
is not there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.settings import Settings
from handlers.posts import delivery_message
from storage import outbox, planning
from storage.db import Database
from storage.models import Delivery, DeliveryKind
from storage.subscriptions import disable_subscription

log = logging.getLogger("parley.scheduler")

METADATA_TYPE = "parley_delivery"
CHANNEL_GONE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"}
)
TICK_SECONDS = 2.0
LEASE = timedelta(minutes=2)

OnPost = Callable[[Delivery, dict[str, Any]], Awaitable[None]]


def delivery_client(settings: Settings, *, token: str | None = None) -> AsyncWebClient:
    """A Web API client for scheduled posts: 429s wait `Retry-After` and retry in place.

    Unlike the listeners' client it does not retry dropped connections by itself: a post
    whose answer was lost may have been made, so the outbox retries it with the key check.
    """
    return AsyncWebClient(
        token=token or settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=5)],
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    planned: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


class Scheduler:
    """Countdowns, digests, alerts and notices for one process; see the module docstring."""

    def __init__(
        self,
        *,
        db: Database,
        client: AsyncWebClient,
        clock: Clock,
        settings: Settings,
        worker: str | None = None,
        lease: timedelta = LEASE,
        batch: int = 500,
        concurrency: int = 50,
        on_post: OnPost | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.clock = clock
        self.settings = settings
        self.worker = worker or worker_name()
        self.lease = lease
        self.batch = batch
        self.on_post = on_post
        self._slots = asyncio.Semaphore(concurrency)
        self._ticking = asyncio.Lock()
        self._timer: AsyncIOScheduler | None = None
        self._current: asyncio.Task[None] | None = None
        self._rendered: dict[str, dict[str, Any] | None] = {}
        self.last_tick: datetime | None = None
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        if self._timer is None:
            return "stopped"
        return "degraded" if self.last_error else "running"

    # ------------------------------------------------------------------ cadence

    def start(self, *, every: float = TICK_SECONDS) -> None:
        """Ticks every `every` seconds of real time, the first one now."""
        timer = AsyncIOScheduler(timezone=UTC)
        timer.add_job(
            self._kick,
            "interval",
            seconds=every,
            id="parley-tick",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        timer.start()
        self._timer = timer

    async def stop(self) -> None:
        """Stops ticking; a tick in progress finishes its posts first."""
        if self._timer is not None:
            self._timer.shutdown(wait=False)
            self._timer = None
        if self._current is not None:
            await self._current

    async def _kick(self) -> None:
        """The timer's job: starts a tick unless one is running. It returns at once, so
        stopping the timer never cancels a tick halfway through its posts."""
        if self._current is None or self._current.done():
            self._current = asyncio.create_task(self._tick_safely())

    async def _tick_safely(self) -> None:
        try:
            await self.tick()
        except Exception as exc:  # noqa: BLE001  (the next tick tries again; say why once)
            if self.last_error != type(exc).__name__:
                log.error("scheduler tick failed: %s: %s", type(exc).__name__, exc)
            self.last_error = type(exc).__name__
        else:
            self.last_error = None

    # ------------------------------------------------------------------ work

    async def tick(self) -> TickReport:
        """Plans what is due by now, then posts everything due (retries included)."""
        report = TickReport()
        async with self._ticking:
            now = self.clock.now()
            async with self.db.session() as session:
                report.planned = await planning.plan_due(
                    session, now=now, default_offsets=self.settings.countdown_offsets
                )
            for _ in range(1000):  # bounded: each round claims what is due at its start
                async with self.db.session() as session:
                    claimed = await outbox.claim_due(
                        session,
                        worker=self.worker,
                        now=self.clock.now(),
                        lease=self.lease,
                        limit=self.batch,
                    )
                if not claimed:
                    break
                self._rendered = {}
                results = await asyncio.gather(*(self._deliver(d) for d in claimed))
                report.outcomes.update(outcome for outcome, _ in results)
                sent = [
                    (d.id, ts)
                    for d, (outcome, ts) in zip(claimed, results, strict=True)
                    if outcome == "sent" and d.id is not None and ts is not None
                ]
                async with self.db.session() as session:
                    await outbox.mark_sent_many(
                        session, worker=self.worker, sent=sent, now=self.clock.now()
                    )
            self.last_tick = now
        return report

    async def deliver_now(self, item: outbox.PlannedDelivery) -> str:
        """Plans one delivery and posts it at once (`parley digest`); its outcome."""
        async with self.db.session() as session:
            await outbox.plan(session, [item], now=self.clock.now())
            claimed = await outbox.claim_due(
                session, worker=self.worker, now=self.clock.now(), lease=self.lease, key=item.key
            )
        if not claimed:
            return "already-posted"
        outcome, ts = await self._deliver(claimed[0])
        if outcome == "sent" and ts is not None and claimed[0].id is not None:
            async with self.db.session() as session:
                await outbox.mark_sent_many(
                    session, worker=self.worker, sent=[(claimed[0].id, ts)], now=self.clock.now()
                )
        return outcome

    async def _deliver(self, delivery: Delivery) -> tuple[str, str | None]:
        """Posts one delivery: its outcome, and the message `ts` when it was posted now
        (the caller marks a batch sent in one transaction)."""
        async with self._slots:
            started = time.perf_counter()
            outcome, ts = await self._post(delivery)
            log.info(
                "post",
                extra={
                    "delivery_key": delivery.key,
                    "kind": delivery.kind,
                    "channel": delivery.channel_id,
                    "attempt": delivery.attempts,
                    "outcome": outcome,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return outcome, ts

    async def _render(self, delivery: Delivery) -> dict[str, Any] | None:
        """The message; countdowns and alerts, the same in every channel, are rendered
        once per round."""
        shared = delivery.kind in (DeliveryKind.countdown, DeliveryKind.alert)
        memo = json.dumps([delivery.kind, delivery.payload], sort_keys=True) if shared else ""
        if memo in self._rendered:
            return self._rendered[memo]
        async with self.db.session() as session:
            reply = await delivery_message(
                session, delivery, now=self.clock.now(), default_zone=self.settings.timezone
            )
        if shared:
            self._rendered[memo] = reply
        return reply

    async def _post(self, delivery: Delivery) -> tuple[str, str | None]:
        assert delivery.id is not None
        reply = await self._render(delivery)
        if reply is None:
            async with self.db.session() as session:
                await outbox.mark_skipped(
                    session, delivery_id=delivery.id, worker=self.worker, why="no longer due"
                )
            return "skipped", None
        if delivery.attempts > 1:
            found = await self._posted_before(delivery)
            if found is not None:
                async with self.db.session() as session:
                    await outbox.mark_sent(
                        session,
                        delivery_id=delivery.id,
                        worker=self.worker,
                        ts=found,
                        now=self.clock.now(),
                    )
                return "found", None
        try:
            response = await self.client.chat_postMessage(
                channel=delivery.channel_id,
                text=reply["text"],
                blocks=reply["blocks"],
                metadata={"event_type": METADATA_TYPE, "event_payload": {"key": delivery.key}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            return await self._failed(delivery, exc.response.get("error") or "", exc), None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return await self._failed(delivery, "", exc), None
        if self.on_post is not None:
            await self.on_post(delivery, reply)
        return "sent", str(response.get("ts", ""))

    async def _failed(self, delivery: Delivery, error: str, exc: Exception) -> str:
        assert delivery.id is not None
        now = self.clock.now()
        reason = error or f"{type(exc).__name__}: {exc}"
        async with self.db.session() as session:
            if error in CHANNEL_GONE:
                await outbox.mark_failed(
                    session,
                    delivery_id=delivery.id,
                    worker=self.worker,
                    error=reason,
                    retry_at=None,
                )
                await disable_subscription(
                    session, channel_id=delivery.channel_id, error=error, now=now
                )
                return "channel-gone"
            await outbox.mark_failed(
                session,
                delivery_id=delivery.id,
                worker=self.worker,
                error=reason,
                retry_at=now + outbox.backoff(delivery.attempts),
            )
        log.warning("post failed, will retry: %s (%s)", delivery.key, reason)
        return "failed"

    async def _posted_before(self, delivery: Delivery) -> str | None:
        """The `ts` of an earlier attempt that reached Slack after all, if one did."""
        try:
            history = await self.client.conversations_history(
                channel=delivery.channel_id, limit=100, include_all_metadata=True
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info("could not check %s for an earlier post: %s", delivery.channel_id, exc)
            return None
        for item in history.get("messages") or []:
            metadata = item.get("metadata") or {}
            if (
                metadata.get("event_type") == METADATA_TYPE
                and (metadata.get("event_payload") or {}).get("key") == delivery.key
            ):
                return str(item.get("ts"))
        return None
