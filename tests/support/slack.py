"""The Slack stand-in of the test-suite and the benchmarks: the local Slack, made hostile.

`SlackStandIn` is `bot.local_slack.LocalSlack` with what only tests need: failures and
rate limits on demand (`fail_next`, `fail_with_error`, `hold`, `rate_limit_*`), a Socket
Mode server (`send_envelope`, `socket_ack`), and Block Kit checks on every payload
(`violations`; with ``strict`` a violating call is refused as Slack would).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import uuid
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.local_slack import (
    APP_ID,
    Answer,
    ApiError,
    LocalSlack,
    OnCall,
    RecordedCall,
    _truthy,
)

__all__ = [
    "BlockKitViolation",
    "Hold",
    "RecordedCall",
    "SlackStandIn",
    "check_blocks",
    "find_mention_problems",
]

logger = logging.getLogger(__name__)

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_OBJECT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD = 2000
MAX_MESSAGE_TEXT = 40000

SOCKET_PATH = "/socket-mode"
_SPECIAL_MENTION = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>")
_BARE_MENTION = re.compile(r"(?<![\w.@])@(everyone|channel|here)\b")


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


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int | None

    def answer(self) -> Answer:
        headers = {}
        if self.retry_after is not None and self.status in (429, 503):
            headers["Retry-After"] = str(self.retry_after)
        return Answer(self.status, {"ok": False, "error": self.error}, headers)


class SlackStandIn(LocalSlack):
    """The local Slack with failures, rate limits, Socket Mode and Block Kit checks."""

    def __init__(
        self, *, strict: bool = True, on_call: OnCall | None = None, **kwargs: Any
    ) -> None:
        self.strict = strict
        self.rate_limit_per_channel: float | None = None
        # Share of chat.postMessage calls answered 429 at random (seeded: runs repeat).
        self.rate_limit_ratio = 0.0
        self._random = random.Random(7)
        self._holds: dict[str, deque[Hold]] = {}
        self.violations: list[str] = []
        self._sockets: list[web.WebSocketResponse] = []  # Socket Mode connections
        super().__init__(on_call=on_call, **kwargs)

    def _init_state(self) -> None:
        super()._init_state()
        self._failures: dict[str, deque[_Failure]] = {}
        self._last_post: dict[str, float] = {}

    def _routes(self, app: web.Application) -> None:
        super()._routes(app)
        app.router.add_get(SOCKET_PATH, self._handle_socket)
        app.on_shutdown.append(self._close_sockets)

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

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
        self.violations.clear()
        super().reset()

    # ------------------------------------------------------------------ hooks

    async def _arrive(self, method: str) -> None:
        queue = self._holds.get(method)
        if queue:
            held = queue.popleft()
            held.arrived.set()
            await held.released.wait()

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> Answer:
        if method == "apps.connections.open" and token:
            return self._apps_connections_open(token)
        return super()._answer(method, args, token)

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if queue:
            return queue.popleft()
        return None

    def _fault(self, method: str, args: dict[str, Any]) -> Answer | None:
        failure = self._take_failure(method)
        if failure is not None:
            return failure.answer()
        if method != "chat.postMessage":
            return None
        if self.rate_limit_ratio and self._random.random() < self.rate_limit_ratio:
            return Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        if self.rate_limit_per_channel:
            return self._rate_limited(str(args.get("channel", "")))
        return None

    def _rate_limited(self, channel: str) -> Answer | None:
        assert self.rate_limit_per_channel
        now = time.monotonic()
        last = self._last_post.get(channel)
        if last is not None and now - last < 1.0 / self.rate_limit_per_channel:
            return Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        self._last_post[channel] = now
        return None

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

    def _apps_connections_open(self, token: str) -> Answer:
        if not token.startswith("xapp-"):
            raise ApiError("not_allowed_token_type")
        failure = self._take_failure("apps.connections.open")
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return Answer(failure.status, {"ok": False, "error": failure.error}, headers)
        return Answer(200, {"ok": True, "url": f"{self.socket_url}?ticket={uuid.uuid4().hex}"})

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
            raise ApiError(error, errors=problems)

    def _check_message(self, method: str, args: dict[str, Any]) -> None:
        super()._check_message(method, args)
        text = args.get("text")
        blocks = args.get("blocks")
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
