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
from sqlmodel import select

from bot.clock import Clock
from bot.intake.poll import Intake
from bot.render.posts import Shared, channel_message, owed, shared_content
from bot.settings import Settings
from storage import outbox, planning, truces
from storage.db import Database
from storage.models import Delivery, DeliveryKind, Subscription
from storage.subscriptions import disable_subscription

log = logging.getLogger("parley.scheduler")

METADATA_TYPE = "parley_delivery"
CHANNEL_GONE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"}
)
TICK_SECONDS = 2.0
# A post takes at most 4 attempts of POST_TIMEOUT plus 3 waits of Retry-After (~2 s):
# about 66 s, well inside the lease, which is renewed just before each post.
POST_TIMEOUT = 15
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
        timeout=POST_TIMEOUT,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    lapsed: list[int] = field(default_factory=list)  # truces this tick lapsed
    planned: int = 0
    polled: int = 0  # news sources polled
    error: str | None = None  # why planning failed, if it did
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
        self._shared: dict[str, Shared | None] = {}
        self.intake = (
            Intake(db=db, clock=clock, settings=settings, worker=self.worker)
            if settings.intake
            else None
        )
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
            misfire_grace_time=None,  # a late tick still runs: the outbox decides what is due
            next_run_time=datetime.now(UTC),
        )
        timer.start()
        self._timer = timer

    async def stop(self) -> None:
        """Stops ticking; a tick in progress finishes its posts first."""
        if self._timer is not None:
            # A kick the timer has just handed to its executor (a shell that ends at once) gets
            # to run first: shutting down cancels it, and apscheduler logs that as an error.
            for _ in range(3):
                await asyncio.sleep(0)
            self._timer.shutdown(wait=False)
            self._timer = None
        if self._current is not None:
            await self._current

    async def _kick(self) -> None:
        """The timer's job: starts a tick unless one is running. It returns at once, so
        stopping the timer never cancels a tick halfway through its posts."""
        if self._current is None or self._current.done():
            self._current = asyncio.create_task(self.tick_logged())

    async def tick_logged(self) -> None:
        """A tick whose failure is logged, not raised: the timer's and the shell's."""
        try:
            report = await self.tick()
        except Exception as exc:  # noqa: BLE001  (the next tick tries again; say why once)
            if self.last_error != type(exc).__name__:
                log.error("scheduler tick failed: %s: %s", type(exc).__name__, exc)
            self.last_error = type(exc).__name__
        else:
            self.last_error = report.error

    # ------------------------------------------------------------------ work

    async def tick(self) -> TickReport:
        """Plans what is due by now, then posts everything due (retries included)."""
        report = TickReport()
        async with self._ticking:
            now = self.clock.now()
            try:
                async with self.db.session() as session:
                    report.lapsed = await truces.lapse_expired(session, now=now)
                    report.planned = await planning.plan_due(
                        session, now=now, default_offsets=self.settings.countdown_offsets
                    )
            except Exception as exc:  # noqa: BLE001  (what is planned already still goes out)
                log.error("planning failed: %s: %s", type(exc).__name__, exc)
                report.error = type(exc).__name__
            if self.intake is not None:  # before posting: its proposals go out this tick
                try:
                    report.polled = len(await self.intake.poll_due())
                except Exception as exc:  # noqa: BLE001  (the posts still go out)
                    log.error("polling failed: %s: %s", type(exc).__name__, exc)
                    report.error = report.error or type(exc).__name__
            for _ in range(1000):  # bounded: each round claims what is due at its start
                async with self.db.session() as session:
                    claimed = await outbox.claim_due(
                        session,
                        worker=self.worker,
                        now=self.clock.now(),
                        lease=self.lease,
                        limit=self.batch,
                    )
                    subscriptions = {
                        s.channel_id: s for s in (await session.exec(select(Subscription))).all()
                    }
                if not claimed:
                    break
                self._shared = {}
                outcomes = await asyncio.gather(
                    *(self._deliver(d, subscriptions.get(d.channel_id)) for d in claimed)
                )
                report.outcomes.update(outcomes)
            self.last_tick = now
        return report

    async def deliver_now(self, item: outbox.PlannedDelivery) -> str:
        """Makes one delivery, already claimed, and posts it at once (`parley digest`)."""
        async with self.db.session() as session:
            delivery = await outbox.insert_claimed(
                session, item, worker=self.worker, now=self.clock.now(), lease=self.lease
            )
            subscription = await session.get(Subscription, item.channel_id)
        return await self._deliver(delivery, subscription)

    async def _deliver(self, delivery: Delivery, subscription: Subscription | None) -> str:
        """Posts one delivery and records the outcome; never raises, so one bad row cannot
        leave the rest of its round unrecorded."""
        async with self._slots:
            started = time.perf_counter()
            try:
                outcome = await self._post(delivery, subscription)
            except Exception as exc:  # noqa: BLE001  (recorded on the row, retried later)
                log.exception("post %s failed unexpectedly", delivery.key)
                try:
                    outcome = await self._failed(delivery, "", exc)
                except Exception:  # noqa: BLE001  (the lease runs out; another try follows)
                    outcome = "error"
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
            return outcome

    async def _render(
        self, delivery: Delivery, subscription: Subscription | None
    ) -> dict[str, Any] | None:
        """The message, or None when it is no longer owed to this channel. Countdowns and
        alerts read the same everywhere: rendered once a round, checked per channel."""
        now = self.clock.now()
        if delivery.kind not in (DeliveryKind.countdown, DeliveryKind.alert):
            async with self.db.session() as session:
                return await channel_message(
                    session, delivery, now=now, default_zone=self.settings.timezone
                )
        memo = json.dumps([delivery.kind, delivery.payload], sort_keys=True)
        if memo not in self._shared:
            async with self.db.session() as session:
                self._shared[memo] = await shared_content(session, delivery, now=now)
        shared = self._shared[memo]
        return shared.message if shared and owed(delivery, shared, subscription) else None

    async def _post(self, delivery: Delivery, subscription: Subscription | None) -> str:
        assert delivery.id is not None
        reply = await self._render(delivery, subscription)
        rendered_at = self.clock.now()
        async with self.db.session() as session:
            if reply is None:
                await outbox.mark_skipped(
                    session, delivery_id=delivery.id, worker=self.worker, why="no longer owed"
                )
                return "skipped"
            # Held until now by this worker? The lease starts again from here, so a post
            # that waited for a slot cannot be taken over while it is being made.
            if not await outbox.renew(
                session,
                delivery_id=delivery.id,
                worker=self.worker,
                now=rendered_at,
                lease=self.lease,
            ):
                return "claim-lost"
        payload = (
            {**(delivery.payload or {}), "rendered_at": rendered_at.isoformat()}
            if delivery.kind == DeliveryKind.digest
            else None
        )
        if delivery.attempts > 1:
            found = await self._posted_before(delivery)
            if found is not None:
                await self._mark_sent(delivery, found, payload)
                return "found"
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
            return await self._failed(delivery, exc.response.get("error") or "", exc)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return await self._failed(delivery, "", exc)
        marked = await self._mark_sent(delivery, str(response.get("ts", "")), payload)
        if self.on_post is not None:
            await self.on_post(delivery, reply)
        return "sent" if marked else "sent-claim-lost"

    async def _mark_sent(self, delivery: Delivery, ts: str, payload: dict[str, Any] | None) -> bool:
        assert delivery.id is not None
        async with self.db.session() as session:
            return await outbox.mark_sent(
                session,
                delivery_id=delivery.id,
                worker=self.worker,
                ts=ts,
                now=self.clock.now(),
                payload=payload,
            )

    async def _failed(self, delivery: Delivery, error: str, exc: Exception) -> str:
        assert delivery.id is not None
        now = self.clock.now()
        reason = error or f"{type(exc).__name__}: {exc}"
        async with self.db.session() as session:
            if error in CHANNEL_GONE:  # not retried: the lead is told instead
                await outbox.mark_skipped(
                    session, delivery_id=delivery.id, worker=self.worker, why=reason
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
