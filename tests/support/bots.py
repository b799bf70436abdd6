"""The running bot: Parley behind uvicorn on loopback, and a client that speaks as Slack.

`start_bot` serves a built app on a free port; `RunningBot` sends it correctly signed
requests made by `bot.slack_requests` and reads what each request caused from the stand-in.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from bot import slack_requests as slack
from bot.app import build_app, build_client
from bot.clock import ManualClock
from bot.local_slack import RecordedCall
from bot.scheduler import Scheduler, delivery_client
from bot.settings import Settings
from bot.web import build_web
from storage.access import CLI
from storage.db import Database
from storage.roles import grant_lead
from tests.support.people import ADMIN, AS_OF, BOT_TOKEN, CHANNEL, LEAD, SIGNING_SECRET
from tests.support.slack import SlackStandIn


def sign(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's headers for a form body, signed with the tests' secret."""
    return slack.signed_headers(body, secret, timestamp=timestamp)


def _url_id(response_url: str) -> str:
    """The stand-in's id of one of its response URLs (recorded as `response_url_id`)."""
    return response_url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Sent:
    """One request sent to the bot, as its effects can be told from earlier ones: the
    stand-in's `mark()` taken just before it went out, and its own trigger_id and
    response_url id (when it carries them)."""

    mark: int
    trigger_id: str | None = None
    response_url_id: str | None = None

    def caused(self, call: RecordedCall) -> bool:
        """Whether `call` can be this request's: a post to another request's response_url,
        or a views.open with another request's trigger_id, is not."""
        if call.method == "response_url" and self.response_url_id is not None:
            return bool(call.args.get("response_url_id") == self.response_url_id)
        if self.trigger_id is not None and "trigger_id" in call.args:
            return bool(call.args["trigger_id"] == self.trigger_id)
        return True


@dataclass
class RunningBot:
    """The bot behind uvicorn on loopback, and helpers that speak to it as Slack does.

    Every request helper records the request as `last` before sending it; the helpers that
    read what a request caused (`opened_view`, `reply`) wait for a call recorded after it,
    never hand back one an earlier request made.
    """

    url: str
    http: httpx.AsyncClient
    standin: SlackStandIn
    db: Database
    clock: ManualClock
    settings: Settings
    last: Sent = Sent(0)

    async def send(
        self,
        body: str,
        headers: dict[str, str],
        *,
        trigger_id: str | None = None,
        response_url_id: str | None = None,
    ) -> httpx.Response:
        """POSTs a body to the bot's Slack endpoint, recording it as `last` first."""
        self.last = Sent(self.standin.mark(), trigger_id, response_url_id)
        return await self.http.post(f"{self.url}/slack/events", content=body, headers=headers)

    async def command(
        self,
        command: str,
        text: str = "",
        *,
        user: str = ADMIN,
        channel: str = CHANNEL,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        form = slack.slash_command(
            command,
            text,
            user=user,
            channel=channel,
            response_url=self.standin.response_url(channel=channel),
        )
        body = slack.form_body(form)
        return await self.send(
            body,
            headers or sign(body),
            trigger_id=form["trigger_id"],
            response_url_id=_url_id(form["response_url"]),
        )

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        body = slack.interaction_body(payload)
        url = payload.get("response_url")
        return await self.send(
            body,
            sign(body),
            trigger_id=payload.get("trigger_id"),
            response_url_id=_url_id(url) if url else None,
        )

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = ADMIN
    ) -> httpx.Response:
        """Submits a modal the bot opened, with `values` as {block_id: value}."""
        payload = slack.view_submission(view, slack.view_state(view, values), user=user)
        return await self.interaction(payload)

    async def click(
        self, action_id: str, value: str = "", *, user: str = ADMIN, channel: str = CHANNEL
    ) -> httpx.Response:
        payload = slack.block_actions(
            action_id,
            value,
            user=user,
            channel=channel,
            response_url=self.standin.response_url(channel=channel),
            label="x",
        )
        return await self.interaction(payload)

    async def event(self, envelope: dict[str, Any], *, retry: int | None = None) -> httpx.Response:
        """Delivers an Events API envelope (`slack.event_callback`), as Slack's retry
        number `retry` if given."""
        body = json.dumps(envelope)
        headers = sign(body) | {"content-type": slack.JSON}
        if retry is not None:
            headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
        return await self.send(body, headers)

    async def open_home(self, user: str) -> dict[str, Any]:
        """Opens `user`'s App Home tab; the view the bot published for it in answer."""
        response = await self.event(slack.app_home_opened(user))
        assert response.status_code == 200
        published = await self.standin.next_call(
            "views.publish", after=self.last.mark, where=lambda c: c.args.get("user_id") == user
        )
        view = published.args["view"]
        assert isinstance(view, dict)
        return view

    async def reply(self, method: str, *, after: Sent | None = None) -> RecordedCall:
        """The first `method` call the last request (or `after`) caused, waited for: one
        recorded after it was sent, never an earlier request's."""
        sent = after or self.last
        return await self.standin.next_call(method, after=sent.mark, where=sent.caused)

    async def opened_view(self, *, after: Sent | None = None) -> dict[str, Any]:
        """The modal the last request (or `after`) opened, with its own trigger_id."""
        view = (await self.reply("views.open", after=after)).args["view"]
        assert isinstance(view, dict)
        return view


def bot_settings(db: Database, standin: SlackStandIn, **overrides: Any) -> Settings:
    """The tests' settings: their token and secret, the stand-in, ADMIN an admin, the desk in
    Stockholm; `overrides` replace any of them."""
    fields: dict[str, Any] = dict(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=standin.api_url,
        database_url=db.url,
        admins=frozenset({ADMIN}),
        timezone="Europe/Stockholm",
    )
    return Settings(**(fields | overrides))


async def serve(
    web: Any,
    *,
    log_config: Any = uvicorn.config.LOGGING_CONFIG,
    log_level: str | None = "warning",
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Serves an ASGI app with uvicorn on a free loopback port; (server, its task, base URL).
    With ``log_config=None, log_level=None`` uvicorn leaves logging as it finds it."""
    config = uvicorn.Config(
        web, host="127.0.0.1", port=0, lifespan="off", log_level=log_level, log_config=log_config
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


async def start_bot(
    db: Database, standin: SlackStandIn, clock: ManualClock, **overrides: Any
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """The bot built as `parley serve` builds it, served on loopback."""
    settings = bot_settings(db, standin, **overrides)
    app = build_app(settings=settings, client=build_client(settings), db=db, clock=clock)
    return await serve(build_web(app, db))


@contextmanager
def _uvicorn_logging_kept() -> Iterator[None]:
    """uvicorn applies its own logging config process-wide (levels, handlers, no
    propagation); the tests that come later (the log tests) expect it as it was."""
    loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    try:
        yield
    finally:
        for logger, (level, propagate, handlers) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers = handlers


@asynccontextmanager
async def running_bot(
    db: Database, standin: SlackStandIn, clock: ManualClock, **overrides: Any
) -> AsyncIterator[RunningBot]:
    """The bot on `db` (seeded: `migrated_database_url(…, seeded=True)`), served over
    HTTP: ADMIN is in PARLEY_ADMINS, LEAD is granted lead.

    `overrides` are settings (``date_order="DMY"`` …). The one factory behind the `bot`
    and `e2e` fixtures, for a test that needs a bot of its own.
    """
    async with db.session() as session:
        await grant_lead(session, actor=CLI, now=AS_OF, user_id=LEAD)
    with _uvicorn_logging_kept():
        server, task, url = await start_bot(db, standin, clock, **overrides)
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                settings = Settings(admins=frozenset({ADMIN}), timezone="Europe/Stockholm")
                yield RunningBot(url, http, standin, db, clock, settings)
        finally:
            server.should_exit = True
            await task


def make_scheduler(bot: RunningBot) -> Scheduler:
    """A scheduler on the bot's database and clock, posting to its Slack stand-in."""
    settings = Settings(bot_token=BOT_TOKEN, api_url=bot.standin.api_url)
    return Scheduler(
        db=bot.db, client=delivery_client(settings), clock=bot.clock, settings=settings
    )
