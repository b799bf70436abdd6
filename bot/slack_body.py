"""Slack request bodies as Bolt is handed them, shared by `serve`, Socket Mode and the shell.

Bolt answers 500 to a malformed body (a `payload=` that is not JSON, `"actions": []` …)
while parsing it. `read_body` reads the body once and says why it is malformed; a
well-formed one goes to Bolt as `bolt_request`, with the document already read. Its own
module so that the shell does not load uvicorn, Starlette and the metrics to use it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.async_app import AsyncBoltContext, AsyncBoltRequest
from slack_bolt.request.async_internals import build_async_context

__all__ = ["bolt_request", "document_problem", "payload_problem", "read_body"]


def read_body(body: bytes, content_type: str) -> tuple[dict[str, Any], str | None]:
    """The request as Slack sent it (the form fields, the payload or the JSON document), and
    why it is malformed, or None. Bolt is handed this document rather than parsing the body
    again with its own looser rules (a form whose text merely contains "payload" would be
    read as an empty interaction)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}, "not UTF-8"
    try:
        if "application/json" in content_type or text.startswith("{"):
            document = json.loads(text or "null")
            if not isinstance(document, dict):
                return {}, "JSON body is not an object"
            return document, payload_problem(document)
        form = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" not in form:
            ok = "command" in form or "ssl_check" in form
            return form, None if ok else "no command or payload"
        payload = json.loads(form["payload"])
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return {}, "not JSON" if "payload" not in text else "payload is not JSON"
    if not isinstance(payload, dict):
        return {}, "payload is not an object with a type"
    return payload, payload_problem(payload)


def payload_problem(payload: dict[str, Any]) -> str | None:
    """Why Bolt would fail on this interaction payload or JSON body, or None."""
    if not isinstance(payload.get("type"), str):
        return "payload is not an object with a type"
    if payload["type"] == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            return "block_actions without actions"
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return "actions are not objects with an action_id"
    if "view" in payload and not isinstance(payload["view"], dict):
        return "view is not an object"
    if payload["type"] in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            return "view_submission without a view of a known type"
    return document_problem(payload)


def document_problem(document: dict[str, Any]) -> str | None:
    """Why Bolt could not build a context from this document, or None."""
    for key in ("user", "team", "channel", "container", "enterprise", "event"):
        if key in document and document[key] is not None and not isinstance(document[key], dict):
            return f"{key} is not an object"
    authorizations = document.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return "authorizations is not a list of objects"
    event = document.get("event")
    if isinstance(event, dict):
        for key in ("user", "channel", "team"):
            if key in event and not isinstance(event[key], str | dict | None):
                return f"event.{key} is not a string"
    return None


def bolt_request(raw: str, document: dict[str, Any], headers: Any, query: Any = None) -> Any:
    """A Bolt request carrying the document already read (and the raw body, which Bolt's own
    signature check reads), so Bolt does not parse the body again."""
    request = AsyncBoltRequest(body="", query=query, headers=headers)
    request.raw_body = raw
    request.body = document
    request.context = build_async_context(AsyncBoltContext(), document)
    return request
