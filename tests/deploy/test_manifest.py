"""`deploy/slack-manifest.yaml`: valid for Slack, and declaring exactly what the app uses —
the commands and events it registers, the scopes of the Web API methods it calls."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from slack_bolt.async_app import AsyncApp

from bot.app import build_app, build_client
from bot.clock import ManualClock
from bot.settings import Settings
from storage.db import Database
from tests.support.people import AS_OF

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "deploy" / "slack-manifest.yaml"
# Slack's schema, vendored with its source named in tests/data/README.md.
SCHEMA = REPO / "tests" / "data" / "slack-manifest.schema.1.0.0.json"
REQUEST_URL = "https://parley.example.com/slack/events"

# The bot scopes each Web API method needs (https://docs.slack.dev/reference/methods).
METHOD_SCOPES: dict[str, set[str]] = {
    "chat_postMessage": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_delete": {"chat:write"},
    "chat_scheduleMessage": {"chat:write"},
    "chat_getPermalink": set(),
    "users_info": {"users:read"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_open": {"im:write"},
    "views_open": set(),
    "views_push": set(),
    "views_update": set(),
    "views_publish": set(),
    "auth_test": set(),
}
API_CALL = re.compile(r"\.((?:chat|users|conversations|views|auth|reactions|team|apps)_\w+)\(")
# Not the bot's own calls: the stand-in answers them, the shell is a client of the stand-in.
NOT_THE_BOT = {REPO / "bot" / "standin.py", REPO / "bot" / "shell.py"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    document = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_the_manifest_is_valid_for_slack(manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema.validate(manifest, schema)


def test_its_socket_mode_variant_is_valid_too(
    manifest: dict[str, Any], schema: dict[str, Any]
) -> None:
    """What the header comment and the README tell the operator to do for Socket Mode."""
    variant = copy.deepcopy(manifest)
    variant["settings"]["socket_mode_enabled"] = True
    del variant["settings"]["event_subscriptions"]["request_url"]
    del variant["settings"]["interactivity"]["request_url"]
    for command in variant["features"]["slash_commands"]:
        del command["url"]
    jsonschema.validate(variant, schema)


def test_every_request_url_is_the_one_slack_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls += [settings["event_subscriptions"]["request_url"]]
    urls += [settings["interactivity"]["request_url"]]
    assert set(urls) == {REQUEST_URL}
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


@pytest.fixture
async def registered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, list[str]]:
    """The commands and events `build_app` registers, seen through Bolt's own methods."""
    seen: dict[str, list[str]] = {"command": [], "event": [], "shortcut": []}
    for kind in seen:
        original = getattr(AsyncApp, kind)

        def spy(
            self: AsyncApp,
            name: Any,
            *args: Any,
            _kind: str = kind,
            _orig: Any = original,
            **kwargs: Any,
        ) -> Any:
            seen[_kind].append(name)
            return _orig(self, name, *args, **kwargs)

        monkeypatch.setattr(AsyncApp, kind, spy)
    settings = Settings(bot_token="xoxb-manifest", signing_secret="manifest-secret")
    db = Database(f"sqlite:///{tmp_path / 'manifest.db'}")
    try:
        build_app(settings=settings, client=build_client(settings), db=db, clock=ManualClock(AS_OF))
    finally:
        await db.dispose()
    return seen


async def test_the_commands_are_exactly_those_the_app_registers(
    manifest: dict[str, Any], registered: dict[str, list[str]]
) -> None:
    declared = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert sorted(declared) == sorted(registered["command"])


async def test_the_events_are_exactly_those_the_app_listens_to(
    manifest: dict[str, Any], registered: dict[str, list[str]]
) -> None:
    declared = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(declared) == sorted(registered["event"])


async def test_the_shortcuts_are_exactly_those_the_app_registers(
    manifest: dict[str, Any], registered: dict[str, list[str]]
) -> None:
    declared = [s["callback_id"] for s in manifest["features"]["shortcuts"]]
    assert sorted(declared) == sorted(registered["shortcut"]) == ["parley.add_to_parley"]


def methods_called() -> dict[str, set[Path]]:
    found: dict[str, set[Path]] = {}
    for package in ("bot", "handlers", "storage"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path in NOT_THE_BOT:
                continue
            for method in API_CALL.findall(path.read_text(encoding="utf-8")):
                found.setdefault(method, set()).add(path.relative_to(REPO))
    return found


def test_the_scopes_are_exactly_those_the_code_needs(manifest: dict[str, Any]) -> None:
    called = methods_called()
    unknown = sorted(set(called) - set(METHOD_SCOPES))
    assert not unknown, f"add the scopes of {unknown} to METHOD_SCOPES (and the manifest)"
    needed = {"commands"} | {scope for method in called for scope in METHOD_SCOPES[method]}
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(needed), called
