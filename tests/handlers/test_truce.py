"""`/truce`: the active truce, `extend`, `edit` and the truce form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.render.ids import Callback, Field
from storage.models import AuditEntry, Deadline, TruceExtension, TruceTerm
from tests.support.bots import RunningBot
from tests.support.checks import (
    answer,
    assert_valid_message,
    audit_count,
    block_text,
    confirmation,
    input_block_ids,
    rows,
    shown,
)
from tests.support.people import LEAD, MEMBER

SEEDED_EXPIRY = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)  # 00:01 EDT
EXTENDED_EXPIRY = datetime(2025, 11, 10, 5, 1, tzinfo=UTC)  # 00:01 EST, 90 days later


async def expiry_deadline(bot: RunningBot) -> Deadline:
    (deadline,) = await rows(bot, Deadline, Deadline.truce_id == 1)
    return deadline


async def test_truce_shows_parties_terms_expiry_time_left_and_reader_date(
    bot: RunningBot,
) -> None:
    body = answer(await bot.command("/truce", user=MEMBER))
    text = block_text(body)
    assert body["response_type"] == "ephemeral"
    assert "US–China tariff truce (Geneva, 90 days)" in text
    assert "United States · China" in text
    assert "United States → China: additional tariff on Chinese goods, 30%" in text
    assert "China → United States: additional tariff on US goods, 10%" in text
    assert "Tue 12 Aug 2025 00:01 EDT" in text
    assert "13 days 19 hours" in text
    assert f"<!date^{int(SEEDED_EXPIRY.timestamp())}^" in text
    assert "No extension recorded" in text
    assert_valid_message(body)


async def test_truce_public_answers_in_channel(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", "public", user=MEMBER))
    assert body["response_type"] == "in_channel"
    assert "Tue 12 Aug 2025 00:01 EDT" in block_text(body)


async def test_truce_shows_the_edit_button_to_leads_only(bot: RunningBot) -> None:
    lead = answer(await bot.command("/truce", user=LEAD))
    member = answer(await bot.command("/truce", user=MEMBER))
    assert "parley.open_truce_form" in str(lead["blocks"])
    assert "parley.open_truce_form" not in str(member["blocks"])


async def test_truce_with_track_handle_shows_that_tracks_truce(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", "us-china"))
    assert "Tue 12 Aug 2025 00:01 EDT" in block_text(body)
    assert "13 days 19 hours" in block_text(body)


async def test_truce_for_a_track_without_truce_says_so(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", "us-eu"))
    assert body["text"] == "No active truce is on record for us-eu."
    assert body["response_type"] == "ephemeral"


async def test_truce_unknown_subcommand_gets_usage(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", "nonsense"))
    assert body["response_type"] == "ephemeral"
    assert "I did not understand `/truce nonsense`" in body["text"]
    assert "Usage:" in body["text"] and "extend" in body["text"]


async def test_lead_extends_truce_by_90_days_from_current_expiry(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/truce", "extend +90d", user=LEAD))

    assert body["response_type"] == "in_channel"
    text = shown(body)
    assert "Mon 10 Nov 2025 00:01 EST" in text
    assert "<@ULEAD001>" in text
    assert f"<!date^{int(EXTENDED_EXPIRY.timestamp())}^" in text
    assert_valid_message(body)

    assert await audit_count(bot) == audits + 1
    (entry,) = await rows(bot, AuditEntry, AuditEntry.actor == LEAD)
    assert entry.entity == "truce"
    (extension,) = await rows(bot, TruceExtension)
    assert extension.from_at == SEEDED_EXPIRY
    assert extension.to_at == EXTENDED_EXPIRY
    assert extension.decided_by == LEAD
    assert (await expiry_deadline(bot)).due_at == EXTENDED_EXPIRY

    after = block_text(answer(await bot.command("/truce", user=MEMBER)))
    assert "Mon 10 Nov 2025 00:01 EST" in after
    assert "Extensions" in after and "No extension recorded" not in after


async def test_extend_to_an_absolute_time_records_the_note(bot: RunningBot) -> None:
    body = answer(
        await bot.command(
            "/truce", "extend 2025-11-10 00:01 America/New_York | agreed in Stockholm", user=LEAD
        )
    )
    assert "Mon 10 Nov 2025 00:01 EST" in shown(body)
    assert "agreed in Stockholm" in shown(body)
    (extension,) = await rows(bot, TruceExtension)
    assert extension.to_at == EXTENDED_EXPIRY
    assert extension.note == "agreed in Stockholm"


async def test_member_cannot_extend_truce_and_nothing_is_written(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/truce", "extend +90d", user=MEMBER))
    assert body["response_type"] == "ephemeral"
    assert "Only a desk lead can change the record" in body["text"]
    assert await audit_count(bot) == audits
    assert await rows(bot, TruceExtension) == []
    assert (await expiry_deadline(bot)).due_at == SEEDED_EXPIRY


async def test_extend_with_unreadable_time_explains_with_an_example(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/truce", "extend soonish", user=LEAD))
    assert body["response_type"] == "ephemeral"
    assert 'Could not read "soonish" as a time' in body["text"]
    assert "+90d" in body["text"] and "2025-08-12 00:01 America/New_York" in body["text"]
    assert await audit_count(bot) == audits
    assert await rows(bot, TruceExtension) == []


async def test_extend_without_a_time_says_what_to_write(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", "extend", user=LEAD))
    assert "/truce extend +90d" in body["text"]
    assert await rows(bot, TruceExtension) == []


async def test_extend_into_the_past_is_refused(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", "extend 2025-07-01 00:00 UTC", user=LEAD))
    assert "already past" in body["text"]
    assert await rows(bot, TruceExtension) == []


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("Aug 1 10:00", "Fri 1 Aug 2025 10:00 Europe/Stockholm"),
        # the desk's zone, and the expiry's beside it: 12 hours short, not one minute
        (
            "12 Aug",
            "Tue 12 Aug 2025 00:00 Europe/Stockholm (Mon 11 Aug 2025 18:00 America/New_York) ",
        ),
        ("in 3 days", "Fri 1 Aug 2025 05:00 America/New_York"),  # the expiry's zone
        ("Friday", None),
        ("2025-08-11 23:00 America/New_York", "Mon 11 Aug 2025 23:00 America/New_York"),
        ("Aug 12 00:00 EDT", "Tue 12 Aug 2025 00:00 America/New_York"),
    ],
)
async def test_extend_to_before_the_current_expiry_is_refused(
    bot: RunningBot, typed: str, read: str | None
) -> None:
    """An extension ends later: a time before the expiry (a typo, a date without its zone)
    would take days off a live truce and be recorded as an extension."""
    audits = await audit_count(bot)
    body = answer(await bot.command("/truce", f"extend {typed}", user=LEAD))
    assert body["response_type"] == "ephemeral"
    text = body["text"]
    assert "is before the current expiry, Tue 12 Aug 2025 00:01 America/New_York:" in text, text
    assert "`/deadline edit 1`" in text
    if read is not None:
        assert text.startswith(read), text
    assert await rows(bot, TruceExtension) == []
    assert await audit_count(bot) == audits
    (expiry,) = await rows(bot, Deadline, Deadline.truce_id.is_not(None))  # type: ignore[union-attr]
    assert expiry.due_at == SEEDED_EXPIRY


async def test_truce_edit_opens_the_truce_form_for_a_lead(bot: RunningBot) -> None:
    response = await bot.command("/truce", "edit", user=LEAD)
    assert response.status_code == 200
    view = await bot.opened_view()
    assert view["callback_id"] == Callback.truce_form
    assert input_block_ids(view) == {Field.expiry, Field.terms, Field.source, Field.note}
    terms = next(b for b in view["blocks"] if b.get("block_id") == Field.terms)
    assert "30%" in terms["element"]["initial_value"]


async def test_truce_edit_by_member_is_refused_without_a_modal(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", "edit", user=MEMBER))
    assert "Only a desk lead" in body["text"]
    assert bot.standin.calls_to("views.open") == []


async def submit_truce_form(bot: RunningBot, values: dict[str, str]) -> Any:
    """Opens the truce form as the lead and sends it with `values`; the HTTP response."""
    await bot.command("/truce", "edit", user=LEAD)
    return await bot.submit_view(await bot.opened_view(), values, user=LEAD)


async def test_truce_form_submission_changes_terms_and_extends(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    response = await submit_truce_form(
        bot,
        {
            Field.terms: "United States | additional tariff on Chinese goods | 20% | China",
            Field.expiry: "+90d",
            Field.source: "Stockholm readout",
        },
    )
    assert response.status_code == 200
    assert response.text == ""  # the modal closes

    call = await confirmation(bot)
    assert call.args["user"] == LEAD
    assert "terms updated" in call.args["text"]
    assert "Mon 10 Nov 2025 00:01 EST" in call.args["text"]

    terms = await rows(bot, TruceTerm)
    assert [(t.party, t.rate) for t in terms] == [("United States", "20%")]
    (extension,) = await rows(bot, TruceExtension)
    assert extension.source == "Stockholm readout"
    assert await audit_count(bot) == audits + 2
    assert ", 20%" in block_text(answer(await bot.command("/truce")))


async def test_truce_form_with_an_earlier_expiry_is_an_inline_error(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    response = await submit_truce_form(
        bot,
        {
            Field.terms: "United States | additional tariff on Chinese goods | 20% | China",
            Field.expiry: "2025-08-10 12:00 America/New_York",
        },
    )
    body = response.json()
    assert body["response_action"] == "errors" and list(body["errors"]) == [Field.expiry]
    assert body["errors"][Field.expiry].startswith(
        "Sun 10 Aug 2025 12:00 America/New_York is before the current expiry"
    )
    assert await audit_count(bot) == audits  # the terms are not changed either
    assert [t.rate for t in await rows(bot, TruceTerm)][0] == "30%"


async def test_truce_form_bad_terms_line_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/truce", "edit", user=LEAD)
    view = await bot.opened_view()
    audits = await audit_count(bot)
    response = await bot.submit_view(view, {Field.terms: "just a party, no measure"}, user=LEAD)
    body = answer(response)
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.terms]
    assert "party | measure | rate | target" in body["errors"][Field.terms]
    assert await audit_count(bot) == audits
    assert len(await rows(bot, TruceTerm)) == 2
    assert bot.standin.calls_to("chat.postEphemeral") == []


async def test_truce_form_with_nothing_changed_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/truce", "edit", user=LEAD)
    view = await bot.opened_view()
    body = answer(await bot.submit_view(view, {}, user=LEAD))
    assert body["response_action"] == "errors"
    assert "Nothing changed" in body["errors"][Field.expiry]


async def test_truce_form_bad_expiry_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/truce", "edit", user=LEAD)
    view = await bot.opened_view()
    body = answer(await bot.submit_view(view, {Field.expiry: "soonish"}, user=LEAD))
    assert body["response_action"] == "errors"
    assert 'Could not read "soonish"' in body["errors"][Field.expiry]
    assert await rows(bot, TruceExtension) == []


async def test_truce_form_with_bad_expiry_leaves_the_terms_unchanged(bot: RunningBot) -> None:
    await bot.command("/truce", "edit", user=LEAD)
    view = await bot.opened_view()
    audits = await audit_count(bot)
    body = answer(
        await bot.submit_view(
            view,
            {
                Field.terms: "United States | additional tariff on Chinese goods | 20% | China",
                Field.expiry: "soonish",
            },
            user=LEAD,
        )
    )
    assert body["response_action"] == "errors"
    assert Field.expiry in body["errors"]
    assert len(await rows(bot, TruceTerm)) == 2
    assert await audit_count(bot) == audits


@pytest.mark.parametrize("command", ["/truce", "/deadline", "/talks"])
@pytest.mark.parametrize("word", ["nope", "us-chin", "china"])
async def test_one_unknown_word_names_the_tracks(bot: RunningBot, command: str, word: str) -> None:
    body = answer(await bot.command(command, word, user=MEMBER))
    assert body["text"].startswith(
        f"I did not understand `{command} {word}`. No track has the handle “{word}”; "
        "the tracks: us-china, us-eu, us-japan.\nUsage: "
    ), body["text"]


async def test_extend_on_a_track_without_a_truce_names_the_track(bot: RunningBot) -> None:
    for typed in ("us-eu extend +90d", "us-japan extend 90 days"):
        body = answer(await bot.command("/truce", typed, user=LEAD))
        track = typed.split()[0]
        assert body["text"] == f"There is no active or lapsed truce to extend on {track}."
    assert await rows(bot, TruceExtension) == []


US_TERM = "United States | additional tariff on Chinese goods | 30% | China"
CN_TERM = "China | additional tariff on US goods | 10% | United States"


@pytest.mark.parametrize(
    ("terms", "said"),
    [
        (
            f"United States | additional tariff on Chinese goods | 20% | China\n{CN_TERM}",
            ": United States → China: additional tariff on Chinese goods 30% → 20%",
        ),
        (
            f"{US_TERM}\n{CN_TERM}\nChina | rare-earth export licences | suspended | United States",
            ": added China → United States: rare-earth export licences, suspended",
        ),
        (US_TERM, ": removed China → United States: additional tariff on US goods, 10%"),
        (
            "United States | additional tariff on Chinese goods | 20% | China\n"
            "China | additional tariff on US goods | 5% | United States\n"
            "China | rare-earth export licences | suspended | United States\n"
            "United States | chip export curbs | eased | China",
            ": United States → China: additional tariff on Chinese goods 30% → 20%; China → "
            "United States: additional tariff on US goods 10% → 5%; added China → United States: "
            "rare-earth export licences, suspended; 1 more change",
        ),
    ],
)
async def test_a_terms_edit_is_told_term_by_term(bot: RunningBot, terms: str, said: str) -> None:
    """History and the digest say what a terms edit changed ("30% → 20%"), with the form's
    source and note, not "(3 terms)"."""
    values = {Field.terms: terms, Field.source: "Stockholm readout", Field.note: "in principle"}
    response = await submit_truce_form(bot, values)
    assert response.status_code == 200 and response.text == "", response.text
    text = block_text(answer(await bot.command("/desk", "history 1", user=MEMBER)))
    line = text.splitlines()[1]
    assert line.endswith(
        f"changed the terms of truce “US–China tariff truce (Geneva, 90 days)”{said}"
        " (source: Stockholm readout): “in principle”"
    ), line


@pytest.mark.parametrize(
    ("typed", "from_now"),
    [
        ("+90d", False),
        ("90 days", False),
        ("2 weeks", False),  # from the expiry, as `90 days`
        ("in 90 days", True),
        ("in 2 weeks", True),
        ("2025-11-10 00:01 America/New_York", False),
        ("Nov 10", False),
    ],
)
async def test_an_extension_counted_from_now_says_so(
    bot: RunningBot, typed: str, from_now: bool
) -> None:
    """`+90d` and `90 days` count from the current expiry (SPEC §3); `in 90 days` and
    dateparser's spans count from now: the reply says which, as the two differ by weeks."""
    body = answer(await bot.command("/truce", f"extend {typed}", user=LEAD))
    said = "was counted from now; `+90d` or `90 days` count from the current expiry."
    assert (f"“{typed}” {said}" in block_text(body)) is from_now, block_text(body)


@pytest.mark.parametrize("typed", ["3 months", "next year", "a month", "next week"])
async def test_an_extension_in_words_counted_from_now_is_refused(
    bot: RunningBot, typed: str
) -> None:
    """dateparser reads "3 months" from now; a lead extending a truce means from the expiry
    (weeks later): refused with the forms that count from the expiry, nothing changed."""
    audits = await audit_count(bot)
    body = answer(await bot.command("/truce", f"extend {typed}", user=LEAD))
    assert body["text"].startswith(f"“{typed}” counts from now, but an extension moves"), body
    assert "`+90d`" in body["text"]
    assert await rows(bot, TruceExtension) == []
    assert await audit_count(bot) == audits


@pytest.mark.parametrize("command", ["/truce", "/deadline", "/talks"])
async def test_a_word_after_a_named_track_is_not_taken_for_a_track(
    bot: RunningBot, command: str
) -> None:
    body = answer(await bot.command(command, "us-china frobnicate", user=MEMBER))
    assert body["text"].startswith(f"I did not understand `{command} frobnicate`.\nUsage: ")
    assert "No track has the handle" not in body["text"]


@pytest.mark.parametrize(
    ("typed", "expires"),
    [
        ("in 90 days", "Mon 27 Oct 2025 05:00 EDT"),
        ("in 100 days", "Thu 6 Nov 2025 05:00 EST"),  # calendar days: the wall time kept
        ("+90d", "Mon 10 Nov 2025 00:01 EST"),
    ],
)
async def test_an_extension_without_a_zone_keeps_the_expirys_zone(
    bot: RunningBot, typed: str, expires: str
) -> None:
    """A relative time names no zone: the expiry stays in New York time (SPEC §2: the zone
    it was set in), not moved to the desk's (Stockholm in these tests)."""
    body = answer(await bot.command("/truce", f"extend {typed}", user=LEAD))
    assert f"now expires {expires}" in body["text"], body["text"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({Field.expiry: "Aug 1"}, Field.expiry),  # "… edit its deadline: /deadline edit 1."
        ({Field.expiry: "3 months"}, Field.expiry),  # "… write +90d or 90 days …"
    ],
)
async def test_a_forms_errors_are_plain_text(
    bot: RunningBot, values: dict[str, str], field: str
) -> None:
    """Slack shows an input's error as plain text: code marks would show as backticks."""
    body = (await submit_truce_form(bot, values)).json()
    said = body["errors"][field]
    assert "`" not in said and ("/deadline edit 1" in said or "+90d" in said), said


async def test_the_truce_forms_extension_counted_from_now_says_so(bot: RunningBot) -> None:
    response = await submit_truce_form(bot, {Field.expiry: "in 90 days"})
    assert response.status_code == 200 and response.text == "", response.text
    said = (await confirmation(bot)).args["text"]
    assert "now expires Mon 27 Oct 2025 05:00 EDT" in said
    assert "“in 90 days” was counted from now" in said and not said.endswith("..")
