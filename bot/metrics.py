"""Prometheus metrics and the request log line, one `Metrics` per app.

    metrics = Metrics()
    metrics.instrument(app.client)   # counts every Web API call, listeners' clients included
    metrics.set_deliveries(pending=4, failed=1)   # fed by the scheduler
    metrics.exposition()             # the body of GET /metrics

Each `Metrics` has its own registry (not prometheus_client's global one), so one process can
build several apps, as the tests do.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.retries import NO_RETRY_HEADER

request_log = logging.getLogger("parley.requests")
MAX_NAME = 100
# NO_RETRY_HEADER is set on a 200 that acknowledges without effect (an event already
# handled); Slack reads it as "do not retry", and the metrics count the request as rejected.


class Kind(StrEnum):
    command = "command"
    action = "action"
    view = "view"
    event = "event"
    options = "options"
    other = "other"


class Outcome(StrEnum):
    ok = "ok"
    error = "error"
    rejected = "rejected"  # answered without effect: inline form errors, a duplicate, no listener
    unauthorized = "unauthorized"
    malformed = "malformed"


# Only a verified request's name becomes a label: anyone can send an unsigned one, and
# made-up names would grow the registry without bound.
UNTRUSTED = frozenset({Outcome.unauthorized, Outcome.malformed})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "parley_requests",
            "Slack requests by kind, name and outcome.",
            ["kind", "name", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "parley_request_seconds",
            "Time to answer a Slack request.",
            ["kind"],
            registry=self.registry,
        )
        self.slack_api_calls = Counter(
            "parley_slack_api_calls",
            "Web API calls (each HTTP attempt) by method and result: ok, the Slack error, "
            "the HTTP status or the connection error.",
            ["method", "result"],
            registry=self.registry,
        )
        self.deliveries = Gauge(
            "parley_deliveries",
            "Deliveries in the outbox by status.",
            ["status"],
            registry=self.registry,
        )
        self.sources = Gauge(
            "parley_sources",
            "News sources by health: ok, failing (its last poll failed), paused, new.",
            ["state"],
            registry=self.registry,
        )
        self._observer = ApiCallObserver(self.slack_api_calls)
        # Each request's samples go to the same few label children: found once, not per
        # request (as many as the label sets the registry holds anyway).
        self._request_counts: dict[tuple[str, str, Outcome], Any] = {}
        self._request_times: dict[str, Any] = {}

    def instrument(self, client: AsyncWebClient) -> None:
        """Counts `client`'s calls, and those of the clients Bolt copies from it per request.

        Bolt's per-request clients copy `retry_handlers` (not the client class), so the count
        hooks in there; the observer never asks for a retry itself.
        """
        if client.retry_handlers is None:
            client.retry_handlers = []
        if self._observer not in client.retry_handlers:
            client.retry_handlers.insert(0, self._observer)

    def set_deliveries(self, *, pending: int, failed: int) -> None:
        self.deliveries.labels(status="pending").set(pending)
        self.deliveries.labels(status="failed").set(failed)

    def set_sources(self, counts: Mapping[str, int]) -> None:
        for state, count in counts.items():
            self.sources.labels(state=state).set(count)

    def record_request(
        self,
        *,
        kind: str,
        name: str,
        outcome: Outcome,
        status: int,
        seconds: float,
        request_id: str | None = None,
    ) -> None:
        """One sample and one log line per request; never the body, a token or a signature."""
        name = "" if outcome in UNTRUSTED else name[:MAX_NAME]
        counted = self._request_counts.get((kind, name, outcome))
        if counted is None:
            counted = self.requests.labels(kind=kind, name=name, outcome=outcome)
            self._request_counts[(kind, name, outcome)] = counted
        counted.inc()
        timed = self._request_times.get(kind)
        if timed is None:
            timed = self._request_times[kind] = self.request_seconds.labels(kind=kind)
        timed.observe(seconds)
        request_log.info(
            "request",
            extra={
                "request_id": request_id or uuid.uuid4().hex[:12],
                "kind": kind,
                # `name` is taken: every LogRecord has one (the logger's).
                "request_name": name,
                "outcome": str(outcome),
                "status": status,
                "latency_ms": round(seconds * 1000, 1),
            },
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ApiCallObserver(AsyncRetryHandler):
    """A retry handler that only counts: slack_sdk shows every response and every connection
    error to each retry handler in turn, so the first one in the list sees all of them."""

    def __init__(self, counter: Counter) -> None:
        super().__init__(max_retry_count=0)
        self.counter = counter

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = request.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        self.counter.labels(method=method, result=api_result(response, error)).inc()
        return False


def api_result(response: HttpResponse | None, error: Exception | None) -> str:
    if error is not None or response is None:
        return type(error).__name__ if error is not None else "no_response"
    if response.status_code != 200:
        return str(response.status_code)
    body = response.body or {}
    if body.get("ok") is False:
        return str(body.get("error") or "error")[:MAX_NAME]
    return "ok"


def describe(body: Mapping[str, Any]) -> tuple[Kind, str]:
    """(kind, name) of a parsed request: ("command", "/truce"), ("view", callback_id) …"""
    if "command" in body:
        return Kind.command, str(body.get("command") or "")
    kind = body.get("type")
    if kind == "block_actions":
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else {}
        return Kind.action, _str(first, "action_id")
    if kind in ("view_submission", "view_closed"):
        return Kind.view, _str(body.get("view"), "callback_id")
    if kind == "block_suggestion":
        return Kind.options, _str(body, "action_id")
    if kind in ("shortcut", "message_action"):
        return Kind.action, _str(body, "callback_id")
    if kind == "event_callback":
        return Kind.event, _str(body.get("event"), "type")
    if kind == "url_verification":
        return Kind.event, "url_verification"
    return Kind.other, ""


def outcome_of(
    status: int, body: bytes | str, headers: Mapping[str, Any], *, failed: bool = False
) -> Outcome:
    """How an answered request ended, from what was answered and whether a listener failed
    (`bot.runtime.LISTENER_FAILED` in the request's context)."""
    if status == 401:
        return Outcome.unauthorized
    if status == 400:
        return Outcome.malformed
    if status == 404:
        return Outcome.rejected  # signed, but no listener takes it
    if not 200 <= status < 300:
        return Outcome.error
    if failed:
        return Outcome.error  # answered clearly, but the listener failed
    if any(str(k).lower() == NO_RETRY_HEADER for k in headers):
        return Outcome.rejected
    if _is_inline_errors(body):
        return Outcome.rejected
    return Outcome.ok


def _is_inline_errors(body: bytes | str) -> bool:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if '"response_action"' not in text:
        return False
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(document, dict) and document.get("response_action") == "errors"


def _str(node: Any, key: str) -> str:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, str) else ""
