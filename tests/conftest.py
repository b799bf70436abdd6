"""Shared fixtures: a clock, databases (SQLite and PostgreSQL), the Slack stand-in, and the
bot served over real HTTP (uvicorn on loopback) taking correctly signed Slack requests."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import make_url

from bot.app import build_app, build_client
from bot.clock import ManualClock
from bot.settings import Settings
from bot.standin import RecordedCall, SlackStandIn
from bot.web import build_web
from storage.db import Database
from storage.seed import default_seed_files, load_seed_files

AS_OF = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
ADMIN = "UADMIN01"
LEAD = "ULEAD001"
MEMBER = "UMEMBER1"
CHANNEL = "CDESK001"
POSTGRES_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql+asyncpg://root@/postgres?host=/var/run/postgresql"
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(AS_OF)


async def _postgres_available() -> bool:
    import asyncpg

    url = make_url(POSTGRES_URL)
    try:
        conn = await asyncpg.connect(
            user=url.username,
            host=url.query.get("host") or url.host,
            database=url.database,
            timeout=3,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def _create_pg_database(template: str | None = None) -> str:
    import asyncpg

    url = make_url(POSTGRES_URL)
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(
        user=url.username, host=url.query.get("host") or url.host, database=url.database
    )
    try:
        copy = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(db_url: str) -> None:
    import asyncpg

    url = make_url(POSTGRES_URL)
    name = make_url(db_url).database
    conn = await asyncpg.connect(
        user=url.username, host=url.query.get("host") or url.host, database=url.database
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def make_database_url(kind: str, tmp_path: Any) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'parley-test.db'}"
    if not await _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES_URL}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set PARLEY_TEST_POSTGRES_URL)")
    return await _create_pg_database()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """A fresh, empty database of each kind: storage tests run on both."""
    url = await make_database_url(request.param, tmp_path)
    yield url
    if request.param == "postgres":
        await _drop_pg_database(url)


# Migrated once a session, then copied for each test: a file copy on SQLite, CREATE DATABASE
# … TEMPLATE on PostgreSQL. `database_url` stays an empty database (the migration tests).
_TEMPLATES: dict[str, str] = {}


async def _migrated(url: str) -> None:
    database = Database(url)
    try:
        await database.upgrade()
    finally:
        await database.dispose()


async def _template(kind: str, folder: Path) -> str:
    """The migrated template of `kind`: a SQLite file, or a PostgreSQL database's name."""
    if kind not in _TEMPLATES:
        if kind == "sqlite":
            path = folder / "template.db"
            await _migrated(f"sqlite:///{path}")
            _TEMPLATES[kind] = str(path)
        else:
            url = await _create_pg_database()
            await _migrated(url)
            _TEMPLATES[kind] = str(make_url(url).database)
    return _TEMPLATES[kind]


async def migrated_database_url(kind: str, tmp_path: Path, name: str = "parley-test.db") -> str:
    """A fresh database of `kind` at the migrations' head, copied from the template."""
    template = await _template(kind, tmp_path.parent)  # the session's base temp folder
    if kind == "sqlite":
        target = tmp_path / name
        for suffix in ("", "-wal"):
            if Path(template + suffix).exists():
                shutil.copyfile(template + suffix, f"{target}{suffix}")
        return f"sqlite:///{target}"
    return await _create_pg_database(template=template)


@pytest.fixture(scope="session", autouse=True)
def _drop_the_postgres_template() -> Iterator[None]:
    yield
    name = _TEMPLATES.pop("postgres", None)
    if name is not None:
        url = make_url(POSTGRES_URL).set(database=name)
        asyncio.run(_drop_pg_database(url.render_as_string(hide_password=False)))


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database of each kind: storage tests run on both."""
    if request.param == "postgres" and not await _postgres_available():
        await make_database_url("postgres", tmp_path)  # fails in CI, skips elsewhere
    database = Database(await migrated_database_url(request.param, tmp_path))
    yield database
    await database.dispose()
    if request.param == "postgres":
        await _drop_pg_database(database.url)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(await migrated_database_url("sqlite", tmp_path, "parley-http.db"))
    yield database
    await database.dispose()


async def seed(database: Database, now: datetime = AS_OF) -> None:
    async with database.session() as session:
        await load_seed_files(session, default_seed_files(), now=now)


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    server = SlackStandIn(strict=True)
    await server.start()
    yield server
    await server.stop()


def sign(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }


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
            return call.args.get("response_url_id") == self.response_url_id
        if self.trigger_id is not None and "trigger_id" in call.args:
            return call.args["trigger_id"] == self.trigger_id
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
        response_url = self.standin.response_url(channel=channel)
        trigger_id = f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}"
        form = {
            "token": "deprecated",
            "team_id": "T0LOCAL",
            "team_domain": "parley-local",
            "channel_id": channel,
            "channel_name": "desk",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0PARLEY",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        body = urlencode(form)
        return await self.send(
            body,
            headers or sign(body),
            trigger_id=trigger_id,
            response_url_id=_url_id(response_url),
        )

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
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
        state: dict[str, Any] = {}
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            block_id = block["block_id"]
            element = block["element"]
            value = values.get(block_id)
            if element["type"] == "static_select":
                chosen = next(
                    (o for o in element.get("options", []) if o["value"] == value),
                    element.get("initial_option"),
                )
                state[block_id] = {
                    element["action_id"]: {"type": "static_select", "selected_option": chosen}
                }
            elif element["type"] == "multi_static_select":
                chosen = [o for o in element.get("options", []) if o["value"] in (value or [])]
                state[block_id] = {
                    element["action_id"]: {
                        "type": "multi_static_select",
                        "selected_options": chosen,
                    }
                }
            else:
                if value is None:
                    value = element.get("initial_value")
                state[block_id] = {
                    element["action_id"]: {"type": "plain_text_input", "value": value}
                }
        payload = {
            "type": "view_submission",
            "team": {"id": "T0LOCAL", "domain": "parley-local"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0LOCAL"},
            "api_app_id": "A0PARLEY",
            "view": {**view, "state": {"values": state}},
        }
        return await self.interaction(payload)

    async def click(
        self, action_id: str, value: str = "", *, user: str = ADMIN, channel: str = CHANNEL
    ) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "team": {"id": "T0LOCAL", "domain": "parley-local"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0LOCAL"},
            "api_app_id": "A0PARLEY",
            "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}",
            "channel": {"id": channel, "name": "desk"},
            "container": {
                "type": "message",
                "channel_id": channel,
                "message_ts": "1753779600.000100",
                "is_ephemeral": True,
            },
            "response_url": self.standin.response_url(channel=channel),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "type": "button",
                    "text": {"type": "plain_text", "text": "x"},
                    "action_ts": "1753779601.000000",
                }
            ],
        }
        return await self.interaction(payload)

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


async def start_bot(
    db: Database, standin: SlackStandIn, clock: ManualClock, **overrides: Any
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    settings = Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=standin.api_url,
        database_url=db.url,
        admins=frozenset({ADMIN}),
        timezone="Europe/Stockholm",
        **overrides,
    )
    app = build_app(settings=settings, client=build_client(settings), db=db, clock=clock)
    config = uvicorn.Config(
        build_web(app, db), host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture
async def bot(
    sqlite_db: Database, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[RunningBot]:
    """The seeded bot over HTTP; ADMIN is in PARLEY_ADMINS, LEAD is granted lead."""
    await seed(sqlite_db)
    from storage.access import CLI
    from storage.roles import grant_lead

    async with sqlite_db.session() as session:
        await grant_lead(session, actor=CLI, now=AS_OF, user_id=LEAD)
    server, task, url = await start_bot(sqlite_db, standin, clock)
    async with httpx.AsyncClient(timeout=10) as http:
        settings = Settings(admins=frozenset({ADMIN}), timezone="Europe/Stockholm")
        yield RunningBot(url, http, standin, sqlite_db, clock, settings)
    server.should_exit = True
    await task
