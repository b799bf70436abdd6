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


async def _second_truce(bot: RunningBot, *, expires_in_days: int) -> None:
    from datetime import timedelta

    from storage import tracks, truces
    from storage.access import Actor

    async with bot.db.session() as session:
        us_eu = tracks.find_track(await tracks.all_tracks(session), "us-eu")
        assert us_eu is not None
        await truces.add_truce(
            session,
            actor=Actor(LEAD),
            now=bot.clock.now(),
            title="US–EU standstill",
            parties=["US", "EU"],
            expires_at=bot.clock.now() + timedelta(days=expires_in_days),
            zone="Europe/Brussels",
            track_id=us_eu.id,
        )


async def test_home_heads_the_truces_as_truce_does(bot: RunningBot) -> None:
    """One heading over all the truces shown, as the clock reads each: never "Active truce"
    over a lapsed one, nor one truce's heading over two."""
    from datetime import UTC, datetime

    from tests.support.checks import answer, block_text

    def heading(blocks: list[dict[str, object]]) -> str:
        headers = [block_text({"blocks": [b]}) for b in blocks if b["type"] == "header"]
        found = [h for h in headers if "truce" in h.lower()]
        assert len(found) == 1, found
        return found[0]

    async def both() -> tuple[str, str]:
        home = heading((await bot.open_home(MEMBER))["blocks"])
        truce = heading(answer(await bot.command("/truce", user=MEMBER))["blocks"])
        return home, truce

    assert await both() == ("Active truce", "Active truce")
    await _second_truce(bot, expires_in_days=30)
    assert await both() == ("2 truces", "2 truces")
    bot.clock.set(datetime(2025, 8, 13, 9, 0, tzinfo=UTC))  # the Geneva truce has lapsed
    assert await both() == ("2 truces (1 lapsed)", "2 truces (1 lapsed)")
    bot.clock.set(datetime(2025, 9, 13, 9, 0, tzinfo=UTC))  # and the US–EU one
    assert await both() == ("2 truces (2 lapsed)", "2 truces (2 lapsed)")
