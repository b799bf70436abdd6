"""News sources and their items: the address rule, leads-only changes with audit entries,
claims once across workers, back-off and the lead's notices, storing each entry once,
matching, the same story once, and triage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from storage import events, feed_items, sensitivities, sources, subscriptions
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput, NotFound, NotPermitted
from storage.feed_items import IncomingItem, clean_link, item_key, story_title
from storage.models import Delivery, DeliveryKind, FeedItem, ItemState, Source
from tests.support.record import MEMBER, NOW, Seeded, audit_trail, row_counts

FEED = "https://news.example.com/trade.rss"
LEASE = timedelta(minutes=2)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/feed", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("javascript:alert(1)", "Only http and https"),
        ("example.com/feed.rss", "Only http and https"),
        ("https:///feed.rss", "no host"),
        ("http://127.0.0.1/feed", "own or private"),
        ("http://127.1.2.3:8080/feed", "own or private"),
        ("http://[::1]/feed", "own or private"),
        ("http://[::ffff:127.0.0.1]/feed", "own or private"),
        ("http://10.0.0.5/feed", "own or private"),
        ("http://172.16.3.4/feed", "own or private"),
        ("http://192.168.1.1/feed", "own or private"),
        ("http://169.254.169.254/latest/meta-data", "own or private"),
        ("http://[fe80::1]/feed", "own or private"),
        ("http://0.0.0.0/feed", "own or private"),
        ("http://localhost:8000/feed", "own or private"),
        ("http://printer.local/feed", "own or private"),
        ("https://example.com/" + "a" * 1000, "the limit is 1000"),
    ],
)
def test_an_address_that_is_not_public_http_is_refused(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        sources.check_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://ustr.gov/about-us/policy-offices/press-office/press-releases/feed",
        "http://english.mofcom.gov.cn/rss.xml",
        "https://www.federalregister.gov/api/v1/documents.json?conditions[term]=tariff",
        "https://93.184.216.34/feed",
    ],
)
def test_a_public_http_address_is_accepted(url: str) -> None:
    assert sources.check_url(url, allow_private=False) == url


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/feed", "http://localhost/feed", "http://[::1]/x"]
)
def test_private_addresses_are_accepted_when_allowed(url: str) -> None:
    assert sources.check_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    ("url", "kind", "confidence"),
    [
        ("https://ustr.gov/feed", "feed", "official"),
        ("http://english.mofcom.gov.cn/rss.xml", "feed", "official"),
        (
            "https://www.federalregister.gov/api/v1/documents.json?x=1",
            "federal_register",
            "official",
        ),
        ("https://www.ft.com/rss/home", "feed", "reported"),
        ("https://gov.example.com/feed", "feed", "reported"),  # "gov" is not the suffix
    ],
)
def test_kind_and_default_confidence_follow_the_address(
    url: str, kind: str, confidence: str
) -> None:
    assert sources.kind_of(url) == kind
    assert sources.default_confidence(url) == confidence


async def _add(db: Database, actor: Actor, url: str = FEED, **kw: object) -> Source:
    async with db.session() as s:
        return await sources.add_source(s, actor=actor, now=NOW, url=url, **kw)  # type: ignore[arg-type]


async def test_a_lead_adds_a_source_with_defaults_and_an_audit_entry(
    db: Database, lead: Actor
) -> None:
    source = await _add(db, lead)
    assert (source.name, source.poll_minutes, source.enabled, source.confidence) == (
        "news.example.com",
        15,
        True,
        "reported",
    )
    assert source.next_poll_at == NOW and source.added_by == lead.id
    last = (await audit_trail(db))[-1]
    assert (last.action, last.entity, last.actor) == ("add", "source", lead.id)
    assert last.after is not None and last.after["url"] == FEED


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"poll_minutes": 4}, "every 5 minutes"),
        ({"tracks": ["us-mars"]}, "No track called 'us-mars'"),
        ({"confidence": "gossip"}, "Confidence must be one of"),
        ({"name": "x" * 101}, "the limit is 100"),
        ({"url": "gopher://example.com"}, "Only http and https"),
    ],
)
async def test_a_bad_source_is_refused_and_nothing_changes(
    db: Database, seeded: Seeded, lead: Actor, kw: dict[str, object], reason: str
) -> None:
    before = await row_counts(db)
    with pytest.raises(InvalidInput, match=reason):
        await _add(db, lead, **kw)
    assert await row_counts(db) == before


async def test_the_same_address_or_name_twice_is_refused(db: Database, lead: Actor) -> None:
    await _add(db, lead, name="Trade news")
    with pytest.raises(InvalidInput, match="address exists already"):
        await _add(db, lead, name="Other")
    with pytest.raises(InvalidInput, match="name exists already"):
        await _add(db, lead, url="https://other.example.com/rss", name="trade NEWS")


async def test_a_member_cannot_add_pause_or_remove_a_source(db: Database, lead: Actor) -> None:
    await _add(db, lead, name="Wire")
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(NotPermitted):
            await sources.add_source(s, actor=MEMBER, now=NOW, url="https://a.example.com/")
        with pytest.raises(NotPermitted):
            await sources.set_enabled(s, actor=MEMBER, now=NOW, name="Wire", enabled=False)
        with pytest.raises(NotPermitted):
            await sources.remove_source(s, actor=MEMBER, now=NOW, name="Wire")
    assert await row_counts(db) == before


async def test_pause_resume_and_remove_are_audited(db: Database, lead: Actor) -> None:
    await _add(db, lead, name="Wire")
    async with db.session() as s:
        await sources.set_enabled(s, actor=lead, now=NOW, name="wire", enabled=False)
        with pytest.raises(InvalidInput, match="paused already"):
            await sources.set_enabled(s, actor=lead, now=NOW, name="Wire", enabled=False)
        await sources.set_enabled(s, actor=lead, now=NOW, name="Wire", enabled=True)
        assert await sources.remove_source(s, actor=lead, now=NOW, name="Wire") == "Wire"
        with pytest.raises(NotFound, match="No source called 'Wire'"):
            await sources.find_source(s, "Wire")
    actions = [(e.action, e.entity) for e in (await audit_trail(db))[-4:]]
    assert actions == [
        ("add", "source"),
        ("pause", "source"),
        ("resume", "source"),
        ("remove", "source"),
    ]


async def test_claims_are_exclusive_until_the_lease_runs_out(db: Database, lead: Actor) -> None:
    await _add(db, lead, name="A")
    await _add(db, lead, url="https://b.example.com/rss", name="B")
    paused = await _add(db, lead, url="https://c.example.com/rss", name="C", enabled=False)
    async with db.session() as s:
        first = await sources.claim_due_sources(s, worker="w1", now=NOW, lease=LEASE)
        second = await sources.claim_due_sources(s, worker="w2", now=NOW, lease=LEASE)
        later = await sources.claim_due_sources(
            s, worker="w2", now=NOW + LEASE + timedelta(seconds=1), lease=LEASE
        )
    assert sorted(x.name for x in first) == ["A", "B"]
    assert second == []
    assert sorted(x.name for x in later) == ["A", "B"]  # w1 died: its lease ran out
    assert paused.id not in {x.id for x in first + later}


async def _fail(db: Database, source_id: int, now: object, error: str = "HTTP 500") -> Source:
    async with db.session() as s:
        claimed = await sources.claim_source(
            s,
            source_id=source_id,
            worker="w",
            now=now,
            lease=LEASE,  # type: ignore[arg-type]
        )
        assert claimed is not None
        done = await sources.record_failure(
            s,
            source_id=source_id,
            worker="w",
            now=now,
            error=error,  # type: ignore[arg-type]
        )
        assert done is not None
        return done


async def _notices(db: Database) -> list[Delivery]:
    async with db.session() as s:
        query = select(Delivery).where(col(Delivery.kind) == DeliveryKind.notice)
        return list((await s.exec(query.order_by(col(Delivery.id)))).all())


async def test_failures_back_off_doubling_to_six_hours_and_tell_the_lead_once(
    db: Database, lead: Actor
) -> None:
    source = await _add(db, lead)
    assert source.id is not None
    waits = []
    now = NOW
    for _ in range(7):
        failed = await _fail(db, source.id, now)
        waits.append(failed.next_poll_at - now)
        now = failed.next_poll_at
    assert [w.total_seconds() / 60 for w in waits] == [30, 60, 120, 240, 360, 360, 360]
    assert failed.consecutive_failures == 7 and failed.last_error == "HTTP 500"
    notices = await _notices(db)
    assert len(notices) == 1
    assert notices[0].channel_id == lead.id
    assert "failed 5 polls in a row" in notices[0].payload["text"]  # type: ignore[index]
    async with db.session() as s:
        assert await sources.claim_source(s, source_id=source.id, worker="w", now=now, lease=LEASE)
        ok = await sources.record_success(
            s,
            source_id=source.id,
            worker="w",
            now=now,
            etag='"v2"',
            last_modified=None,
            new_items=3,
        )
    assert ok is not None
    assert (ok.consecutive_failures, ok.items_seen, ok.etag) == (0, 3, '"v2"')
    assert timedelta(minutes=15) <= ok.next_poll_at - now < timedelta(minutes=16, seconds=30)
    notices = await _notices(db)
    assert len(notices) == 2 and "works again" in notices[1].payload["text"]  # type: ignore[index]


async def test_a_result_from_a_worker_that_lost_its_claim_is_ignored(
    db: Database, lead: Actor
) -> None:
    source = await _add(db, lead)
    assert source.id is not None
    async with db.session() as s:
        await sources.claim_source(s, source_id=source.id, worker="w1", now=NOW, lease=LEASE)
        assert (
            await sources.claim_source(s, source_id=source.id, worker="w2", now=NOW, lease=LEASE)
            is None
        )
        taken = await sources.claim_source(
            s, source_id=source.id, worker="w2", now=NOW + LEASE * 2, lease=LEASE
        )
        assert taken is not None
        assert (
            await sources.record_failure(s, source_id=source.id, worker="w1", now=NOW, error="late")
            is None
        )


@pytest.mark.parametrize(
    ("guid", "link", "key"),
    [
        ("urn:uuid:1", "https://x.example/a", "urn:uuid:1"),
        ("  ", "https://X.example/a?utm_source=rss&id=3#top", "https://x.example/a?id=3"),
        (None, "https://x.example/a?fbclid=zz&gclid=1", "https://x.example/a"),
        (None, "javascript:alert(1)", ""),
        (None, None, ""),
    ],
)
def test_an_item_is_keyed_by_its_guid_else_its_link_without_tracking(
    guid: str | None, link: str | None, key: str
) -> None:
    assert item_key(guid, link) == key


def test_titles_compare_as_the_same_story_whatever_their_case_and_punctuation() -> None:
    assert story_title("U.S.–China talks: truce EXTENDED!") == story_title(
        "U.S. China Talks — Truce Extended"
    )
    assert clean_link("https://a.example/x?utm_medium=e") == "https://a.example/x"


def _entries(*titles: str, prefix: str = "") -> list[IncomingItem]:
    return [
        IncomingItem(
            key=f"{prefix}{i}", title=t, link=f"https://n.example/{prefix}{i}", published_at=NOW
        )
        for i, t in enumerate(titles)
    ]


async def _store(
    db: Database, source: Source, items: list[IncomingItem], *, propose: bool = True
) -> feed_items.StoreReport:
    async with db.session() as s:
        fresh = await s.get(Source, source.id)
        assert fresh is not None
        matcher = await feed_items.load_matcher(s)
        report = await feed_items.store_items(
            s, source=fresh, items=items, matcher=matcher, now=NOW, propose=propose
        )
        await s.commit()
        return report


async def _review_channel(db: Database, lead: Actor, channel: str = "CREVIEW") -> None:
    async with db.session() as s:
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id=channel, review=True)


async def test_matching_entries_are_proposed_once_to_review_channels(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _review_channel(db, lead)
    source = await _add(db, lead)
    titles = (
        "Nvidia H20 sales resume",
        "Weather in Stockholm",
        "美国对台湾军售",
        "Bessent meets He Lifeng",
        "Rare-earths exports fall",
    )
    report = await _store(db, source, _entries(*titles))
    assert [i.title for i in report.proposed] == [
        "Nvidia H20 sales resume",
        "美国对台湾军售",
        "Bessent meets He Lifeng",
        "Rare-earths exports fall",
    ]
    by_title = {i.title: i for i in report.new}
    assert by_title["美国对台湾军售"].matched == ["taiwan"]
    assert by_title["Bessent meets He Lifeng"].mentioned == ["He Lifeng"]
    again = await _store(db, source, _entries(*titles))
    assert again.new == [] and again.proposed == []
    async with db.session() as s:
        posts = (await s.exec(select(Delivery).where(col(Delivery.kind) == "proposal"))).all()
    assert sorted(p.key for p in posts) == sorted(
        f"proposal:{i.id}:CREVIEW" for i in report.proposed
    )
    proposals = [e for e in await audit_trail(db) if e.action == "propose"]
    assert len(proposals) == 4 and all(e.actor == "parley" for e in proposals)


async def test_a_first_poll_records_without_proposing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _review_channel(db, lead)
    source = await _add(db, lead)
    report = await _store(db, source, _entries("Nvidia H20 sales resume"), propose=False)
    assert len(report.new) == 1 and report.proposed == []
    assert report.new[0].state == ItemState.new
    assert await _notices(db) == []


async def test_the_same_story_from_two_sources_is_proposed_once_naming_both(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    first = await _add(db, lead, name="Wire")
    second = await _add(db, lead, url="https://other.example.com/rss", name="Paper")
    [proposed] = (await _store(db, first, _entries("Taiwan: Lai's transit postponed"))).proposed
    report = await _store(db, second, _entries("TAIWAN — Lai’s transit postponed", prefix="p"))
    assert report.proposed == [] and len(report.same_story) == 1
    async with db.session() as s:
        [view] = await feed_items.item_views(s, [proposed])
    assert view.source.name == "Wire" and view.also_from == ["Paper"]


async def test_a_reissued_entry_under_a_new_id_is_not_proposed_again(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    source = await _add(db, lead)
    [first] = (await _store(db, source, _entries("Taiwan vote delayed"))).proposed
    again = await _store(db, source, _entries("Taiwan vote delayed", prefix="new-id-"))
    assert again.proposed == [] and [i.same_as_id for i in again.same_story] == [first.id]
    async with db.session() as s:
        [view] = await feed_items.item_views(s, [first])
    assert view.also_from == []


async def test_a_critical_match_is_alerted_to_channels_following_the_track(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await sensitivities.update_sensitivity(
            s, actor=lead, now=NOW, sensitivity_id=seeded.taiwan, level="critical"
        )
        await subscriptions.subscribe(
            s, actor=lead, now=NOW, channel_id="CCHINA", tracks=["us-china"]
        )
        await subscriptions.subscribe(s, actor=lead, now=NOW, channel_id="CEU", tracks=["us-eu"])
    source = await _add(db, lead, tracks=["us-china"])
    [item] = (await _store(db, source, _entries("Taipei protests"))).proposed
    async with db.session() as s:
        alerts = (await s.exec(select(Delivery).where(col(Delivery.kind) == "alert"))).all()
    assert [a.key for a in alerts] == [f"alert:item:{item.id}:CCHINA"]
    assert alerts[0].payload == {"item_id": item.id, "sensitivities": ["Taiwan"]}


async def test_triage_dismiss_mute_and_add_each_once_and_audited(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    source = await _add(db, lead)
    report = await _store(
        db, source, _entries("Nvidia chips cleared", "Taiwan vote", "Rare earths deal")
    )
    chips, taiwan, earths = report.proposed
    async with db.session() as s:
        with pytest.raises(NotPermitted):
            await feed_items.dismiss_item(s, actor=MEMBER, now=NOW, item_id=taiwan.id)
        await feed_items.dismiss_item(s, actor=lead, now=NOW, item_id=taiwan.id)
        with pytest.raises(InvalidInput, match="dismissed already"):
            await feed_items.dismiss_item(s, actor=lead, now=NOW, item_id=taiwan.id)
        _, words = await feed_items.mute_similar(s, actor=lead, now=NOW, item_id=chips.id)
        assert sorted(words) == ["Nvidia", "chips"]
        view = await events.add_event(
            s,
            actor=lead,
            now=NOW,
            title="Rare earths deal",
            occurred_at=NOW,
            from_item_id=earths.id,
        )
        with pytest.raises(InvalidInput, match="added already"):
            await events.add_event(
                s, actor=lead, now=NOW, title="Again", occurred_at=NOW, from_item_id=earths.id
            )
    async with db.session() as s:
        added = await s.get(FeedItem, earths.id)
        muted = await s.get(Source, source.id)
    assert added is not None and added.state == "added" and added.event_id == view.event.id
    assert muted is not None and muted.muted == ["Nvidia", "chips"]
    again = await _store(db, source, _entries("Nvidia chips again", prefix="n"))
    assert again.proposed == []  # muted for this source
    actions = [(e.action, e.entity) for e in await audit_trail(db)][-5:]
    assert actions == [
        ("dismiss", "feed_item"),
        ("mute", "source"),
        ("dismiss", "feed_item"),
        ("add_to_record", "feed_item"),
        ("add", "event"),
    ]


async def test_untriaged_proposals_rank_by_level_then_recency(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    source = await _add(db, lead)
    items = [
        IncomingItem(key="a", title="Uyghur bill advances", published_at=NOW),
        IncomingItem(key="b", title="Taiwan transit", published_at=NOW - timedelta(hours=2)),
        IncomingItem(key="c", title="Nvidia export licence", published_at=NOW),
    ]
    await _store(db, source, items)
    async with db.session() as s:
        top, more = await feed_items.untriaged(s, include_restricted=False, limit=2)
    assert [v.item.title for v in top] == ["Nvidia export licence", "Taiwan transit"]
    assert more == 1


async def test_a_failure_notice_shows_a_hostile_error_and_name_inert(
    db: Database, lead: Actor
) -> None:
    source = await _add(db, lead, name="Wire <!channel>")
    assert source.id is not None
    now = NOW
    for _ in range(5):
        now = (await _fail(db, source.id, now, error="<!channel> <@U1> `x`")).next_poll_at
    [notice] = await _notices(db)
    text = notice.payload["text"]  # type: ignore[index]
    assert "<!channel>" not in text and "<@U1>" not in text
    assert "Wire &lt;!channel&gt;" in text and "&lt;@U1&gt; 'x'" in text
