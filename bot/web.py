"""`parley serve`: the Bolt app behind Starlette, with `/healthz`, `/metrics` and a guard for
bad bodies.

    web = build_web(app, db, metrics=metrics, health_extra=scheduler_health,
                    extra_routes=[calendar_route])

Bolt answers 500 to a malformed body (a `payload=` that is not JSON, `"actions": []` …)
while parsing it, before any listener and before the signature check. Here the body is read
once: a malformed one gets 400, an unsigned one 401, and only a signed, well-formed request
reaches Bolt, handed the document already read.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import contextmanager
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.metrics import UNTRUSTED, Metrics, Outcome, describe, outcome_of
from bot.runtime import LISTENER_FAILED
from bot.slack_body import bolt_request, read_body
from storage.db import Database

log = logging.getLogger("parley.web")
MALFORMED = "malformed request body: {why}"
UNSIGNED = "invalid request: missing, wrong or expired Slack signature"
TOO_LARGE = "over 1 MB"
MAX_BODY = 1024 * 1024  # Slack's own payloads stay far below this

HealthExtra = Callable[[], Awaitable[dict[str, Any]]]


def ops_routes(
    db: Database,
    metrics: Metrics,
    *,
    scheduler_state: str = "off",
    health_extra: HealthExtra | None = None,
) -> list[BaseRoute]:
    """`GET /healthz` (200, or 503 when the database is down) and `GET /metrics`."""

    async def healthz(_: Request) -> Response:
        state: dict[str, Any] = {"database": db.dialect, "scheduler": scheduler_state}
        try:
            await db.ping()
        except Exception as exc:  # noqa: BLE001  (any failure means unhealthy)
            log.error("health check: database unreachable: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", **state}, status_code=503)
        if health_extra is not None:
            try:
                state.update(await health_extra())
            except Exception as exc:  # noqa: BLE001  (a failing part means unhealthy too)
                log.error("health check failed: %s", type(exc).__name__)
                return JSONResponse({"status": "unavailable", **state}, status_code=503)
        return JSONResponse({"status": "ok", **state})

    async def prometheus(_: Request) -> Response:
        return Response(metrics.exposition(), headers={"content-type": CONTENT_TYPE_LATEST})

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]


def _signed(verifier: SignatureVerifier, body: bytes, headers: Any) -> bool:
    """Slack's signature over this body, made within the last five minutes."""
    try:
        return verifier.is_valid(
            body=body,
            timestamp=headers.get("x-slack-request-timestamp"),
            signature=headers.get("x-slack-signature"),
        )
    except (ValueError, TypeError):  # a timestamp that is not a number
        return False


def build_web(
    app: AsyncApp,
    db: Database,
    *,
    signing_secret: str | None = None,
    metrics: Metrics | None = None,
    scheduler_state: str = "off",
    health_extra: HealthExtra | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Slack's requests at `POST /slack/events`, with the ops routes and `extra_routes`."""
    metrics = metrics or Metrics()
    metrics.instrument(app.client)
    verifier = SignatureVerifier(signing_secret or app._signing_secret)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        document: dict[str, Any] = {}
        why: str | None = None
        bolt: Any = None
        if len(body) > MAX_BODY:
            why = TOO_LARGE
        else:
            document, why = read_body(body, content_type)
        # Slack's SSL check carries no user data and Bolt answers it without a signature.
        ssl_check = document.get("ssl_check") == "1" and "command" not in document
        if why is None and (ssl_check or _signed(verifier, body, request.headers)):
            try:
                bolt = bolt_request(
                    body.decode("utf-8"), document, dict(request.headers), request.query_params
                )
            except Exception as exc:  # noqa: BLE001  (Bolt cannot read it: a bad request)
                why = f"unreadable request ({type(exc).__name__})"
        if why is not None:
            log.info("rejected a malformed Slack request: %s", why)
            response: Response = JSONResponse({"error": MALFORMED.format(why=why)}, status_code=400)
            outcome = Outcome.malformed
        elif bolt is None:
            # Unsigned, wrongly signed or replayed: it never reaches Bolt or a listener.
            response = JSONResponse({"error": UNSIGNED}, status_code=401)
            outcome = Outcome.unauthorized
        else:
            response = to_starlette_response(await app.async_dispatch(bolt))
            outcome = outcome_of(
                response.status_code,
                bytes(response.body),
                response.headers,
                failed=bool(bolt.context.get(LISTENER_FAILED)),
            )
        kind, name = describe(document)
        event_id = document.get("event_id") if outcome not in UNTRUSTED else None
        metrics.record_request(
            kind=kind,
            name=name,
            outcome=outcome,
            status=response.status_code,
            seconds=time.perf_counter() - started,
            request_id=event_id if isinstance(event_id, str) else None,
        )
        return response

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            *ops_routes(db, metrics, scheduler_state=scheduler_state, health_extra=health_extra),
            *extra_routes,
        ]
    )


def build_ops_web(
    db: Database,
    metrics: Metrics,
    *,
    scheduler_state: str = "off",
    health_extra: HealthExtra | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """`parley socket`'s server: health, metrics and `extra_routes`, but no Slack endpoint
    (Socket Mode has no signing secret to check one with)."""
    return Starlette(
        routes=[
            *ops_routes(db, metrics, scheduler_state=scheduler_state, health_extra=health_extra),
            *extra_routes,
        ]
    )


class GracefulServer(uvicorn.Server):
    """uvicorn, but SIGTERM (or Ctrl-C) ends in a clean return, hence exit code 0.

    uvicorn finishes the requests in flight, then re-raises the signal it caught; with the
    default handler the process would die of it (exit -15) before closing the database.
    Here the signal only asks the server to stop.
    """

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


async def serve_http(web: Starlette, *, host: str, port: int) -> None:
    """Serves `web` until SIGTERM or SIGINT, then returns once the requests in flight are done."""
    config = uvicorn.Config(
        web, host=host, port=port, lifespan="off", log_config=None, access_log=False
    )
    await GracefulServer(config).serve()
