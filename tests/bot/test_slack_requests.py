"""The request builders: what they make, Bolt reads as Slack's own requests."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import slack_requests as slack
from tests.support.slack import SlackStandIn

SECRET = "builder-secret"
HOME_SEEN = asyncio.Event()


def request(body: str, content_type: str = slack.FORM) -> AsyncBoltRequest:
    headers = slack.signed_headers(body, SECRET, content_type=content_type)
    return AsyncBoltRequest(body=body, headers={k: [v] for k, v in headers.items()})


def app(standin: SlackStandIn) -> tuple[AsyncApp, list[dict[str, Any]]]:
    """A bare Bolt app recording what its listeners were given (auth.test: the stand-in)."""
    seen: list[dict[str, Any]] = []
    client = AsyncWebClient(token="xoxb-builders", base_url=standin.api_url)
    bolt = AsyncApp(client=client, signing_secret=SECRET)

    @bolt.command("/truce")
    async def truce(ack: Any, command: dict[str, Any]) -> None:
        seen.append(command)
        await ack("ok")

    @bolt.action("press")
    async def press(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        seen.append(action)
        await ack()

    @bolt.view("form")
    async def submit(ack: Any, view: dict[str, Any]) -> None:
        seen.append(view["state"]["values"])
        await ack()

    @bolt.event("app_home_opened")
    async def home(event: dict[str, Any]) -> None:
        seen.append(event)
        HOME_SEEN.set()

    return bolt, seen


@pytest.mark.parametrize("at", [None, 1_700_000_000])
def test_signed_headers_verify_with_the_secret_only(at: int | None) -> None:
    body = slack.form_body({"text": "a & b <c>"})
    headers = slack.signed_headers(body, SECRET, timestamp=at)
    ts = headers["x-slack-request-timestamp"]
    if at is not None:
        assert ts == str(at)  # and too old for Slack's five minutes: not valid
    else:
        assert abs(int(ts) - time.time()) < 5
    signature = headers["x-slack-signature"]
    assert SignatureVerifier(SECRET).is_valid(body, ts, signature) is (at is None)
    assert SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body) == signature
    assert SignatureVerifier("other").generate_signature(timestamp=ts, body=body) != signature


async def test_a_slash_command_reaches_its_listener_with_every_field(standin: SlackStandIn) -> None:
    bolt, seen = app(standin)
    form = slack.slash_command(
        "/truce", "us-china public", user="U1", channel="C1", response_url="http://x/r/1"
    )
    response = await bolt.async_dispatch(request(slack.form_body(form)))
    assert (response.status, response.body) == (200, "ok")
    (command,) = seen
    assert command["text"] == "us-china public"
    assert (command["user_id"], command["channel_id"], command["team_id"]) == (
        "U1",
        "C1",
        "T0LOCAL",
    )
    assert command["trigger_id"] == form["trigger_id"]


def test_trigger_ids_are_fresh_and_shaped_like_slacks() -> None:
    ids = {slack.new_trigger_id() for _ in range(200)}
    assert len(ids) == 200
    for trigger in ids:
        digits, one, hexa = trigger.split(".")
        assert digits.isdigit() and one == "1" and int(hexa, 16) >= 0


async def test_a_button_click_reaches_the_action_listener(standin: SlackStandIn) -> None:
    bolt, seen = app(standin)
    payload = slack.block_actions(
        "press", "7", user="U1", channel="C1", response_url="http://x/r/2", label="Edit"
    )
    response = await bolt.async_dispatch(request(slack.interaction_body(payload)))
    assert response.status == 200
    assert seen[0]["value"] == "7" and seen[0]["text"]["text"] == "Edit"


def view() -> dict[str, Any]:
    def block(block_id: str, element: dict[str, Any]) -> dict[str, Any]:
        label = {"type": "plain_text", "text": block_id}
        return {"type": "input", "block_id": block_id, "label": label, "element": element}

    def option(value: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": value.title()}, "value": value}

    options = [option("low"), option("high")]
    return {
        "type": "modal",
        "callback_id": "form",
        "title": {"type": "plain_text", "text": "Form"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "intro"}},
            block("title", {"type": "plain_text_input", "action_id": "t", "initial_value": "x"}),
            block("level", {"type": "static_select", "action_id": "l", "options": options}),
            block(
                "tags",
                {"type": "multi_static_select", "action_id": "g", "options": options},
            ),
        ],
    }


@pytest.mark.parametrize(
    ("values", "title", "level", "tags"),
    [
        ({}, "x", None, []),
        ({"title": "Typed"}, "Typed", None, []),
        ({"level": "high", "tags": ["low", "high"]}, "x", "high", ["low", "high"]),
        ({"level": "nope", "tags": ["nope"]}, "x", None, []),
    ],
)
async def test_view_state_is_read_by_bolt_as_slack_sends_it(
    values: dict[str, Any], title: str, level: str | None, tags: list[str], standin: SlackStandIn
) -> None:
    bolt, seen = app(standin)
    form = view()
    payload = slack.view_submission(form, slack.view_state(form, values), user="U1")
    response = await bolt.async_dispatch(request(slack.interaction_body(payload)))
    assert response.status == 200
    (state,) = seen
    assert set(state) == {"title", "level", "tags"}
    assert state["title"]["t"]["value"] == title
    chosen = state["level"]["l"]["selected_option"]
    assert (chosen["value"] if chosen else None) == level
    assert [o["value"] for o in state["tags"]["g"]["selected_options"]] == tags


async def test_app_home_opened_is_an_event_bolt_dispatches(standin: SlackStandIn) -> None:
    bolt, seen = app(standin)
    body = json.dumps(slack.app_home_opened("U1", event_id="Ev1"))
    response = await bolt.async_dispatch(request(body, slack.JSON))
    assert response.status == 200
    await asyncio.wait_for(HOME_SEEN.wait(), 5)  # Bolt runs event listeners after the ack
    assert seen[0]["user"] == "U1" and seen[0]["tab"] == "home"
