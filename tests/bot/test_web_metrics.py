"""`bot/web.py` and `bot/metrics.py`: GET /metrics, the request log line, the hooks of
`build_web` (`health_extra`, `extra_routes`) and the Socket Mode ops server."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.app import build_app, build_client
from bot.clock import ManualClock
from bot.metrics import Metrics
from bot.render.ids import Callback, Field
from bot.settings import Settings
from bot.web import build_ops_web, build_web
from storage.db import Database
from tests.support.bots import RunningBot, sign
from tests.support.checks import eventually, sample
from tests.support.people import ADMIN, BOT_TOKEN, MEMBER, SIGNING_SECRET
from tests.support.slack import SlackStandIn


async def exposition(bot: RunningBot) -> str:
    response = await bot.http.get(f"{bot.url}/metrics")
    assert response.status_code == 200
    return response.text


async def counted(bot: RunningBot, metric: str, /, value: float = 1, **labels: str) -> None:
    """`metric{labels}` reaches `value` (a request is counted just after it is answered)."""
    text = ""

    async def read() -> float:
        nonlocal text
        text = await exposition(bot)
        return sample(text, metric, **labels)

    for _ in range(100):
        if await read() == value:
            return
    raise AssertionError(f"{metric}{labels} != {value} in:\n{text}")


async def test_metrics_are_prometheus_text(bot: RunningBot) -> None:
    response = await bot.http.get(f"{bot.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in ("parley_requests", "parley_request_seconds", "parley_slack_api_calls"):
        assert f"# TYPE {family}" in response.text
    assert "# TYPE parley_deliveries gauge" in response.text


async def test_a_command_is_counted_timed_and_its_web_api_calls_counted(bot: RunningBot) -> None:
    assert (await bot.command("/truce", user=MEMBER)).status_code == 200
    await counted(bot, "parley_requests_total", kind="command", name="/truce", outcome="ok")
    await counted(bot, "parley_request_seconds_count", kind="command")
    # the reader's zone: users.info, through the per-request client Bolt builds
    await counted(bot, "parley_slack_api_calls_total", method="users.info", result="ok")


async def test_a_rate_limited_call_is_counted_per_attempt(bot: RunningBot) -> None:
    bot.standin.fail_next("users.info", status=429, retry_after=0)
    assert (await bot.command("/truce", user=MEMBER)).status_code == 200
    await counted(bot, "parley_slack_api_calls_total", method="users.info", result="429")
    await counted(bot, "parley_slack_api_calls_total", method="users.info", result="ok")


async def test_a_slack_error_is_counted_by_its_name(bot: RunningBot) -> None:
    bot.standin.fail_with_error("users.info", "user_not_found")
    assert (await bot.command("/truce", user=MEMBER)).status_code == 200
    await counted(bot, "parley_slack_api_calls_total", method="users.info", result="user_not_found")


async def test_unsigned_requests_are_counted_without_their_made_up_names(
    bot: RunningBot,
) -> None:
    body = urlencode({"command": "/made-up-by-anyone", "text": "", "user_id": ADMIN})
    response = await bot.http.post(
        f"{bot.url}/slack/events",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401
    await counted(bot, "parley_requests_total", kind="command", name="", outcome="unauthorized")
    assert "/made-up-by-anyone" not in await exposition(bot)


async def test_malformed_bodies_are_counted_as_malformed(bot: RunningBot) -> None:
    body = "payload=" + json.dumps({"type": "block_actions", "actions": []})
    response = await bot.http.post(f"{bot.url}/slack/events", content=body, headers=sign(body))
    assert response.status_code == 400
    await counted(bot, "parley_requests_total", kind="action", name="", outcome="malformed")


async def test_a_form_refused_inline_is_counted_as_rejected(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=ADMIN)
    view = await bot.opened_view()
    response = await bot.submit_view(view, {Field.headline: "x", Field.due: "someday"})
    assert response.json()["response_action"] == "errors"
    await counted(
        bot,
        "parley_requests_total",
        kind="view",
        name=Callback.deadline_form,
        outcome="rejected",
    )


async def test_one_log_line_per_request_without_body_token_or_signature(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parley.requests")
    response = await bot.command("/deadline", "add Secret title | +3d", user=ADMIN)
    assert response.status_code == 200
    await eventually(lambda: any(r.name == "parley.requests" for r in caplog.records))
    (record,) = [r for r in caplog.records if r.name == "parley.requests"]
    fields: dict[str, Any] = vars(record)
    assert record.getMessage() == "request"
    assert fields["kind"] == "command" and fields["request_name"] == "/deadline"
    assert fields["outcome"] == "ok" and fields["status"] == 200
    assert isinstance(fields["request_id"], str) and fields["request_id"]
    assert fields["latency_ms"] >= 0
    logged = json.dumps({k: str(v) for k, v in fields.items()})
    for secret in ("Secret title", BOT_TOKEN, SIGNING_SECRET, "v0=", "trigger"):
        assert secret not in logged


async def test_each_app_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.set_deliveries(pending=4, failed=1)
    assert sample(first.exposition(), "parley_deliveries", status="failed") == 1
    assert sample(first.exposition(), "parley_deliveries", status="pending") == 4
    assert sample(second.exposition(), "parley_deliveries", status="failed") == 0


# ---- build_web's hooks, in process ----------------------------------------------------------


@pytest.fixture
async def app_parts(
    sqlite_db: Database, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[tuple[Any, Database]]:
    settings = Settings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=standin.api_url)
    app = build_app(settings=settings, client=build_client(settings), db=sqlite_db, clock=clock)
    yield app, sqlite_db


def client_of(web: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://parley")


async def test_health_extra_is_merged_into_healthz(app_parts: tuple[Any, Database]) -> None:
    app, db = app_parts

    async def scheduler_health() -> dict[str, Any]:
        return {"scheduler": "running", "deliveries_failed": 2}

    async with client_of(build_web(app, db, health_extra=scheduler_health)) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "sqlite",
        "scheduler": "running",
        "deliveries_failed": 2,
    }


async def test_a_failing_health_extra_makes_healthz_503(app_parts: tuple[Any, Database]) -> None:
    app, db = app_parts

    async def broken() -> dict[str, Any]:
        raise RuntimeError("scheduler gone")

    async with client_of(build_web(app, db, health_extra=broken)) as http:
        response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_healthz_is_503_when_the_database_is_down(
    app_parts: tuple[Any, Database], tmp_path: Any
) -> None:
    app, _ = app_parts
    missing = Database(f"sqlite:///{tmp_path / 'no-such-dir' / 'parley.db'}")
    before = set(threading.enumerate())
    try:
        async with client_of(build_web(app, missing)) as http:
            response = await http.get("/healthz")
    finally:
        await missing.dispose()
    # aiosqlite stops a connection that failed to open without waiting for it: let its
    # thread finish while this loop runs (it calls back into it), not after it has closed.
    started = [t for t in threading.enumerate() if t not in before]
    for _ in range(500):
        if not any(t.is_alive() for t in started):
            break
        await asyncio.sleep(0.01)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "sqlite", "scheduler": "off"}


async def test_extra_routes_are_served(app_parts: tuple[Any, Database]) -> None:
    app, db = app_parts

    async def calendar(_: Request) -> Response:
        return PlainTextResponse("BEGIN:VCALENDAR")

    web = build_web(app, db, extra_routes=[Route("/calendar.ics", calendar)])
    async with client_of(web) as http:
        assert (await http.get("/calendar.ics")).text == "BEGIN:VCALENDAR"
        assert (await http.get("/healthz")).status_code == 200


async def test_the_socket_mode_server_has_health_and_metrics_but_no_slack_endpoint(
    app_parts: tuple[Any, Database],
) -> None:
    _, db = app_parts
    metrics = Metrics()
    async with client_of(build_ops_web(db, metrics)) as http:
        assert (await http.get("/healthz")).json()["status"] == "ok"
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.post("/slack/events", content="command=/truce")).status_code == 404


async def test_metrics_passed_in_count_the_apps_web_api_calls(
    app_parts: tuple[Any, Database],
) -> None:
    app, db = app_parts
    metrics = Metrics()
    build_web(app, db, metrics=metrics)
    build_web(app, db, metrics=metrics)  # instrumenting twice counts once
    await app.client.auth_test()
    assert sample(metrics.exposition(), "parley_slack_api_calls_total", method="auth.test") == 1
