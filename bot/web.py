"""`parley serve`: the Bolt app behind Starlette, with `/healthz` and a guard for bad bodies.

Bolt answers 500 to a malformed body (a `payload=` that is not JSON, `"actions": []` …)
while parsing it, before any listener and before the signature check; the guard answers
those with 400 first, so a malformed request never reaches Bolt.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storage.db import Database

log = logging.getLogger("parley.web")
MALFORMED = "malformed request body: {why}"


def malformed_reason(body: bytes, content_type: str) -> str | None:
    """Why Bolt could not parse this body, or None when it can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if "application/json" in content_type:
        try:
            document = json.loads(text or "null")
        except json.JSONDecodeError:
            return "not JSON"
        return None if isinstance(document, dict) else "JSON body is not an object"
    form = parse_qs(text, keep_blank_values=True)
    if "payload" not in form:
        return None if ("command" in form or "ssl_check" in form) else "no command or payload"
    try:
        payload = json.loads(form["payload"][0])
    except json.JSONDecodeError:
        return "payload is not JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
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


def build_web(app: AsyncApp, db: Database, *, scheduler_state: str = "off") -> Starlette:
    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        why = malformed_reason(body, request.headers.get("content-type", ""))
        if why:
            log.info("rejected a malformed Slack request: %s", why)
            return JSONResponse({"error": MALFORMED.format(why=why)}, status_code=400)
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        state: dict[str, Any] = {"database": db.dialect, "scheduler": scheduler_state}
        try:
            await db.ping()
        except Exception as exc:  # noqa: BLE001  (any failure means unhealthy)
            log.error("health check: database unreachable: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", **state}, status_code=503)
        return JSONResponse({"status": "ok", **state})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
