"""A local stand-in for the Slack Web API: a real HTTP server on loopback.

`SlackStandIn` answers the Web API methods Parley uses (shaped like Slack's real responses),
records every call, checks Block Kit payloads, and can be told to fail or rate-limit. Point an
``AsyncWebClient(base_url=standin.api_url)`` at it. ``parley shell`` gets what the bot posts
through `on_call` and prints it with `bot.terminal`; `message_text` (markup kept) is what the
test-suite reads, beside `calls`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
import re
import time
import uuid
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import WSCloseCode, WSMsgType, web
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = [
    "BOT_ID",
    "TEAM_ID",
    "check_blocks",
    "BlockKitViolation",
    "Hold",
    "RecordedCall",
    "SlackStandIn",
    "find_mention_problems",
    "message_text",
]

logger = logging.getLogger(__name__)

TEAM_ID = "T0LOCAL"
TEAM_NAME = "Parley Local"
TEAM_URL = "https://parley-local.slack.com/"
BOT_ID = "B0PARLEY"
APP_ID = "A0PARLEY"

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_OBJECT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD = 2000
MAX_MESSAGE_TEXT = 40000

SOCKET_PATH = "/socket-mode"
_TS_BASE = 1753779600  # 2025-07-29 09:00 UTC: deterministic, increasing message timestamps
_JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_SPECIAL_MENTION = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>")
_BARE_MENTION = re.compile(r"(?<![\w.@])@(everyone|channel|here)\b")

OnCall = Callable[["RecordedCall"], "Awaitable[None] | None"]


@dataclass
class RecordedCall:
    """One request the stand-in received, with the HTTP status it answered."""

    method: str  # "chat.postMessage", or "response_url" for posts to a response URL
    args: dict[str, Any]  # parsed body (JSON or form; JSON-string form fields decoded)
    token: str | None  # from the Authorization: Bearer header
    at: float  # time.monotonic() when received
    status: int  # HTTP status answered
    response: dict[str, Any] | str = field(default="", repr=False)  # the body answered


@dataclass
class Hold:
    """A call kept waiting by `SlackStandIn.hold`: `arrived` is set when it reaches the
    stand-in; it is recorded and answered after `release()`."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


class BlockKitViolation(AssertionError):
    """A payload Slack would reject (or Parley must never send)."""


class _ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int | None


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class SlackStandIn:
    """A loopback HTTP server that behaves like the parts of the Slack Web API Parley uses."""

    def __init__(
        self,
        *,
        strict: bool = True,
        on_call: OnCall | None = None,
        users: dict[str, dict[str, Any]] | None = None,
        bot_user_id: str = "UPARLEYBOT",
        channels: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.strict = strict
        self.on_call = on_call
        self.users: dict[str, dict[str, Any]] = dict(users or {})
        self.channels: dict[str, dict[str, Any]] = dict(channels or {})
        self.bot_user_id = bot_user_id
        self.rate_limit_per_channel: float | None = None
        # Share of chat.postMessage calls answered 429 at random (seeded: runs repeat).
        self.rate_limit_ratio = 0.0
        self._random = random.Random(7)
        self.calls: list[RecordedCall] = []
        self._forgotten = 0  # calls dropped by `reset`: keeps `mark()` positions meaningful
        self._holds: dict[str, deque[Hold]] = {}
        self.violations: list[str] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._changed = asyncio.Event()
        self._sockets: list[web.WebSocketResponse] = []  # Socket Mode connections
        self._init_state()

    def _init_state(self) -> None:
        self._seq = 0
        self._view_seq = 0
        self._failures: dict[str, deque[_Failure]] = {}
        self._last_post: dict[str, float] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, tuple[str | None, str | None]] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a random free port and start serving."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{rid}", self._handle_response_url)
        app.router.add_get(SOCKET_PATH, self._handle_socket)
        app.on_shutdown.append(self._close_sockets)
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

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._port is None:
            raise RuntimeError("SlackStandIn is not started")
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

    def assert_no_violations(self) -> None:
        """Raise `BlockKitViolation` listing every violation seen so far."""
        if self.violations:
            raise BlockKitViolation("\n".join(self.violations))

    # ------------------------------------------------------------------ control

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        error: str = "ratelimited",
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with HTTP `status` and ``ok: false``."""
        queue = self._failures.setdefault(method, deque())
        for _ in range(times):
            queue.append(_Failure(status, error, retry_after))

    def fail_with_error(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 200 ``{"ok": false, "error"}``."""
        queue = self._failures.setdefault(method, deque())
        for _ in range(times):
            queue.append(_Failure(200, error, None))

    def hold(self, method: str) -> Hold:
        """Keep the next call of `method` (or "response_url") waiting at the door, unrecorded
        and unanswered, until `Hold.release()`: a Slack or a bot that is slow, on demand."""
        held = Hold()
        self._holds.setdefault(method, deque()).append(held)
        return held

    def reset(self) -> None:
        """Forget calls, violations, pending failures, messages and views (keeps settings)."""
        self._forgotten += len(self.calls)
        self.calls.clear()
        self.violations.clear()
        self._init_state()

    # ------------------------------------------------------------------ HTTP handlers

    async def _held(self, method: str) -> None:
        queue = self._holds.get(method)
        if queue:
            held = queue.popleft()
            held.arrived.set()
            await held.released.wait()

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        await self._held(method)
        at = time.monotonic()
        args: dict[str, Any] = {}
        token = _bearer(request)
        try:
            args = await _read_args(request)
            if token is None and isinstance(args.get("token"), str):
                token = args["token"]
            args.pop("token", None)
            answer = self._answer(method, args, token)
        except _ApiError as exc:
            answer = _Answer(200, {"ok": False, "error": exc.error, **exc.extra})
        await self._record(RecordedCall(method, args, token, at, answer.status, answer.body))
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        await self._held("response_url")
        at = time.monotonic()
        rid = request.match_info["rid"]
        status, text, headers = 200, "ok", {}
        args: dict[str, Any] = {}
        try:
            args = await _read_args(request)
        except _ApiError as exc:
            status, text = 400, exc.error
        args["response_url_id"] = rid
        if status == 200:
            failure = self._take_failure("response_url")
            if failure is not None:
                status, text = failure.status, failure.error
                if failure.retry_after is not None and failure.status in (429, 503):
                    headers["Retry-After"] = str(failure.retry_after)
        if status == 200:
            try:
                self._apply_response_url(rid, args)
            except _ApiError as exc:
                status, text = 400, exc.error
        token = _bearer(request)
        await self._record(RecordedCall("response_url", args, token, at, status, text))
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
            logger.exception("SlackStandIn on_call hook failed for %s", call.method)

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if queue:
            return queue.popleft()
        return None

    # ------------------------------------------------------------------ dispatch

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> _Answer:
        if token is None or token == "":
            raise _ApiError("not_authed")
        if method == "apps.connections.open":
            return self._apps_connections_open(token)
        if not token.startswith("xoxb-"):
            raise _ApiError("invalid_auth")
        failure = self._take_failure(method)
        if failure is not None:
            headers = {}
            if failure.retry_after is not None and failure.status in (429, 503):
                headers["Retry-After"] = str(failure.retry_after)
            return _Answer(failure.status, {"ok": False, "error": failure.error}, headers)
        handler = self._handlers().get(method)
        if handler is None:
            raise _ApiError("unknown_method")
        if (
            method == "chat.postMessage"
            and self.rate_limit_ratio
            and self._random.random() < self.rate_limit_ratio
        ):
            return _Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        if method == "chat.postMessage" and self.rate_limit_per_channel:
            limited = self._rate_limited(str(args.get("channel", "")))
            if limited is not None:
                return limited
        return _Answer(200, {"ok": True, **handler(args)})

    def _rate_limited(self, channel: str) -> _Answer | None:
        assert self.rate_limit_per_channel
        now = time.monotonic()
        last = self._last_post.get(channel)
        if last is not None and now - last < 1.0 / self.rate_limit_per_channel:
            return _Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        self._last_post[channel] = now
        return None

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
            raise _ApiError("user_not_in_channel")
        ts = self._next_ts()
        self._message_payload("chat.postEphemeral", args, ts)
        return {"message_ts": ts}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        ts = str(args.get("ts", ""))
        stored = self._messages.get(channel, {}).get(ts)
        if stored is None:
            raise _ApiError("message_not_found")
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
            raise _ApiError("message_not_found")
        return {"channel": channel, "ts": ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _require_channel(args)
        ts = str(args.get("message_ts", ""))
        if ts not in self._messages.get(channel, {}):
            raise _ApiError("message_not_found")
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
            raise _ApiError("invalid_arguments", response_metadata={"messages": ["view required"]})
        self._check_view(method, view)
        return view

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            raise _ApiError("invalid_trigger_id")
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
            raise _ApiError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        view = self._new_view(self._view_arg("views.update", args), view_id=current["id"])
        view["root_view_id"] = current.get("root_view_id", current["id"])
        self._views[view["id"]] = view
        return {"view": view}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user_id")
        if not user_id:
            raise _ApiError("invalid_arguments", response_metadata={"messages": ["user_id"]})
        raw = self._view_arg("views.publish", args)
        previous = self.home_views.get(str(user_id))
        if previous and args.get("hash") and args["hash"] != previous["hash"]:
            raise _ApiError("hash_conflict")
        view = self._new_view(raw, view_id=previous["id"] if previous else None)
        self.home_views[str(user_id)] = view
        return {"view": view}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        uid = str(args.get("user", ""))
        if uid not in self.users and not _USER_ID.match(uid):
            raise _ApiError("user_not_found")
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
            raise _ApiError("channel_not_found")
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
                raise _ApiError("users_list_not_supplied")
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

    # ------------------------------------------------------------------ Socket Mode

    @property
    def socket_url(self) -> str:
        """The WebSocket URL `apps.connections.open` hands out: ``ws://127.0.0.1:PORT/…``."""
        return f"ws://127.0.0.1:{self._port}{SOCKET_PATH}"

    async def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Push a Socket Mode envelope (``slash_commands``, ``interactive``, ``events_api``)
        to the newest connection, waiting for one; returns its ``envelope_id``.

        The app's acknowledgement is recorded as a ``socket_ack`` call (args: the message it
        sent, ``envelope_id`` and the optional ``payload``).
        """
        socket = next((ws for ws in reversed(self._sockets) if not ws.closed), None)
        if socket is None:
            await self.next_call("socket_connect", after=self.mark(), timeout=timeout)
            socket = self._sockets[-1]
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or "timeout"
        await socket.send_json(envelope)
        return str(envelope["envelope_id"])

    async def socket_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The app's acknowledgement of one envelope (waits for it)."""
        ack = await self.next_call(
            "socket_ack",
            after=0,
            where=lambda call: call.args.get("envelope_id") == envelope_id,
            timeout=timeout,
        )
        return ack.args

    def _apps_connections_open(self, token: str) -> _Answer:
        if not token.startswith("xapp-"):
            raise _ApiError("not_allowed_token_type")
        failure = self._take_failure("apps.connections.open")
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return _Answer(failure.status, {"ok": False, "error": failure.error}, headers)
        return _Answer(200, {"ok": True, "url": f"{self.socket_url}?ticket={uuid.uuid4().hex}"})

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()  # answers the client's pings itself
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "parley-standin", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        await self._record(RecordedCall("socket_connect", {}, None, time.monotonic(), 101))
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    args = json.loads(message.data)
                except ValueError:
                    args = {"unparsed": message.data}
                if not isinstance(args, dict):
                    args = {"unparsed": args}
                await self._record(RecordedCall("socket_ack", args, None, time.monotonic(), 200))
        finally:
            self._sockets.remove(socket)
        return socket

    async def _close_sockets(self, _: web.Application) -> None:
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"stand-in stopping")

    # ------------------------------------------------------------------ Block Kit checks

    def _violate(self, problems: list[str], error: str = "invalid_blocks") -> None:
        if not problems:
            return
        self.violations.extend(problems)
        for problem in problems:
            logger.warning("Block Kit violation: %s", problem)
        if self.strict:
            raise _ApiError(error, errors=problems)

    def _check_message(self, method: str, args: dict[str, Any]) -> None:
        text = args.get("text")
        blocks = args.get("blocks")
        if not text and not blocks and not args.get("attachments"):
            raise _ApiError("no_text")
        if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
            self._violate(
                [f"{method}: text is {len(text)} chars (max {MAX_MESSAGE_TEXT})"], "msg_too_long"
            )
        problems: list[str] = []
        if blocks:
            problems += check_blocks(blocks, limit=MAX_MESSAGE_BLOCKS, where=f"{method}: blocks")
        attachments = args.get("attachments")
        if isinstance(attachments, list):
            for i, att in enumerate(attachments):
                if isinstance(att, dict) and att.get("blocks"):
                    problems += check_blocks(
                        att["blocks"],
                        limit=MAX_MESSAGE_BLOCKS,
                        where=f"{method}: attachments[{i}].blocks",
                    )
        problems += [f"{method}: {p}" for p in find_mention_problems(args)]
        self._violate(problems)

    def _check_view(self, method: str, view: dict[str, Any]) -> None:
        problems: list[str] = []
        if method == "views.publish" and view.get("type") != "home":
            problems.append(f"{method}: view type must be 'home', got {view.get('type')!r}")
        blocks = view.get("blocks")
        if blocks is None or not isinstance(blocks, list):
            problems.append(f"{method}: view has no blocks array")
        else:
            problems += check_blocks(blocks, limit=MAX_VIEW_BLOCKS, where=f"{method}: view.blocks")
        if not problems:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    View(**view).to_dict()
            except Exception as exc:  # slack_sdk raises SlackObjectFormationError, or TypeError
                problems.append(f"{method}: view: {exc}")
        problems += [f"{method}: view: {p}" for p in find_mention_problems({"blocks": blocks})]
        self._violate(problems)


# ---------------------------------------------------------------------- validation helpers


def check_blocks(
    blocks: Any, *, limit: int = MAX_MESSAGE_BLOCKS, where: str = "blocks"
) -> list[str]:
    """Block Kit problems in a blocks array (empty list if Slack would accept it)."""
    if not isinstance(blocks, list):
        return [f"{where}: must be an array, got {type(blocks).__name__}"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"{where}: {len(blocks)} blocks (max {limit})")
    for i, block in enumerate(blocks):
        at = f"{where}[{i}]"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(f"{at}: not a block object with a type")
            continue
        at = f"{at} ({block['type']})"
        own = _own_block_problems(block, at)
        problems += own
        if own:
            continue  # slack_sdk would report the same thing again, less precisely
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = Block.parse(block)
                if parsed is None:
                    problems.append(f"{at}: unknown block type")
                else:
                    parsed.to_dict()
        except Exception as exc:  # SlackObjectFormationError, TypeError on bad keys, ...
            problems.append(f"{at}: {exc}")
    return _dedupe(problems)


def _own_block_problems(block: dict[str, Any], at: str) -> list[str]:
    problems: list[str] = []
    if block["type"] == "section":
        fields = block.get("fields")
        if isinstance(fields, list):
            if len(fields) > MAX_SECTION_FIELDS:
                problems.append(f"{at}: {len(fields)} fields (max {MAX_SECTION_FIELDS})")
            for j, f in enumerate(fields):
                n = len(f.get("text", "")) if isinstance(f, dict) else len(str(f))
                if n > MAX_SECTION_FIELD:
                    problems.append(f"{at}: fields[{j}] is {n} chars (max {MAX_SECTION_FIELD})")
    for path, obj in _text_objects(block, at):
        text = obj.get("text")
        if not isinstance(text, str):
            problems.append(f"{path}: text object without a text string")
        elif len(text) > MAX_TEXT_OBJECT:
            problems.append(f"{path}: text is {len(text)} chars (max {MAX_TEXT_OBJECT})")
        elif text == "":
            problems.append(f"{path}: text is empty (min 1 char)")
    return problems


def find_mention_problems(payload: dict[str, Any]) -> list[str]:
    """Workspace-wide pings in a message payload: ``<!channel>``/``<!here>``/``<!everyone>``
    anywhere, a bare ``@channel``/``@here``/``@everyone`` in a non-verbatim mrkdwn object, or a
    rich-text ``broadcast`` element."""
    problems: list[str] = []
    text = payload.get("text")
    if isinstance(text, str):
        problems += _ping_problems("text", text, bare=_truthy(payload.get("link_names")))
    blocks = payload.get("blocks")
    if isinstance(blocks, list):
        for i, block in enumerate(blocks):
            problems += _block_pings(block, f"blocks[{i}]")
    attachments = payload.get("attachments")
    if isinstance(attachments, list):
        for i, att in enumerate(attachments):
            if not isinstance(att, dict):
                continue
            for key in ("text", "pretext", "title", "fallback"):
                value = att.get(key)
                if isinstance(value, str):
                    problems += _ping_problems(f"attachments[{i}].{key}", value, bare=False)
            for j, fld in enumerate(att.get("fields") or []):
                if isinstance(fld, dict) and isinstance(fld.get("value"), str):
                    problems += _ping_problems(
                        f"attachments[{i}].fields[{j}]", fld["value"], bare=False
                    )
            for j, block in enumerate(att.get("blocks") or []):
                problems += _block_pings(block, f"attachments[{i}].blocks[{j}]")
    return problems


def _block_pings(block: Any, where: str) -> list[str]:
    problems: list[str] = []
    for path, obj in _walk(block, where):
        kind = obj.get("type")
        if kind == "mrkdwn" and isinstance(obj.get("text"), str):
            bare = not _truthy(obj.get("verbatim"))
            problems += _ping_problems(path, obj["text"], bare=bare)
        elif kind == "broadcast":
            problems.append(f"{path}: rich_text broadcast @{obj.get('range')} pings everyone")
    return problems


def _ping_problems(where: str, text: str, *, bare: bool) -> list[str]:
    found = [m.group(0) for m in _SPECIAL_MENTION.finditer(text)]
    if bare:
        found += [m.group(0) for m in _BARE_MENTION.finditer(text)]
    return [f"{where}: contains {mention!r}, a workspace-wide ping" for mention in found]


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def _text_objects(block: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, obj in _walk(block, where):
        if obj.get("type") in ("plain_text", "mrkdwn") and obj is not block:
            yield path, obj


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def _require_channel(args: dict[str, Any]) -> str:
    channel = args.get("channel")
    if not channel or not isinstance(channel, str):
        raise _ApiError("channel_not_found")
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
                    raise _ApiError("invalid_json") from exc
                if not isinstance(body, dict):
                    raise _ApiError("invalid_json")
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


# ---------------------------------------------------------------------- rendering

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
DIVIDER_LINE = "-" * 24


def message_text(args: dict[str, Any], *, raw: bool = False) -> str:
    """Flatten a message payload (chat.postMessage/postEphemeral/update, response_url) or a view
    (``{"view": {...}}`` or the view itself) into readable plain text, one line per item.

    Headers become upper-case lines, buttons ``[label]``, dividers a dashed line. Unless `raw`,
    mrkdwn markup is made readable: ``<@U1>`` → ``@U1``, ``<url|label>`` → ``label``,
    ``<!date^…|fallback>`` → ``fallback``, and ``&lt; &gt; &amp;`` are unescaped.
    """
    view = args.get("view") if isinstance(args.get("view"), dict) else None
    if view is None and args.get("type") in ("modal", "home", "workflow_step"):
        view = args
    lines: list[str] = []
    if view is not None:
        title = _obj_text(view.get("title"))
        if title:
            lines.append(title)
        lines += _render_blocks(view.get("blocks"))
        buttons = [f"[{t}]" for t in (_obj_text(view.get("close")), _obj_text(view.get("submit")))]
        buttons = [b for b in buttons if b != "[]"]
        if buttons:
            lines.append(" ".join(buttons))
    else:
        blocks = args.get("blocks")
        if isinstance(blocks, list) and blocks:
            lines += _render_blocks(blocks)
        elif isinstance(args.get("text"), str):
            lines += args["text"].splitlines() or [""]
        attachments = args.get("attachments")
        if isinstance(attachments, list):
            for att in attachments:
                if isinstance(att, dict):
                    lines += _render_attachment(att)
    text = "\n".join(lines)
    return text if raw else _readable(text)


def _readable(text: str) -> str:
    def link(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@") or target.startswith("#"):
            return label and target[0] + label or target
        if target.startswith("!subteam^"):
            return "@" + (label or target[9:])
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + (label or target[1:])
        return label or target

    text = _LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _obj_text(obj: Any) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return obj if isinstance(obj, str) else ""


def _render_blocks(blocks: Any) -> list[str]:
    lines: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict):
            lines += _render_block(block)
    return lines


def _render_block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [_obj_text(block.get("text")).upper()]
    if kind == "divider":
        return [DIVIDER_LINE]
    if kind == "section":
        lines = _obj_text(block.get("text")).splitlines()
        for fld in block.get("fields") or []:
            lines += _obj_text(fld).splitlines()
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            rendered = _render_element(accessory)
            if rendered:
                lines.append(rendered)
        return lines
    if kind == "context":
        parts = [_obj_text(e) for e in block.get("elements") or [] if isinstance(e, dict)]
        return [" ".join(p for p in parts if p)]
    if kind == "actions":
        parts = [_render_element(e) for e in block.get("elements") or [] if isinstance(e, dict)]
        return [" ".join(p for p in parts if p)]
    if kind == "input":
        label = _obj_text(block.get("label"))
        element = block.get("element")
        rendered = _render_element(element) if isinstance(element, dict) else ""
        return [f"{label}: {rendered}".rstrip()]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind == "markdown":
        text = block.get("text")
        return text.splitlines() if isinstance(text, str) else []
    if kind == "rich_text":
        return _render_rich_text(block.get("elements") or []).splitlines()
    return []


def _render_element(element: dict[str, Any]) -> str:
    kind = str(element.get("type", ""))
    if kind == "button":
        return f"[{_obj_text(element.get('text'))}]"
    if kind == "image":
        return ""
    if kind == "overflow":
        return "[...]"
    initial = element.get("initial_option")
    if isinstance(initial, dict):
        return f"[{_obj_text(initial.get('text'))} v]"
    for key in ("initial_value", "initial_date", "initial_time", "initial_user"):
        if element.get(key):
            return f"[{element[key]}]"
    placeholder = _obj_text(element.get("placeholder"))
    suffix = " v" if "select" in kind else ""
    return f"[{placeholder or kind}{suffix}]"


def _render_rich_text(elements: list[Any]) -> str:
    out: list[str] = []
    for el in elements:
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
            out.append(_render_rich_text(el.get("elements") or []))
        elif kind == "rich_text_list":
            for item in el.get("elements") or []:
                if isinstance(item, dict):
                    out.append("- " + _render_rich_text(item.get("elements") or []) + "\n")
        elif kind == "text":
            out.append(str(el.get("text", "")))
        elif kind == "link":
            out.append(str(el.get("text") or el.get("url", "")))
        elif kind == "user":
            out.append(f"<@{el.get('user_id', '')}>")
        elif kind == "channel":
            out.append(f"<#{el.get('channel_id', '')}>")
        elif kind == "emoji":
            out.append(f":{el.get('name', '')}:")
        elif kind == "broadcast":
            out.append(f"@{el.get('range', '')}")
        elif kind == "date":
            out.append(str(el.get("fallback") or el.get("timestamp", "")))
    return "".join(out)


def _render_attachment(att: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key in ("pretext", "title", "text"):
        value = att.get(key)
        if isinstance(value, str) and value:
            lines += value.splitlines()
    for fld in att.get("fields") or []:
        if isinstance(fld, dict):
            lines.append(f"{fld.get('title', '')}: {fld.get('value', '')}".strip(": "))
    lines += _render_blocks(att.get("blocks"))
    return lines
