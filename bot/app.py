"""Builds the Bolt app: settings, a Web API client, the database and a clock in; AsyncApp out.

The shell, the tests, `serve` and `socket` all build it here, with different clients.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.intake.poll import Intake
from bot.retries import handle_each_event_once
from bot.runtime import Runtime
from bot.scheduler import worker_name
from bot.settings import Settings
from handlers import deadline, desk, events, home, people, sources, talks, truce, watch
from handlers.errors import handle_listener_error
from handlers.registry import ListenerOrder
from storage.db import Database

SHELL_SIGNING_SECRET = "parley-shell-local-only"


def build_client(settings: Settings, *, token: str | None = None) -> AsyncWebClient:
    """The Web API client: `SLACK_API_URL`, retrying 429s and dropped connections."""
    return AsyncWebClient(
        token=token or settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


@asynccontextmanager
async def kept_alive(client: AsyncWebClient) -> AsyncIterator[AsyncWebClient]:
    """The client's calls share one aiohttp session while the block runs, so connections
    (and, to Slack, their TLS sessions) are reused. Without one, slack_sdk opens a session
    and a new connection for every call: a TCP and TLS handshake before each `users.info`
    and `views.publish`. A kept connection Slack closed meanwhile is retried by the client's
    connection-error handler (`build_client`); the scheduler's posts keep a connection
    each, as a post whose answer was lost is the outbox's to retry."""
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    client.session = session
    try:
        yield client
    finally:
        client.session = None
        await session.close()


class _GivenClientNotice(logging.Filter):
    """Drops Bolt's "As you gave `client` as well, `token` will be unused": Bolt reads
    SLACK_BOT_TOKEN from the environment itself, and warns at every start that the client
    Parley builds from that same token is used instead. Nothing is wrong; the operator
    should not be told otherwise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


class PrepareRequest(AsyncMiddleware):
    """The runtime for every listener; then a Slack retry of a handled event stops here.

    One middleware, not two, and an object rather than a function: for a function, Bolt
    inspects its parameters and builds their values on every request."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        req.context["parley"] = self.runtime
        response: BoltResponse | None = await handle_each_event_once(req.body, req.context, next)
        return response


def build_app(
    *,
    settings: Settings,
    client: AsyncWebClient,
    db: Database,
    clock: Clock,
    verify_requests: bool = True,
    process_before_response: bool = False,
    logger: logging.Logger | None = None,
) -> AsyncApp:
    """One AsyncApp with every listener.

    The local shell passes `verify_requests=False` (it is its own client) and
    `process_before_response=True`, so a listener's follow-up calls (a modal it opens)
    have happened when the dispatch returns.
    """
    bolt_logger = logger or logging.getLogger("parley.bolt")
    if not any(isinstance(f, _GivenClientNotice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_GivenClientNotice())
    app = AsyncApp(
        # Unnamed, Bolt reads the caller's file name off inspect.stack() (85 ms at start).
        # Bolt also configures a logger of this name: not "parley", our loggers' parent.
        name="parley-bolt-app",
        client=client,
        signing_secret=settings.signing_secret or SHELL_SIGNING_SECRET,
        request_verification_enabled=verify_requests,
        process_before_response=process_before_response,
        logger=bolt_logger,
    )
    runtime = Runtime(settings=settings, db=db, clock=clock)
    runtime.check_source = Intake(db=db, clock=clock, settings=settings, worker=worker_name()).check

    app.use(PrepareRequest(runtime))
    # Bolt tries each listener's matcher in turn: the commands first, the most asked first
    # (handlers.registry).
    order = ListenerOrder()
    for surface in (truce, deadline, watch, talks, desk, home, events, sources, people):
        surface.register(order)
    order.register_on(app)
    app.error(handle_listener_error)
    return app
