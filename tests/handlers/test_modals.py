"""Lead forms and buttons: roles re-checked on every submission and click.

A member never changes the record, whatever request reaches the bot: a crafted
`view_submission` gets an inline error, a lead button a clear ephemeral reply.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.render.ids import Action, Callback, Field
from handlers import forms
from storage.models import (
    Deadline,
    DeadlineStatus,
    Event,
    Sensitivity,
    TalksRound,
    TruceExtension,
)
from tests.support.bots import RunningBot
from tests.support.checks import answer, audit_count, input_block_ids, response_url_reply, rows
from tests.support.people import ADMIN, CHANNEL, LEAD, MEMBER

STOCKHOLM_ROUND = 3
TAIWAN = 1
TRUCE = 1
TRUCE_EXPIRY_DEADLINE = 1

# (form, item id, values a lead may submit)
FORMS: dict[str, tuple[Callback, int | None, dict[str, Any]]] = {
    "event": (Callback.event_form, None, {Field.headline: "Crafted event"}),
    "deadline-new": (
        Callback.deadline_form,
        None,
        {Field.headline: "Crafted deadline", Field.due: "+3d"},
    ),
    "deadline-edit": (
        Callback.deadline_form,
        TRUCE_EXPIRY_DEADLINE,
        {Field.headline: "Crafted title", Field.due: "2025-12-01 00:00 UTC"},
    ),
    "truce": (Callback.truce_form, TRUCE, {Field.expiry: "+90d"}),
    "round-new": (
        Callback.round_form,
        None,
        {Field.headline: "Crafted round", Field.starts: "2025-09-14 10:00 Europe/Madrid"},
    ),
    "round-edit": (Callback.round_form, STOCKHOLM_ROUND, {Field.headline: "Crafted round"}),
    "sensitivity-new": (
        Callback.sensitivity_form,
        None,
        {Field.name: "Crafted topic", Field.level: "critical"},
    ),
    "sensitivity-edit": (Callback.sensitivity_form, TAIWAN, {Field.level: "low"}),
}


async def build_view(bot: RunningBot, callback: Callback, item_id: int | None) -> dict[str, Any]:
    """The view the bot would open for a lead, built with the product's own forms."""
    async with bot.db.session() as session:
        if callback == Callback.event_form:
            view = await forms.event_form(session, channel_id=CHANNEL, track=None)
        elif callback == Callback.deadline_form:
            view = await forms.deadline_form(
                session,
                channel_id=CHANNEL,
                deadline_id=item_id,
                track=None,
                default_offsets=bot.settings.countdown_offsets,
            )
        elif callback == Callback.truce_form:
            assert item_id is not None
            view = await forms.truce_form(session, channel_id=CHANNEL, truce_id=item_id)
        elif callback == Callback.round_form:
            view = await forms.round_form(session, channel_id=CHANNEL, round_id=item_id, track=None)
        else:
            view = await forms.sensitivity_form(session, channel_id=CHANNEL, sensitivity_id=item_id)
    return {**view.to_dict(), "id": "V0CRAFTED", "team_id": "T0LOCAL"}


async def record_state(bot: RunningBot) -> dict[str, Any]:
    """What a submission could change, in a comparable form."""
    return {
        "audit": await audit_count(bot),
        "deadlines": sorted((d.id, d.title, d.due_at, d.status) for d in await rows(bot, Deadline)),
        "events": len(await rows(bot, Event)),
        "extensions": len(await rows(bot, TruceExtension)),
        "rounds": sorted((r.id, r.title) for r in await rows(bot, TalksRound)),
        "sensitivities": sorted((s.id, s.name, s.level) for s in await rows(bot, Sensitivity)),
    }


async def test_the_seeded_ids_these_tests_rely_on(bot: RunningBot) -> None:
    (stockholm,) = await rows(bot, TalksRound, TalksRound.id == STOCKHOLM_ROUND)
    assert "Stockholm" in stockholm.title
    (taiwan,) = await rows(bot, Sensitivity, Sensitivity.id == TAIWAN)
    assert taiwan.name == "Taiwan"
    (expiry,) = await rows(bot, Deadline, Deadline.id == TRUCE_EXPIRY_DEADLINE)
    assert expiry.truce_id == TRUCE


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_member_crafted_submission_is_refused_inline_and_changes_nothing(
    bot: RunningBot, form: str
) -> None:
    callback, item_id, values = FORMS[form]
    view = await build_view(bot, callback, item_id)
    before = await record_state(bot)

    body = answer(await bot.submit_view(view, values, user=MEMBER))

    assert body["response_action"] == "errors"
    ((block_id, message),) = body["errors"].items()
    assert block_id in input_block_ids(view)
    assert "Only a desk lead can change the record" in message
    assert await record_state(bot) == before
    assert bot.standin.calls_to("chat.postEphemeral") == []
    assert bot.standin.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("form", sorted(FORMS))
async def test_the_same_submission_by_a_lead_is_saved(bot: RunningBot, form: str) -> None:
    callback, item_id, values = FORMS[form]
    view = await build_view(bot, callback, item_id)
    audits = await audit_count(bot)

    response = await bot.submit_view(view, values, user=LEAD)

    assert response.status_code == 200 and response.text == "", response.text
    assert await audit_count(bot) > audits
    call = await bot.reply("chat.postEphemeral")
    assert call.args["user"] == LEAD and call.args["channel"] == CHANNEL


async def test_member_reusing_a_modal_an_admin_opened_is_refused(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=ADMIN)
    view = await bot.opened_view()
    before = await record_state(bot)
    body = answer(
        await bot.submit_view(view, {Field.headline: "Sneaky", Field.due: "+3d"}, user=MEMBER)
    )
    assert body["response_action"] == "errors"
    assert "Only a desk lead" in body["errors"][Field.headline]
    assert await record_state(bot) == before


async def test_submission_with_damaged_metadata_is_an_inline_error(bot: RunningBot) -> None:
    view = await build_view(bot, Callback.truce_form, TRUCE)
    view["private_metadata"] = "not json"
    before = await record_state(bot)
    body = answer(await bot.submit_view(view, {Field.expiry: "+90d"}, user=LEAD))
    assert body["response_action"] == "errors"
    assert "damaged" in body["errors"][Field.expiry]
    assert await record_state(bot) == before


LEAD_BUTTONS: list[tuple[Action, str, Callback | None]] = [
    (Action.open_event_form, "", Callback.event_form),
    (Action.open_deadline_form, "", Callback.deadline_form),
    (Action.edit_deadline, str(TRUCE_EXPIRY_DEADLINE), Callback.deadline_form),
    (Action.open_truce_form, str(TRUCE), Callback.truce_form),
    (Action.open_round_form, "", Callback.round_form),
    (Action.edit_round, str(STOCKHOLM_ROUND), Callback.round_form),
    (Action.open_sensitivity_form, "", Callback.sensitivity_form),
    (Action.edit_sensitivity, str(TAIWAN), Callback.sensitivity_form),
    (Action.mark_deadline_met, str(TRUCE_EXPIRY_DEADLINE), None),
    (Action.confirm_deadline_met, str(TRUCE_EXPIRY_DEADLINE), None),  # a forged confirmation
    (Action.reopen_deadline, str(TRUCE_EXPIRY_DEADLINE), None),
    (Action.add_item, "1", None),  # a news proposal's buttons
    (Action.dismiss_item, "1", None),
    (Action.mute_item, "1", None),
]


def test_every_lead_button_is_covered() -> None:
    covered = {action for action, _, _ in LEAD_BUTTONS}
    assert covered == set(Action) - {Action.input}


@pytest.mark.parametrize(("action", "value", "callback"), LEAD_BUTTONS)
async def test_member_clicking_a_lead_button_gets_a_clear_ephemeral_refusal(
    bot: RunningBot, action: Action, value: str, callback: Callback | None
) -> None:
    before = await record_state(bot)
    response = await bot.click(action, value, user=MEMBER)
    assert response.status_code == 200

    reply = await response_url_reply(bot)
    assert reply["response_type"] == "ephemeral"
    assert "Only a desk lead can change the record" in reply["text"]
    assert str(reply.get("replace_original")).lower() == "false"
    assert bot.standin.calls_to("views.open") == []
    assert await record_state(bot) == before


@pytest.mark.parametrize(
    ("action", "value", "callback"), [b for b in LEAD_BUTTONS if b[2] is not None]
)
async def test_lead_clicking_a_form_button_gets_the_form(
    bot: RunningBot, action: Action, value: str, callback: Callback
) -> None:
    response = await bot.click(action, value, user=LEAD)
    assert response.status_code == 200
    view = await bot.opened_view()
    assert view["callback_id"] == callback
    assert bot.standin.calls_to("response_url") == []


async def test_lead_clicking_mark_met_marks_the_deadline_and_says_so(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Test | +3d", user=LEAD))
    (deadline,) = await rows(bot, Deadline, Deadline.title == "Test")
    response = await bot.click(Action.mark_deadline_met, str(deadline.id), user=LEAD)
    assert response.status_code == 200
    reply = await response_url_reply(bot)
    assert reply["response_type"] == "ephemeral"
    assert f"Deadline #{deadline.id} “{deadline.title}” is now met" in reply["text"]
    (after,) = await rows(bot, Deadline, Deadline.title == "Test")
    assert after.status == DeadlineStatus.met


async def test_mark_met_button_without_a_deadline_says_so(bot: RunningBot) -> None:
    response = await bot.click(Action.mark_deadline_met, "", user=LEAD)
    assert response.status_code == 200
    reply = await response_url_reply(bot)
    assert "names no deadline" in reply["text"]


# A line of a "one per line" field with more parts than the item has: refused inline,
# never read with the extra parts dropped (`A | B | C; D | E | F` is two delegations).
TOO_MANY_PARTS = [
    (
        Callback.round_form,
        STOCKHOLM_ROUND,
        Field.delegations,
        "United States | Scott Bessent | Treasury Secretary; China | He Lifeng | Vice Premier",
        "delegation",
    ),
    (Callback.round_form, STOCKHOLM_ROUND, Field.delegations, "A | B | C | D", "delegation"),
    (
        Callback.truce_form,
        TRUCE,
        Field.terms,
        "United States | tariff | 30% | China; China | tariff | 10% | United States",
        "term",
    ),
    (Callback.truce_form, TRUCE, Field.terms, "A | B | C | D | E", "term"),
]


@pytest.mark.parametrize(("callback", "item_id", "field", "typed", "item"), TOO_MANY_PARTS)
async def test_a_line_with_more_parts_than_its_item_is_refused_inline(
    bot: RunningBot, callback: Callback, item_id: int, field: Field, typed: str, item: str
) -> None:
    view = await build_view(bot, callback, item_id)
    before = await record_state(bot)

    body = answer(await bot.submit_view(view, {field: typed}, user=LEAD))

    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [field]
    message = body["errors"][field]
    assert f"more parts than a {item}" in message and "a line of its own" in message
    assert await record_state(bot) == before


@pytest.mark.parametrize(
    ("callback", "item_id", "field", "typed"),
    [
        (Callback.round_form, STOCKHOLM_ROUND, Field.delegations, "A | B | C\nD | E | F"),
        (Callback.round_form, STOCKHOLM_ROUND, Field.delegations, "A | B"),
        (Callback.truce_form, TRUCE, Field.terms, "A | B | 30% | D\nD | E | 10% | A"),
    ],
)
async def test_items_within_their_parts_are_saved(
    bot: RunningBot, callback: Callback, item_id: int, field: Field, typed: str
) -> None:
    view = await build_view(bot, callback, item_id)
    audits = await audit_count(bot)

    response = await bot.submit_view(view, {field: typed}, user=LEAD)

    assert response.status_code == 200 and response.text == "", response.text
    assert await audit_count(bot) > audits


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("not a url", False),
        ("javascript:alert(1)", False),
        ("ftp://example.org/file", False),
        ("https://", False),
        ("https://www.reuters.com/a b", False),
        ("www.reuters.com/world", False),
        ("https://www.reuters.com/world/china/", True),
        ("http://example.org", True),
        ("", True),
    ],
)
async def test_the_event_forms_source_url_must_be_a_web_address(
    bot: RunningBot, typed: str, kept: bool
) -> None:
    """Refused at its own field with what to type, and nothing is added; a web address or
    nothing is kept."""
    from storage.models import Event

    await bot.command("/desk", "event", user=LEAD)
    view = await bot.opened_view()
    before = len(await rows(bot, Event))
    values = {Field.headline: "Curbs on precursors", Field.source_url: typed}
    response = await bot.submit_view(view, values, user=LEAD)
    if kept:
        assert response.status_code == 200 and response.text == "", response.text
        assert len(await rows(bot, Event)) == before + 1
        return
    body = response.json()
    assert body["response_action"] == "errors"
    assert (
        "must be a web address starting with http:// or https://"
        in body["errors"][Field.source_url]
    )
    assert len(await rows(bot, Event)) == before
