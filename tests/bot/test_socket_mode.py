"""`bot/socket_mode.py` against the stand-in's Socket Mode: envelopes in, acks out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot import slack_requests as slack
from bot.app import build_app, build_client
from bot.clock import ManualClock
from bot.metrics import Metrics
from bot.render.ids import Callback
from bot.settings import Settings
from bot.socket_mode import SocketModeHandler
from storage.db import Database
from storage.models import HandledRequest
from tests.support.bots import bot_settings
from tests.support.checks import eventually, sample
from tests.support.databases import seed
from tests.support.people import ADMIN, BOT_TOKEN, CHANNEL, MEMBER
from tests.support.slack import SlackStandIn

APP_TOKEN = "xapp-1-test"


@dataclass
class SocketBot:
    standin: SlackStandIn
    metrics: Metrics
    db: Database
    last: int = 0  # the stand-in's mark() taken before the last envelope went out

    def command(self, command: str, text: str = "", *, user: str = ADMIN) -> dict[str, Any]:
        return slack.slash_command(
            command,
            text,
            user=user,
            channel=CHANNEL,
            response_url=self.standin.response_url(channel=CHANNEL),
        )

    async def send(self, type: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.last = self.standin.mark()
        envelope_id = await self.standin.send_envelope(type, payload, **kwargs)
        return await self.standin.socket_ack(envelope_id)


async def counted(metrics: Metrics, metric: str, /, **labels: str) -> None:
    """The request is counted once (just after its ack went out)."""
    await eventually(lambda: sample(metrics.exposition(), metric, **labels) == 1)


@pytest.fixture
async def socket_bot(
    sqlite_db: Database, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[SocketBot]:
    await seed(sqlite_db)
    settings = bot_settings(sqlite_db, standin, app_token=APP_TOKEN, signing_secret=None)
    app = build_app(settings=settings, client=build_client(settings), db=sqlite_db, clock=clock)
    metrics = Metrics()
    metrics.instrument(app.client)
    handler = SocketModeHandler(app, app_token=APP_TOKEN, metrics=metrics)
    await handler.open()
    await standin.wait_for("socket_connect")
    yield SocketBot(standin, metrics, sqlite_db)
    await handler.close()


async def test_the_connection_url_comes_from_apps_connections_open_with_the_app_token(
    socket_bot: SocketBot,
) -> None:
    (call,) = socket_bot.standin.calls_to("apps.connections.open")
    assert call.token == APP_TOKEN and call.status == 200
    await counted(
        socket_bot.metrics,
        "parley_slack_api_calls_total",
        method="apps.connections.open",
        result="ok",
    )


async def test_a_slash_command_is_acked_with_its_answer(socket_bot: SocketBot) -> None:
    envelope_id = await socket_bot.standin.send_envelope(
        "slash_commands", socket_bot.command("/truce", user=MEMBER)
    )
    ack = await socket_bot.standin.socket_ack(envelope_id)
    assert ack["envelope_id"] == envelope_id
    answer = ack["payload"]
    assert answer["response_type"] == "ephemeral"
    assert "Tue 12 Aug 2025 00:01 EDT" in str(answer["blocks"])
    await counted(
        socket_bot.metrics, "parley_requests_total", kind="command", name="/truce", outcome="ok"
    )


async def test_a_lead_command_opens_its_modal_through_the_web_api(socket_bot: SocketBot) -> None:
    ack = await socket_bot.send("slash_commands", socket_bot.command("/deadline", "new"))
    assert "payload" not in ack or not ack["payload"]
    call = await socket_bot.standin.next_call("views.open", after=socket_bot.last)
    assert call.args["view"]["callback_id"] == Callback.deadline_form


async def test_a_malformed_interaction_is_acked_and_never_dispatched(
    socket_bot: SocketBot,
) -> None:
    ack = await socket_bot.send("interactive", {"type": "block_actions", "actions": []})
    assert "payload" not in ack
    await counted(socket_bot.metrics, "parley_requests_total", kind="action", outcome="malformed")
    assert socket_bot.standin.calls_to("response_url") == []


async def test_an_event_retried_over_the_socket_is_handled_once(socket_bot: SocketBot) -> None:
    await socket_bot.send("events_api", slack.app_home_opened(MEMBER, event_id="EvSOCKET1"))
    await socket_bot.standin.next_call("views.publish", after=socket_bot.last)
    await socket_bot.send(
        "events_api",
        slack.app_home_opened(MEMBER, event_id="EvSOCKET1"),
        retry_attempt=1,
        retry_reason="timeout",
    )
    await socket_bot.send("events_api", slack.app_home_opened(MEMBER, event_id="EvSOCKET2"))
    await socket_bot.standin.next_call("views.publish", after=socket_bot.last)
    assert len(socket_bot.standin.calls_to("views.publish")) == 2
    async with socket_bot.db.session() as session:
        assert await session.get(HandledRequest, "EvSOCKET1") is not None
    await counted(
        socket_bot.metrics,
        "parley_requests_total",
        kind="event",
        name="app_home_opened",
        outcome="rejected",
    )


async def test_apps_connections_open_refuses_a_bot_token(standin: SlackStandIn) -> None:
    settings = Settings(bot_token=BOT_TOKEN, api_url=standin.api_url)
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError) as refused:
        await build_client(settings).apps_connections_open(app_token=BOT_TOKEN)
    assert refused.value.response["error"] == "not_allowed_token_type"
