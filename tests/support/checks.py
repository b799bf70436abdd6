"""What tests read back and check: a payload's text and its escaping, Slack's limits, the
buttons of a view, the rows a request wrote, a metric's sample, a condition that comes true."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from bot.local_slack import RecordedCall
from storage.models import AuditEntry
from tests.support.bots import RunningBot
from tests.support.slack import check_blocks

# Typed by a user who wants the bot to ping everyone, mention someone and disguise a link.
HOSTILE = "Ping <!channel> <@U123> <http://x|y> & @everyone"
RAW_MARKUP = ("<!channel>", "<@U123>", "<http://x|y>")
ESCAPED_MARKUP = ("&lt;!channel&gt;", "&lt;@U123&gt;", "&lt;http://x|y&gt;", "&amp;")


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside `node`, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def mrkdwn_objects(payload: Any) -> list[dict[str, Any]]:
    return [o for o in walk(payload) if o.get("type") == "mrkdwn"]


def block_text(payload: dict[str, Any]) -> str:
    """The text of every text object in the blocks (mrkdwn and plain_text), one per line."""
    return "\n".join(
        str(o.get("text"))
        for o in walk(payload.get("blocks") or [])
        if o.get("type") in ("mrkdwn", "plain_text")
    )


def shown(payload: dict[str, Any]) -> str:
    """Everything a reader could see: the top-level text and the blocks' text."""
    return str(payload.get("text") or "") + "\n" + block_text(payload)


def answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON answer to a slash command (in the HTTP response, i.e. the ack)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def assert_valid_message(body: dict[str, Any]) -> None:
    """Within Block Kit's message limits, as the stand-in would check a posted message."""
    if body.get("blocks"):
        assert check_blocks(body["blocks"]) == []


def assert_user_text_escaped(payload: dict[str, Any], *, include_fallback: bool = True) -> None:
    """HOSTILE shows escaped, never as live markup; mrkdwn is verbatim."""
    texts = [str(o.get("text")) for o in mrkdwn_objects(payload)]
    if include_fallback and isinstance(payload.get("text"), str):
        texts.append(payload["text"])
    joined = "\n".join(texts)
    for raw in RAW_MARKUP:
        assert raw not in joined, f"{raw!r} reached Slack unescaped:\n{joined}"
    for obj in mrkdwn_objects(payload):
        assert obj.get("verbatim") is True, f"mrkdwn without verbatim: {obj}"


def assert_hostile_shown_escaped(payload: dict[str, Any]) -> None:
    """The hostile text is actually shown (escaped) somewhere in the mrkdwn."""
    joined = "\n".join(str(o.get("text")) for o in mrkdwn_objects(payload))
    joined += "\n" + str(payload.get("text") or "")
    for escaped in ESCAPED_MARKUP:
        assert escaped in joined, f"{escaped!r} not shown in:\n{joined}"


async def rows(bot: RunningBot, model: Any, *where: Any) -> list[Any]:
    async with bot.db.session() as session:
        query = select(model)
        if where:
            query = query.where(*where)
        return list((await session.exec(query)).all())


async def audit_count(bot: RunningBot) -> int:
    return len(await rows(bot, AuditEntry))


async def response_url_reply(bot: RunningBot) -> dict[str, Any]:
    """The message the last request's follow-up posted to its own response_url."""
    return (await bot.reply("response_url")).args


async def confirmation(bot: RunningBot, method: str = "chat.postEphemeral") -> RecordedCall:
    """The first `method` call made after the last request (a form's confirmation)."""
    return await bot.reply(method)


def input_block_ids(view: dict[str, Any]) -> set[str]:
    return {b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"}


def action_ids(view: dict[str, Any]) -> set[str]:
    """The action ids of a view's buttons and menus (its blocks' elements and accessories)."""
    found = set()
    for block in view["blocks"]:
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                found.add(element["action_id"])
    return found


def sample(exposition: bytes | str, metric: str, /, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    text = exposition.decode() if isinstance(exposition, bytes) else exposition
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == metric and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Waits until `check()` holds (work that finishes just after Slack got its answer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition still false after waiting")
        await asyncio.sleep(0.02)
