"""Logging: JSON lines in serve mode, plain lines in the shell, and no secret in either —
checked on a real session through the bot over HTTP, with every logger at DEBUG."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from bot import slack_requests as slack
from bot.app import build_app, build_client
from bot.calendar import calendar_route
from bot.clock import ManualClock
from bot.logs import (
    LEVEL_CHECKED_LOGGERS,
    QUIET_LOGGERS,
    REDACTED,
    SERVER_LOGGERS,
    configure_logging,
    secrets_of,
)
from bot.settings import Settings
from bot.web import build_web
from storage.db import Database
from tests.support.bots import bot_settings, serve, sign
from tests.support.databases import seed
from tests.support.people import ADMIN, AS_OF, BOT_TOKEN, CHANNEL, SIGNING_SECRET
from tests.support.slack import SlackStandIn

APP_TOKEN = "xapp-1-A0PARLEY-1234567890-abcdef"
CALENDAR_TOKEN = "calendar-token-0123456789abcdef"
DB_PASSWORD = "pg-password-never-logged"
SECRETS = [BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, CALENDAR_TOKEN, DB_PASSWORD]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {
        name: logging.getLogger(name).level for name in (*QUIET_LOGGERS, *LEVEL_CHECKED_LOGGERS)
    }
    servers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    kept = [(lg.level, lg.propagate, list(lg.handlers)) for lg in servers]
    yield
    for server_logger, (old_level, propagate, old_handlers) in zip(servers, kept, strict=True):
        server_logger.setLevel(old_level)
        server_logger.propagate = propagate
        server_logger.handlers = old_handlers
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def json_lines(restore_logging: None) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(json=True, level=logging.DEBUG, secrets=SECRETS, stream=stream)
    return stream


def test_uvicorn_logs_go_through_the_one_handler_even_after_its_own_config(
    restore_logging: None,
) -> None:
    """uvicorn's default config (another server in this process) gives its loggers handlers
    of their own and stops propagation; configuring Parley's logging takes them back."""
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    stream = io.StringIO()
    configure_logging(json=True, level=logging.INFO, secrets=(), stream=stream)
    logging.getLogger("uvicorn.access").info("GET /healthz 200")
    logging.getLogger("uvicorn.error").warning("slow")
    loggers = [json.loads(line)["logger"] for line in stream.getvalue().splitlines()]
    assert loggers == ["uvicorn.access", "uvicorn.error"]


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    documents = []
    for line in lines:
        document = json.loads(line)  # every line is one JSON object
        assert isinstance(document, dict), line
        assert {"time", "level", "logger", "message"} <= set(document), line
        assert document["time"].endswith("Z"), line
        documents.append(document)
    return documents


# ---- a real session: the bot served as `parley serve` serves it ------------------------------


async def serve_bot(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    settings = bot_settings(db, standin, calendar_token=CALENDAR_TOKEN)
    app = build_app(settings=settings, client=build_client(settings), db=db, clock=clock)
    web = build_web(app, db)
    web.router.routes.append(calendar_route(db=db, settings=settings, clock=clock))
    # No log config: uvicorn's loggers propagate to the root handler instead of their own.
    return await serve(web, log_config=None, log_level=None)


async def test_a_session_logs_only_json_lines_without_secrets_or_request_bodies(
    json_lines: io.StringIO, sqlite_db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await seed(sqlite_db)
    server, task, url = await serve_bot(sqlite_db, standin, clock)
    sent: list[str] = []  # values that exist only in request bodies
    try:
        async with httpx.AsyncClient(timeout=10) as http:

            async def command(text_command: str, text: str, *, secret: str = SIGNING_SECRET) -> int:
                form = slack.slash_command(
                    text_command,
                    text,
                    user=ADMIN,
                    channel=CHANNEL,
                    response_url=standin.response_url(channel=CHANNEL),
                )
                sent.extend([form["response_url"], form["trigger_id"]])
                body = slack.form_body(form)
                response = await http.post(
                    f"{url}/slack/events", content=body, headers=sign(body, secret=secret)
                )
                return response.status_code

            assert await command("/truce", "") == 200
            assert await command("/deadline", "add Tariff hearing | 2025-08-20 10:00 UTC") == 200
            assert await command("/deadline", "") == 200
            assert await command("/desk", "help") == 200
            assert await command("/truce", "", secret="not-the-signing-secret") == 401
            malformed = await http.post(
                f"{url}/slack/events",
                content="payload=%7Bnot-json",
                headers=sign("payload=%7Bnot-json"),
            )
            assert malformed.status_code == 400
            assert (await http.get(f"{url}/healthz")).status_code == 200
            feed = await http.get(f"{url}/calendar.ics", params={"token": CALENDAR_TOKEN})
            assert feed.status_code == 200
            # uvicorn logs a request after answering it: wait for the last one's line
            for _ in range(500):
                if "/calendar.ics?token=" in json_lines.getvalue():
                    break
                await asyncio.sleep(0.02)
    finally:
        server.should_exit = True
        await task

    documents = lines_of(json_lines)
    assert documents, "nothing was logged at DEBUG"
    text = json_lines.getvalue()
    for value in [*SECRETS, *sent]:
        assert value not in text, value
    access = [d["message"] for d in documents if d["logger"] == "uvicorn.access"]
    assert f"GET /calendar.ics?token={REDACTED} HTTP/1.1" in access[-1]
    assert not any("color_message" in d for d in documents)


# ---- the filter and the formatters -----------------------------------------------------------


def test_secrets_are_redacted_in_message_args_extra_fields_and_tracebacks(
    json_lines: io.StringIO,
) -> None:
    log = logging.getLogger("parley.test")
    log.info(
        "calling with %s and %r",
        BOT_TOKEN,
        {"secret": SIGNING_SECRET},
        extra={
            "request_id": "r-1",
            "latency_ms": 12.5,
            "status": 200,
            "headers": {"authorization": f"Bearer {APP_TOKEN}"},
            "urls": [f"https://example.invalid/calendar.ics?token={CALENDAR_TOKEN}&x=1"],
        },
    )
    try:
        raise RuntimeError(f"connect postgresql://parley:{DB_PASSWORD}@db/parley failed")
    except RuntimeError:
        log.exception("database down", extra={"outcome": "error"})

    info, error = lines_of(json_lines)
    assert info["message"] == f"calling with {REDACTED} and {{'secret': '{REDACTED}'}}"
    assert (info["request_id"], info["latency_ms"], info["status"]) == ("r-1", 12.5, 200)
    assert info["headers"] == {"authorization": f"Bearer {REDACTED}"}
    assert info["urls"] == [f"https://example.invalid/calendar.ics?token={REDACTED}&x=1"]
    assert (info["level"], info["logger"]) == ("INFO", "parley.test")
    assert error["outcome"] == "error"
    assert "RuntimeError" in error["exc"]
    assert f"postgresql://parley:{REDACTED}@db/parley" in error["exc"]
    assert "\n" not in json_lines.getvalue().rstrip("\n").split("\n")[-1]
    for secret in SECRETS:
        assert secret not in json_lines.getvalue()


def test_slack_token_shapes_are_redacted_even_when_not_configured(
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging(json=True, level=logging.DEBUG, stream=stream)
    tokens = [
        "xoxb-1111-2222-abcDEF",
        "xoxp-9-8-7",
        "xoxa-2-xyz",
        "xoxr-refresh-1",
        "xapp-1-A1-2-ff",
        "https://hooks.slack.com/commands/T0/1/abc",
    ]
    logging.getLogger("parley.test").warning("tokens: %s", " ".join(tokens))
    (line,) = lines_of(stream)
    assert line["message"] == "tokens: " + " ".join([REDACTED] * len(tokens))


def test_library_request_bodies_stay_out_at_debug(json_lines: io.StringIO) -> None:
    for name in ("slack_bolt.App", "slack_sdk.web.async_client", "parley.bolt"):
        logging.getLogger(name).debug("request body: {'trigger_id': '1.2.abc'}")
    logging.getLogger("parley.scheduler").debug("tick", extra={"channel": CHANNEL})
    (line,) = lines_of(json_lines)
    assert (line["logger"], line["channel"]) == ("parley.scheduler", CHANNEL)


def test_the_shell_gets_plain_lines_with_their_fields(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(json=False, level=logging.WARNING, secrets=[SIGNING_SECRET], stream=stream)
    log = logging.getLogger("parley.scheduler")
    log.info("not shown at WARNING")
    log.warning(
        "post failed: %s", SIGNING_SECRET, extra={"delivery_key": "countdown:1", "outcome": "retry"}
    )
    assert stream.getvalue() == (
        f"WARNING parley.scheduler: post failed: {REDACTED} "
        "delivery_key=countdown:1 outcome=retry\n"
    )


def test_configuring_twice_keeps_one_handler(restore_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(json=True, stream=first)
    configure_logging(json=True, stream=second)
    logging.getLogger("parley.test").warning("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_secrets_of_settings_include_the_database_password() -> None:
    settings = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        calendar_token=CALENDAR_TOKEN,
        database_url=f"postgresql+asyncpg://parley:{DB_PASSWORD}@db:5432/parley",
    )
    assert sorted(secrets_of(settings)) == sorted(
        [BOT_TOKEN, SIGNING_SECRET, CALENDAR_TOKEN, DB_PASSWORD]
    )


class Counted(str):
    """A text that counts how often it is formatted by `repr` (a log line of the arguments
    does; sending it as JSON does not)."""

    formatted = 0

    def __repr__(self) -> str:
        Counted.formatted += 1
        return str.__repr__(self)


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.DEBUG])
async def test_a_web_api_call_does_not_format_its_arguments_for_a_debug_line_it_drops(
    restore_logging: None, standin: SlackStandIn, tmp_path: Any, level: int
) -> None:
    """slack_sdk formats each call's whole arguments for a DEBUG line when its logger's own
    `level` allows it; the SDK's lines are held at WARNING, so that work is never done: a big
    App Home view cost 0.35 ms a publish for a line nobody reads."""
    configure_logging(json=True, level=level, stream=io.StringIO())
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}")
    try:
        client = build_client(bot_settings(db, standin))
        text = Counted("Next deadlines")
        Counted.formatted = 0
        view = {
            "type": "home",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
        mark = standin.mark()
        await client.views_publish(user_id="U0MEMBER1", view=view)
        call = await standin.next_call("views.publish", after=mark, timeout=5)
        assert call.args["view"]["blocks"][0]["text"]["text"] == "Next deadlines"
        assert Counted.formatted == 0
    finally:
        await db.dispose()


async def test_the_app_starts_without_bolts_given_client_warning(
    restore_logging: None, standin: SlackStandIn, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client Parley gives it (built
    from that token) wins: at every start, though nothing is wrong. Other warnings stay."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    stream = io.StringIO()
    configure_logging(json=False, level=logging.INFO, stream=stream)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}")
    try:
        settings = bot_settings(db, standin)
        app = build_app(
            settings=settings, client=build_client(settings), db=db, clock=ManualClock(AS_OF)
        )
        assert app.client.token == BOT_TOKEN
        logging.getLogger("parley.bolt").warning("another warning")
        logged = stream.getvalue()
        assert "will be unused" not in logged, logged
        assert "another warning" in logged
    finally:
        await db.dispose()
