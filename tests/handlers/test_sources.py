"""News intake over real HTTP: `/desk source …`, review channels, proposals posted once with
their triage buttons, the prefilled event form, Dismiss and Mute similar, the message
shortcut *Add to Parley*, and the digest's "From the news"."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.clock import ManualClock
from bot.render.ids import Action, Callback
from bot.scheduler import Scheduler
from storage.db import Database
from storage.models import Event, FeedItem, Source, Subscription
from tests.support.bots import RunningBot, make_scheduler, running_bot
from tests.support.checks import (
    answer,
    assert_user_text_escaped,
    assert_valid_message,
    audit_count,
    block_text,
    response_url_reply,
    rows,
)
from tests.support.feeds import Entry, FeedServer, serving
from tests.support.people import AS_OF, BOT_TOKEN, CHANNEL, LEAD, MEMBER
from tests.support.slack import SlackStandIn

REVIEW = "CREVIEW1"
HOSTILE_TITLE = "Taiwan <!channel> <@U123> <http://x|y> & @everyone"


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer(feeds={"/feed/wire": [Entry("w1", "Old news about Taiwan")]})
    async with serving(server):
        yield server


@pytest.fixture
async def desk(
    seeded_sqlite_db: Database, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[RunningBot]:
    """The seeded bot over HTTP, allowed to poll loopback feeds (the feed server)."""
    async with running_bot(seeded_sqlite_db, standin, clock, intake_allow_private=True) as bot:
        yield bot


def scheduler_of(bot: RunningBot) -> Scheduler:
    return make_scheduler(bot, intake_allow_private=True)


async def _add_wire(bot: RunningBot, feeds: FeedServer) -> None:
    body = answer(
        await bot.command("/desk", f"source add <{feeds.url('/feed/wire')}> Wire", user=LEAD)
    )
    assert "Added the source *Wire*" in body["text"]


async def _proposal_posted(bot: RunningBot, feeds: FeedServer) -> dict[str, Any]:
    """A review channel, the wire's first (quiet) poll, then a new matching entry proposed."""
    answer(await bot.command("/desk", "subscribe review on digest off", user=LEAD, channel=REVIEW))
    await _add_wire(bot, feeds)
    scheduler = scheduler_of(bot)
    await scheduler.tick()
    assert bot.standin.calls_to("chat.postMessage") == []  # the first poll proposes nothing
    feeds.feeds["/feed/wire"].append(
        Entry(
            "w2",
            HOSTILE_TITLE,
            "https://wire.example.com/2",
            AS_OF,
            "<script>x()</script>Lai transit postponed",
        )
    )
    bot.clock.advance(timedelta(minutes=17))
    mark = bot.standin.mark()
    await scheduler.tick()
    [post] = bot.standin.calls_since(mark, "chat.postMessage")
    assert post.args["channel"] == REVIEW
    await scheduler.tick()  # nothing posted twice
    assert len(bot.standin.calls_since(mark, "chat.postMessage")) == 1
    return post.args


async def test_a_lead_adds_a_source_and_lists_it_with_its_health(
    desk: RunningBot, feeds: FeedServer
) -> None:
    await _add_wire(desk, feeds)
    body = answer(await desk.command("/desk", "source list", user=MEMBER))
    assert "*Wire*" in block_text(body) and "not polled yet" in block_text(body)
    [source] = await rows(desk, Source, col(Source.name) == "Wire")
    assert source.added_by == LEAD and source.tracks is None


async def test_a_source_added_with_a_track_feeds_that_track(
    desk: RunningBot, feeds: FeedServer
) -> None:
    answer(
        await desk.command(
            "/desk", f"us-china source add {feeds.url('/feed/wire')} Wire", user=LEAD
        )
    )
    [source] = await rows(desk, Source, col(Source.name) == "Wire")
    assert source.tracks == ["us-china"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("source add ftp://example.com/feed", "Only http and https"),
        ("source add", "Give the feed's address"),
        ("source pause", "Name the source"),
        ("source fly Wire", "Unknown `source` command"),
        ("source pause Nowhere", "No source called"),
    ],
)
async def test_bad_source_commands_get_a_clear_reply_and_change_nothing(
    desk: RunningBot, text: str, reason: str
) -> None:
    before = await audit_count(desk)
    body = answer(await desk.command("/desk", text, user=LEAD))
    assert reason in body["text"]
    assert await audit_count(desk) == before


async def test_a_loopback_source_is_refused_when_private_addresses_are_not_allowed(
    bot: RunningBot,
) -> None:
    body = answer(await bot.command("/desk", "source add http://127.0.0.1:9/feed", user=LEAD))
    assert "own or private addresses" in body["text"]
    assert await rows(bot, Source, col(Source.added_by) == LEAD) == []


@pytest.mark.parametrize(
    "text",
    [
        "source add https://ustr.gov/feed",
        "source remove Wire",
        "source check Wire",
        "source pause Wire",
    ],
)
async def test_a_member_cannot_change_or_check_sources(
    desk: RunningBot, feeds: FeedServer, text: str
) -> None:
    await _add_wire(desk, feeds)
    before = await audit_count(desk)
    body = answer(await desk.command("/desk", text, user=MEMBER))
    assert "Only a desk lead" in body["text"]
    assert await audit_count(desk) == before
    assert feeds.hits["/feed/wire"] == 0


async def test_pause_resume_and_remove_answer_and_are_audited(
    desk: RunningBot, feeds: FeedServer
) -> None:
    await _add_wire(desk, feeds)
    assert (
        "Paused *Wire*"
        in answer(await desk.command("/desk", "source pause wire", user=LEAD))["text"]
    )
    assert (
        "Resumed *Wire*"
        in answer(await desk.command("/desk", "source resume Wire", user=LEAD))["text"]
    )
    assert (
        "Removed the source *Wire*"
        in answer(await desk.command("/desk", "source remove Wire", user=LEAD))["text"]
    )
    assert await rows(desk, Source, col(Source.name) == "Wire") == []


async def test_check_polls_now_and_answers_what_it_found(
    desk: RunningBot, feeds: FeedServer
) -> None:
    await _add_wire(desk, feeds)
    body = answer(await desk.command("/desk", "source check Wire", user=LEAD))
    assert "Checking *Wire* now" in body["text"]
    reply = await response_url_reply(desk)
    assert "1 new item (its first poll: recorded, not proposed)" in reply["text"]
    feeds.feeds["/feed/wire"] = []
    answer(await desk.command("/desk", f"source add {feeds.url('/status/500')} Broken", user=LEAD))
    answer(await desk.command("/desk", "source check Broken", user=LEAD))
    assert "failed: `HTTP 500 Internal Server Error`" in (await response_url_reply(desk))["text"]
    listing = block_text(answer(await desk.command("/desk", "source list", user=LEAD)))
    assert "1 failure in a row, last error: `HTTP 500 Internal Server Error`" in listing


async def test_a_proposal_is_posted_once_escaped_with_its_triage_buttons(
    desk: RunningBot, feeds: FeedServer
) -> None:
    post = await _proposal_posted(desk, feeds)
    assert_valid_message(post)
    assert_user_text_escaped(post)
    text = block_text(post)
    assert "Proposed from the news" in text and "Wire" in text and "Taiwan" in text
    assert "script" not in text and "Lai transit postponed" in text
    actions = [
        e["action_id"] for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [Action.add_item, Action.dismiss_item, Action.mute_item]


async def test_add_to_record_opens_the_prefilled_form_and_links_the_item(
    desk: RunningBot, feeds: FeedServer
) -> None:
    await _proposal_posted(desk, feeds)
    [item] = await rows(desk, FeedItem, col(FeedItem.key) == "w2")
    await desk.click(Action.add_item, str(item.id), user=LEAD, channel=REVIEW)
    view = await desk.opened_view()
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in view["blocks"]
        if b["type"] == "input"
    }
    # markup-like pieces are stripped as HTML when parsed; what is left shows as typed text
    assert initial["title"] == "Taiwan <@U123> & @everyone"
    assert initial["source"] == "Wire" and initial["source_url"] == "https://wire.example.com/2"
    assert initial["when"] == "2025-07-29 09:00 UTC"
    chosen = next(b for b in view["blocks"] if b.get("block_id") == "sensitivities")
    assert [o["value"] for o in chosen["element"]["initial_options"]] == ["taiwan"]
    assert json.loads(view["private_metadata"])["from_item"] == item.id
    response = await desk.submit_view(
        view, {"title": "Lai transit postponed", "sensitivities": ["taiwan"]}, user=LEAD
    )
    assert response.status_code == 200 and not response.content
    [event] = await rows(desk, Event, col(Event.title) == "Lai transit postponed")
    [added] = await rows(desk, FeedItem, col(FeedItem.id) == item.id)
    assert (added.state, added.event_id) == ("added", event.id)
    assert event.source_url == "https://wire.example.com/2" and event.confidence == "reported"
    again = await desk.click(Action.dismiss_item, str(item.id), user=LEAD, channel=REVIEW)
    assert again.status_code == 200
    assert "was added already" in (await response_url_reply(desk))["text"]


async def test_dismiss_and_mute_similar_answer_and_a_member_is_refused(
    desk: RunningBot, feeds: FeedServer
) -> None:
    await _proposal_posted(desk, feeds)
    [item] = await rows(desk, FeedItem, col(FeedItem.key) == "w2")
    await desk.click(Action.dismiss_item, str(item.id), user=MEMBER, channel=REVIEW)
    assert "Only a desk lead" in (await response_url_reply(desk))["text"]
    await desk.click(Action.mute_item, str(item.id), user=LEAD, channel=REVIEW)
    reply = (await response_url_reply(desk))["text"]
    assert "Dismissed" in reply and "no longer match on: Taiwan" in reply
    [source] = await rows(desk, Source, col(Source.name) == "Wire")
    assert source.muted == ["Taiwan"]


async def test_the_digest_lists_untriaged_proposals_from_the_news(
    desk: RunningBot, feeds: FeedServer
) -> None:
    await _proposal_posted(desk, feeds)
    answer(await desk.command("/desk", "subscribe", user=LEAD))
    body = answer(await desk.command("/desk", "digest", user=MEMBER))
    text = block_text(body)
    assert "From the news" in text and "Wire" in text
    assert_user_text_escaped(body)


@pytest.mark.parametrize(("follows", "shown"), [("us-china", True), ("us-eu", False)])
async def test_the_digest_lists_news_only_from_sources_of_the_tracks_it_follows(
    desk: RunningBot, feeds: FeedServer, follows: str, shown: bool
) -> None:
    await _proposal_posted(desk, feeds)
    async with desk.db.session() as session:  # the wire now feeds us-china only
        wire = (await session.exec(select(Source).where(col(Source.name) == "Wire"))).one()
        wire.tracks = ["us-china"]
        session.add(wire)
        await session.commit()
    answer(await desk.command("/desk", f"{follows} subscribe", user=LEAD))
    text = block_text(answer(await desk.command("/desk", "digest", user=MEMBER)))
    assert ("From the news" in text) is shown
    assert ("Wire" in text) is shown


def _shortcut(bot: RunningBot, text: str, *, user: str, ts: str) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": Callback.add_to_parley.value,
        "team": {"id": "T0LOCAL", "domain": "parley-local"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0LOCAL"},
        "api_app_id": "A0PARLEY",
        "channel": {"id": CHANNEL, "name": "desk"},
        "message": {"type": "message", "user": "UOTHER01", "ts": ts, "text": text},
        "message_ts": ts,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}",
        "response_url": bot.standin.response_url(channel=CHANNEL),
        "action_ts": "1753779601.000000",
    }


async def _posted_ts(bot: RunningBot, text: str) -> str:
    reply = await bot.http.post(
        f"{bot.standin.api_url}chat.postMessage",
        headers={"Authorization": f"Bearer {BOT_TOKEN}"},
        json={"channel": CHANNEL, "text": text},
    )
    return str(reply.json()["ts"])


async def test_the_shortcut_opens_the_form_with_the_message_and_its_link(
    desk: RunningBot,
) -> None:
    text = "FT: <https://www.ft.com/content/abc|US weighs Nvidia H20 curbs> says <@U999>"
    await desk.interaction(_shortcut(desk, text, user=LEAD, ts="1753779000.000100"))
    view = await desk.opened_view()
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in view["blocks"]
        if b["type"] == "input"
    }
    assert initial["title"] == "FT: US weighs Nvidia H20 curbs says @U999"
    assert initial["source_url"] == "https://www.ft.com/content/abc"
    chosen = next(b for b in view["blocks"] if b.get("block_id") == "sensitivities")
    assert [o["value"] for o in chosen["element"]["initial_options"]] == ["export-controls"]


async def test_the_shortcut_keeps_the_permalink_when_the_message_has_no_link(
    desk: RunningBot,
) -> None:
    ts = await _posted_ts(desk, "Heard from MOFCOM: rare earths licences slowed")
    await desk.interaction(
        _shortcut(desk, "Heard from MOFCOM: rare earths licences slowed", user=LEAD, ts=ts)
    )
    view = await desk.opened_view()
    url = next(
        b["element"].get("initial_value")
        for b in view["blocks"]
        if b.get("block_id") == "source_url"
    )
    assert url.endswith(f"/archives/{CHANNEL}/p{ts.replace('.', '')}")


async def test_the_shortcut_tells_a_member_it_is_for_leads(desk: RunningBot) -> None:
    await desk.interaction(_shortcut(desk, "anything", user=MEMBER, ts="1753779000.000200"))
    assert "Only a desk lead" in (await response_url_reply(desk))["text"]
    assert desk.standin.calls_to("views.open") == []


async def test_subscribe_review_on_makes_a_review_channel(desk: RunningBot) -> None:
    body = answer(await desk.command("/desk", "subscribe review on", user=LEAD, channel=REVIEW))
    assert "Review channel (news proposals): on" in body["text"]
    [sub] = await rows(desk, Subscription, col(Subscription.channel_id) == REVIEW)
    assert sub.review is True


async def test_a_critical_proposal_is_also_alerted_at_once_to_subscribed_channels(
    desk: RunningBot, feeds: FeedServer
) -> None:
    from storage.access import CLI
    from storage.sensitivities import find_sensitivity, update_sensitivity

    async with desk.db.session() as s:
        taiwan = await find_sensitivity(s, "taiwan", include_restricted=True)
        assert taiwan.id is not None
        await update_sensitivity(
            s, actor=CLI, now=AS_OF, sensitivity_id=taiwan.id, level="critical"
        )
    answer(await desk.command("/desk", "subscribe", user=LEAD, channel=CHANNEL))
    answer(await desk.command("/desk", "subscribe review on digest off", user=LEAD, channel=REVIEW))
    await _add_wire(desk, feeds)
    scheduler = scheduler_of(desk)
    await scheduler.tick()
    feeds.feeds["/feed/wire"].append(Entry("w3", "Taipei braces for tariff talks", None, AS_OF))
    desk.clock.advance(timedelta(minutes=17))
    mark = desk.standin.mark()
    await scheduler.tick()
    await scheduler.tick()
    posts = {c.args["channel"]: c.args for c in desk.standin.calls_since(mark, "chat.postMessage")}
    assert sorted(posts) == sorted([CHANNEL, REVIEW])  # the review channel only once
    assert len(desk.standin.calls_since(mark, "chat.postMessage")) == 2
    assert "Proposed from the news" in block_text(posts[REVIEW])
    alert = posts[CHANNEL]
    assert "Alert from the news — Taiwan" in block_text(alert)
    assert not [b for b in alert["blocks"] if b["type"] == "actions"]  # triage is for reviewers


async def test_source_changes_show_in_the_desk_history(desk: RunningBot, feeds: FeedServer) -> None:
    await _add_wire(desk, feeds)
    answer(await desk.command("/desk", "source pause Wire", user=LEAD))
    answer(await desk.command("/desk", "source remove Wire", user=LEAD))
    text = block_text(answer(await desk.command("/desk", "history 3", user=MEMBER)))
    lines = [line for line in text.split("\n") if "news source Wire" in line]
    assert [line.split(" · ")[-1] for line in lines] == [
        "removed news source Wire",
        "paused news source Wire",
        "added news source Wire",
    ]
