"""`parley serve`: the Bolt app behind Starlette, with `/healthz`, `/metrics` and a guard for
bad bodies.

    web = build_web(app, db, metrics=metrics, health_extra=scheduler_health,
                    extra_routes=[calendar_route])

Bolt answers 500 to a malformed body (a `payload=` that is not JSON, `"actions": []` …)
while parsing it, before any listener and before the signature check; the guard answers
those with 400 first, so a malformed request never reaches Bolt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.metrics import UNTRUSTED, Metrics, Outcome, describe, outcome_of
from storage.db import Database

log = logging.getLogger("parley.web")
MALFORMED = "malformed request body: {why}"

HealthExtra = Callable[[], Awaitable[dict[str, Any]]]


def read_body(body: bytes, content_type: str) -> tuple[dict[str, Any], str | None]:
    """The request as Bolt will see it (form fields or the payload), and why Bolt could not
    parse it, or None when it can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}, "not UTF-8"
    if "application/json" in content_type:
        try:
            document = json.loads(text or "null")
        except json.JSONDecodeError:
            return {}, "not JSON"
        if not isinstance(document, dict):
            return {}, "JSON body is not an object"
        return document, None
    form = parse_qs(text, keep_blank_values=True)
    if "payload" not in form:
        fields = {key: values[0] for key, values in form.items()}
        ok = "command" in form or "ssl_check" in form
        return fields, None if ok else "no command or payload"
    try:
        payload = json.loads(form["payload"][0])
    except json.JSONDecodeError:
        return {}, "payload is not JSON"
    if not isinstance(payload, dict):
        return {}, "payload is not an object with a type"
    return payload, payload_problem(payload)


def command_form(body: bytes, content_type: str) -> dict[str, str] | None:
    """The fields of a slash command's form that the metrics read (`command`, `event_id`),
    as `read_body` would give them, or None for any other body (then `read_body` decides).

    A command is most of the traffic, and its form needs no check beyond having a
    `command` and no `payload`: this scans the names and decodes only those two values,
    where `read_body` decodes every field, and Bolt then parses the form again anyway.
    """
    if "application/json" in content_type:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    found: dict[str, str] = {}
    for part in text.split("&"):  # as parse_qs splits, decodes and keeps the first value
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "))
        if name == "payload":
            return None
        if name in ("command", "event_id") and name not in found:
            found[name] = unquote(value.replace("+", " "))
    return found if "command" in found else None


def payload_problem(payload: dict[str, Any]) -> str | None:
    """Why Bolt would fail on this interaction payload, or None."""
    if not isinstance(payload.get("type"), str):
        return "payload is not an object with a type"
    if payload["type"] == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            return "block_actions without actions"
        if not all(isinstance(a, dict) for a in actions):
            return "actions are not objects"
    if payload["type"] in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            return "view_submission without a view of a known type"
    for key in ("user", "team", "channel", "container"):
        if key in payload and payload[key] is not None and not isinstance(payload[key], dict):
            return f"{key} is not an object"
    return None


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


def build_web(
    app: AsyncApp,
    db: Database,
    *,
    metrics: Metrics | None = None,
    scheduler_state: str = "off",
    health_extra: HealthExtra | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Slack's requests at `POST /slack/events`, with the ops routes and `extra_routes`."""
    metrics = metrics or Metrics()
    metrics.instrument(app.client)
    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        command = command_form(body, content_type)
        if command is not None:
            document: dict[str, Any] = command
            why = None
        else:
            document, why = read_body(body, content_type)
        if why:
            log.info("rejected a malformed Slack request: %s", why)
            response: Response = JSONResponse({"error": MALFORMED.format(why=why)}, status_code=400)
            outcome = Outcome.malformed
        else:
            response = await handler.handle(request)
            outcome = outcome_of(response.status_code, bytes(response.body), response.headers)
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
