"""Requests shaped as Slack sends them: slash commands, button clicks, view submissions, events.

One set of builders for everything that speaks to the bot as Slack does: the console
(``parley shell``), the test-suite and the benchmarks. Payloads are plain dicts; `form_body`
and `interaction_body` encode them, `signed_headers` signs a body with a signing secret.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.local_slack import APP_ID, TEAM_DOMAIN, TEAM_ID

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def new_trigger_id() -> str:
    """A fresh trigger id, shaped like Slack's (``<digits>.<digits>.<hex>``)."""
    return f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}"


def _team() -> dict[str, str]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _user(user: str, name: str | None) -> dict[str, str]:
    return {"id": user, "username": name or user.lower(), "team_id": TEAM_ID}


def slash_command(
    command: str,
    text: str = "",
    *,
    user: str,
    channel: str,
    response_url: str,
    trigger_id: str | None = None,
    user_name: str | None = None,
    channel_name: str = "desk",
) -> dict[str, str]:
    """The form fields of a slash command (send it with `form_body`)."""
    return {
        "token": "deprecated",
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": user_name or user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def block_actions(
    action_id: str,
    value: str = "",
    *,
    user: str,
    channel: str,
    response_url: str,
    block_id: str = "b1",
    label: str = "button",
    message_ts: str = "1753779600.000100",
    trigger_id: str | None = None,
    user_name: str | None = None,
    channel_name: str = "desk",
) -> dict[str, Any]:
    """The payload of a click on a button of an (ephemeral) message."""
    return {
        "type": "block_actions",
        "team": _team(),
        "user": _user(user, user_name),
        "api_app_id": APP_ID,
        "trigger_id": trigger_id or new_trigger_id(),
        "channel": {"id": channel, "name": channel_name},
        "container": {
            "type": "message",
            "channel_id": channel,
            "message_ts": message_ts,
            "is_ephemeral": True,
        },
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "type": "button",
                "text": {"type": "plain_text", "text": label},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A modal's ``state.values`` as Slack sends it, from {block_id: value}.

    A text input takes a string, a select its option's value, a multi-select a list of
    values; a text input or select left out keeps its initial value or option.
    """
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        block_id = block["block_id"]
        element = block["element"]
        value = values.get(block_id)
        kind = element["type"]
        if kind == "static_select":
            chosen = next(
                (o for o in element.get("options", []) if o["value"] == value),
                element.get("initial_option"),
            )
            entry: dict[str, Any] = {"type": kind, "selected_option": chosen}
        elif kind == "multi_static_select":
            picked = [o for o in element.get("options", []) if o["value"] in (value or [])]
            entry = {"type": kind, "selected_options": picked}
        else:
            entry = {"type": "plain_text_input", "value": value}
            if value is None:
                entry["value"] = element.get("initial_value")
        state[block_id] = {element["action_id"]: entry}
    return state


def view_submission(
    view: dict[str, Any],
    state: dict[str, Any],
    *,
    user: str,
    user_name: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """The payload of a modal submitted with `state` (``state.values``, see `view_state`)."""
    return {
        "type": "view_submission",
        "team": _team(),
        "user": _user(user, user_name),
        "api_app_id": APP_ID,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": {**view, "state": {"values": state}},
    }


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API envelope around `event` (send it as JSON)."""
    return {
        "token": "deprecated",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
    }


def app_home_opened(user: str, *, event_id: str | None = None) -> dict[str, Any]:
    """The event Slack sends when `user` opens the app's Home tab."""
    return event_callback(
        {
            "type": "app_home_opened",
            "user": user,
            "channel": "D" + user[1:],
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
        event_id=event_id,
    )


def form_body(form: dict[str, str]) -> str:
    return urlencode(form)


def interaction_body(payload: dict[str, Any]) -> str:
    """An interactivity request's body: the payload JSON in a ``payload`` form field."""
    return urlencode({"payload": json.dumps(payload)})


def signed_headers(
    body: str, secret: str, *, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    """The headers Slack sends with `body`, signed with `secret` (now, or at `timestamp`)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature or "",
    }
