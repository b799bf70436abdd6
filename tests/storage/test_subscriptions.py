"""Channel subscriptions: subscribe, change, unsubscribe; bad settings change nothing."""

from __future__ import annotations

import pytest

from storage import subscriptions
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput
from tests.support.record import NOW, assert_utc, audit_trail, row_counts


async def test_subscribe_creates_an_active_subscription_with_defaults(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        await subscriptions.subscribe(
            s, actor=lead, now=NOW, channel_id="CDESK", default_zone="Europe/Stockholm"
        )
    async with db.session() as s:
        sub = await subscriptions.get_subscription(s, "CDESK")
    assert sub is not None
    assert (sub.digest_time, sub.digest_zone, sub.tracks) == ("08:00", "Europe/Stockholm", None)
    assert (sub.digest_enabled, sub.countdowns_enabled, sub.weekdays_only, sub.restricted) == (
        True,
        True,
        False,
        False,
    )
    assert sub.created_by == lead.id
    assert_utc(sub.created_at)


async def test_subscribe_again_changes_settings_and_normalises_the_time(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id="CDESK")
        await subscriptions.subscribe(
            s,
            actor=lead,
            now=NOW,
            channel_id="CDESK",
            digest_time="7:5",
            digest_zone="Asia/Tokyo",
            weekdays_only=True,
            tracks=["us-china"],
        )
    async with db.session() as s:
        sub = await subscriptions.get_subscription(s, "CDESK")
    assert sub is not None
    assert (sub.digest_time, sub.digest_zone, sub.weekdays_only, sub.tracks) == (
        "07:05",
        "Asia/Tokyo",
        True,
        ["us-china"],
    )
    entry = (await audit_trail(db))[-1]
    assert entry.before is not None and entry.after is not None
    assert (entry.before["digest_time"], entry.after["digest_time"]) == ("08:00", "07:05")


@pytest.mark.parametrize("bad", ["25:00", "08:60", "8am", "", "08:00:00", "-1:30", "08"])
async def test_a_bad_digest_time_is_refused_and_changes_nothing(
    db: Database, lead: Actor, bad: str
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="is not HH:MM"):
            await subscriptions.subscribe(
                s, actor=lead, now=NOW, channel_id="CDESK", digest_time=bad
            )
    assert await row_counts(db) == before


async def test_an_unknown_digest_zone_is_refused_and_changes_nothing(
    db: Database, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Unknown time zone"):
            await subscriptions.subscribe(
                s, actor=lead, now=NOW, channel_id="CDESK", digest_zone="Stockholm"
            )
    assert await row_counts(db) == before


async def test_unsubscribe_deactivates_and_resubscribing_starts_afresh(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id="CDESK")
        await subscriptions.unsubscribe(s, actor=lead, now=NOW, channel_id="CDESK")
    async with db.session() as s:
        assert await subscriptions.get_subscription(s, "CDESK") is None
    entry = (await audit_trail(db))[-1]
    assert entry.action == "unsubscribe"
    assert entry.before is not None and entry.before["active"] is True
    assert entry.after is not None and entry.after["active"] is False
    async with db.session() as s:
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id="CDESK")
        assert await subscriptions.get_subscription(s, "CDESK") is not None
    assert (await audit_trail(db))[-1].before is None
    assert (await row_counts(db))["subscription"] == 1


async def test_unsubscribing_a_channel_that_is_not_subscribed_is_refused(
    db: Database, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="not subscribed"):
            await subscriptions.unsubscribe(s, actor=lead, now=NOW, channel_id="CNONE")
    assert await row_counts(db) == before


async def test_resubscribing_starts_afresh_with_the_lead_who_did_it(
    db: Database, lead: Actor
) -> None:
    from datetime import timedelta

    from storage.access import CLI

    async with db.session() as s:
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id="CDESK")
        await subscriptions.unsubscribe(s, actor=lead, now=NOW, channel_id="CDESK")
        later = NOW + timedelta(days=3)
        await subscriptions.subscribe(s, actor=CLI, now=later, channel_id="CDESK")
    async with db.session() as s:
        sub = await subscriptions.get_subscription(s, "CDESK")
    assert sub is not None
    assert sub.created_by == CLI.id and sub.active_since == later
    assert sub.created_at == NOW


async def test_marking_a_public_channel_restricted_is_refused(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Only a private channel"):
            await subscriptions.subscribe(
                s, actor=lead, now=NOW, channel_id="CDESK", restricted=True
            )
    assert (await row_counts(db))["subscription"] == 0
