"""`/talks`: the latest and next rounds; `/talks new` and the round form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.render.ids import Callback, Field
from storage.models import Delegation, TalksRound
from tests.support.bots import RunningBot
from tests.support.checks import (
    answer,
    assert_valid_message,
    audit_count,
    block_text,
    confirmation,
    input_block_ids,
    rows,
)
from tests.support.people import LEAD, MEMBER

DELEGATIONS = "United States | Scott Bessent | Treasury Secretary\nChina | He Lifeng | Vice Premier"


async def test_talks_shows_the_stockholm_round_in_progress_with_delegations(
    bot: RunningBot,
) -> None:
    body = answer(await bot.command("/talks", user=MEMBER))
    text = block_text(body)
    assert body["response_type"] == "ephemeral"
    assert "US–China economic and trade talks, Stockholm" in text
    assert "Rosenbad" in text
    assert "_in progress_" in text
    assert "United States: Scott Bessent, Treasury Secretary" in text
    assert "China: He Lifeng, Vice Premier" in text
    assert "No next round is scheduled yet." in text
    assert "parley.open_round_form" not in str(body["blocks"])
    assert_valid_message(body)


async def test_talks_offers_leads_the_add_round_button(bot: RunningBot) -> None:
    body = answer(await bot.command("/talks", user=LEAD))
    assert "parley.open_round_form" in str(body["blocks"])
    assert "parley.edit_round" in str(body["blocks"])


async def test_talks_public_answers_in_channel_without_lead_buttons(bot: RunningBot) -> None:
    body = answer(await bot.command("/talks", "public", user=LEAD))
    assert body["response_type"] == "in_channel"
    assert "parley.open_round_form" not in str(body["blocks"])


async def test_talks_unknown_subcommand_gets_usage(bot: RunningBot) -> None:
    body = answer(await bot.command("/talks", "tomorrow"))
    assert "I did not understand `/talks tomorrow`" in body["text"]


async def test_talks_new_by_member_is_refused_without_a_modal(bot: RunningBot) -> None:
    body = answer(await bot.command("/talks", "new", user=MEMBER))
    assert "Only a desk lead" in body["text"]
    assert bot.standin.calls_to("views.open") == []


async def test_talks_new_form_adds_a_round_with_delegations(bot: RunningBot) -> None:
    response = await bot.command("/talks", "new", user=LEAD)
    assert response.status_code == 200
    view = await bot.opened_view()
    assert view["callback_id"] == Callback.round_form
    assert {Field.headline, Field.starts, Field.delegations, Field.status} <= input_block_ids(view)
    audits = await audit_count(bot)

    response = await bot.submit_view(
        view,
        {
            Field.headline: "US–China trade talks, Madrid",
            Field.place: "Palacio de Santa Cruz, Madrid",
            Field.starts: "2025-09-14 10:00 Europe/Madrid",
            Field.ends: "2025-09-15 18:00",
            Field.status: "scheduled",
            Field.delegations: DELEGATIONS,
            Field.track: "us-china",
        },
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == ""

    (talks,) = await rows(bot, TalksRound, TalksRound.title == "US–China trade talks, Madrid")
    assert talks.starts_at == datetime(2025, 9, 14, 8, 0, tzinfo=UTC)
    assert talks.zone == "Europe/Madrid"
    people = await rows(bot, Delegation, Delegation.round_id == talks.id)
    assert sorted((d.party, d.lead_name, d.lead_title) for d in people) == [
        ("China", "He Lifeng", "Vice Premier"),
        ("United States", "Scott Bessent", "Treasury Secretary"),
    ]
    assert await audit_count(bot) == audits + 1
    call = await confirmation(bot)
    assert "US–China trade talks, Madrid" in call.args["text"] and "added" in call.args["text"]

    text = block_text(answer(await bot.command("/talks")))
    next_part = text[text.index("Next talks") :]
    assert "US–China trade talks, Madrid" in next_part
    assert "Sun 14 Sep 2025 10:00 CEST" in next_part


async def test_round_form_with_a_bad_delegation_line_is_an_inline_error(
    bot: RunningBot,
) -> None:
    await bot.command("/talks", "new", user=LEAD)
    view = await bot.opened_view()
    body = answer(
        await bot.submit_view(
            view,
            {
                Field.headline: "Madrid round",
                Field.starts: "2025-09-14 10:00 Europe/Madrid",
                Field.delegations: "United States",
            },
            user=LEAD,
        )
    )
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.delegations]
    assert "party | lead | title" in body["errors"][Field.delegations]
    assert await rows(bot, TalksRound, TalksRound.title == "Madrid round") == []


async def test_round_form_with_an_unreadable_start_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/talks", "new", user=LEAD)
    view = await bot.opened_view()
    body = answer(
        await bot.submit_view(
            view, {Field.headline: "Madrid round", Field.starts: "after summer"}, user=LEAD
        )
    )
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.starts]
    assert await rows(bot, TalksRound, TalksRound.title == "Madrid round") == []


async def test_talks_edit_opens_the_round_filled_in(bot: RunningBot) -> None:
    (stockholm,) = await rows(bot, TalksRound, TalksRound.place.contains("Rosenbad"))
    await bot.command("/talks", f"edit {stockholm.id}", user=LEAD)
    view = await bot.opened_view()
    delegations = next(b for b in view["blocks"] if b.get("block_id") == Field.delegations)
    assert "Scott Bessent" in delegations["element"]["initial_value"]


def status_field(view: dict[str, Any]) -> dict[str, Any]:
    block = next(b for b in view["blocks"] if b.get("block_id") == Field.status)
    element = block["element"]
    assert isinstance(element, dict)
    return element


async def test_the_round_forms_status_offers_only_what_a_lead_settles(bot: RunningBot) -> None:
    """Scheduled, in progress and concluded follow the times (SPEC §3): the form offers
    "by its times", concluded and cancelled, and shows a round by its times as such."""
    (stockholm,) = await rows(bot, TalksRound, TalksRound.place.contains("Rosenbad"))
    await bot.command("/talks", f"edit {stockholm.id}", user=LEAD)
    status = status_field(await bot.opened_view())
    assert [o["value"] for o in status["options"]] == ["scheduled", "concluded", "cancelled"]
    assert status["options"][0]["text"]["text"].startswith("by its times")
    assert status["initial_option"]["value"] == "scheduled"  # stored "in progress"


@pytest.mark.parametrize(
    ("chosen", "at", "shown"),
    [
        ("scheduled", datetime(2025, 9, 1, 9, tzinfo=UTC), "scheduled"),
        ("scheduled", datetime(2025, 9, 2, 9, tzinfo=UTC), "in progress"),
        ("scheduled", datetime(2025, 9, 5, 9, tzinfo=UTC), "concluded"),
        ("concluded", datetime(2025, 9, 2, 9, tzinfo=UTC), "concluded"),
        ("cancelled", datetime(2025, 9, 2, 9, tzinfo=UTC), "cancelled"),
    ],
)
async def test_a_rounds_status_is_its_times_unless_settled_by_hand(
    bot: RunningBot, chosen: str, at: datetime, shown: str
) -> None:
    await bot.command("/talks", "new", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(
        view,
        {
            Field.headline: "Madrid round",
            Field.place: "Madrid",
            Field.starts: "2025-09-02 00:00 Europe/Madrid",
            Field.ends: "2025-09-03 18:00 Europe/Madrid",
            Field.status: chosen,
        },
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == "", response.text
    bot.clock.set(at)
    text = block_text(answer(await bot.command("/talks", user=MEMBER)))
    lines = [ln for ln in text.splitlines() if "Madrid" in ln and "·" in ln and "CEST" in ln]
    if shown == "cancelled":  # neither the latest nor the next round
        assert lines == [], text
    else:
        assert lines[0].endswith(f"_{shown}_"), lines
    (madrid,) = await rows(bot, TalksRound, TalksRound.title == "Madrid round")
    await bot.command("/talks", f"edit {madrid.id}", user=LEAD)
    assert status_field(await bot.opened_view())["initial_option"]["value"] == chosen


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({Field.ends: "2025-07-30 18:00 Europe/Stockholm"}, "(end)"),
        ({Field.place: "Harpsund", Field.outcome: "Agreed to extend talks"}, "(place, outcome)"),
        ({Field.status: "cancelled"}, ""),
    ],
)
async def test_a_round_edit_names_what_it_changed(
    bot: RunningBot, values: dict[str, str], said: str
) -> None:
    (stockholm,) = await rows(bot, TalksRound, TalksRound.place.contains("Rosenbad"))
    await bot.command("/talks", f"edit {stockholm.id}", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(view, values, user=LEAD)
    assert response.status_code == 200 and response.text == "", response.text
    text = block_text(answer(await bot.command("/desk", "history 1", user=MEMBER)))
    line = text.splitlines()[1]
    title = "“US–China economic and trade talks, Stockholm”"
    if said:
        assert line.endswith(f"updated talks round #{stockholm.id} {title} {said}"), line
    else:
        assert line.endswith(f"set talks round #{stockholm.id} {title} cancelled"), line


async def test_a_round_set_back_to_its_times_says_so(bot: RunningBot) -> None:
    (stockholm,) = await rows(bot, TalksRound, TalksRound.place.contains("Rosenbad"))
    for status in ("concluded", "scheduled"):
        await bot.command("/talks", f"edit {stockholm.id}", user=LEAD)
        view = await bot.opened_view()
        await bot.submit_view(view, {Field.status: status}, user=LEAD)
    text = block_text(answer(await bot.command("/desk", "history 2", user=MEMBER)))
    title = f"talks round #{stockholm.id} “US–China economic and trade talks, Stockholm”"
    assert text.splitlines()[1].endswith(f"set {title} to follow its times")
    assert text.splitlines()[2].endswith(f"set {title} concluded")


async def test_a_round_form_sent_unchanged_is_refused_not_audited(bot: RunningBot) -> None:
    """The seeded round is stored "in progress"; its form offers "by its times": sent as
    it opened, nothing changed, and nothing is recorded."""
    (stockholm,) = await rows(bot, TalksRound, TalksRound.place.contains("Rosenbad"))
    await bot.command("/talks", f"edit {stockholm.id}", user=LEAD)
    view = await bot.opened_view()
    audits = await audit_count(bot)
    body = answer(await bot.submit_view(view, {}, user=LEAD))
    assert body["response_action"] == "errors"
    (said,) = body["errors"].values()
    assert said == (
        f"Nothing changed: talks round #{stockholm.id} is as it was. "
        "Change a field, or close the form."
    )
    assert await audit_count(bot) == audits
