from __future__ import annotations

import json
import time
from typing import Any

from bot.render.ids import Action
from tests.support.bots import RunningBot, sign
from tests.support.people import LEAD, MEMBER


async def open_home(bot: RunningBot, user: str) -> dict[str, Any]:
    body = json.dumps(
        {
            "token": "deprecated",
            "team_id": "T0LOCAL",
            "api_app_id": "A0PARLEY",
            "type": "event_callback",
            "event_id": f"Ev{int(time.time() * 1000)}{user}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
        }
    )
    headers = sign(body) | {"content-type": "application/json"}
    response = await bot.send(body, headers)
    assert response.status_code == 200
    published = await bot.standin.next_call(
        "views.publish", after=bot.last.mark, where=lambda c: c.args.get("user_id") == user
    )
    view = published.args["view"]
    assert isinstance(view, dict)
    return view


def action_ids(view: dict[str, Any]) -> set[str]:
    found = set()
    for block in view["blocks"]:
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                found.add(element["action_id"])
    return found


async def test_home_shows_the_deadlines_truce_and_events(bot: RunningBot) -> None:
    view = await open_home(bot, MEMBER)
    text = json.dumps(view)
    assert view["type"] == "home"
    assert "Next deadlines" in text and "Active truce" in text and "Latest events" in text
    assert "Tue 12 Aug 2025 00:01 EDT" in text
    assert len(view["blocks"]) <= 100
    assert bot.standin.violations == []


async def test_home_gives_leads_the_form_buttons_and_members_none(bot: RunningBot) -> None:
    member_view = await open_home(bot, MEMBER)
    lead_view = await open_home(bot, LEAD)
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
    text = json.dumps(await open_home(bot, MEMBER), ensure_ascii=False)
    coming = text[text.index("Coming up") :]
    latest = text[text.index("Latest events") : text.index("Coming up")]
    assert "Trump–Xi call announced" in coming and "Trump–Xi call announced" not in latest
    bot.clock.set(datetime(2025, 8, 13, 9, 0, tzinfo=UTC))
    text = json.dumps(await open_home(bot, MEMBER), ensure_ascii=False)
    assert "Lapsed truce" in text and "status *lapsed*" in text
    assert "Coming up" not in text
    latest = text[text.index("Latest events") :]
    assert "Trump–Xi call announced" in latest
