"""Hears other replicas' changes to the record on PostgreSQL: one `LISTEN parley_record`
connection per process, kept open by a task, whose notifications bump the `RecordVersion`.

    feed = ChangeFeed(connect_args, version)
    feed.ensure_running()          # from any coroutine; idempotent (the version's `wake`)
    await feed.wait_listening(5)   # True once LISTEN is in place
    await feed.stop()

While the connection is down (not yet open, lost, or its ping unanswered) the version says
so and nothing is cached; the task reconnects, backing off up to half a minute. The
connection is a plain asyncpg one, outside SQLAlchemy's pool, so it holds none of its
connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from storage.version import CHANNEL, RecordVersion

log = logging.getLogger("parley.record")
PING_SECONDS = 15.0  # a dead peer that sent no FIN is noticed within this
PING_TIMEOUT = 5.0
RETRY_SECONDS = 1.0  # doubled after each failure in a row, up to RETRY_MAX_SECONDS
RETRY_MAX_SECONDS = 30.0
CONNECT_TIMEOUT = 5.0
# SQLAlchemy's own options in the dialect's connect arguments, not asyncpg's.
NOT_FOR_ASYNCPG = (
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)


class ChangeFeed:
    def __init__(self, connect_args: dict[str, Any], version: RecordVersion) -> None:
        self._connect_args = {k: v for k, v in connect_args.items() if k not in NOT_FOR_ASYNCPG}
        self._version = version
        self._task: asyncio.Task[None] | None = None
        self._up = asyncio.Event()

    def ensure_running(self) -> None:
        """Starts the listening task on the running loop, unless it runs already."""
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next async one starts it
        self._up = asyncio.Event()
        self._task = loop.create_task(self._run(), name="parley-record-changes")

    async def wait_listening(self, timeout: float) -> bool:
        self.ensure_running()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), timeout)
        return self._version.listening

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        import asyncpg

        retry = RETRY_SECONDS
        while True:
            try:
                connection = await asyncpg.connect(timeout=CONNECT_TIMEOUT, **self._connect_args)
            except Exception as exc:  # noqa: BLE001  (any failure: retry; uncached meanwhile)
                log.warning(
                    "cannot listen for record changes (%s); retrying in %.0f s",
                    type(exc).__name__,
                    retry,
                )
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX_SECONDS)
                continue
            retry = RETRY_SECONDS
            try:
                await self._listen(connection)
            except Exception as exc:  # noqa: BLE001  (a lost connection: reconnect)
                log.warning("lost the record change listener (%s)", type(exc).__name__)
            finally:
                self._up.clear()
                self._version.set_listening(False)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), PING_TIMEOUT)
                if not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(retry)

    async def _listen(self, connection: Any) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(CHANNEL, self._heard)
        self._version.set_listening(True)
        self._up.set()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PING_SECONDS)
                break
            await asyncio.wait_for(connection.fetchval("SELECT 1"), PING_TIMEOUT)

    def _heard(self, _connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        self._version.bump()
