"""The request helpers hand back what the request just sent caused, never an earlier one's.

Slack is acked before a follow-up (a modal, a confirmation, a response_url post) goes out,
so when a helper looks, the previous request's call can be recorded and this one's still in
flight. `SlackStandIn.hold` makes that moment happen on demand: the new call has reached the
stand-in but is not recorded yet when the helper starts looking. A helper that returned the
last call recorded would return the previous one here.
"""

from __future__ import annotations

from bot.render.ids import Action, Callback, Field
from storage.models import Deadline
from tests.support.bots import RunningBot
from tests.support.checks import answer, confirmation, response_url_reply, rows
from tests.support.people import LEAD, MEMBER


async def test_opened_view_returns_the_form_just_opened_not_the_one_before(
    bot: RunningBot,
) -> None:
    await bot.command("/watch", "new", user=LEAD)
    assert (await bot.opened_view())["callback_id"] == Callback.sensitivity_form

    held = bot.standin.hold("views.open")
    await bot.command("/desk", "event", user=LEAD)
    await held.arrived.wait()  # the event form has reached Slack, not yet recorded
    assert len(bot.standin.calls_to("views.open")) == 1
    held.release()  # recorded only once the helper below has looked and waits
    assert (await bot.opened_view())["callback_id"] == Callback.event_form


async def test_opened_view_skips_a_form_another_request_opened_later(bot: RunningBot) -> None:
    held = bot.standin.hold("views.open")
    await bot.command("/watch", "new", user=LEAD)
    sensitivity_request = bot.last
    await held.arrived.wait()
    await bot.command("/desk", "event", user=LEAD)
    assert (await bot.opened_view())["callback_id"] == Callback.event_form
    held.release()  # the first command's form is recorded after the second's
    view = await bot.opened_view(after=sensitivity_request)
    assert view["callback_id"] == Callback.sensitivity_form


async def test_confirmation_is_the_one_for_the_form_just_submitted(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=LEAD)
    first = await bot.opened_view()
    await bot.submit_view(first, {Field.headline: "First review", Field.due: "+3d"}, user=LEAD)
    assert "First review" in (await confirmation(bot)).args["text"]

    await bot.command("/deadline", "new", user=LEAD)
    second = await bot.opened_view()
    held = bot.standin.hold("chat.postEphemeral")
    await bot.submit_view(second, {Field.headline: "Second review", Field.due: "+4d"}, user=LEAD)
    await held.arrived.wait()
    held.release()
    assert "Second review" in (await confirmation(bot)).args["text"]


async def test_response_url_reply_is_the_one_to_the_last_request(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Second review | +3d", user=LEAD))
    first, second = sorted(d.id for d in await rows(bot, Deadline))
    await bot.click(Action.mark_deadline_met, str(first), user=LEAD)
    assert f"#{first}" in (await response_url_reply(bot))["text"]

    held = bot.standin.hold("response_url")
    await bot.click(Action.mark_deadline_met, str(second), user=LEAD)
    await held.arrived.wait()
    held.release()
    reply = await response_url_reply(bot)
    assert "Second review" in reply["text"] and f"#{second}" in reply["text"]


async def test_a_refusal_is_read_from_the_refused_request(bot: RunningBot) -> None:
    await bot.click(Action.confirm_deadline_met, "1", user=LEAD)
    assert "is now met" in (await response_url_reply(bot))["text"]
    held = bot.standin.hold("response_url")
    await bot.click(Action.edit_round, "1", user=MEMBER)
    await held.arrived.wait()
    held.release()
    assert "Only a desk lead" in (await response_url_reply(bot))["text"]
