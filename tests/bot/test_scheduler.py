"""The scheduler against the Slack stand-in on both databases, driven by a manual clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.scheduler import METADATA_TYPE, Scheduler, delivery_client
from bot.settings import Settings
from bot.slack_text import message_text
from bot.timeparse import format_offset
from storage import outbox, planning, subscriptions
from storage.access import CLI
from storage.db import Database
from storage.deadlines import add_deadline, update_deadline
from storage.events import add_event
from storage.models import Deadline, Delivery, DeliveryStatus
from storage.sensitivities import add_sensitivity
from storage.truces import extend_truce, truce_views
from tests.support.databases import seed
from tests.support.people import AS_OF, BOT_TOKEN
from tests.support.record import audit_trail
from tests.support.slack import SlackStandIn

CHANNEL = "CDESK001"
# The seeded truce expires Tue 12 Aug 2025 00:01 EDT.
EXPIRY = datetime(2025, 8, 12, 4, 1, tzinfo=UTC)
OFFSETS_AFTER_AS_OF = [
    timedelta(days=7),
    timedelta(days=3),
    timedelta(days=1),
    timedelta(hours=12),
    timedelta(hours=1),
    timedelta(0),
]


def make_settings(standin: SlackStandIn, db: Database) -> Settings:
    return Settings(
        bot_token=BOT_TOKEN,
        api_url=standin.api_url,
        database_url=db.url,
        timezone="Europe/Stockholm",
    )


def make_scheduler(
    db: Database, standin: SlackStandIn, clock: ManualClock, worker: str = "w1"
) -> Scheduler:
    settings = make_settings(standin, db)
    return Scheduler(
        db=db, client=delivery_client(settings), clock=clock, settings=settings, worker=worker
    )


async def subscribe(db: Database, channel: str, now: datetime = AS_OF, **options: Any) -> None:
    """Subscribes `channel`; countdowns only unless the digest is asked for."""
    options.setdefault("digest_enabled", False)
    async with db.session() as session:
        await subscriptions.subscribe(
            session,
            actor=CLI,
            now=now,
            channel_id=channel,
            default_zone="Europe/Stockholm",
            **options,
        )


def _key(args: dict[str, Any]) -> str:
    return str(((args.get("metadata") or {}).get("event_payload") or {}).get("key") or "")


def posts(
    standin: SlackStandIn, channel: str | None = None, *, lapses: bool = False
) -> list[dict[str, Any]]:
    """The posts Slack accepted. A truce's lapse alert at its expiry is left out unless
    asked for: the countdown tests run through the expiry, the lapse has tests of its own."""
    return [
        c.args
        for c in standin.calls_to("chat.postMessage")
        if isinstance(c.response, dict)
        and c.response.get("ok")
        and (channel is None or c.args.get("channel") == channel)
        and (lapses or not _key(c.args).startswith("alert:lapse:"))
    ]


def keys(standin: SlackStandIn) -> Counter[str]:
    return Counter(
        a["metadata"]["event_payload"]["key"]
        for a in posts(standin, lapses=True)
        if (a.get("metadata") or {}).get("event_type") == METADATA_TYPE
    )


async def deliveries(db: Database) -> list[Delivery]:
    from sqlmodel import select

    async with db.session() as session:
        return list((await session.exec(select(Delivery))).all())


@pytest.fixture
async def seeded(db: Database) -> AsyncIterator[Database]:
    await seed(db)
    yield db


@pytest.mark.parametrize(
    "seeded_at",
    [EXPIRY + timedelta(minutes=1), EXPIRY + timedelta(days=72), datetime(2026, 1, 1, tzinfo=UTC)],
)
async def test_a_truce_seeded_after_its_expiry_is_lapsed_as_history_with_no_alert(
    db: Database, standin: SlackStandIn, clock: ManualClock, seeded_at: datetime
) -> None:
    """A replay started after 12 August (`parley shell --as-of 2025-10-23T09:00Z` on a fresh
    record) posted "🚨 Alert — … lapsed" at once, and the digest called it news."""
    await seed(db, now=seeded_at)
    await subscribe(db, CHANNEL, now=seeded_at, digest_enabled=True)
    clock.set(seeded_at + timedelta(seconds=5))
    await make_scheduler(db, standin, clock).tick()
    assert [p for p in posts(standin, lapses=True) if "lapsed" in message_text(p)] == []
    async with db.session() as session:
        [view] = await truce_views(session, track_ids=None)
    trail = await audit_trail(db)
    assert view.truce.status == "lapsed"
    lapse = [e for e in trail if e.action == "lapse"]
    assert [(e.actor, e.at) for e in lapse] == [("seed", seeded_at)]


async def test_a_truce_seeded_before_its_expiry_lapses_with_its_alert(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await seed(db, now=EXPIRY - timedelta(minutes=1))
    await subscribe(db, CHANNEL, now=EXPIRY - timedelta(minutes=1))
    clock.set(EXPIRY + timedelta(seconds=5))
    await make_scheduler(db, standin, clock).tick()
    assert len([p for p in posts(standin, lapses=True) if "lapsed" in message_text(p)]) == 1


async def test_each_countdown_posts_once_at_its_time(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    scheduler = make_scheduler(seeded, standin, clock)
    await scheduler.tick()
    assert posts(standin) == []  # the 14-day countdown fell due before the subscription
    for count, offset in enumerate(OFFSETS_AFTER_AS_OF, start=1):
        clock.set(EXPIRY - offset - timedelta(seconds=1))
        await scheduler.tick()
        assert len(posts(standin)) == count - 1
        clock.set(EXPIRY - offset + timedelta(seconds=1))
        await scheduler.tick()
        await scheduler.tick()
        assert len(posts(standin)) == count
        text = message_text(posts(standin)[-1])
        assert "tariff" in text.lower() or "truce" in text.lower()
        assert "late" not in text.lower()
    assert "Deadline reached" in message_text(posts(standin)[-1])
    assert max(keys(standin).values()) == 1
    standin.assert_no_violations()


async def test_upcoming_lists_what_the_scheduler_then_posts(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL, digest_enabled=True)
    await subscribe(
        seeded, "CWEEKDAY", digest_enabled=True, weekdays_only=True, countdowns_enabled=False
    )
    await subscribe(seeded, "CEUONLY1", tracks=["us-eu"])  # no us-china countdowns, no digest
    scheduler = make_scheduler(seeded, standin, clock)
    async with seeded.session() as session:
        ahead = await planning.upcoming(
            session, now=AS_OF, default_offsets=scheduler.settings.countdown_offsets, limit=40
        )
    window = [p for p in ahead if p.due_at <= ahead[24].due_at]  # 25, and any at the same time
    assert {p.kind for p in window} == {"countdown", "digest"}
    assert {p.channel_id for p in window} == {CHANNEL, "CWEEKDAY"}
    assert [p.due_at for p in window] == sorted(p.due_at for p in window)
    for item in window:  # as the shell's :wait does: stop at each
        clock.set(item.due_at + timedelta(seconds=1))
        await scheduler.tick()
    assert keys(standin) == Counter(p.key for p in window)
    async with seeded.session() as session:
        after = await planning.upcoming(
            session, now=clock.now(), default_offsets=scheduler.settings.countdown_offsets, limit=1
        )
    assert after and after[0].due_at > window[-1].due_at  # posted ones are no longer ahead


async def test_an_extension_replans_and_alerts(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    scheduler = make_scheduler(seeded, standin, clock)
    clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
    await scheduler.tick()
    assert len(posts(standin)) == 1
    async with seeded.session() as session:
        deadline = (await session.exec(_truce_expiry())).one()
        assert deadline.truce_id is not None
        await extend_truce(
            session,
            actor=CLI,
            now=clock.now(),
            truce_id=deadline.truce_id,
            new_expiry=EXPIRY + timedelta(days=90),
        )
    await scheduler.tick()
    alert = message_text(posts(standin)[-1])
    assert len(posts(standin)) == 2 and "expiry moved" in alert and "Nov 2025" in alert
    clock.set(EXPIRY - timedelta(days=3) + timedelta(seconds=1))  # the old 3-day mark
    await scheduler.tick()
    assert len(posts(standin)) == 2
    clock.set(EXPIRY + timedelta(days=90) - timedelta(days=30) + timedelta(seconds=1))
    await scheduler.tick()
    assert len(posts(standin)) == 3
    assert "Nov 2025" in message_text(posts(standin)[-1])


def _truce_expiry() -> Any:
    from sqlmodel import col, select

    return select(Deadline).where(col(Deadline.truce_id).is_not(None))


async def test_after_downtime_only_the_latest_missed_countdown_posts_late(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    scheduler = make_scheduler(seeded, standin, clock)
    clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=5))
    await scheduler.tick()
    # Down from here until two hours after the 1-day mark: the 3-day and 1-day were missed.
    clock.set(EXPIRY - timedelta(days=1) + timedelta(hours=2))
    restarted = make_scheduler(seeded, standin, clock, worker="w2")
    await restarted.tick()
    await restarted.tick()
    assert len(posts(standin)) == 2
    text = message_text(posts(standin)[-1])
    assert "— late: 1-day countdown; 22 hours left" in text
    assert (
        "_This countdown fell due Mon 11 Aug 2025 00:01 EDT, while Parley was not running._" in text
    )
    rows = {d.key.split(":")[3]: d.status for d in await deliveries(seeded)}
    assert rows[str(3 * 86400)] == DeliveryStatus.skipped
    assert rows[str(86400)] == DeliveryStatus.sent


async def test_a_countdown_missed_by_more_than_a_day_is_not_posted(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    clock.set(EXPIRY + timedelta(hours=25))
    await make_scheduler(seeded, standin, clock).tick()
    assert posts(standin) == []


async def test_a_met_deadline_stops_counting_down(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    scheduler = make_scheduler(seeded, standin, clock)
    async with seeded.session() as session:
        deadline = await add_deadline(
            session,
            actor=CLI,
            now=AS_OF,
            title="Section 301 hearing",
            due_at=AS_OF + timedelta(days=2),
            zone="America/New_York",
            offsets="1d,1h",
        )
        assert deadline.id is not None
        deadline_id = deadline.id
    clock.set(AS_OF + timedelta(days=1, seconds=1))
    await scheduler.tick()
    assert [message_text(p) for p in posts(standin)][-1].count("*Section 301 hearing*") == 1
    async with seeded.session() as session:
        await update_deadline(
            session, actor=CLI, now=clock.now(), deadline_id=deadline_id, status="met"
        )
    clock.set(AS_OF + timedelta(days=2, seconds=-3599))
    await scheduler.tick()
    assert len(posts(standin)) == 1


@pytest.mark.parametrize("own", ["2h,30m", "1d", "7d,3d,1d,12h,1h", "2h,30m,0"])
async def test_the_deadline_reached_post_comes_whatever_the_own_offsets(
    seeded: Database, standin: SlackStandIn, clock: ManualClock, own: str
) -> None:
    """SPEC §3: "At the due time a final 'deadline reached' post", listed or not."""
    await subscribe(seeded, CHANNEL, digest_enabled=False)
    scheduler = make_scheduler(seeded, standin, clock)
    async with seeded.session() as session:
        await add_deadline(
            session, actor=CLI, now=AS_OF, title="Vote", zone="UTC",
            due_at=AS_OF + timedelta(days=9), offsets=own,
        )  # fmt: skip
    clock.set(AS_OF + timedelta(days=9, seconds=5))
    await scheduler.tick()
    reached = [p for p in posts(standin) if "Deadline reached: Vote" in message_text(p)]
    assert len(reached) == 1, [message_text(p) for p in posts(standin)]
    await scheduler.tick()
    assert len([p for p in posts(standin) if "reached" in message_text(p)]) == 1  # once


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        ("2025-03-29", 7),  # CET, the day before summer time
        ("2025-03-30", 6),  # CEST from 02:00 that morning
        ("2025-10-25", 6),  # CEST, the day before winter time
        ("2025-10-26", 7),  # CET from 03:00 that morning
    ],
)
async def test_digest_at_eight_stockholm_across_dst(
    db: Database, standin: SlackStandIn, clock: ManualClock, day: str, utc_hour: int
) -> None:
    fire = datetime.fromisoformat(day).replace(hour=utc_hour, tzinfo=UTC)
    await subscribe(
        db,
        CHANNEL,
        now=fire - timedelta(days=3),
        digest_time="08:00",
        digest_zone="Europe/Stockholm",
        digest_enabled=True,
    )
    scheduler = make_scheduler(db, standin, clock)
    clock.set(fire - timedelta(seconds=1))
    await scheduler.tick()
    before = len(posts(standin))
    clock.set(fire + timedelta(seconds=1))
    await scheduler.tick()
    await scheduler.tick()
    assert len(posts(standin)) == before + 1
    assert "desk digest" in message_text(posts(standin)[-1]).lower()
    digest_keys = [k for k in keys(standin) if k.startswith("digest:")]
    assert f"digest:{CHANNEL}:{day}" in digest_keys


async def test_weekdays_only_skips_the_weekend(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    friday = datetime(2025, 8, 1, 6, 0, tzinfo=UTC)  # 08:00 CEST
    await subscribe(
        db, CHANNEL, now=friday - timedelta(days=2), weekdays_only=True, digest_enabled=True
    )
    scheduler = make_scheduler(db, standin, clock)
    for hours in (1, 24 + 3, 48 + 3):  # Friday morning, Saturday and Sunday at 11:00
        clock.set(friday + timedelta(hours=hours))
        await scheduler.tick()
    clock.set(friday + timedelta(days=3, seconds=5))  # Monday 08:00:05
    await scheduler.tick()
    assert [k for k in keys(standin) if k.startswith("digest:")] == [
        f"digest:{CHANNEL}:2025-08-01",
        f"digest:{CHANNEL}:2025-08-04",
    ]


async def test_a_digest_missed_by_under_a_day_is_posted_late_once(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    friday = datetime(2025, 8, 1, 6, 0, tzinfo=UTC)  # 08:00 CEST
    await subscribe(db, CHANNEL, now=friday - timedelta(days=2), digest_enabled=True)
    clock.set(friday + timedelta(hours=23))  # down all day Friday; back at 07:00 Saturday
    scheduler = make_scheduler(db, standin, clock)
    await scheduler.tick()
    await scheduler.tick()
    assert [k for k in keys(standin) if k.startswith("digest:")] == [f"digest:{CHANNEL}:2025-08-01"]
    assert "Late" in message_text(posts(standin)[-1])


async def test_restricted_items_stay_out_of_other_channels(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, "CPUBLIC1", digest_enabled=True)
    await subscribe(
        seeded, "GSECRET1", restricted=True, channel_is_private=True, digest_enabled=True
    )
    async with seeded.session() as session:
        await add_deadline(
            session,
            actor=CLI,
            now=AS_OF,
            title="Closed-door tariff memo",
            due_at=AS_OF + timedelta(days=1),
            zone="UTC",
            offsets="1h",
            visibility="restricted",
        )
        critical = await add_sensitivity(
            session,
            actor=CLI,
            now=AS_OF,
            name="Back channel",
            level="critical",
            keywords=["back channel"],
        )
        assert critical.id is not None
        await add_event(
            session,
            actor=CLI,
            now=AS_OF,
            title="Envoy opens a back channel",
            occurred_at=AS_OF,
            visibility="restricted",
        )
    scheduler = make_scheduler(seeded, standin, clock)
    await scheduler.tick()
    clock.set(AS_OF + timedelta(days=1, hours=-1, seconds=1))
    await scheduler.tick()
    public = " ".join(message_text(p) for p in posts(standin, "CPUBLIC1"))
    secret = " ".join(message_text(p) for p in posts(standin, "GSECRET1"))
    # the restricted deadline and event stay out; the topic itself is the team's to see
    assert "Closed-door" not in public and "Envoy opens a back channel" not in public
    assert "Closed-door" in secret and "Envoy opens a back channel" in secret
    assert "desk digest" in public.lower()  # 08:00 Stockholm passed on the way: both got a digest


async def test_a_critical_event_alerts_at_once_and_the_digest_says_so(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL, digest_time="08:00", digest_enabled=True)
    scheduler = make_scheduler(seeded, standin, clock)
    async with seeded.session() as session:
        await add_sensitivity(
            session,
            actor=CLI,
            now=AS_OF,
            name="Snapback",
            level="critical",
            keywords=["snapback"],
        )
        await add_event(
            session,
            actor=CLI,
            now=AS_OF,
            title="White House hints at snapback",
            occurred_at=AS_OF,
        )
    await scheduler.tick()
    alerts = [k for k in keys(standin) if k.startswith("alert:event:")]
    assert len(alerts) == 1
    assert "Alert" in message_text(posts(standin)[-1])
    clock.set(datetime(2025, 7, 30, 6, 0, 1, tzinfo=UTC))  # 08:00 Stockholm next morning
    await scheduler.tick()
    digest = message_text(posts(standin)[-1])
    assert "desk digest" in digest.lower() and "already alerted" in digest


@pytest.mark.parametrize(
    ("dated", "said"),
    [
        (timedelta(0), None),
        (timedelta(hours=-23), None),
        (timedelta(days=-28, hours=-3), "entered late: dated 28 days 3 hours ago"),
        (timedelta(days=-2), "entered late: dated 2 days ago"),
        (timedelta(days=3), None),  # announced ahead: not late
    ],
)
async def test_a_critical_event_entered_late_says_how_old_it_is(
    seeded: Database, standin: SlackStandIn, clock: ManualClock, dated: timedelta, said: str | None
) -> None:
    await subscribe(seeded, CHANNEL, digest_time="08:00", digest_enabled=False)
    scheduler = make_scheduler(seeded, standin, clock)
    async with seeded.session() as session:
        await add_sensitivity(
            session, actor=CLI, now=AS_OF, name="Snapback", level="critical", keywords=["snapback"]
        )
        await add_event(
            session,
            actor=CLI,
            now=AS_OF,
            title="White House hints at snapback",
            occurred_at=AS_OF + dated,
        )
    await scheduler.tick()
    (alert,) = [p for p in posts(standin) if "Alert" in message_text(p)]
    head = message_text(alert).splitlines()[0]
    assert head.startswith(":rotating_light: *Alert — Snapback* (critical sensitivity)")
    if said is None:
        assert "entered late" not in head, head
    else:
        assert head.endswith(f" · _{said}_"), head


async def test_two_schedulers_on_one_database_post_each_delivery_once(
    database_url: str, standin: SlackStandIn, clock: ManualClock
) -> None:
    first, second = Database(database_url), Database(database_url)
    await first.upgrade()
    try:
        await seed(first)
        for n in range(40):
            await subscribe(first, f"C{n:08d}")
        clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
        one = make_scheduler(first, standin, clock, worker="replica-1")
        two = make_scheduler(second, standin, clock, worker="replica-2")
        reports = await asyncio.gather(one.tick(), two.tick(), one.tick(), two.tick())
        counted = keys(standin)
        assert len(counted) == 40 and set(counted.values()) == {1}
        by_worker = [r.outcomes["sent"] for r in reports]
        assert sum(by_worker) == 40
        assert {d.status for d in await deliveries(first)} == {DeliveryStatus.sent}
    finally:
        await first.dispose()
        await second.dispose()


async def test_rate_limited_posts_are_retried_and_posted_once(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    for n in range(12):
        await subscribe(seeded, f"C{n:08d}")
    standin.rate_limit_ratio = 0.3
    clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
    await make_scheduler(seeded, standin, clock).tick()
    limited = [c for c in standin.calls_to("chat.postMessage") if c.status == 429]
    assert limited, "the stand-in should have rate-limited some posts"
    counted = keys(standin)
    assert len(counted) == 12 and set(counted.values()) == {1}


async def test_a_post_that_reached_slack_before_a_crash_is_not_posted_again(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
    crashed = make_scheduler(seeded, standin, clock, worker="crashed")
    async with seeded.session() as session:
        from storage.planning import plan_due

        await plan_due(session, now=clock.now(), default_offsets=crashed.settings.countdown_offsets)
        claimed = await outbox.claim_due(
            session, worker="crashed", now=clock.now(), lease=timedelta(minutes=2)
        )
    assert len(claimed) == 1
    # The crashed worker's post reached Slack; it died before marking it sent.
    await crashed.client.chat_postMessage(
        channel=CHANNEL,
        text="countdown",
        metadata={"event_type": METADATA_TYPE, "event_payload": {"key": claimed[0].key}},
    )
    survivor = make_scheduler(seeded, standin, clock, worker="survivor")
    await survivor.tick()
    assert len(posts(standin)) == 1  # the lease still holds
    clock.advance(timedelta(minutes=3))
    report = await survivor.tick()
    assert report.outcomes["found"] == 1
    assert len(posts(standin)) == 1
    [row] = await deliveries(seeded)
    assert row.status == DeliveryStatus.sent and row.ts == posts(standin)[0].get("ts", row.ts)


async def test_a_claim_abandoned_before_posting_is_posted_once_after_the_lease(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
    async with seeded.session() as session:
        from storage.planning import plan_due

        await plan_due(session, now=clock.now(), default_offsets=[timedelta(days=7)])
        await outbox.claim_due(session, worker="dead", now=clock.now(), lease=timedelta(minutes=2))
    clock.advance(timedelta(minutes=3))
    await make_scheduler(seeded, standin, clock, worker="survivor").tick()
    assert len(posts(standin)) == 1


async def test_failing_posts_stay_in_the_outbox_and_are_retried_later(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, CHANNEL)
    standin.fail_next("chat.postMessage", status=500, error="internal_error", times=1)
    clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
    scheduler = make_scheduler(seeded, standin, clock)
    report = await scheduler.tick()
    assert report.outcomes["failed"] == 1 and posts(standin) == []
    async with seeded.session() as session:
        [waiting] = await outbox.unsent(session)
        assert waiting.status == DeliveryStatus.failed and "internal_error" in waiting.last_error
        assert (await outbox.status_counts(session))["failed"] == 1
    await scheduler.tick()
    assert posts(standin) == []  # not before its back-off
    clock.advance(timedelta(minutes=1))
    await scheduler.tick()
    assert len(posts(standin)) == 1 and set(keys(standin).values()) == {1}


async def test_a_channel_the_bot_cannot_post_to_is_unsubscribed_and_its_lead_told(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    async with seeded.session() as session:
        from storage.access import Actor
        from storage.roles import grant_lead

        await grant_lead(session, actor=CLI, now=AS_OF, user_id="ULEAD001")
        await subscriptions.subscribe(
            session, actor=Actor("ULEAD001"), now=AS_OF, channel_id=CHANNEL
        )
    standin.fail_with_error("chat.postMessage", "channel_not_found", times=2)
    clock.set(EXPIRY - timedelta(days=7) + timedelta(seconds=1))
    scheduler = make_scheduler(seeded, standin, clock)
    await scheduler.tick()
    async with seeded.session() as session:
        assert await subscriptions.get_subscription(session, CHANNEL) is None
    [notice] = posts(standin, "ULEAD001")
    assert "channel_not_found" in message_text(notice)
    assert posts(standin, CHANNEL) == []
    clock.advance(timedelta(days=4))
    await scheduler.tick()
    assert posts(standin, CHANNEL) == []  # nothing more to the dead channel
    async with seeded.session() as session:
        assert await outbox.unsent(session) == []  # recorded as skipped, with the error
    gone = [d for d in await deliveries(seeded) if d.channel_id == CHANNEL]
    assert {d.status for d in gone} == {DeliveryStatus.skipped}
    assert all("channel_not_found" in d.last_error for d in gone)


async def add_test_deadline(
    db: Database, *, due: datetime, offsets: str, now: datetime = AS_OF, **extra: Any
) -> int:
    async with db.session() as session:
        deadline = await add_deadline(
            session,
            actor=CLI,
            now=now,
            title="Section 232 ruling",
            due_at=due,
            zone="UTC",
            offsets=offsets,
            **extra,
        )
        assert deadline.id is not None
        return deadline.id


def titled(standin: SlackStandIn, title: str = "Section 232 ruling") -> list[str]:
    return [message_text(p) for p in posts(standin) if title in message_text(p)]


async def test_countdowns_before_the_subscription_are_history(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    due = AS_OF + timedelta(days=3)
    await add_test_deadline(db, due=due, offsets="2d,1d")
    await subscribe(db, CHANNEL, now=AS_OF + timedelta(days=1, hours=12))  # after the 2d mark
    scheduler = make_scheduler(db, standin, clock)
    clock.set(AS_OF + timedelta(days=1, hours=12, seconds=1))
    await scheduler.tick()
    assert titled(standin) == []
    clock.set(due - timedelta(days=1) + timedelta(seconds=1))
    await scheduler.tick()
    assert len(titled(standin)) == 1


async def test_a_corrected_due_time_does_not_post_marks_already_past(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, CHANNEL)
    deadline_id = await add_test_deadline(db, due=AS_OF + timedelta(days=5), offsets="1d,1h")
    scheduler = make_scheduler(db, standin, clock)
    edited_at = AS_OF + timedelta(days=2)
    clock.set(edited_at)
    async with db.session() as session:
        await update_deadline(
            session,
            actor=CLI,
            now=edited_at,
            deadline_id=deadline_id,
            due_at=edited_at + timedelta(hours=12),  # its 1-day mark lies 12 h in the past
        )
    await scheduler.tick()
    assert titled(standin) == []
    clock.set(edited_at + timedelta(hours=11, seconds=1))
    await scheduler.tick()
    [post] = titled(standin)
    assert "— 1 hour left" in post and "late" not in post.lower()  # was "59 min left"


async def test_new_offsets_count_from_the_change(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, CHANNEL)
    due = AS_OF + timedelta(days=3)
    deadline_id = await add_test_deadline(db, due=due, offsets="1h")
    clock.set(due - timedelta(days=1, hours=12))
    async with db.session() as session:
        await update_deadline(
            session, actor=CLI, now=clock.now(), deadline_id=deadline_id, offsets="2d,1d,1h"
        )
    scheduler = make_scheduler(db, standin, clock)
    await scheduler.tick()
    assert titled(standin) == []  # the 2-day mark passed before the offsets were set
    clock.set(due - timedelta(days=1) + timedelta(seconds=1))
    await scheduler.tick()
    assert len(titled(standin)) == 1


async def test_a_retry_is_not_posted_where_the_post_is_no_longer_owed(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, "CPUBLIC1")
    await subscribe(db, "CLEAVING")
    due = AS_OF + timedelta(days=2)
    deadline_id = await add_test_deadline(db, due=due, offsets="1d")
    standin.fail_next("chat.postMessage", status=500, error="internal_error", times=2)
    clock.set(due - timedelta(days=1) + timedelta(seconds=1))
    scheduler = make_scheduler(db, standin, clock)
    await scheduler.tick()
    assert titled(standin) == []
    async with db.session() as session:
        await update_deadline(
            session, actor=CLI, now=clock.now(), deadline_id=deadline_id, visibility="restricted"
        )
        await subscriptions.unsubscribe(session, actor=CLI, now=clock.now(), channel_id="CLEAVING")
    clock.advance(timedelta(minutes=5))
    await scheduler.tick()
    assert titled(standin) == []  # now restricted, and the other channel has left
    async with db.session() as session:
        assert await outbox.unsent(session) == []


async def test_restricted_tag_names_stay_out_of_public_alerts_and_digests(
    seeded: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(seeded, "CPUBLIC1", digest_enabled=True)
    async with seeded.session() as session:
        await add_sensitivity(
            session,
            actor=CLI,
            now=AS_OF,
            name="Snapback",
            level="critical",
            keywords=["snapback"],
        )
        await add_sensitivity(
            session,
            actor=CLI,
            now=AS_OF,
            name="Secret envoy channel",
            level="high",
            keywords=["envoy"],
            visibility="restricted",
        )
        await add_event(
            session, actor=CLI, now=AS_OF, title="Envoy warns of snapback", occurred_at=AS_OF
        )
    scheduler = make_scheduler(seeded, standin, clock)
    await scheduler.tick()
    clock.set(datetime(2025, 7, 30, 6, 0, 1, tzinfo=UTC))
    await scheduler.tick()
    public = " ".join(message_text(p) for p in posts(standin, "CPUBLIC1"))
    assert "Envoy warns of snapback" in public and "Snapback" in public
    assert "Secret envoy channel" not in public


def _probe_delivery() -> outbox.PlannedDelivery:
    return outbox.PlannedDelivery(key="k", kind="countdown", channel_id="C", due_at=AS_OF)


async def test_a_restart_with_many_channels_plans_in_chunks(
    database_url: str, standin: SlackStandIn, clock: ManualClock
) -> None:
    """650 channels x 6 owed offsets x 9 columns a delivery row is 35,100 bound values: one
    INSERT would overflow PostgreSQL's 32,767 (fewer channels would not test the chunks)."""
    channels = 650
    assert channels * 6 * len(outbox._row(_probe_delivery(), AS_OF)) > 32_767
    from sqlalchemy import insert

    from storage.models import Subscription

    db = Database(database_url)
    await db.upgrade()
    try:
        await seed(db)
        async with db.session() as session:
            await session.exec(
                insert(Subscription).values(  # type: ignore[call-overload]
                    [
                        {
                            "channel_id": f"C{n:09d}",
                            "digest_enabled": False,
                            "digest_time": "08:00",
                            "digest_zone": "UTC",
                            "weekdays_only": False,
                            "countdowns_enabled": True,
                            "restricted": False,
                            "active": True,
                            "created_by": "cli",
                            "created_at": AS_OF,
                            "active_since": AS_OF,
                        }
                        for n in range(channels)
                    ]
                )
            )
            await session.commit()
        clock.set(EXPIRY + timedelta(seconds=30))  # down since before the 7-day mark
        report = await make_scheduler(db, standin, clock).tick()
        assert report.planned == channels * 6
        assert len(report.lapsed) == 1  # the truce lapsed while it was down
        assert report.outcomes["sent"] == channels * 2  # each: the final countdown, the lapse
        assert len(posts(standin)) == channels
        assert all("Deadline reached" in message_text(p) for p in posts(standin))
        lapse_alerts = [p for p in posts(standin, lapses=True) if _key(p).startswith("alert:lapse")]
        assert len(lapse_alerts) == channels
        assert all("lapsed" in message_text(p) for p in lapse_alerts)
    finally:
        await db.dispose()


# --- what a countdown says (SPEC §3 "A countdown states the time left at its mark") --------

RULING_DUE = datetime(2025, 9, 5, 21, 0, tzinfo=UTC)  # Fri 5 Sep 2025 17:00 EDT
RULING_DUE_LINE = "Due Fri 5 Sep 2025 17:00 EDT  ·  Fri 5 Sep 2025 21:00 UTC"
BUTTONS_LINE = "[Extend / edit Section 232 ruling] [Mark met: Section 232 ruling]"


async def add_ruling(db: Database, *, offsets: str | None = None) -> int:
    async with db.session() as session:
        deadline = await add_deadline(
            session,
            actor=CLI,
            now=AS_OF,
            title="Section 232 ruling",
            due_at=RULING_DUE,
            zone="America/New_York",
            offsets=offsets,
        )
        assert deadline.id is not None
        return deadline.id


@pytest.mark.parametrize(
    ("offset", "late_by", "headline"),
    [
        # Business days are counted at the mark, on New York dates (Mon 1 Sep is not skipped).
        (timedelta(days=30), 3, "— 30 days left · 22 business days"),
        (timedelta(days=14), 2, "— 14 days left · 10 business days"),
        (timedelta(days=7), 5, "— 7 days left · 5 business days"),
        (timedelta(days=3), 9, "— 3 days left · 3 business days"),
        (timedelta(days=1), 1, "— 1 day left · 1 business day"),
        (timedelta(hours=12), 4, "— 12 hours left"),
        (timedelta(hours=1), 8, "— 1 hour left"),
    ],
    ids=["30d", "14d", "7d", "3d", "1d", "12h", "1h"],
)
async def test_a_countdown_at_each_default_offset_says_what_is_left_at_its_mark(
    db: Database,
    standin: SlackStandIn,
    clock: ManualClock,
    offset: timedelta,
    late_by: int,
    headline: str,
) -> None:
    """Posted `late_by` seconds after its mark (as a tick does), it states the mark, not the
    floor of what is left a few seconds on ("6 days 23 hours", "23 h 59 min")."""
    await subscribe(db, CHANNEL)
    await add_ruling(db)  # the default offsets, 30d,14d,7d,3d,1d,12h,1h,0
    clock.set(RULING_DUE - offset + timedelta(seconds=late_by))
    await make_scheduler(db, standin, clock).tick()
    [post] = posts(standin)
    assert message_text(post).splitlines() == [
        f":hourglass_flowing_sand: *Section 232 ruling* {headline}",
        RULING_DUE_LINE,
        BUTTONS_LINE,
    ]
    assert post["text"] == f"Section 232 ruling: {headline[2:]}"


@pytest.mark.parametrize("offset", [timedelta(days=3), timedelta(days=7), timedelta(hours=1)])
@pytest.mark.parametrize("later", [timedelta(0), timedelta(seconds=23), timedelta(seconds=60)])
async def test_a_mark_within_a_minute_of_setting_the_deadline_is_not_posted(
    db: Database, standin: SlackStandIn, clock: ManualClock, offset: timedelta, later: timedelta
) -> None:
    """ "in 3 days" is due on the next whole minute: its 3-day mark falls seconds after the
    confirmation the desk has just read, so no "3 days left" follows it; the next mark is
    posted."""
    await subscribe(db, CHANNEL)
    async with db.session() as session:
        await add_deadline(
            session,
            actor=CLI,
            now=AS_OF,
            title="Set at its mark",
            due_at=AS_OF + offset + later,
            zone="UTC",
            offsets=f"{format_offset(offset)},30m",
        )
    clock.set(AS_OF + later + timedelta(seconds=5))
    await make_scheduler(db, standin, clock).tick()
    assert posts(standin) == []
    clock.set(AS_OF + later + offset - timedelta(minutes=30) + timedelta(seconds=5))
    await make_scheduler(db, standin, clock).tick()
    [post] = posts(standin)
    assert "30 minutes left" in message_text(post)


@pytest.mark.parametrize("soon", [timedelta(seconds=3), timedelta(seconds=59)])
async def test_deadline_reached_is_posted_however_soon_after_setting(
    db: Database, standin: SlackStandIn, clock: ManualClock, soon: timedelta
) -> None:
    """ "in 3 seconds": no "time left" mark repeats the confirmation, but the deadline's
    arrival is news."""
    await subscribe(db, CHANNEL)
    async with db.session() as session:
        await add_deadline(
            session, actor=CLI, now=AS_OF, title="Flash vote", zone="UTC", due_at=AS_OF + soon
        )
    clock.set(AS_OF + soon + timedelta(seconds=2))
    await make_scheduler(db, standin, clock).tick()
    [post] = posts(standin)
    assert "Deadline reached: Flash vote" in message_text(post)


async def test_a_mark_more_than_a_minute_after_setting_the_deadline_is_posted(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, CHANNEL)
    async with db.session() as session:
        await add_deadline(
            session, actor=CLI, now=AS_OF, title="Soon", zone="UTC", offsets="1h",
            due_at=AS_OF + timedelta(hours=1, minutes=1, seconds=1),
        )  # fmt: skip
    clock.set(AS_OF + timedelta(minutes=1, seconds=5))
    await make_scheduler(db, standin, clock).tick()
    [post] = posts(standin)
    assert "1 hour left" in message_text(post)


async def test_the_final_countdown_says_deadline_reached(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, CHANNEL)
    await add_ruling(db)
    clock.set(RULING_DUE + timedelta(seconds=6))
    await make_scheduler(db, standin, clock).tick()
    [post] = posts(standin)
    assert message_text(post).splitlines() == [
        ":alarm_clock: *Deadline reached: Section 232 ruling*",
        RULING_DUE_LINE,
        BUTTONS_LINE,
    ]


async def test_every_default_countdown_in_turn_reads_its_mark(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    """The whole run, each post a few seconds late: no "late", no unit short."""
    await subscribe(db, CHANNEL)
    await add_ruling(db)
    scheduler = make_scheduler(db, standin, clock)
    for offset in make_settings(standin, db).countdown_offsets:
        clock.set(RULING_DUE - offset + timedelta(seconds=7))
        await scheduler.tick()
    headlines = [message_text(p).splitlines()[0] for p in posts(standin)]
    assert [h.split("* ", 1)[-1] for h in headlines] == [
        "— 30 days left · 22 business days",
        "— 14 days left · 10 business days",
        "— 7 days left · 5 business days",
        "— 3 days left · 3 business days",
        "— 1 day left · 1 business day",
        "— 12 hours left",
        "— 1 hour left",
        ":alarm_clock: *Deadline reached: Section 232 ruling*",
    ]
    assert not any("late" in message_text(p).lower() for p in posts(standin))


@pytest.mark.parametrize(
    ("offsets", "late_by", "headline"),
    [
        ("1d12h", 4, "1 day 12 hours left · 1 business day"),  # Thu 4 Sep 05:00 EDT
        ("36h", 4, "1 day 12 hours left · 1 business day"),
        ("90m", 9, "1 hour 30 minutes left"),
        ("2d30m", 2, "2 days 30 minutes left · 2 business days"),
        ("45m", 3, "45 minutes left"),
        ("10d", 5, "10 days left · 8 business days"),  # from Tue 26 Aug
        ("1h1m1s", 1, "1 hour 1 minute 1 second left"),
        ("30s", 2, "30 seconds left"),
    ],
)
async def test_a_custom_offset_says_every_unit_of_its_mark(
    db: Database,
    standin: SlackStandIn,
    clock: ManualClock,
    offsets: str,
    late_by: int,
    headline: str,
) -> None:
    from bot.timeparse import parse_offsets

    await subscribe(db, CHANNEL)
    await add_ruling(db, offsets=offsets)
    [offset] = parse_offsets(offsets)
    clock.set(RULING_DUE - offset + timedelta(seconds=late_by))
    await make_scheduler(db, standin, clock).tick()
    [post] = posts(standin)
    assert message_text(post).splitlines()[0] == (
        f":hourglass_flowing_sand: *Section 232 ruling* — {headline}"
    )


async def test_a_catch_up_after_downtime_says_late_its_mark_and_the_real_time_left(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, CHANNEL)
    await add_ruling(db)
    clock.set(RULING_DUE - timedelta(days=14) + timedelta(seconds=3))
    await make_scheduler(db, standin, clock).tick()
    # Down from here until 4 hours after the 7-day mark (Fri 29 Aug 21:00 EDT).
    clock.set(RULING_DUE - timedelta(days=7) + timedelta(hours=4))
    await make_scheduler(db, standin, clock, worker="w2").tick()
    assert len(posts(standin)) == 2
    assert message_text(posts(standin)[-1]).splitlines() == [
        ":hourglass_flowing_sand: *Section 232 ruling* — "
        "late: 7-day countdown; 6 days 20 hours left · 5 business days",
        RULING_DUE_LINE,
        "_This countdown fell due Fri 29 Aug 2025 17:00 EDT, while Parley was not running._",
        BUTTONS_LINE,
    ]


async def test_a_final_countdown_caught_up_after_downtime_says_late(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, CHANNEL)
    await add_ruling(db, offsets="1h,0")
    clock.set(RULING_DUE + timedelta(hours=2, minutes=30))  # down through both marks
    await make_scheduler(db, standin, clock).tick()
    [post] = posts(standin)
    assert message_text(post).splitlines()[0::2] == [
        ":alarm_clock: *Deadline reached: Section 232 ruling* — "
        "late: passed 2 hours 30 minutes ago",
        "_This countdown fell due Fri 5 Sep 2025 17:00 EDT, while Parley was not running._",
    ]


async def test_a_countdown_retried_within_its_slack_still_reads_its_mark(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    await subscribe(db, CHANNEL)
    await add_ruling(db, offsets="1h")
    standin.fail_next("chat.postMessage", status=500, error="internal_error", times=1)
    clock.set(RULING_DUE - timedelta(hours=1) + timedelta(seconds=2))
    scheduler = make_scheduler(db, standin, clock)
    await scheduler.tick()
    clock.advance(timedelta(minutes=5))  # the retry, 5 min on: inside 1 min + a tenth of 1 h
    await scheduler.tick()
    [post] = posts(standin)
    assert message_text(post).splitlines()[0].endswith("* — 1 hour left")
    assert "late" not in message_text(post).lower()


async def test_a_countdown_held_back_past_its_slack_says_late_and_the_real_time_left(
    db: Database, standin: SlackStandIn, clock: ManualClock
) -> None:
    """Slack failing for 20 minutes: "1 hour left" would no longer be true."""
    await subscribe(db, CHANNEL)
    await add_ruling(db, offsets="1h")
    standin.fail_next("chat.postMessage", status=500, error="internal_error", times=1)
    clock.set(RULING_DUE - timedelta(hours=1) + timedelta(seconds=2))
    scheduler = make_scheduler(db, standin, clock)
    await scheduler.tick()
    clock.advance(timedelta(minutes=20))
    await scheduler.tick()
    [post] = posts(standin)
    assert message_text(post).splitlines()[0::2] == [
        ":hourglass_flowing_sand: *Section 232 ruling* — late: 1-hour countdown; 39 minutes left",
        "_This countdown fell due Fri 5 Sep 2025 16:00 EDT; posting it was held up._",
    ]


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        (
            datetime(2025, 8, 5, 4, 1, 5, tzinfo=UTC),
            ["Edit / extend {truce}", "Mark met: {expiry}"],
        ),
        (datetime(2025, 8, 12, 4, 1, 5, tzinfo=UTC), ["Edit / extend {truce}"]),  # reached
    ],
    ids=["7 days left", "reached"],
)
async def test_a_truce_expiry_countdown_extends_through_the_truce_form(
    seeded: Database, standin: SlackStandIn, clock: ManualClock, at: datetime, shown: list[str]
) -> None:
    """Its *Extend* opens the truce's form (`+90d` from the expiry, an extension on record),
    not the deadline form; at its time the truce lapses, so no *Mark met* then."""
    await subscribe(seeded, CHANNEL, digest_enabled=False)
    scheduler = make_scheduler(seeded, standin, clock)
    clock.set(at)
    await scheduler.tick()
    truce = "US–China tariff truce (Geneva, 90 days)"
    (post,) = [
        p
        for p in posts(standin)
        if (p.get("metadata") or {})
        .get("event_payload", {})
        .get("key", "")
        .startswith("countdown:")
    ]
    actions = [b for b in post["blocks"] if b["type"] == "actions"][0]["elements"]
    labels = [e["text"]["text"] for e in actions]
    assert labels == [s.format(truce=truce, expiry=f"{truce} expires") for s in shown]
    assert actions[0]["action_id"] == "parley.open_truce_form"
    assert actions[0]["value"] == "1"
