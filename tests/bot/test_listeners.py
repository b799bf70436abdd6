"""Every request Slack can send Parley is matched by exactly one listener: so the order in
which `bot.app.build_app` registers them (the cheapest for the commonest requests first)
changes which listener answers nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import slack_requests as slack
from bot.app import build_app, build_client
from bot.clock import ManualClock
from bot.render.ids import Action, Callback
from bot.settings import Settings
from storage.db import Database
from tests.support.people import AS_OF, CHANNEL, MEMBER

COMMANDS = ("/truce", "/deadline", "/talks", "/watch", "/desk")
BUTTONS = [a for a in Action if a is not Action.input]
FORMS = [c for c in Callback if c is not Callback.add_to_parley]


def _command(name: str) -> AsyncBoltRequest:
    form = slack.slash_command(name, user=MEMBER, channel=CHANNEL, response_url="http://x/")
    return AsyncBoltRequest(body=urlencode(form), headers={})


def _interaction(payload: dict[str, Any]) -> AsyncBoltRequest:
    return AsyncBoltRequest(body=slack.interaction_body(payload), headers={})


def _requests() -> dict[str, AsyncBoltRequest]:
    requests = {name: _command(name) for name in COMMANDS}
    requests["app_home_opened"] = AsyncBoltRequest(
        body=json.dumps(slack.app_home_opened(MEMBER, event_id="EvONE")),
        headers={"content-type": ["application/json"]},
    )
    requests["user_change"] = AsyncBoltRequest(
        body=json.dumps(
            slack.event_callback(
                {"type": "user_change", "user": {"id": MEMBER, "tz": "Asia/Tokyo"}},
                event_id="EvTWO",
            )
        ),
        headers={"content-type": ["application/json"]},
    )
    for action in BUTTONS:
        requests[action.value] = _interaction(
            slack.block_actions(action.value, user=MEMBER, channel=CHANNEL, response_url="x")
        )
    for form in FORMS:
        view = {"id": "V1", "type": "modal", "callback_id": form.value, "blocks": []}
        requests[form.value] = _interaction(slack.view_submission(view, {}, user=MEMBER))
    shortcut = {
        "type": "message_action",
        "callback_id": Callback.add_to_parley.value,
        "team": {"id": "T1"},
        "user": {"id": MEMBER},
        "channel": {"id": CHANNEL},
        "message": {"ts": "1.2", "text": "news"},
        "trigger_id": "t",
        "response_url": "x",
    }
    requests[Callback.add_to_parley.value] = _interaction(shortcut)
    return requests


@pytest.fixture
def app(tmp_path: Path) -> AsyncApp:
    settings = Settings(bot_token="xoxb-1", signing_secret="s" * 32)
    db = Database(f"sqlite:///{tmp_path / 'unused.db'}")
    return build_app(
        settings=settings, client=build_client(settings), db=db, clock=ManualClock(AS_OF)
    )


@pytest.mark.parametrize("name", sorted(_requests()))
async def test_one_listener_matches_each_request(app: AsyncApp, name: str) -> None:
    request = _requests()[name]
    matching = [
        listener.ack_function.__name__
        for listener in app._async_listeners  # noqa: SLF001 (Bolt keeps them in order here)
        if await listener.async_matches(req=request, resp=BoltResponse(status=200))
    ]
    assert len(matching) == 1, matching


async def test_every_listener_is_reached_by_some_request(app: AsyncApp) -> None:
    requests = _requests().values()
    for listener in app._async_listeners:  # noqa: SLF001
        hits = [
            r
            for r in requests
            if await listener.async_matches(req=r, resp=BoltResponse(status=200))
        ]
        assert hits, listener.ack_function.__name__


async def _tries_before_a_match(app: AsyncApp, request: AsyncBoltRequest) -> int:
    """How many listeners Bolt tries before the one that answers `request`."""
    for tried, listener in enumerate(app._async_listeners):  # noqa: SLF001
        if await listener.async_matches(req=request, resp=BoltResponse(status=200)):
            return tried
    raise AssertionError("no listener matched")


async def test_the_commands_are_tried_first_the_most_asked_first(app: AsyncApp) -> None:
    """handlers.registry: each slash command is reached after trying only the commands
    before it, App Home right after them, whatever order the surfaces register in."""
    requests = _requests()
    tries = {name: await _tries_before_a_match(app, requests[name]) for name in requests}
    order = ("/truce", "/deadline", "/watch", "/talks", "/desk", "app_home_opened")
    assert [tries[name] for name in order] == list(range(len(order)))
    others = [n for n in requests if n not in order]
    assert min(tries[n] for n in others) == len(order)


async def test_the_order_registers_every_listener_of_every_surface(tmp_path: Path) -> None:
    """Taken by `ListenerOrder`, then made on the app: the same listeners as registering
    each surface on the app itself."""
    from handlers import deadline, desk, events, home, people, sources, talks, truce, watch
    from handlers.registry import ListenerOrder

    surfaces = (home, desk, truce, deadline, talks, watch, events, sources, people)
    direct, ordered = AsyncApp(token="xoxb-1", signing_secret="s" * 32), AsyncApp(
        token="xoxb-1", signing_secret="s" * 32
    )
    order = ListenerOrder()
    for surface in surfaces:
        surface.register(direct)
        surface.register(order)
    order.register_on(ordered)

    def listeners(app: AsyncApp) -> list[str]:
        return sorted(
            f"{listener.ack_function.__module__}.{listener.ack_function.__qualname__}"
            for listener in app._async_listeners  # noqa: SLF001
        )

    assert listeners(ordered) == listeners(direct)
    assert len(listeners(ordered)) >= 27
