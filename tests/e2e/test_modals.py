"""Every lead form, over HTTP on both databases: it opens, a bad value is an inline error
that writes nothing, and a good submission writes its row and audit entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.render.ids import Callback, Field
from storage.models import Deadline, Event, Sensitivity, TalksRound, TruceExtension
from tests.support.bots import RunningBot
from tests.support.checks import answer, audit_count, rows
from tests.support.people import LEAD


@dataclass(frozen=True)
class Form:
    command: str
    text: str
    callback: Callback
    bad: dict[str, Any]
    bad_field: Field
    good: dict[str, Any]
    written: Any  # the model a good submission adds a row to


FORMS = {
    "event": Form(
        "/desk",
        "event",
        Callback.event_form,
        {Field.headline: "Taiwan news", Field.when: "later"},
        Field.when,
        {Field.headline: "E2E event"},
        Event,
    ),
    "deadline": Form(
        "/deadline",
        "new",
        Callback.deadline_form,
        {Field.headline: "Review", Field.due: "soonish"},
        Field.due,
        {Field.headline: "E2E deadline", Field.due: "+3d"},
        Deadline,
    ),
    "truce": Form(
        "/truce",
        "edit",
        Callback.truce_form,
        {Field.expiry: "soonish"},
        Field.expiry,
        {Field.expiry: "+90d"},
        TruceExtension,
    ),
    "round": Form(
        "/talks",
        "new",
        Callback.round_form,
        {Field.headline: "Madrid round", Field.starts: "after summer"},
        Field.starts,
        {Field.headline: "E2E round", Field.starts: "2025-09-14 10:00 Europe/Madrid"},
        TalksRound,
    ),
    "sensitivity": Form(
        "/watch",
        "new",
        Callback.sensitivity_form,
        {Field.name: "Taiwan"},  # taken
        Field.name,
        {Field.name: "E2E topic", Field.level: "critical"},
        Sensitivity,
    ),
}


@pytest.mark.parametrize("name", sorted(FORMS))
async def test_form_opens_refuses_a_bad_value_inline_and_saves_a_good_one(
    e2e: RunningBot, name: str
) -> None:
    form = FORMS[name]
    assert (await e2e.command(form.command, form.text, user=LEAD)).status_code == 200
    view = await e2e.opened_view()
    assert view["callback_id"] == form.callback

    audits, count = await audit_count(e2e), len(await rows(e2e, form.written))
    refused = answer(await e2e.submit_view(view, form.bad, user=LEAD))
    assert refused["response_action"] == "errors"
    assert list(refused["errors"]) == [form.bad_field]
    assert (await audit_count(e2e), len(await rows(e2e, form.written))) == (audits, count)

    saved = await e2e.submit_view(view, form.good, user=LEAD)
    assert saved.status_code == 200 and saved.text == "", saved.text
    assert len(await rows(e2e, form.written)) == count + 1
    assert await audit_count(e2e) > audits
    confirmation = await e2e.reply("chat.postEphemeral")
    assert confirmation.args["user"] == LEAD
