"""User text is escaped for mrkdwn wherever it is shown, and mrkdwn is verbatim.

A deadline, an event, a round and a sensitivity are entered with text that tries to ping
the channel (`<!channel>`, `@everyone`), mention a user and disguise a link. Every answer
and every message posted to the stand-in must show it as `&lt;!channel&gt;` etc.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.render.ids import Action, Field
from bot.slack_text import message_text
from storage.models import Deadline
from tests.support.bots import RunningBot
from tests.support.checks import (
    HOSTILE,
    answer,
    assert_hostile_shown_escaped,
    assert_user_text_escaped,
    confirmation,
    rows,
)
from tests.support.people import LEAD, MEMBER


async def add_hostile_deadline(bot: RunningBot) -> dict[str, Any]:
    return answer(await bot.command("/deadline", f"add {HOSTILE} | +3d", user=LEAD))


async def add_hostile_event(bot: RunningBot) -> None:
    await bot.command("/desk", "event", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(
        view,
        {
            Field.headline: HOSTILE,
            Field.summary: f"{HOSTILE} about Taiwan",
            Field.source: f"Source {HOSTILE}",
        },
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == "", response.text


@pytest.fixture
async def hostile(bot: RunningBot) -> RunningBot:
    await add_hostile_deadline(bot)
    await add_hostile_event(bot)
    return bot


async def test_the_hostile_text_is_stored_as_typed(hostile: RunningBot) -> None:
    (deadline,) = await rows(hostile, Deadline, Deadline.title == HOSTILE)
    assert deadline.title == HOSTILE


async def test_deadline_add_confirmation_blocks_escape_the_title(bot: RunningBot) -> None:
    body = await add_hostile_deadline(bot)
    assert_user_text_escaped(body, include_fallback=False)
    assert_hostile_shown_escaped({"blocks": body["blocks"]})


async def test_deadline_add_confirmation_fallback_text_escapes_the_title(
    bot: RunningBot,
) -> None:
    body = await add_hostile_deadline(bot)
    assert_user_text_escaped(body)


async def test_deadline_list_blocks_escape_the_title(hostile: RunningBot) -> None:
    body = answer(await hostile.command("/deadline", user=MEMBER))
    assert_user_text_escaped(body, include_fallback=False)
    assert_hostile_shown_escaped({"blocks": body["blocks"]})


async def test_deadline_list_fallback_text_escapes_the_title(hostile: RunningBot) -> None:
    assert_user_text_escaped(answer(await hostile.command("/deadline", user=MEMBER)))


async def test_deadline_met_reply_escapes_the_title(hostile: RunningBot) -> None:
    (deadline,) = await rows(hostile, Deadline, Deadline.title == HOSTILE)
    body = answer(await hostile.command("/deadline", f"met {deadline.id}", user=LEAD))
    assert "is now met" in body["text"]
    assert_user_text_escaped(body)


async def test_watch_topic_timeline_escapes_the_event(hostile: RunningBot) -> None:
    body = answer(await hostile.command("/watch", "Taiwan", user=MEMBER))
    assert_user_text_escaped(body)
    assert_hostile_shown_escaped(body)


async def test_watch_overview_escapes_the_latest_event_title(hostile: RunningBot) -> None:
    body = answer(await hostile.command("/watch", user=MEMBER))
    assert_user_text_escaped(body)
    assert_hostile_shown_escaped(body)


async def test_desk_search_escapes_the_event(hostile: RunningBot) -> None:
    body = answer(await hostile.command("/desk", "search @everyone", user=MEMBER))
    assert body["text"] == "2 items match."  # the hostile event and the hostile deadline
    assert_user_text_escaped(body)
    assert_hostile_shown_escaped(body)


async def test_desk_search_escapes_the_words_it_repeats(hostile: RunningBot) -> None:
    body = answer(await hostile.command("/desk", "search <!channel> <@U123>", user=MEMBER))
    assert body["blocks"][0]["text"]["text"] == ("2 items match “&lt;!channel&gt; &lt;@U123&gt;”.")
    assert_user_text_escaped(body)


async def test_desk_search_with_no_hits_escapes_the_words(bot: RunningBot) -> None:
    body = answer(await bot.command("/desk", "search <!channel> zzz", user=MEMBER))
    assert body["text"] == "Nothing matches “&lt;!channel&gt; zzz”."
    assert_user_text_escaped(body)


async def test_digest_escapes_deadlines_events_and_sensitivity_lines(
    hostile: RunningBot,
) -> None:
    body = answer(await hostile.command("/desk", "digest", user=MEMBER))
    assert_user_text_escaped(body)
    assert_hostile_shown_escaped(body)
    text = "\n".join(b.get("text", {}).get("text", "") for b in body["blocks"])
    assert text.count("&lt;!channel&gt;") >= 3  # the deadline, the event, Taiwan's latest


async def test_desk_history_escapes_titles(hostile: RunningBot) -> None:
    body = answer(await hostile.command("/desk", "history", user=MEMBER))
    assert_user_text_escaped(body)
    assert_hostile_shown_escaped(body)


async def test_usage_reply_escapes_what_was_typed(bot: RunningBot) -> None:
    body = answer(await bot.command("/truce", f"say {HOSTILE}", user=MEMBER))
    assert "I did not understand" in body["text"]
    assert_user_text_escaped(body)
    assert "&lt;!channel&gt;" in body["text"]


async def test_event_confirmation_posted_to_slack_escapes_the_title(bot: RunningBot) -> None:
    await add_hostile_event(bot)
    call = await confirmation(bot)
    raw = message_text(call.args, raw=True)
    assert "&lt;!channel&gt;" in raw and "&lt;@U123&gt;" in raw and "&lt;http://x|y&gt;" in raw
    assert_user_text_escaped(call.args)
    assert "tagged Taiwan" in raw


async def test_deadline_form_confirmation_escapes_the_title(bot: RunningBot) -> None:
    await bot.command("/deadline", "new", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(view, {Field.headline: HOSTILE, Field.due: "+3d"}, user=LEAD)
    assert response.status_code == 200 and response.text == ""
    call = await confirmation(bot)
    assert_user_text_escaped(call.args)
    assert_hostile_shown_escaped(call.args)


async def test_mark_met_button_reply_escapes_the_title(hostile: RunningBot) -> None:
    (deadline,) = await rows(hostile, Deadline, Deadline.title == HOSTILE)
    await hostile.click(Action.mark_deadline_met, str(deadline.id), user=LEAD)
    reply = (await hostile.reply("response_url")).args
    assert "is now met" in reply["text"]
    assert_user_text_escaped(reply)
    assert_hostile_shown_escaped(reply)


async def add_hostile_round(bot: RunningBot) -> None:
    await bot.command("/talks", "new", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(
        view,
        {
            Field.headline: HOSTILE,
            Field.place: HOSTILE,
            Field.starts: "2025-09-14 10:00 Europe/Madrid",
            # `|` splits a delegation's parts, so the hostile lead goes in without it
            Field.delegations: f"United States | {HOSTILE.replace('|', '/')} | envoy",
            Field.outcome: HOSTILE,
        },
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == "", response.text


async def test_talks_blocks_escape_the_round(bot: RunningBot) -> None:
    await add_hostile_round(bot)
    call = await confirmation(bot)
    assert_user_text_escaped(call.args)
    body = answer(await bot.command("/talks", user=MEMBER))
    assert_user_text_escaped(body, include_fallback=False)
    assert_hostile_shown_escaped({"blocks": body["blocks"]})


async def test_talks_fallback_text_escapes_the_round_title(bot: RunningBot) -> None:
    await add_hostile_round(bot)
    assert_user_text_escaped(answer(await bot.command("/talks", user=MEMBER)))


async def add_hostile_sensitivity(bot: RunningBot) -> None:
    await bot.command("/watch", "new", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(
        view,
        {Field.name: HOSTILE, Field.description: HOSTILE, Field.keywords: "zebra"},
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == "", response.text


async def test_watch_blocks_escape_a_sensitivity_name_and_description(bot: RunningBot) -> None:
    await add_hostile_sensitivity(bot)
    call = await confirmation(bot)
    assert_user_text_escaped(call.args)
    body = answer(await bot.command("/watch", user=MEMBER))
    assert_user_text_escaped(body, include_fallback=False)
    assert_hostile_shown_escaped({"blocks": body["blocks"]})


async def test_watch_fallback_text_escapes_a_sensitivity_name(bot: RunningBot) -> None:
    await add_hostile_sensitivity(bot)
    assert_user_text_escaped(answer(await bot.command("/watch", user=MEMBER)))
    assert_user_text_escaped(answer(await bot.command("/watch", "zebra", user=MEMBER)))


@pytest.mark.parametrize(
    ("command", "text"),
    [("/watch", "<!channel>"), ("/deadline", "edit <!channel>"), ("/desk", "subscribe <!here>")],
)
async def test_error_replies_escape_what_was_typed(
    bot: RunningBot, command: str, text: str
) -> None:
    body = answer(await bot.command(command, text, user=LEAD))
    assert "<!channel>" not in body["text"] and "<!here>" not in body["text"]
