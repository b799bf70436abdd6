"""`/watch`: sensitivities by level, a topic's timeline, and the sensitivity form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.render.ids import Callback, Field
from storage import events, sensitivities
from storage.access import CLI
from storage.models import Event, EventSensitivity, Sensitivity
from tests.support.bots import RunningBot
from tests.support.checks import (
    answer,
    assert_valid_message,
    audit_count,
    block_text,
    confirmation,
    rows,
)
from tests.support.people import AS_OF, LEAD, MEMBER

LAI = "Taiwan's President Lai Ching-te reportedly postpones a planned visit to the US"
SENATORS = "US senators reportedly preparing bills on China's human rights record and Taiwan"
# The senators' report is dated 12:00 in New York on 29 July (16:00Z), after AS_OF (09:00Z):
# the desk sees it from then on, not before (an event dated later than now is not "latest").
EVENING = datetime(2025, 7, 29, 18, 0, tzinfo=UTC)


async def add_event_through_desk_form(bot: RunningBot, values: dict[str, str]) -> None:
    await bot.command("/desk", "event", user=LEAD)
    view = await bot.opened_view()
    assert view["callback_id"] == Callback.event_form
    response = await bot.submit_view(view, values, user=LEAD)
    assert response.status_code == 200 and response.text == "", response.text


async def test_watch_lists_sensitivities_by_level(bot: RunningBot) -> None:
    body = answer(await bot.command("/watch", user=MEMBER))
    text = block_text(body)
    for name, level in [
        ("Export controls", "high"),
        ("Rare earths", "high"),
        ("Taiwan", "high"),
        ("Human-rights legislation", "medium"),
    ]:
        assert f"*{name}*  ·  {level}" in text
    assert text.index("*Taiwan*") < text.index("*Human-rights legislation*")
    assert "Latest: " in text and LAI in text
    assert "parley.edit_sensitivity" not in str(body["blocks"])
    assert_valid_message(body)


async def test_watch_taiwan_shows_the_lai_and_senators_events(bot: RunningBot) -> None:
    morning = answer(await bot.command("/watch", "Taiwan", user=MEMBER))
    # Dated 12:00 in New York, the seeded report is news to come in a replay: not shown,
    # not even under "Coming up", until its time (as App Home and the digest do).
    assert LAI in block_text(morning) and SENATORS not in block_text(morning)
    assert "Coming up" not in block_text(morning)
    assert morning["text"] == "Taiwan: 1 event"
    bot.clock.set(EVENING)
    body = answer(await bot.command("/watch", "Taiwan", user=MEMBER))
    text = block_text(body)
    assert "Watch: Taiwan (high)" in text
    assert LAI in text and SENATORS in text
    assert "_reported_" in text
    assert body["text"] == "Taiwan: 2 events"


async def test_watch_finds_a_topic_by_keyword(bot: RunningBot) -> None:
    body = answer(await bot.command("/watch", "nvidia"))
    assert "Watch: Export controls (high)" in block_text(body)


async def test_watch_unknown_topic_says_so_and_lists_topics(bot: RunningBot) -> None:
    body = answer(await bot.command("/watch", "unknown"))
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("No watch topic matches 'unknown'.")
    assert "Taiwan" in body["text"] and "Rare earths" in body["text"]


async def test_event_added_through_desk_form_mentioning_taiwan_joins_its_timeline(
    bot: RunningBot,
) -> None:
    bot.clock.set(EVENING)
    audits = await audit_count(bot)
    await add_event_through_desk_form(
        bot,
        {
            Field.headline: "Taipei announces new chip export rules",
            Field.summary: "The announcement came during the Stockholm round.",
            Field.source: "Reuters",
            Field.confidence: "confirmed",
            Field.track: "us-china",
        },
    )
    call = await confirmation(bot)
    assert "Taipei announces new chip export rules" in call.args["text"]
    assert "tagged" in call.args["text"] and "Taiwan" in call.args["text"]
    assert await audit_count(bot) == audits + 1
    (event,) = await rows(bot, Event, Event.title == "Taipei announces new chip export rules")
    assert event.confidence == "confirmed"

    body = answer(await bot.command("/watch", "Taiwan"))
    assert "Taipei announces new chip export rules" in block_text(body)
    assert body["text"] == "Taiwan: 3 events"


async def test_event_form_sensitivity_choice_tags_without_a_keyword(bot: RunningBot) -> None:
    await add_event_through_desk_form(
        bot,
        {Field.headline: "Quiet dinner in Stockholm", Field.sensitivities: ["rare-earths"]},
    )
    body = answer(await bot.command("/watch", "Rare earths"))
    assert "Quiet dinner in Stockholm" in block_text(body)


async def test_event_form_with_unreadable_time_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/desk", "event", user=LEAD)
    view = await bot.opened_view()
    body = answer(
        await bot.submit_view(view, {Field.headline: "Taiwan news", Field.when: "later"}, user=LEAD)
    )
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.when]
    assert await rows(bot, Event, Event.title == "Taiwan news") == []


async def test_watch_new_form_adds_a_critical_sensitivity(bot: RunningBot) -> None:
    response = await bot.command("/watch", "new", user=LEAD)
    assert response.status_code == 200
    view = await bot.opened_view()
    assert view["callback_id"] == Callback.sensitivity_form
    audits = await audit_count(bot)
    response = await bot.submit_view(
        view,
        {
            Field.name: "Fentanyl",
            Field.level: "critical",
            Field.description: "US fentanyl tariffs and China's precursor controls.",
            Field.keywords: "fentanyl, precursors",
        },
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == ""
    (item,) = await rows(bot, Sensitivity, Sensitivity.name == "Fentanyl")
    assert item.level == "critical"
    assert item.keywords == ["fentanyl", "precursors"]
    assert await audit_count(bot) == audits + 1
    call = await confirmation(bot)
    assert "Fentanyl" in call.args["text"] and "critical" in call.args["text"]

    text = block_text(answer(await bot.command("/watch")))
    assert ":red_circle: *Fentanyl*  ·  critical" in text
    assert text.index("*Fentanyl*") < text.index("*Taiwan*")  # critical comes first

    await add_event_through_desk_form(bot, {Field.headline: "New curbs on precursors"})
    (event,) = await rows(bot, Event, Event.title == "New curbs on precursors")
    tags = await rows(bot, EventSensitivity, EventSensitivity.event_id == event.id)
    assert [t.sensitivity_id for t in tags] == [item.id]


async def test_sensitivity_form_with_a_taken_name_is_an_inline_error(bot: RunningBot) -> None:
    await bot.command("/watch", "new", user=LEAD)
    view = await bot.opened_view()
    body = answer(await bot.submit_view(view, {Field.name: "Taiwan"}, user=LEAD))
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [Field.name]
    assert len(await rows(bot, Sensitivity)) == 4


async def test_watch_new_by_member_is_refused_without_a_modal(bot: RunningBot) -> None:
    body = answer(await bot.command("/watch", "new", user=MEMBER))
    assert "Only a desk lead" in body["text"]
    assert bot.standin.calls_to("views.open") == []


async def test_watch_edit_opens_the_topic_filled_in(bot: RunningBot) -> None:
    await bot.command("/watch", "edit Taiwan", user=LEAD)
    view = await bot.opened_view()
    assert view["title"]["text"] == "Edit sensitivity"
    keywords = next(b for b in view["blocks"] if b.get("block_id") == Field.keywords)
    assert "Lai Ching-te" in keywords["element"]["initial_value"]


async def test_a_topic_keyed_in_chinese_tags_chinese_news_added_through_the_forms(
    bot: RunningBot,
) -> None:
    await bot.command("/watch", "new", user=LEAD)
    (opened,) = await bot.standin.wait_for("views.open", count=1)
    response = await bot.submit_view(
        opened.args["view"],
        {Field.name: "芬太尼", Field.level: "high", Field.keywords: "芬太尼，fentanyl、precursors"},
        user=LEAD,
    )
    assert response.status_code == 200 and response.text == ""
    (item,) = await rows(bot, Sensitivity, Sensitivity.name == "芬太尼")
    assert (item.slug, item.keywords) == ("芬太尼", ["芬太尼", "fentanyl", "precursors"])

    await bot.command("/desk", "event", user=LEAD)
    calls = await bot.standin.wait_for("views.open", count=2)
    view = calls[1].args["view"]
    assert view["callback_id"] == Callback.event_form
    response = await bot.submit_view(
        view, {Field.headline: "新华社：中方要求取消芬太尼关税"}, user=LEAD
    )
    assert response.status_code == 200 and response.text == ""

    body = answer(await bot.command("/watch", "芬太尼"))
    assert "新华社：中方要求取消芬太尼关税" in block_text(body)


async def test_a_long_watch_list_shows_what_a_message_holds_each_with_its_latest(
    bot: RunningBot,
) -> None:
    """Sixty more topics: 48 shown, each with its own latest events, the rest counted."""
    async with bot.db.session() as session:
        for n in range(60):
            await sensitivities.add_sensitivity(
                session, actor=CLI, now=AS_OF, name=f"Zebra topic {n:02d}",
                keywords=[f"zebra{n:02d}"], level="critical" if n < 30 else "low",
            )  # fmt: skip
            await events.add_event(
                session, actor=CLI, now=AS_OF, title=f"News of zebra{n:02d}",
                occurred_at=AS_OF - timedelta(hours=n + 1),
            )  # fmt: skip
    body = answer(await bot.command("/watch", user=MEMBER))
    blocks = body["blocks"]
    assert len(blocks) == 50
    assert_valid_message(body)
    topics = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(topics) == 48
    for text in topics:
        if text.split("*")[1].startswith("Zebra topic"):
            n = text.split("*")[1].removeprefix("Zebra topic ")
            assert f"Latest: News of zebra{n} (" in text, text
    shown = sum(t.split("*")[1].startswith("Zebra topic") for t in topics)
    assert shown == 30 + (48 - 30 - 4)  # the 30 critical first, then the seeded high ones
    hidden = 60 + 4 - 48
    assert blocks[-1]["elements"][0]["text"] == (
        f"…and {hidden} more topics not shown: `/watch <topic>` shows any one."
    )


async def test_an_event_without_summary_or_source_shows_its_tags_cleanly(bot: RunningBot) -> None:
    """The event's last line is "Source: … · Tags: …", each part only when it has one:
    never a separator with nothing before it."""
    cases = [("", "", "Tags: Taiwan"), ("Reuters", "", "Source: Reuters  ·  Tags: Taiwan")]
    async with bot.db.session() as session:
        for n, (source, url, _) in enumerate(cases):
            await events.add_event(
                session,
                actor=CLI,
                now=AS_OF,
                title=f"Taiwan item {n}",
                occurred_at=AS_OF - timedelta(minutes=n + 1),
                source_name=source,
                source_url=url,
            )
    text = block_text(answer(await bot.command("/watch", "taiwan", user=MEMBER)))
    for line in text.splitlines():
        assert not line.strip().startswith("·"), line
    for n, (_, _, last) in enumerate(cases):
        item = text[text.index(f"Taiwan item {n}") :]
        assert item.split("\n")[1] == last


async def test_talks_for_a_track_without_rounds_names_the_track(bot: RunningBot) -> None:
    body = answer(await bot.command("/talks", "us-eu", user=MEMBER))
    assert body["text"] == "No talks rounds are on record for us-eu."


async def test_a_topics_events_dated_later_are_coming_up_then_in_its_timeline(
    bot: RunningBot,
) -> None:
    """SPEC §3: events dated later than now are upcoming. A topic's timeline is what has
    happened, newest first; what is dated later follows under "Coming up", soonest first
    (restricted ones only for who may see them), and joins the timeline at its time."""
    async with bot.db.session() as session:
        for title, hours, visibility in [
            ("Taiwan: Lai's rescheduled transit", 72, "team"),
            ("Taiwan: Han Kuang drills begin", 24, "team"),
            ("Taiwan: restricted schedule note", 30, "restricted"),
        ]:
            await events.add_event(
                session, actor=CLI, now=AS_OF, title=title,
                occurred_at=AS_OF + timedelta(hours=hours), visibility=visibility,
            )  # fmt: skip

    async def sections(user: str) -> tuple[str, str]:
        text = block_text(answer(await bot.command("/watch", "taiwan", user=user)))
        if "Coming up" not in text:
            return text, ""
        at = text.index("Coming up")
        return text[:at], text[at:]

    past, coming = await sections(MEMBER)
    assert LAI in past and "Han Kuang" not in past
    assert coming.index("Han Kuang drills") < coming.index("rescheduled transit")
    # Both lists carry their tags (read for both in one statement).
    assert coming.count("Tags: Taiwan") == 2 and "Tags: Taiwan" in past
    assert "restricted schedule" not in coming
    _, lead_coming = await sections(LEAD)
    assert "restricted schedule note" in lead_coming
    bot.clock.set(AS_OF + timedelta(hours=25))  # the drills have begun
    past, coming = await sections(MEMBER)
    assert "Han Kuang drills" in past and "Han Kuang drills" not in coming
    assert "rescheduled transit" in coming
    bot.clock.set(AS_OF + timedelta(hours=80))
    past, coming = await sections(MEMBER)
    assert coming == "" and "rescheduled transit" in past


@pytest.mark.parametrize(
    ("command", "what"),
    [
        ("/watch edit Taiwan", "sensitivity Taiwan"),
        ("/watch edit rare earths", "sensitivity Rare earths"),
        ("/deadline edit 1", "deadline #1"),
    ],
)
async def test_an_edit_that_changes_nothing_is_refused_not_audited(
    bot: RunningBot, command: str, what: str
) -> None:
    name, _, text = command.partition(" ")
    await bot.command(name, text, user=LEAD)
    view = await bot.opened_view()
    audits = await audit_count(bot)
    body = answer(await bot.submit_view(view, {}, user=LEAD))  # every field as it was
    assert body["response_action"] == "errors"
    (said,) = body["errors"].values()
    assert said == f"Nothing changed: {what} is as it was. Change a field, or close the form."
    assert await audit_count(bot) == audits


@pytest.mark.parametrize(
    ("values", "said"),
    [
        (
            {Field.level: "critical", Field.keywords: "Taiwan, Lai Ching-te, 台湾, 海峡"},
            "raised sensitivity Taiwan from high to critical (and its keywords)",
        ),
        ({Field.level: "critical"}, "raised sensitivity Taiwan from high to critical"),
        ({Field.keywords: "Taiwan, 海峡"}, "updated sensitivity Taiwan (keywords)"),
        (
            {Field.level: "low", Field.description: "Watch the Strait."},
            "lowered sensitivity Taiwan from high to low (and its description)",
        ),
    ],
)
async def test_a_sensitivity_edit_says_everything_it_changed(
    bot: RunningBot, values: dict[str, str], said: str
) -> None:
    await bot.command("/watch", "edit Taiwan", user=LEAD)
    view = await bot.opened_view()
    response = await bot.submit_view(view, values, user=LEAD)
    assert response.status_code == 200 and response.text == "", response.text
    text = block_text(answer(await bot.command("/desk", "history 1", user=MEMBER)))
    assert text.splitlines()[1].endswith(said), text


@pytest.mark.parametrize(
    ("name", "keywords", "found"),
    [
        ("Chips", "chips, Nvidia", ["FT: US has temporarily paused some tech export"]),
        ("稀土管制", "稀土, rare earths", ["Analysts: China's dominance of rare earths"]),
        ("Quokkas", "quokka", []),
    ],
)
async def test_a_new_sensitivity_tags_the_events_already_on_record(
    bot: RunningBot, name: str, keywords: str, found: list[str]
) -> None:
    """SPEC §2: events that mention a keyword are tagged with it, those already on record
    too; no alert goes out for them (old news)."""
    bot.clock.set(datetime(2025, 7, 30, 9, 0, tzinfo=UTC))
    answer(await bot.command("/desk", "subscribe", user=LEAD))
    await bot.command("/watch", "new", user=LEAD)
    view = await bot.opened_view()
    values = {Field.name: name, Field.level: "critical", Field.keywords: keywords}
    response = await bot.submit_view(view, values, user=LEAD)
    assert response.status_code == 200 and response.text == "", response.text
    text = block_text(answer(await bot.command("/watch", name, user=MEMBER)))
    for title in found:
        assert title in text, text
    if not found:
        assert "No events yet." in text
    posted = [c for c in bot.standin.calls_to("chat.postMessage") if "Alert" in str(c.args)]
    assert posted == []


async def test_new_keywords_tag_the_events_that_mention_them(bot: RunningBot) -> None:
    bot.clock.set(datetime(2025, 7, 30, 9, 0, tzinfo=UTC))
    before = block_text(answer(await bot.command("/watch", "taiwan", user=MEMBER)))
    assert "SEEKING" not in before
    await bot.command("/watch", "edit taiwan", user=LEAD)
    view = await bot.opened_view()
    keywords = next(b for b in view["blocks"] if b.get("block_id") == Field.keywords)
    typed = keywords["element"]["initial_value"] + ", Truth Social"
    response = await bot.submit_view(view, {Field.keywords: typed}, user=LEAD)
    assert response.status_code == 200 and response.text == "", response.text
    after = block_text(answer(await bot.command("/watch", "taiwan", user=MEMBER)))
    assert "SEEKING" in after
