"""`bot/web.py` over HTTP: signatures, the replay window, malformed bodies, `/healthz`."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot import slack_requests as slack
from bot.render.ids import Action
from storage.models import Deadline, DeadlineStatus
from tests.support.bots import RunningBot, sign
from tests.support.checks import audit_count, rows
from tests.support.people import ADMIN, CHANNEL, LEAD

FORM = {"content-type": "application/x-www-form-urlencoded"}


def deadline_add_body(bot: RunningBot, title: str = "Sneaky") -> str:
    url = bot.standin.response_url(channel=CHANNEL)
    form = slack.slash_command(
        "/deadline", f"add {title} | +3d", user=ADMIN, channel=CHANNEL, response_url=url
    )
    return slack.form_body(form)


def mark_met_body(bot: RunningBot) -> str:
    url = bot.standin.response_url(channel=CHANNEL)
    payload = slack.block_actions(
        Action.mark_deadline_met, "1", user=ADMIN, channel=CHANNEL, response_url=url
    )
    return slack.interaction_body(payload)


async def post(bot: RunningBot, body: str, headers: dict[str, str]) -> httpx.Response:
    return await bot.send(body, headers)


async def snapshot(bot: RunningBot) -> tuple[Any, ...]:
    return (
        await audit_count(bot),
        sorted((d.id, d.title, d.status) for d in await rows(bot, Deadline)),
    )


def wrong_signature(body: str) -> dict[str, str]:
    return sign(body, secret="not-the-signing-secret")


def stale(body: str) -> dict[str, str]:
    return sign(body, timestamp=int(time.time()) - 6 * 60)


def unsigned(body: str) -> dict[str, str]:
    return dict(FORM)


def signature_of_another_body(body: str) -> dict[str, str]:
    return sign(body + "&text=other")


@pytest.mark.parametrize("headers", [unsigned, wrong_signature, stale, signature_of_another_body])
@pytest.mark.parametrize("make_body", [deadline_add_body, mark_met_body])
async def test_unverified_requests_get_401_and_change_nothing(
    bot: RunningBot, headers: Any, make_body: Any
) -> None:
    before = await snapshot(bot)
    body = make_body(bot)
    response = await post(bot, body, headers(body))
    assert response.status_code == 401
    assert await snapshot(bot) == before
    assert bot.standin.calls_to("response_url") == []


async def test_a_correctly_signed_request_is_handled(bot: RunningBot) -> None:
    body = deadline_add_body(bot, "Signed")
    response = await post(bot, body, sign(body))
    assert response.status_code == 200
    assert await rows(bot, Deadline, Deadline.title == "Signed")


async def test_a_request_4_minutes_old_is_still_inside_the_replay_window(
    bot: RunningBot,
) -> None:
    body = deadline_add_body(bot, "Slightly late")
    response = await post(bot, body, sign(body, timestamp=int(time.time()) - 4 * 60))
    assert response.status_code == 200
    assert await rows(bot, Deadline, Deadline.title == "Slightly late")


async def test_a_signed_button_click_is_handled(bot: RunningBot) -> None:
    body = mark_met_body(bot)
    response = await post(bot, body, sign(body))
    assert response.status_code == 200
    # deadline 1 is the truce's expiry: the click is answered with a confirmation to press
    assert "Mark the truce expiry #1" in (await bot.reply("response_url")).args["text"]
    (deadline,) = await rows(bot, Deadline, Deadline.id == 1)
    assert deadline.status == DeadlineStatus.open


MALFORMED = {
    "payload-not-json": "payload=notjson",
    "payload-a-number": "payload=1",
    "payload-a-list": "payload=" + json.dumps([]),
    "block-actions-without-actions": "payload="
    + json.dumps({"type": "block_actions", "actions": []}),
    "block-actions-actions-not-a-list": "payload="
    + json.dumps({"type": "block_actions", "actions": "x"}),
    "payload-missing-type": "payload=" + json.dumps({"actions": [{"action_id": "x"}]}),
    "payload-type-not-a-string": "payload=" + json.dumps({"type": 5}),
    "view-submission-without-view": "payload=" + json.dumps({"type": "view_submission"}),
    "user-not-an-object": "payload="
    + json.dumps({"type": "block_actions", "actions": [{"action_id": "x"}], "user": "U1"}),
    "empty-body": "",
    "neither-command-nor-payload": "foo=bar",
}


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_malformed_bodies_get_400_never_500(bot: RunningBot, name: str, signed: bool) -> None:
    body = MALFORMED[name]
    before = await snapshot(bot)
    response = await post(bot, body, sign(body) if signed else dict(FORM))
    assert response.status_code == 400
    assert "malformed request body" in response.json()["error"]
    assert await snapshot(bot) == before


@pytest.mark.parametrize("body", ["[]", "not json"])
async def test_malformed_json_bodies_get_400(bot: RunningBot, body: str) -> None:
    response = await post(bot, body, {"content-type": "application/json"})
    assert response.status_code == 400


async def test_view_submission_without_a_view_type_gets_400(bot: RunningBot) -> None:
    payload = {
        "type": "view_submission",
        "team": {"id": "T0LOCAL"},
        "user": {"id": ADMIN},
        "view": {"callback_id": "parley.deadline_form", "state": {"values": {}}},
    }
    body = urlencode({"payload": json.dumps(payload)})
    response = await post(bot, body, sign(body))
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("/truce", ""),
        ("/truce", "public"),
        ("/truce", "   "),
        ("/truce", "extend | only a note"),
        ("/deadline", "add |"),
        ("/deadline", "add | | |"),
        ("/deadline", "x" * 4000),
        ("/talks", "edit"),
        ("/talks", "edit x"),
        ("/watch", "edit"),
        ("/watch", "ünïcödé 🤝"),
        ("/desk", "lead"),
        ("/desk", "lead remove"),
        ("/desk", "subscribe countdowns"),
        ("/desk", "subscribe digest maybe"),
        ("/desk", "subscribe 25:99"),
        ("/desk", "subscribe Mars/Olympus"),
    ],
)
async def test_every_signed_slash_command_gets_200_with_a_reply(
    bot: RunningBot, command: str, text: str
) -> None:
    response = await bot.command(command, text, user=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body.get("text") or body.get("blocks")
    assert "Something went wrong" not in str(body)


async def test_healthz_reports_ok_and_the_database(bot: RunningBot) -> None:
    response = await bot.http.get(f"{bot.url}/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"


# ---- found in review: bodies Bolt would crash on, or misread ------------------------------


async def test_a_timestamp_that_is_not_a_number_is_401_and_nothing_is_called(
    bot: RunningBot,
) -> None:
    url = bot.standin.response_url(channel=CHANNEL)
    payload = slack.block_actions("x", "1", user=ADMIN, channel=CHANNEL, response_url=url)
    body = slack.interaction_body(payload)
    headers = {**FORM, "x-slack-request-timestamp": "abc", "x-slack-signature": "v0=00"}
    response = await post(bot, body, headers)
    assert response.status_code == 401
    assert [c for c in bot.standin.calls if c.method == "response_url"] == []


NESTED = "[" * 100_000 + "]" * 100_000
CRASHERS = {
    "team-a-number": json.dumps({"team": 5}),
    "authorizations-a-string": json.dumps({"authorizations": "x"}),
    "event-user-a-number": json.dumps(
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "x", "user": 5}}
    ),
    "json-block-actions-without-actions": json.dumps({"type": "block_actions", "actions": []}),
    "deeply-nested-json": '{"a": ' + NESTED + "}",
    "action-without-action-id": "payload="
    + json.dumps({"type": "block_actions", "user": {"id": ADMIN}, "actions": [{}]}),
    "view-a-string": "payload="
    + json.dumps({"type": "block_actions", "view": "x", "actions": [{"action_id": "a"}]}),
    "second-payload-not-json": "payload="
    + json.dumps({"type": "view_closed", "view": {"type": "modal"}})
    + "&payload=nope",
}


@pytest.mark.parametrize("body", CRASHERS.values(), ids=CRASHERS.keys())
async def test_bodies_bolt_would_crash_on_get_400_signed_or_not(bot: RunningBot, body: str) -> None:
    for headers in (sign(body), FORM):
        response = await post(bot, body, headers)
        assert response.status_code == 400, (response.status_code, response.text)
    assert [c for c in bot.standin.calls if c.method == "response_url"] == []


async def test_a_command_form_starting_with_a_brace_is_read_as_json_and_refused(
    bot: RunningBot,
) -> None:
    body = '{"team":5,"a":"&command=x"}'
    response = await post(bot, body, sign(body))
    assert response.status_code == 400


async def test_a_command_whose_text_says_payload_is_still_a_command(bot: RunningBot) -> None:
    form = slack.slash_command(
        "/deadline",
        "add payload review | +3d",
        user=ADMIN,
        channel=CHANNEL,
        channel_name="payload-ops",
        response_url=bot.standin.response_url(channel=CHANNEL),
    )
    body = slack.form_body(form)
    response = await post(bot, body, sign(body))
    assert response.status_code == 200, response.text
    assert [d.title for d in await rows(bot, Deadline, Deadline.title == "payload review")]


async def test_a_body_over_a_megabyte_is_refused(bot: RunningBot) -> None:
    body = "command=/truce&text=" + "x" * (1024 * 1024)
    response = await post(bot, body, sign(body))
    assert response.status_code == 400 and "over 1 MB" in response.text


async def test_a_database_that_is_down_gets_a_clear_reply_counted_as_an_error(
    bot: RunningBot,
) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    path = Path(str(make_url(bot.db.url).database))
    await bot.db.engine.dispose()
    path.rename(path.with_suffix(".away"))  # the next connection finds no tables
    try:
        response = await bot.command("/deadline", "add Vote | +3d")
        assert response.status_code == 200
        assert "The record is unavailable" in response.json()["text"]
        metrics = (await bot.http.get(f"{bot.url}/metrics")).text
        counted = 'parley_requests_total{kind="command",name="/deadline",outcome="error"} 1.0'
        assert counted in metrics
    finally:
        await bot.db.engine.dispose()
        path.unlink(missing_ok=True)
        path.with_suffix(".away").rename(path)


@pytest.mark.parametrize(("command", "text"), [("/deadline", "new"), ("/desk", "event")])
async def test_slack_out_of_reach_is_said_so_not_blamed_on_the_record(
    bot: RunningBot, command: str, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A form Parley cannot open because Slack's Web API does not answer: the lead is told
    Slack is out of reach, and the log names Slack, not the database (SPEC §7 keeps "the
    record is unavailable" for a database that is down)."""
    await bot.standin.stop()  # nothing listens at SLACK_API_URL any more
    response = await bot.command(command, text, user=LEAD)
    assert response.status_code == 200
    said = response.json()["text"]
    assert said == "Parley cannot reach Slack right now; try again in a moment.", said
    logged = [r.getMessage() for r in caplog.records if r.name == "parley.errors"]
    assert any(m.startswith("Slack Web API unreachable") for m in logged), logged
    assert not any("database" in m for m in logged), logged


async def test_slacks_ssl_check_is_answered_without_a_signature(bot: RunningBot) -> None:
    before = await snapshot(bot)
    response = await post(bot, "ssl_check=1&token=x", FORM)
    assert response.status_code == 200
    assert await snapshot(bot) == before
