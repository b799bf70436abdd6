"""Polling on the injected clock against the local feed server, on both databases: first
poll quiet, changes proposed once, 304s, failures backed off with the lead told, replicas
polling each source once, and the scheduler's tick driving it all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.app import build_app, build_client
from bot.cli import BotProcess
from bot.clock import ManualClock
from bot.intake.poll import Intake
from bot.metrics import Metrics
from bot.scheduler import Scheduler, delivery_client
from bot.settings import Settings
from storage import sources, subscriptions
from storage.access import CLI, Actor
from storage.db import Database
from storage.models import Delivery, DeliveryKind, FeedItem, Source
from storage.roles import grant_lead
from tests.bot.test_web_metrics import sample
from tests.support.databases import seed
from tests.support.feeds import Entry, FeedServer, serving
from tests.support.people import AS_OF, BOT_TOKEN
from tests.support.slack import SlackStandIn

LEAD = Actor("ULEAD001")
SETTINGS = Settings(intake_allow_private=True)
TICK = timedelta(minutes=17)  # past a 15-minute interval and its spread (≤ 90 s)


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer(feeds={"/feed/wire": [Entry("w1", "Weather report")]})
    async with serving(server):
        yield server


@pytest.fixture
async def desk(db: Database) -> Database:
    """The seeded record, a lead, and a review channel."""
    await seed(db)
    async with db.session() as s:
        await grant_lead(s, actor=CLI, now=AS_OF, user_id=LEAD.id)
        await subscriptions.subscribe(
            s, actor=LEAD, now=AS_OF, channel_id="CREVIEW", review=True, digest_enabled=False
        )
    return db


async def _add(db: Database, url: str, name: str, now: object = AS_OF) -> Source:
    async with db.session() as s:
        return await sources.add_source(
            s,
            actor=LEAD,
            now=now,
            url=url,
            name=name,
            allow_private=True,  # type: ignore[arg-type]
        )


def _intake(db: Database, clock: ManualClock, worker: str = "w1", **kw: object) -> Intake:
    return Intake(db=db, clock=clock, settings=SETTINGS, worker=worker, **kw)  # type: ignore[arg-type]


async def _source(db: Database, name: str) -> Source:
    async with db.session() as s:
        return await sources.find_source(s, name)


async def _proposals(db: Database) -> list[Delivery]:
    async with db.session() as s:
        query = select(Delivery).where(col(Delivery.kind) == DeliveryKind.proposal)
        return list((await s.exec(query.order_by(col(Delivery.id)))).all())


async def test_first_poll_records_quietly_then_new_matching_items_are_proposed_once(
    desk: Database, feeds: FeedServer, clock: ManualClock
) -> None:
    feeds.feeds["/feed/wire"].append(Entry("w2", "Taiwan: Lai transit postponed"))
    await _add(desk, feeds.url("/feed/wire"), "Wire")
    intake = _intake(desk, clock)
    [first] = await intake.poll_due()
    assert (first.status, first.new, first.first, first.proposed) == ("ok", 2, True, [])
    assert await _proposals(desk) == []

    assert await intake.poll_due() == []  # not due yet
    clock.advance(TICK)
    [unchanged] = await intake.poll_due()
    assert unchanged.status == "not-modified" and feeds.conditional["/feed/wire"] == 1

    feeds.feeds["/feed/wire"] += [
        Entry("w3", "Nvidia H20 licences granted"),
        Entry("w4", "Stockholm weather"),
    ]
    clock.advance(TICK)
    [changed] = await intake.poll_due()
    assert (changed.new, changed.proposed) == (2, ["Nvidia H20 licences granted"])
    clock.advance(TICK)
    [again] = await intake.poll_due()
    assert again.status == "not-modified"
    [post] = await _proposals(desk)
    assert post.channel_id == "CREVIEW"
    health = await _source(desk, "Wire")
    assert (health.items_seen, health.consecutive_failures, health.last_error) == (4, 0, "")
    assert health.last_success_at == clock.now()


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/html", "HTML page"),
        ("/malformed", "not a well-formed feed"),
        ("/truncated", "not a well-formed feed"),
        ("/huge", "bytes; stopped reading"),
        ("/status/404", "HTTP 404"),
        ("/status/500", "HTTP 500"),
        ("/status/429", "HTTP 429"),
        ("/loop/a", "redirect loop"),
    ],
)
async def test_a_bad_feed_shows_its_error_and_backs_off(
    desk: Database, feeds: FeedServer, clock: ManualClock, path: str, error: str
) -> None:
    await _add(desk, feeds.url(path), "Bad")
    [outcome] = await _intake(desk, clock).poll_due()
    assert outcome.status == "error" and error in outcome.error
    source = await _source(desk, "Bad")
    assert error in source.last_error and source.consecutive_failures == 1
    assert source.next_poll_at == AS_OF + timedelta(minutes=30)
    async with desk.session() as s:
        assert (await s.exec(select(FeedItem))).all() == []


async def test_a_retry_after_longer_than_the_back_off_is_honoured(
    desk: Database, feeds: FeedServer, clock: ManualClock
) -> None:
    await _add(desk, feeds.url("/busy"), "Busy")
    [outcome] = await _intake(desk, clock).poll_due()
    assert outcome.error == "HTTP 503 Service Unavailable"
    source = await _source(desk, "Busy")
    assert source.next_poll_at == AS_OF + timedelta(hours=2)  # not the 30 min back-off


async def test_a_slow_feed_times_out_and_the_round_goes_on(
    desk: Database, feeds: FeedServer, clock: ManualClock
) -> None:
    await _add(desk, feeds.url("/slow"), "Slow")
    await _add(desk, feeds.url("/feed/wire"), "Wire")
    outcomes = await _intake(desk, clock, whole_timeout=0.5).poll_due()
    by_name = {o.source: o for o in outcomes}
    assert by_name["Slow"].error == "no complete answer within 0.5 s"
    assert by_name["Wire"].status == "ok"


async def test_five_failures_tell_the_lead_once_and_recovery_once_more(
    desk: Database, feeds: FeedServer, clock: ManualClock
) -> None:
    await _add(desk, feeds.url("/feed/flaky"), "Flaky")
    intake = _intake(desk, clock)
    async with desk.session() as s:  # point it at a failing address for five polls
        source = await sources.find_source(s, "Flaky")
        source.url = feeds.url("/status/500")
        await s.commit()
    for _ in range(6):
        await intake.poll_due()
        clock.set((await _source(desk, "Flaky")).next_poll_at)
    async with desk.session() as s:
        source = await sources.find_source(s, "Flaky")
        source.url = feeds.url("/feed/flaky")
        await s.commit()
    [recovered] = await intake.poll_due()
    assert recovered.status == "ok"
    async with desk.session() as s:
        query = select(Delivery).where(col(Delivery.kind) == DeliveryKind.notice)
        notices = (await s.exec(query.order_by(col(Delivery.id)))).all()
    assert [n.channel_id for n in notices] == [LEAD.id, LEAD.id]
    assert "failed 5 polls in a row" in notices[0].payload["text"]  # type: ignore[index]
    assert "works again" in notices[1].payload["text"]  # type: ignore[index]


async def test_two_replicas_poll_each_source_once(
    desk: Database, feeds: FeedServer, clock: ManualClock
) -> None:
    for n in range(6):
        feeds.feeds[f"/feed/f{n}"] = [Entry(f"{n}-1", "Taiwan news")]
        await _add(desk, feeds.url(f"/feed/f{n}"), f"F{n}")
    replicas = [_intake(desk, clock, "r1", batch=2), _intake(desk, clock, "r2", batch=2)]
    rounds = await asyncio.gather(*(r.poll_due() for r in replicas))
    polled = sorted(o.source for outcomes in rounds for o in outcomes)
    assert polled == [f"F{n}" for n in range(6)]
    assert all(feeds.hits[f"/feed/f{n}"] == 1 for n in range(6))
    clock.advance(TICK)
    rounds = await asyncio.gather(*(r.poll_due() for r in replicas))
    assert sum(len(o) for o in rounds) == 6
    assert all(feeds.hits[f"/feed/f{n}"] == 2 for n in range(6))


async def test_check_polls_now_even_when_not_due(
    desk: Database, feeds: FeedServer, clock: ManualClock
) -> None:
    source = await _add(desk, feeds.url("/feed/wire"), "Wire")
    assert source.id is not None
    intake = _intake(desk, clock)
    await intake.poll_due()
    feeds.feeds["/feed/wire"].append(Entry("w9", "Rare earths curbs eased"))
    outcome = await intake.check(source.id)
    assert (outcome.status, outcome.new, outcome.proposed) == ("ok", 1, ["Rare earths curbs eased"])


async def test_the_federal_register_adapter_polls_documents_json(
    desk: Database, feeds: FeedServer, clock: ManualClock
) -> None:
    async with desk.session() as s:
        source = await sources.add_source(
            s,
            actor=LEAD,
            now=AS_OF,
            url=feeds.url("/fr/documents.json"),
            name="FR",
            allow_private=True,
        )
        source.kind = "federal_register"  # its real address is www.federalregister.gov
        await s.commit()
    [outcome] = await _intake(desk, clock).poll_due()
    assert (outcome.status, outcome.new) == ("ok", 1)
    assert outcome.skipped == ["entry 2: no title and no link"]


@pytest.mark.parametrize("intake", [True, False])
async def test_the_scheduler_tick_polls_unless_intake_is_off(
    desk: Database, feeds: FeedServer, clock: ManualClock, standin: SlackStandIn, intake: bool
) -> None:
    await _add(desk, feeds.url("/feed/wire"), "Wire")
    settings = Settings(
        bot_token=BOT_TOKEN, api_url=standin.api_url, intake=intake, intake_allow_private=True
    )
    scheduler = Scheduler(
        db=desk, client=delivery_client(settings), clock=clock, settings=settings, worker="w1"
    )
    report = await scheduler.tick()
    assert report.polled == (1 if intake else 0)
    assert feeds.hits["/feed/wire"] == (1 if intake else 0)


async def test_source_health_shows_in_healthz_and_metrics(
    desk: Database, feeds: FeedServer, clock: ManualClock, standin: SlackStandIn
) -> None:
    await _add(desk, feeds.url("/feed/wire"), "Wire")
    await _add(desk, feeds.url("/status/500"), "Broken")
    await _add(desk, feeds.url("/feed/other"), "Later")
    async with desk.session() as s:
        await sources.set_enabled(s, actor=LEAD, now=AS_OF, name="Later", enabled=False)
    await _intake(desk, clock).poll_due()
    settings = Settings(bot_token=BOT_TOKEN, api_url=standin.api_url, intake_allow_private=True)
    metrics = Metrics()
    app = build_app(settings=settings, client=build_client(settings), db=desk, clock=clock)
    process = BotProcess(
        settings=settings, db=desk, app=app, metrics=metrics, clock=clock, scheduler=None
    )
    health = await process.health()
    seeded = 5  # the seed's example sources are paused
    assert health["sources"] == {"ok": 1, "failing": 1, "paused": 1 + seeded, "new": 0}
    exposition = metrics.exposition()
    assert sample(exposition, "parley_sources", state="failing") == 1
    assert sample(exposition, "parley_sources", state="ok") == 1
