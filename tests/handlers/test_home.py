from __future__ import annotations

import json

from bot.render.ids import Action
from tests.support.bots import RunningBot
from tests.support.checks import action_ids
from tests.support.people import LEAD, MEMBER


async def test_home_shows_the_deadlines_truce_and_events(bot: RunningBot) -> None:
    view = await bot.open_home(MEMBER)
    text = json.dumps(view)
    assert view["type"] == "home"
    assert "Next deadlines" in text and "Active truce" in text and "Latest events" in text
    assert "Tue 12 Aug 2025 00:01 EDT" in text
    assert len(view["blocks"]) <= 100
    assert bot.standin.violations == []


async def test_home_gives_leads_the_form_buttons_and_members_none(bot: RunningBot) -> None:
    member_view = await bot.open_home(MEMBER)
    lead_view = await bot.open_home(LEAD)
    assert Action.open_event_form not in action_ids(member_view)
    assert not action_ids(member_view)
    assert {Action.open_event_form, Action.open_deadline_form} <= action_ids(lead_view)


async def test_home_follows_the_clock(bot: RunningBot) -> None:
    """An event dated later than now is coming up, not latest; a lapsed truce reads so."""
    from datetime import UTC, datetime

    async with bot.db.session() as session:
        from storage import events
        from storage.access import Actor

        await events.add_event(
            session,
            actor=Actor(LEAD),
            now=bot.clock.now(),
            title="Trump–Xi call announced for Friday",
            occurred_at=datetime(2025, 8, 1, 13, 0, tzinfo=UTC),
            zone="UTC",
        )
    text = json.dumps(await bot.open_home(MEMBER), ensure_ascii=False)
    coming = text[text.index("Coming up") :]
    latest = text[text.index("Latest events") : text.index("Coming up")]
    assert "Trump–Xi call announced" in coming and "Trump–Xi call announced" not in latest
    bot.clock.set(datetime(2025, 8, 13, 9, 0, tzinfo=UTC))
    text = json.dumps(await bot.open_home(MEMBER), ensure_ascii=False)
    assert "Lapsed truce" in text and "status *lapsed*" in text
    assert "Coming up" not in text
    latest = text[text.index("Latest events") :]
    assert "Trump–Xi call announced" in latest
