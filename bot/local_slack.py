"""The local Slack: a loopback HTTP server answering the Web API methods Parley calls.

`LocalSlack` answers them shaped like Slack's real responses, keeps the messages, views and
App Home tabs it was sent, serves response URLs, and records every call. ``parley shell``
points its ``AsyncWebClient(base_url=local.api_url)`` at it and prints what the bot posts
through `on_call`; the test-suite's stand-in (tests/support/slack.py) is this server with
fault injection, Socket Mode and Block Kit checks added.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web

logger = logging.getLogger(__name__)

TEAM_ID = "T0LOCAL"
TEAM_DOMAIN = "parley-local"
TEAM_NAME = "Parley Local"
TEAM_URL = "https://parley-local.slack.com/"
BOT_ID = "B0PARLEY"
APP_ID = "A0PARLEY"

_TS_BASE = 1753779600  # 2025-07-29 09:00 UTC: deterministic, increasing message timestamps
_JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")

OnCall = Callable[["RecordedCall"], "Awaitable[None] | None"]


@dataclass
class RecordedCall:
    """One request the server received, with the HTTP status it answered."""

    method: str  # "chat.postMessage", or "response_url" for posts to a response URL
    args: dict[str, Any]  # parsed body (JSON or form; JSON-string form fields decoded)
    token: str | None  # from the Authorization: Bearer header
    at: float  # time.monotonic() when received
    status: int  # HTTP status answered
    response: dict[str, Any] | str = field(default="", repr=False)  # the body answered
    peer: str = ""  # the caller's address and port: calls over one connection share it


def _peer(request: web.Request) -> str:
    address = request.transport.get_extra_info("peername") if request.transport else None
    return f"{address[0]}:{address[1]}" if address else ""


class ApiError(Exception):
    """A Web API call answered ``{"ok": false, "error": …}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class LocalSlack:
    """A loopback HTTP server that behaves like the parts of the Slack Web API Parley uses.

    Subclasses shape its answers through four hooks: `_arrive` (before a call is read),
    `_fault` (answer a call with a failure instead), `_check_message` and `_check_view`.
    """

    def __init__(
        self,
        *,
        on_call: OnCall | None = None,
        users: dict[str, dict[str, Any]] | None = None,
        bot_user_id: str = "UPARLEYBOT",
        channels: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.on_call = on_call
        self.users: dict[str, dict[str, Any]] = dict(users or {})
        self.channels: dict[str, dict[str, Any]] = dict(channels or {})
        self.bot_user_id = bot_user_id
        self.calls: list[RecordedCall] = []
        self._forgotten = 0  # calls dropped by `reset`: keeps `mark()` positions meaningful
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._changed = asyncio.Event()
        self._init_state()

    def _init_state(self) -> None:
        self._seq = 0
        self._view_seq = 0
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, tuple[str | None, str | None]] = {}

    # ------------------------------------------------------------------ lifecycle

    def _routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{rid}", self._handle_response_url)

    async def start(self) -> None:
        """Bind 127.0.0.1 on a random free port and start serving."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=16 * 1024 * 1024)
        self._routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop serving and release the port."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> LocalSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("LocalSlack is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for an AsyncWebClient: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.base_url}/api/"

    def response_url(
        self, key: str = "", *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A URL on this server acting as a ``response_url``.

        Its id (recorded as ``args["response_url_id"]``) is `key` if given, else a fresh uuid.
        Bind it to `channel`/`message_ts` so ``replace_original``/``delete_original`` act on
        that stored message and ``in_channel`` replies are stored in that channel.
        """
        rid = key or uuid.uuid4().hex
        self._response_urls[rid] = (channel, message_ts)
        return f"{self.base_url}/response/{rid}"

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[RecordedCall]:
        """The recorded calls of one method, oldest first."""
        return [c for c in self.calls if c.method == method]

    def mark(self) -> int:
        """A position in the call log: take it before a request, then pass it as `after` to
        `wait_for` or `next_call` to see only the calls recorded since (never an older one)."""
        return self._forgotten + len(self.calls)

    def calls_since(
        self, after: int, method: str, where: Callable[[RecordedCall], bool] | None = None
    ) -> list[RecordedCall]:
        """The calls of `method` recorded at or after the `mark()` `after`, oldest first."""
        start = max(after - self._forgotten, 0)
        return [c for c in self.calls[start:] if c.method == method and (where is None or where(c))]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        *,
        after: int = 0,
        where: Callable[[RecordedCall], bool] | None = None,
    ) -> list[RecordedCall]:
        """Wait until at least `count` calls of `method` were recorded at or after the `mark()`
        `after` (and match `where`); return those calls, oldest first.

        Without `after` every call since the start counts, so a call an earlier request made
        satisfies the wait: to wait for what one request caused, take a `mark()` before it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.calls_since(after, method, where)
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = ", ".join(c.method for c in self.calls) or "nothing"
                raise TimeoutError(
                    f"waited {timeout}s for {count} {method} call(s) after call #{after}, "
                    f"got {len(found)}; calls seen: {seen}"
                )
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                pass

    async def next_call(
        self,
        method: str,
        *,
        after: int,
        where: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
    ) -> RecordedCall:
        """The first call of `method` recorded at or after the `mark()` `after` (and matching
        `where`), waiting for it if it has not come yet."""
        return (await self.wait_for(method, after=after, where=where, timeout=timeout))[0]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's current messages (after updates and deletes), oldest first."""
        return list(self._messages.get(channel, {}).values())

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One stored message, or None."""
        return self._messages.get(channel, {}).get(ts)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Open modal views by view id (as last opened, pushed or updated)."""
        return self._views

    def reset(self) -> None:
        """Forget calls, messages and views (keeps users, channels and hooks)."""
        self._forgotten += len(self.calls)
        self.calls.clear()
        self._init_state()

    # ------------------------------------------------------------------ HTTP handlers

    async def _arrive(self, method: str) -> None:
        """Called as a call arrives, before it is read (a subclass may keep it waiting)."""

    def _fault(self, method: str, args: dict[str, Any]) -> Answer | None:
        """A failure to answer instead of the method's result (none here)."""
        return None

    def _check_message(self, method: str, args: dict[str, Any]) -> None:
        """Refuse a message payload Slack would refuse (only an empty one here)."""
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            raise ApiError("no_text")

    def _check_view(self, method: str, view: dict[str, Any]) -> None:
        """Refuse a view Slack would refuse (a subclass checks Block Kit)."""

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        await self._arrive(method)
        at = time.monotonic()
        args: dict[str, Any] = {}
        token = _bearer(request)
        try:
            args = await _read_args(request)
            if token is None and isinstance(args.get("token"), str):
                token = args["token"]
            args.pop("token", None)
            answer = self._answer(method, args, token)
        except ApiError as exc:
            answer = Answer(200, {"ok": False, "error": exc.error, **exc.extra})
        await self._record(
            RecordedCall(method, args, token, at, answer.status, answer.body, _peer(request))
        )
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        await self._arrive("response_url")
        at = time.monotonic()
        rid = request.match_info["rid"]
        status, text, headers = 200, "ok", {}
        args: dict[str, Any] = {}
        try:
            args = await _read_args(request)
        except ApiError as exc:
            status, text = 400, exc.error
        args["response_url_id"] = rid
        if status == 200:
            failure = self._fault("response_url", args)
            if failure is not None:
                status, text, headers = failure.status, str(failure.body["error"]), failure.headers
        if status == 200:
            try:
                self._apply_response_url(rid, args)
            except ApiError as exc:
                status, text = 400, exc.error
        token = _bearer(request)
        await self._record(
            RecordedCall("response_url", args, token, at, status, text, _peer(request))
        )
        return web.Response(text=text, status=status, headers=headers, content_type="text/plain")

    async def _record(self, call: RecordedCall) -> None:
        self.calls.append(call)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        if self.on_call is None:
            return
        try:
            result = self.on_call(call)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("LocalSlack on_call hook failed for %s", call.method)

    # ------------------------------------------------------------------ dispatch

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> Answer:
        if token is None or token == "":
            raise ApiError("not_authed")
        if not token.startswith("xoxb-"):
            raise ApiError("invalid_auth")
        failure = self._fault(method, args)
        if failure is not None:
            return failure
        handler = self._handlers().get(method)
        if handler is None:
            raise ApiError("unknown_method")
        return Answer(200, {"ok": True, **handler(args)})

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "api.test": lambda args: {"args": args},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
        }

    # ------------------------------------------------------------------ methods

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": "parley",
            "team_id": TEAM_ID,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _next_ts(self) -> str:
        self._seq += 1
        return f"{_TS_BASE + self._seq // 10_000}.{(self._seq % 10_000) * 100:06d}"

    def _message_payload(self, method: str, args: dict[str, Any], ts: str) -> dict[str, Any]:
        self._check_message(method, args)
        message: dict[str, Any] = {
            "type": "message",
            "text": args.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if args.get(key) is not None:
                message[key] = args[key]
        return message

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        ts = self._next_ts()
        message = self._message_payload("chat.postMessage", args, ts)
        self._messages.setdefault(channel, {})[ts] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        _require_channel(args)
        if not args.get("user"):
            raise ApiError("user_not_in_channel")
        ts = self._next_ts()
        self._message_payload("chat.postEphemeral", args, ts)
        return {"message_ts": ts}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        ts = str(args.get("ts", ""))
        stored = self._messages.get(channel, {}).get(ts)
        if stored is None:
            raise ApiError("message_not_found")
        updated = self._message_payload("chat.update", args, ts)
        for key in ("thread_ts",):
            if key in stored:
                updated[key] = stored[key]
        updated["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._messages[channel][ts] = updated
        return {"channel": channel, "ts": ts, "text": updated["text"], "message": updated}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        ts = str(args.get("ts", ""))
        if self._messages.get(channel, {}).pop(ts, None) is None:
            raise ApiError("message_not_found")
        return {"channel": channel, "ts": ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        ts = str(args.get("message_ts", ""))
        if ts not in self._messages.get(channel, {}):
            raise ApiError("message_not_found")
        return {
            "channel": channel,
            "permalink": f"{TEAM_URL}archives/{channel}/p{ts.replace('.', '')}",
        }

    def _new_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        if view_id is None:
            self._view_seq += 1
            view_id = f"V0LOCAL{self._view_seq:04d}"
        full: dict[str, Any] = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        full.update({k: v for k, v in view.items() if k not in ("id", "hash", "state")})
        return full

    def _view_arg(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not isinstance(view, dict):
            raise ApiError("invalid_arguments", response_metadata={"messages": ["view required"]})
        self._check_view(method, view)
        return view

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            raise ApiError("invalid_trigger_id")
        view = self._new_view(self._view_arg("views.open", args))
        self._views[view["id"]] = view
        return {"view": view}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        current: dict[str, Any] | None = None
        if view_id:
            current = self._views.get(str(view_id))
        elif external_id:
            current = next(
                (v for v in self._views.values() if v.get("external_id") == external_id), None
            )
        if current is None:
            raise ApiError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = self._new_view(self._view_arg("views.update", args), view_id=current["id"])
        view["root_view_id"] = current.get("root_view_id", current["id"])
        self._views[view["id"]] = view
        return {"view": view}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user_id")
        if not user_id:
            raise ApiError("invalid_arguments", response_metadata={"messages": ["user_id"]})
        raw = self._view_arg("views.publish", args)
        previous = self.home_views.get(str(user_id))
        if previous and args.get("hash") and args["hash"] != previous["hash"]:
            raise ApiError("hash_conflict")
        view = self._new_view(raw, view_id=previous["id"] if previous else None)
        self.home_views[str(user_id)] = view
        return {"view": view}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        uid = str(args.get("user", ""))
        if uid not in self.users and not _USER_ID.match(uid):
            raise ApiError("user_not_found")
        is_bot = uid == self.bot_user_id
        name = "parley" if is_bot else uid.lower()
        real_name = "Parley" if is_bot else f"User {uid}"
        user: dict[str, Any] = {
            "id": uid,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": "Europe/Stockholm",
            "tz_label": "Central European Summer Time",
            "tz_offset": 7200,
            "is_bot": is_bot,
            "is_admin": False,
            "is_app_user": False,
            "profile": {"real_name": real_name, "display_name": name},
        }
        user.update(self.users.get(uid, {}))
        return {"user": user}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if channel not in self.channels and not _CHANNEL_ID.match(channel):
            raise ApiError("channel_not_found")
        info: dict[str, Any] = {
            "id": channel,
            "name": channel.lower(),
            "is_channel": channel.startswith("C"),
            "is_group": channel.startswith("G"),
            "is_im": channel.startswith("D"),
            "is_private": channel.startswith("G"),
            "is_archived": False,
            "is_member": True,
            "context_team_id": TEAM_ID,
        }
        info.update(self.channels.get(channel, {}))
        return {"channel": info}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first; `metadata` only with `include_all_metadata`, as Slack does."""
        channel = _require_channel(args)
        limit = int(args.get("limit") or 100)
        with_metadata = _truthy(args.get("include_all_metadata"))
        messages = sorted(
            self._messages.get(channel, {}).values(), key=lambda m: m["ts"], reverse=True
        )[:limit]
        if not with_metadata:
            messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
        return {"messages": messages, "has_more": False}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            channel = args.get("channel")
            if not channel:
                raise ApiError("users_list_not_supplied")
            return {"channel": {"id": channel}}
        if len(users) == 1:
            return {"channel": {"id": "D" + users[0][1:]}}
        return {"channel": {"id": "G" + uuid.uuid5(uuid.NAMESPACE_OID, ",".join(users)).hex[:9]}}

    def _apply_response_url(self, rid: str, args: dict[str, Any]) -> None:
        channel, message_ts = self._response_urls.get(rid, (None, None))
        target = self._messages.get(channel or "", {})
        if _truthy(args.get("delete_original")):
            if message_ts is not None:
                target.pop(message_ts, None)
            return
        ts = message_ts if _truthy(args.get("replace_original")) and message_ts else None
        message = self._message_payload("response_url", args, ts or self._next_ts())
        if channel is None:
            return
        if ts is not None and ts in target:
            self._messages[channel][ts] = message
        elif args.get("response_type") == "in_channel":
            self._messages.setdefault(channel, {})[message["ts"]] = message


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def _require_channel(args: dict[str, Any]) -> str:
    channel = args.get("channel")
    if not channel or not isinstance(channel, str):
        raise ApiError("channel_not_found")
    return channel


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Query string merged with a JSON or form body; JSON-string form fields decoded."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.text()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise ApiError("invalid_json") from exc
                if not isinstance(body, dict):
                    raise ApiError("invalid_json")
                args.update(cast(dict[str, Any], body))
                return args
        else:
            form = await request.post()
            for key in form:
                value = form.get(key)
                args[key] = value if isinstance(value, str) else getattr(value, "filename", "")
    for key in _JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                args[key] = json.loads(value)
            except ValueError:
                pass
    return args
