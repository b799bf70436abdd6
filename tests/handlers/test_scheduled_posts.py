"""Changes made over HTTP reach the scheduler: alerts, re-planned countdowns, buttons on
countdown posts, a hostile title escaped in every scheduled post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.render.ids import Action
from bot.scheduler import Scheduler
from bot.slack_text import message_text
from storage.models import Deadline
from tests.support.bots import RunningBot
from tests.support.checks import HOSTILE, answer, assert_user_text_escaped, rows
from tests.support.people import LEAD, MEMBER

EXPIRY = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)


def scheduled(bot: RunningBot) -> list[str]:
    return [
        message_text(c.args)
        for c in bot.standin.calls_to("chat.postMessage")
        if "metadata" in c.args
    ]


async def test_truce_extend_alerts_the_subscribed_channel_at_once(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    answer(await bot.command("/truce", "extend +90d | agreed in Stockholm", user=LEAD))
    await scheduler.tick()
    [alert] = scheduled(bot)
    assert "Alert" in alert and "10 Nov 2025 00:01" in alert


async def test_a_deadline_edited_over_http_is_replanned(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    answer(await bot.command("/deadline", "add Hearing | 2025-08-05 12:00 UTC", user=LEAD))
    (deadline,) = await rows(bot, Deadline, Deadline.title == "Hearing")
    bot.clock.set(datetime(2025, 8, 4, 12, 0, 1, tzinfo=UTC))  # the 1-day mark
    await scheduler.tick()
    hearing = [text for text in scheduled(bot) if "Hearing" in text]
    assert len(hearing) == 1 and "— 1 day left · 1 business day" in hearing[0]
    answer(await bot.command("/deadline", f"met {deadline.id}", user=LEAD))
    bot.clock.set(datetime(2025, 8, 5, 11, 0, 1, tzinfo=UTC))  # the 1-hour mark
    await scheduler.tick()
    assert [text for text in scheduled(bot) if "Hearing" in text] == hearing  # met: no more


async def test_countdown_buttons_refuse_a_member_and_work_for_a_lead(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    bot.clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
    await scheduler.tick()
    [post] = [c for c in bot.standin.calls_to("chat.postMessage") if "metadata" in c.args]
    actions = [e for b in post.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    met = next(e for e in actions if e["action_id"] == Action.mark_deadline_met)
    # a truce's expiry: extended through the truce's form
    assert {e["action_id"] for e in actions} == {Action.open_truce_form, Action.mark_deadline_met}
    await bot.click(met["action_id"], met["value"], user=MEMBER)
    (deadline,) = await rows(bot, Deadline, Deadline.id == int(met["value"]))
    assert deadline.status == "open"
    await bot.click(met["action_id"], met["value"], user=LEAD)
    asked = await bot.reply("response_url")  # the truce's expiry: confirm first
    assert "Mark it met?" in asked.args["text"] or "Mark it met?" in str(asked.args["blocks"])
    (deadline,) = await rows(bot, Deadline, Deadline.id == int(met["value"]))
    assert deadline.status == "open"
    [confirm] = [e for b in asked.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert confirm["action_id"] == Action.confirm_deadline_met
    await bot.click(confirm["action_id"], confirm["value"], user=LEAD)
    assert "is now *met*" in str((await bot.reply("response_url")).args["blocks"])
    (deadline,) = await rows(bot, Deadline, Deadline.id == int(met["value"]))
    assert deadline.status == "met"


async def test_a_hostile_deadline_title_is_escaped_in_its_countdown(
    bot: RunningBot, scheduler: Scheduler
) -> None:
    answer(await bot.command("/desk", "subscribe digest off", user=LEAD))
    answer(await bot.command("/deadline", f"add {HOSTILE} | +2d", user=LEAD))
    bot.clock.advance(timedelta(days=1, seconds=1))
    await scheduler.tick()
    [post] = [c for c in bot.standin.calls_to("chat.postMessage") if "metadata" in c.args]
    assert_user_text_escaped(post.args)
    bot.standin.assert_no_violations()
