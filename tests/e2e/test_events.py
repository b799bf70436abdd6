"""The Events API over HTTP on both databases: App Home, and Slack's retries of an event."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

from bot import slack_requests as slack
from bot.render.ids import Action
from bot.retries import FORGET_EVERY, KEEP_HANDLED
from storage.models import HandledRequest
from tests.support.bots import RunningBot, sign
from tests.support.checks import action_ids, rows
from tests.support.people import LEAD, MEMBER


def published_for(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    return [
        c.args["view"] for c in bot.standin.calls_to("views.publish") if c.args["user_id"] == user
    ]


async def published(bot: RunningBot, user: str, *, after: int) -> dict[str, Any]:
    """The user's App Home published after the stand-in's `mark()` `after`, waited for."""
    call = await bot.standin.next_call(
        "views.publish", after=after, where=lambda c: c.args["user_id"] == user
    )
    view = call.args["view"]
    assert isinstance(view, dict)
    return view


def new_event_id() -> str:
    return f"Ev{uuid.uuid4().hex[:10].upper()}"


async def test_app_home_gives_a_lead_buttons_and_a_member_none(e2e: RunningBot) -> None:
    mark = e2e.standin.mark()
    assert (
        await e2e.event(slack.app_home_opened(LEAD, event_id=new_event_id()))
    ).status_code == 200
    assert (
        await e2e.event(slack.app_home_opened(MEMBER, event_id=new_event_id()))
    ).status_code == 200
    lead_view = await published(e2e, LEAD, after=mark)
    member_view = await published(e2e, MEMBER, after=mark)
    for view in (lead_view, member_view):
        assert view["type"] == "home"
        assert "Tue 12 Aug 2025 00:01 EDT" in json.dumps(view)
    assert {Action.open_event_form, Action.open_deadline_form} <= action_ids(lead_view)
    assert action_ids(member_view) == set()


async def test_a_retry_of_a_handled_event_has_no_second_effect(e2e: RunningBot) -> None:
    event_id = new_event_id()
    first = await e2e.event(slack.app_home_opened(MEMBER, event_id=event_id))
    assert first.status_code == 200
    await published(e2e, MEMBER, after=e2e.last.mark)

    retried = await e2e.event(slack.app_home_opened(MEMBER, event_id=event_id), retry=1)
    assert retried.status_code == 200
    assert retried.headers.get("x-slack-no-retry") == "1"
    await e2e.event(
        slack.app_home_opened(LEAD, event_id=new_event_id())
    )  # a later event, to know the retry's turn is over
    await published(e2e, LEAD, after=e2e.last.mark)
    assert len(published_for(e2e, MEMBER)) == 1
    assert await rows(e2e, HandledRequest, HandledRequest.request_id == event_id)


async def test_a_retry_of_an_event_never_handled_is_handled_once(e2e: RunningBot) -> None:
    event_id = new_event_id()
    mark = e2e.standin.mark()
    responses = await asyncio.gather(
        *(e2e.event(slack.app_home_opened(MEMBER, event_id=event_id), retry=n) for n in (1, 2, 3))
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sum(r.headers.get("x-slack-no-retry") == "1" for r in responses) == 2
    await published(e2e, MEMBER, after=mark)
    await e2e.event(slack.app_home_opened(LEAD, event_id=new_event_id()))
    await published(e2e, LEAD, after=e2e.last.mark)
    assert len(published_for(e2e, MEMBER)) == 1


async def add_handled(bot: RunningBot, request_id: str, age: timedelta) -> None:
    async with bot.db.session() as session:
        session.add(HandledRequest(request_id=request_id, handled_at=bot.clock.now() - age))
        await session.commit()


async def handled(bot: RunningBot, request_id: str) -> bool:
    return bool(await rows(bot, HandledRequest, HandledRequest.request_id == request_id))


async def test_handled_ids_older_than_a_day_are_dropped_every_ten_minutes_not_every_event(
    e2e: RunningBot,
) -> None:
    """The claim's DELETE of old ids ran on every event; now once per FORGET_EVERY."""
    await add_handled(e2e, "EvOLD1", KEEP_HANDLED + timedelta(minutes=1))
    await add_handled(e2e, "EvRECENT", KEEP_HANDLED - timedelta(minutes=30))
    await e2e.event(slack.app_home_opened(MEMBER, event_id=new_event_id()))
    assert not await handled(e2e, "EvOLD1")  # the first event drops them at once
    assert await handled(e2e, "EvRECENT")

    await add_handled(e2e, "EvOLD2", KEEP_HANDLED + timedelta(minutes=1))
    for step in (timedelta(0), FORGET_EVERY - timedelta(seconds=1)):
        e2e.clock.advance(step)
        await e2e.event(slack.app_home_opened(MEMBER, event_id=new_event_id()))
        assert await handled(e2e, "EvOLD2")  # not again within ten minutes

    e2e.clock.advance(timedelta(seconds=1))
    await e2e.event(slack.app_home_opened(MEMBER, event_id=new_event_id()))
    assert not await handled(e2e, "EvOLD2")
    assert await handled(e2e, "EvRECENT")  # 10 minutes older, still within its day


REFUSE_DELETES = {
    "sqlite": [
        "CREATE TRIGGER keep_handled BEFORE DELETE ON handled_request "
        "BEGIN SELECT RAISE(ABORT, 'handled ids are kept'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION keep_handled() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'handled ids are kept'; END $$",
        "CREATE TRIGGER keep_handled BEFORE DELETE ON handled_request "
        "FOR EACH ROW EXECUTE FUNCTION keep_handled()",
    ],
}


async def test_an_event_is_handled_when_dropping_old_ids_fails(e2e: RunningBot) -> None:
    """Dropping the old ids is housekeeping after the claim: if it fails, the event is still
    handled (App Home published), claimed once, and the failure is a warning."""
    from sqlalchemy import text

    async with e2e.db.session() as session:
        for statement in REFUSE_DELETES[e2e.db.dialect]:
            await session.exec(text(statement))  # type: ignore[call-overload]
        await session.commit()
    await add_handled(e2e, "EvOLDKEPT", KEEP_HANDLED + timedelta(minutes=1))
    event_id = new_event_id()
    mark = e2e.standin.mark()
    response = await e2e.event(slack.app_home_opened(MEMBER, event_id=event_id))
    assert response.status_code == 200
    assert (await published(e2e, MEMBER, after=mark))["type"] == "home"
    assert await handled(e2e, event_id) and await handled(e2e, "EvOLDKEPT")
    again = await e2e.event(slack.app_home_opened(MEMBER, event_id=event_id), retry=1)
    assert again.headers.get("x-slack-no-retry") == "1"


async def test_slacks_request_url_check_is_answered(e2e: RunningBot) -> None:
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    headers = sign(body) | {"content-type": "application/json"}
    response = await e2e.http.post(f"{e2e.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}
