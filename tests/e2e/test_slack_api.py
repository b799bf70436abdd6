"""The Web API side over the wire: a 429 or a dropped connection is retried and the user
still gets the answer; `/healthz` and `/metrics` on both databases."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build_client, kept_alive
from bot.metrics import Metrics
from bot.render.ids import Callback, Field
from bot.settings import Settings
from tests.support.bots import RunningBot
from tests.support.checks import sample
from tests.support.people import BOT_TOKEN, CHANNEL, LEAD, MEMBER
from tests.support.slack import SlackStandIn


async def test_a_rate_limited_views_open_is_retried_and_the_form_opens(e2e: RunningBot) -> None:
    e2e.standin.fail_next("views.open", status=429, retry_after=1)
    assert (await e2e.command("/deadline", "new", user=LEAD)).status_code == 200
    limited, opened = await e2e.standin.wait_for("views.open", count=2, after=e2e.last.mark)
    assert limited.status == 429 and opened.status == 200
    assert opened.at - limited.at >= 1.0  # Retry-After honoured
    assert opened.args["view"]["callback_id"] == Callback.deadline_form


async def test_a_rate_limited_confirmation_is_retried_and_delivered(e2e: RunningBot) -> None:
    await e2e.command("/deadline", "new", user=LEAD)
    view = await e2e.opened_view()
    e2e.standin.fail_next("chat.postEphemeral", status=429, retry_after=1)
    saved = await e2e.submit_view(view, {Field.headline: "Retried", Field.due: "+3d"}, user=LEAD)
    assert saved.status_code == 200
    limited, delivered = await e2e.standin.wait_for(
        "chat.postEphemeral", count=2, after=e2e.last.mark
    )
    assert (limited.status, delivered.status) == (429, 200)
    assert "Retried" in delivered.args["text"] and delivered.args["user"] == LEAD


async def test_healthz_and_metrics_on_each_database(e2e: RunningBot) -> None:
    health = (await e2e.http.get(f"{e2e.url}/healthz")).json()
    assert health["status"] == "ok"
    assert health["database"] == e2e.db.dialect
    assert (await e2e.command("/talks", user=MEMBER)).status_code == 200
    text = (await e2e.http.get(f"{e2e.url}/metrics")).text
    assert sample(text, "parley_requests_total", kind="command", name="/talks", outcome="ok") == 1


class DroppingProxy:
    """Forwards TCP to the stand-in, but hangs up on the first `drops` connections."""

    def __init__(self, target_port: int, drops: int = 1) -> None:
        self.target_port = target_port
        self.drops = drops
        self.server: asyncio.Server | None = None
        self.connections: list[asyncio.StreamWriter] = []  # the callers' side, as accepted

    async def hang_up_all(self) -> None:
        """Closes every connection kept open to it, as Slack does with idle ones."""
        for writer in self.connections:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @property
    def api_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/api/"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.drops > 0:
            self.drops -= 1
            writer.close()
            await writer.wait_closed()
            return
        self.connections.append(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


@pytest.fixture
async def dropping_proxy(standin: SlackStandIn) -> AsyncIterator[DroppingProxy]:
    port = int(standin.api_url.split(":")[2].split("/")[0])
    proxy = DroppingProxy(port)
    proxy.server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    yield proxy
    proxy.server.close()
    await proxy.server.wait_closed()


async def test_a_dropped_connection_is_retried(
    standin: SlackStandIn, dropping_proxy: DroppingProxy
) -> None:
    # A POST: aiohttp itself re-sends only idempotent requests (users.info is a GET).
    client = build_client(Settings(bot_token=BOT_TOKEN, api_url=dropping_proxy.api_url))
    metrics = Metrics()
    metrics.instrument(client)
    reply = await client.chat_postMessage(channel=CHANNEL, text="Countdown: 3 days")
    assert reply["ok"] and dropping_proxy.drops == 0
    assert len(standin.calls_to("chat.postMessage")) == 1
    calls = {
        s.labels["result"]: s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for s in family.samples
        if s.name == "parley_slack_api_calls_total"
    }
    assert calls.pop("ok") == 1
    assert list(calls.values()) == [1], calls  # the dropped attempt, by its error
    assert set(calls) <= {"ServerDisconnectedError", "ClientOSError"}


async def test_a_kept_connection_slack_closed_is_replaced_and_the_call_made(
    standin: SlackStandIn, dropping_proxy: DroppingProxy
) -> None:
    """`kept_alive` keeps one connection for the listeners' calls; one the far side has
    closed meanwhile is not reused: the next call opens another, and is made once."""
    dropping_proxy.drops = 0
    settings = Settings(bot_token=BOT_TOKEN, api_url=dropping_proxy.api_url)
    async with kept_alive(build_client(settings)) as client:
        for text in ("first", "second"):
            assert (await client.chat_postMessage(channel=CHANNEL, text=text))["ok"]
        assert len(dropping_proxy.connections) == 1  # kept: both calls over one
        await dropping_proxy.hang_up_all()
        await asyncio.sleep(0.05)  # the close reaches the client
        assert (await client.chat_postMessage(channel=CHANNEL, text="third"))["ok"]
    assert len(dropping_proxy.connections) == 2
    posted = [c.args["text"] for c in standin.calls_to("chat.postMessage")]
    assert posted == ["first", "second", "third"]
