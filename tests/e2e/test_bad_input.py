"""Bad requests over HTTP on both databases: unverified → 401, forged by a member → refused,
malformed → 400; none of them changes the record."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot import slack_requests as slack
from bot.render.ids import Action, Callback, Field
from handlers import forms
from storage.models import Deadline, DeadlineStatus
from tests.support.bots import RunningBot, sign
from tests.support.checks import answer, audit_count, response_url_reply, rows
from tests.support.people import CHANNEL, LEAD, MEMBER

TRUCE_EXPIRY_DEADLINE = 1


async def record_state(bot: RunningBot) -> tuple[Any, ...]:
    deadlines = sorted((d.id, d.title, d.due_at, d.status) for d in await rows(bot, Deadline))
    return await audit_count(bot), deadlines


def lead_adds_a_deadline(bot: RunningBot) -> str:
    url = bot.standin.response_url(channel=CHANNEL)
    form = slack.slash_command(
        "/deadline", "add Forged | +3d", user=LEAD, channel=CHANNEL, response_url=url
    )
    return slack.form_body(form)


UNVERIFIED: dict[str, Callable[[str], dict[str, str]]] = {
    "unsigned": lambda body: {"content-type": "application/x-www-form-urlencoded"},
    "wrong-signature": lambda body: sign(body, secret="not-the-signing-secret"),
    "older-than-5-minutes": lambda body: sign(body, timestamp=int(time.time()) - 5 * 60 - 30),
}


@pytest.mark.parametrize("how", sorted(UNVERIFIED))
async def test_unverified_requests_get_401_and_change_nothing(e2e: RunningBot, how: str) -> None:
    before = await record_state(e2e)
    body = lead_adds_a_deadline(e2e)
    response = await e2e.http.post(
        f"{e2e.url}/slack/events", content=body, headers=UNVERIFIED[how](body)
    )
    assert response.status_code == 401
    assert await record_state(e2e) == before
    assert e2e.standin.calls_to("response_url") == []


async def test_a_member_forged_form_submission_is_refused_and_writes_nothing(
    e2e: RunningBot,
) -> None:
    async with e2e.db.session() as session:
        view = await forms.deadline_form(
            session,
            channel_id=CHANNEL,
            deadline_id=TRUCE_EXPIRY_DEADLINE,
            track=None,
            default_offsets=e2e.settings.countdown_offsets,
        )
    crafted = {**view.to_dict(), "id": "V0CRAFTED", "team_id": "T0LOCAL"}
    assert crafted["callback_id"] == Callback.deadline_form
    before = await record_state(e2e)
    body = answer(
        await e2e.submit_view(
            crafted, {Field.headline: "Hijacked", Field.due: "2025-12-01 00:00 UTC"}, user=MEMBER
        )
    )
    assert body["response_action"] == "errors"
    assert "Only a desk lead" in str(body["errors"])
    assert await record_state(e2e) == before


async def test_a_member_forged_button_click_is_refused_and_writes_nothing(
    e2e: RunningBot,
) -> None:
    before = await record_state(e2e)
    response = await e2e.click(Action.mark_deadline_met, str(TRUCE_EXPIRY_DEADLINE), user=MEMBER)
    assert response.status_code == 200
    assert "Only a desk lead" in (await response_url_reply(e2e))["text"]
    assert await record_state(e2e) == before
    (deadline,) = await rows(e2e, Deadline, Deadline.id == TRUCE_EXPIRY_DEADLINE)
    assert deadline.status == DeadlineStatus.open


MALFORMED = {
    "payload-not-json": "payload=%7Bnot-json",
    "actions-empty": "payload=" + json.dumps({"type": "block_actions", "actions": []}),
    "payload-of-the-wrong-type": "payload=" + json.dumps([{"type": "block_actions"}]),
    "view-submission-without-view": "payload="
    + json.dumps({"type": "view_submission", "user": {"id": LEAD}}),
    "neither-command-nor-payload": "text=add+Forged",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
async def test_malformed_signed_bodies_get_400_never_500(e2e: RunningBot, name: str) -> None:
    body = MALFORMED[name]
    before = await record_state(e2e)
    response = await e2e.http.post(f"{e2e.url}/slack/events", content=body, headers=sign(body))
    assert response.status_code == 400
    assert "malformed request body" in response.json()["error"]
    assert await record_state(e2e) == before
