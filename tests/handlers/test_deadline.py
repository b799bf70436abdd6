"""`/deadline`: listing, `add`, `new` (modal), `edit`, `met`, and long lists."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.render.ids import Action, Callback, Field
from bot.timeparse import parse_offsets
from storage import deadlines
from storage.access import CLI
from storage.db import Database
from storage.models import AuditEntry, Deadline, DeadlineStatus
from tests.support.bots import RunningBot, running_bot
from tests.support.checks import (
    answer,
    assert_valid_message,
    audit_count,
    block_text,
    confirmation,
    input_block_ids,
    rows,
)
from tests.support.people import AS_OF, CHANNEL, LEAD, MEMBER
from tests.support.slack import SlackStandIn

TRUCE_EXPIRY = "US–China tariff truce (Geneva, 90 days) expires"


async def deadline_titled(bot: RunningBot, title: str) -> Deadline:
    (deadline,) = await rows(bot, Deadline, Deadline.title == title)
    return deadline


async def test_deadline_lists_the_truce_expiry_with_its_countdown(bot: RunningBot) -> None:
    body = answer(await bot.command("/deadline", user=MEMBER))
    text = block_text(body)
    assert body["response_type"] == "ephemeral"
    assert "Upcoming deadlines (1)" in text
    assert TRUCE_EXPIRY in text
    assert "Tue 12 Aug 2025 00:01 EDT" in text
    assert "13 days 19 hours" in text
    assert "<!date^" in text
    assert_valid_message(body)


async def test_lead_adds_a_deadline_and_it_is_listed_soonest_first(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/deadline", "add Test | +3d", user=LEAD))
    assert body["response_type"] == "ephemeral"
    assert "added" in block_text(body) and "*Test*" in block_text(body)
    assert "Fri 1 Aug 2025 11:00 CEST" in block_text(body)  # +3d in the desk zone

    deadline = await deadline_titled(bot, "Test")
    assert deadline.due_at == AS_OF + timedelta(days=3)
    assert await audit_count(bot) == audits + 1

    listed = block_text(answer(await bot.command("/deadline", user=MEMBER)))
    assert "Upcoming deadlines (2)" in listed
    assert listed.index("*Test*") < listed.index(TRUCE_EXPIRY)


async def test_deadline_title_may_contain_a_bar_the_time_is_after_the_last(
    bot: RunningBot,
) -> None:
    answer(await bot.command("/deadline", "add Review | phase two | in 3 days", user=LEAD))
    deadline = await deadline_titled(bot, "Review | phase two")
    assert deadline.due_at == AS_OF + timedelta(days=3)


async def test_deadline_in_the_past_is_refused_with_the_reason(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/deadline", "add Old | 2025-07-01 00:00 UTC", user=LEAD))
    assert "already past" in body["text"] and "must lie in the future" in body["text"]
    assert await rows(bot, Deadline, Deadline.title == "Old") == []
    assert await audit_count(bot) == audits


async def test_deadline_title_over_150_characters_is_refused_naming_the_limit(
    bot: RunningBot,
) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/deadline", "add " + "x" * 151 + " | +3d", user=LEAD))
    assert "151 characters" in body["text"] and "limit is 150" in body["text"]
    assert len(await rows(bot, Deadline)) == 1
    assert await audit_count(bot) == audits


async def test_deadline_title_of_exactly_150_characters_is_accepted(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add " + "y" * 150 + " | +3d", user=LEAD))
    assert await deadline_titled(bot, "y" * 150)


async def test_deadline_with_unreadable_time_explains_with_an_example(bot: RunningBot) -> None:
    body = answer(await bot.command("/deadline", "add Talks | whenever", user=LEAD))
    assert 'Could not read "whenever" as a time' in body["text"]
    assert "in 3 days" in body["text"]
    assert len(await rows(bot, Deadline)) == 1


async def test_deadline_add_without_a_bar_gets_the_add_usage(bot: RunningBot) -> None:
    body = answer(await bot.command("/deadline", "add Talks next week", user=LEAD))
    assert "/deadline add &lt;title&gt; | &lt;when&gt;" in body["text"]
    assert len(await rows(bot, Deadline)) == 1


async def test_member_cannot_add_a_deadline(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/deadline", "add Test | +3d", user=MEMBER))
    assert "Only a desk lead can change the record" in body["text"]
    assert len(await rows(bot, Deadline)) == 1
    assert await audit_count(bot) == audits


async def test_deadline_unknown_subcommand_gets_usage(bot: RunningBot) -> None:
    body = answer(await bot.command("/deadline", "frobnicate"))
    assert "I did not understand `/deadline frobnicate`" in body["text"]
    assert "Usage:" in body["text"]


async def test_deadline_new_opens_the_deadline_form(bot: RunningBot) -> None:
    response = await bot.command("/deadline", "new", user=LEAD)
    assert response.status_code == 200
    view = await bot.opened_view()
    assert view["callback_id"] == Callback.deadline_form
    assert {Field.headline, Field.due, Field.kind, Field.offsets} <= input_block_ids(view)


def offsets_hint(view: dict[str, Any]) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == Field.offsets]
    return str(block["hint"]["text"])


async def test_the_offsets_field_names_the_desks_real_default(bot: RunningBot) -> None:
    """It said "e.g. 30d,7d,1d,1h,0" while the default was 30d,14d,7d,3d,1d,12h,1h,0."""
    await bot.command("/deadline", "new", user=LEAD)
    hint = offsets_hint(await bot.opened_view())
    assert hint == "Empty means the desk's default: 30d,14d,7d,3d,1d,12h,1h,0"


@pytest.mark.parametrize(("configured", "shown"), [("7d,1d", "7d,1d"), ("2w,36h,0", "14d,1d12h,0")])
async def test_the_offsets_hint_follows_the_operators_setting(
    db: Database, standin: SlackStandIn, clock: ManualClock, configured: str, shown: str
) -> None:
    offsets = tuple(parse_offsets(configured))
    async with running_bot(db, standin, clock, countdown_offsets=offsets) as bot:
        for open_form in (
            lambda: bot.command("/deadline", "new", user=LEAD),
            lambda: bot.click(Action.open_deadline_form, "", user=LEAD),  # App Home's button
        ):
            mark = bot.standin.mark()
            await open_form()
            call = await bot.standin.next_call("views.open", after=mark)
            assert offsets_hint(call.args["view"]) == f"Empty means the desk's default: {shown}"


async def test_deadline_form_with_bad_due_time_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=LEAD)
    view = await bot.opened_view()
    audits = await audit_count(bot)
    body = answer(
        await bot.submit_view(view, {Field.headline: "Review", Field.due: "soonish"}, user=LEAD)
    )
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.due]
    assert 'Could not read "soonish"' in body["errors"][Field.due]
    assert len(await rows(bot, Deadline)) == 1
    assert await audit_count(bot) == audits


async def test_deadline_form_with_past_due_time_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=LEAD)
    view = await bot.opened_view()
    body = answer(
        await bot.submit_view(
            view, {Field.headline: "Review", Field.due: "2025-07-01 00:00 UTC"}, user=LEAD
        )
    )
    assert body["response_action"] == "errors"
    assert "already past" in body["errors"][Field.due]


async def test_deadline_form_with_bad_offsets_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=LEAD)
    view = await bot.opened_view()
    body = answer(
        await bot.submit_view(
            view,
            {Field.headline: "Review", Field.due: "+3d", Field.offsets: "7d,soon"},
            user=LEAD,
        )
    )
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.offsets]
    assert len(await rows(bot, Deadline)) == 1


async def test_deadline_form_saves_row_audit_and_confirms_ephemerally(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=LEAD)
    view = await bot.opened_view()
    audits = await audit_count(bot)
    response = await bot.submit_view(
        view,
        {
            Field.headline: "Section 301 hearing",
            Field.due: "2025-08-20 10:00 America/New_York",
            Field.kind: "legislative_step",
            Field.track: "us-china",
            Field.offsets: "7d,1d,0",
        },
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == ""

    deadline = await deadline_titled(bot, "Section 301 hearing")
    assert deadline.zone == "America/New_York"
    assert deadline.kind == "legislative_step"
    assert deadline.offsets == "7d,1d,0"
    assert deadline.track_id is not None
    assert await audit_count(bot) == audits + 1
    (entry,) = await rows(bot, AuditEntry, AuditEntry.actor == LEAD)
    assert (entry.action, entry.entity) == ("add", "deadline")

    call = await confirmation(bot)
    assert call.args["channel"] == CHANNEL and call.args["user"] == LEAD
    assert "Section 301 hearing" in call.args["text"]
    assert "Wed 20 Aug 2025 10:00 EDT" in call.args["text"]


async def test_deadline_met_marks_it_and_drops_it_from_the_list(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Test | +3d", user=LEAD))
    deadline = await deadline_titled(bot, "Test")
    body = answer(await bot.command("/deadline", f"met {deadline.id}", user=LEAD))
    assert f"Deadline #{deadline.id}" in body["text"] and "is now met" in body["text"]
    assert (await deadline_titled(bot, "Test")).status == DeadlineStatus.met
    (entry,) = await rows(bot, AuditEntry, AuditEntry.action == "mark_met")
    assert entry.entity_id == str(deadline.id)
    assert "*Test*" not in block_text(answer(await bot.command("/deadline")))


async def test_member_cannot_mark_a_deadline_met(bot: RunningBot) -> None:
    audits = await audit_count(bot)
    body = answer(await bot.command("/deadline", "met 1", user=MEMBER))
    assert "Only a desk lead" in body["text"]
    assert (await rows(bot, Deadline))[0].status == DeadlineStatus.open
    assert await audit_count(bot) == audits


async def test_deadline_met_without_a_number_says_how(bot: RunningBot) -> None:
    body = answer(await bot.command("/deadline", "met", user=LEAD))
    assert "the number `/deadline` shows beside it: `/deadline met &lt;#&gt;`" in body["text"]


async def test_deadline_edit_of_a_missing_deadline_says_so_without_a_modal(
    bot: RunningBot,
) -> None:
    body = answer(await bot.command("/deadline", "edit 999", user=LEAD))
    assert body["text"] == "There is no deadline #999."
    assert bot.standin.calls_to("views.open") == []


async def test_deadline_edit_of_a_non_number_says_so(bot: RunningBot) -> None:
    body = answer(await bot.command("/deadline", "edit soon", user=LEAD))
    assert "is not a deadline number" in body["text"]
    assert bot.standin.calls_to("views.open") == []


async def test_deadline_edit_opens_the_form_filled_in(bot: RunningBot) -> None:
    await bot.command("/deadline", "edit 1", user=LEAD)
    view = await bot.opened_view()
    assert view["title"]["text"] == "Edit deadline #1"
    title = next(b for b in view["blocks"] if b.get("block_id") == Field.headline)
    assert title["element"]["initial_value"] == TRUCE_EXPIRY
    due = next(b for b in view["blocks"] if b.get("block_id") == Field.due)
    assert due["element"]["initial_value"] == "2025-08-12 00:01 America/New_York"


async def test_more_than_50_deadlines_stay_within_50_blocks_with_a_more_line(
    bot: RunningBot,
) -> None:
    async with bot.db.session() as session:
        for i in range(60):
            await deadlines.add_deadline(
                session,
                actor=CLI,
                now=AS_OF,
                title=f"Deadline number {i:02d}",
                due_at=AS_OF + timedelta(days=1, hours=i),
                zone="UTC",
            )
    for user in (LEAD, MEMBER):
        body = answer(await bot.command("/deadline", user=user))
        blocks = body["blocks"]
        assert len(blocks) <= 50
        assert_valid_message(body)
        assert "Upcoming deadlines (61)" in blocks[0]["text"]["text"]
        last = blocks[-1]
        assert last["type"] == "context"
        assert "more" in last["elements"][0]["text"]
        shown_titles = block_text({"blocks": blocks[:-1]}).count("*Deadline number")
        assert f"and {61 - shown_titles} more" in last["elements"][0]["text"]


async def test_a_form_slack_will_not_open_is_reported_not_a_failure(bot: RunningBot) -> None:
    bot.standin.fail_with_error("views.open", "expired_trigger_id")
    response = await bot.command("/deadline", "new", user=LEAD)
    assert response.status_code == 200
    said = await bot.reply("response_url")
    assert "The form could not be opened (Slack said: expired_trigger_id)" in said.args["text"]


async def test_a_long_listing_counts_what_it_cannot_show(bot: RunningBot) -> None:
    """Only what a message holds is rendered; the rest is still counted in the last line."""
    async with bot.db.session() as session:
        for n in range(120):
            await deadlines.add_deadline(
                session, actor=CLI, now=AS_OF, title=f"Review {n:03d}",
                due_at=AS_OF + timedelta(days=1, minutes=n), zone="UTC",
            )  # fmt: skip
    body = answer(await bot.command("/deadline", user=MEMBER))
    blocks = body["blocks"]
    assert len(blocks) == 50
    shown = [b for b in blocks if b["type"] == "section"]
    assert len(shown) == 48  # the header, 48 deadlines and the "more" line
    assert blocks[0]["text"]["text"] == "Upcoming deadlines (121)"  # the seeded one too
    assert blocks[-1]["elements"][0]["text"] == (
        "…and 73 more deadlines not shown: `/deadline <track>` lists one track's, "
        "`/desk search kind:deadline <words>` finds any."
    )


@pytest.mark.parametrize("track", ["us-eu", "us-japan"])
async def test_a_tracks_deadlines_label_the_desk_wide_ones(bot: RunningBot, track: str) -> None:
    answer(await bot.command("/deadline", "add Desk offsite | Aug 20 15:00 UTC", user=LEAD))
    answer(
        await bot.command("/deadline", f"{track} add Track hearing | Aug 21 15:00 UTC", user=LEAD)
    )
    body = answer(await bot.command("/deadline", track, user=MEMBER))
    text = block_text(body)
    assert text.splitlines()[0] == f"Upcoming deadlines for {track} and the whole desk (2)"
    assert "*Desk offsite*  ·  `desk-wide`" in text
    assert f"*Track hearing*  ·  `{track}`" in text
    assert TRUCE_EXPIRY not in text  # us-china's
    everything = block_text(answer(await bot.command("/deadline", user=MEMBER)))
    assert everything.splitlines()[0] == "Upcoming deadlines (3)"
    assert "desk-wide" not in everything
