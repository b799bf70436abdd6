"""Events: tagged with the sensitivities they mention; listings respect visibility and scope."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from storage import events, sensitivities
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput
from storage.models import Event, EventSensitivity, Sensitivity
from tests.support.record import NOW, Seeded, assert_utc, audit_trail, row_counts


async def _topic(db: Database, lead: Actor, name: str, keywords: list[str]) -> Sensitivity:
    async with db.session() as s:
        return await sensitivities.add_sensitivity(
            s, actor=lead, now=NOW, name=name, keywords=keywords
        )


async def _tags(db: Database, lead: Actor, title: str, summary: str = "", **kw: object) -> set[str]:
    async with db.session() as s:
        view = await events.add_event(
            s,
            actor=lead,
            now=NOW,
            title=title,
            summary=summary,
            occurred_at=NOW,
            **kw,  # type: ignore[arg-type]
        )
    return {t.slug for t in view.sensitivities}


async def test_an_event_mentioning_a_keyword_is_tagged_case_insensitively(
    db: Database, lead: Actor
) -> None:
    await _topic(db, lead, "Export controls", ["H20", "AI chips"])
    assert await _tags(db, lead, "US pauses curbs on h20", "") == {"export-controls"}
    assert await _tags(db, lead, "Briefing", "More on ai CHIPS today.") == {"export-controls"}


async def test_keywords_match_whole_words_only(db: Database, lead: Actor) -> None:
    await _topic(db, lead, "Taiwan", ["Taiwan"])
    assert await _tags(db, lead, "Taiwanese President postpones visit") == set()
    assert await _tags(db, lead, "Statement on Taiwan.") == {"taiwan"}


async def test_taiwanese_is_tagged_when_the_keyword_list_has_it(db: Database, lead: Actor) -> None:
    await _topic(db, lead, "Taiwan", ["Taiwan", "Taiwanese"])
    assert await _tags(db, lead, "Taiwanese President postpones visit") == {"taiwan"}


async def test_a_chinese_keyword_tags_the_event_it_appears_inside(
    db: Database, lead: Actor
) -> None:
    topic = await _topic(db, lead, "Fentanyl", ["fentanyl", "芬太尼"])
    assert await _tags(db, lead, "新华社：中方要求取消芬太尼关税") == {"fentanyl"}
    assert await _tags(db, lead, "Briefing", "中方回应美方芬太尼关税。") == {"fentanyl"}
    assert await _tags(db, lead, "新华社：中方要求取消关税") == set()
    async with db.session() as s:
        stored = await events.timeline(s, sensitivity_id=topic.id or 0, include_restricted=True)
    assert {v.event.title for v in stored} == {"新华社：中方要求取消芬太尼关税", "Briefing"}


async def test_japanese_and_korean_keywords_tag_inside_words(db: Database, lead: Actor) -> None:
    await _topic(db, lead, "Rare earths", ["レアアース", "희토류"])
    assert await _tags(db, lead, "中国がレアアースの輸出を規制") == {"rare-earths"}
    assert await _tags(db, lead, "중국, 희토류를 수출 통제") == {"rare-earths"}


async def test_the_seeded_rare_earths_topic_tags_both_spellings(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    assert "rare-earths" in await _tags(db, lead, "China tightens rare-earths exports")
    assert "rare-earths" in await _tags(db, lead, "Rare Earths quotas cut")
    assert "rare-earths" not in await _tags(db, lead, "Rare cheese tariffs")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("商务部：对部分中重稀土相关物项实施出口管制", {"rare-earths", "export-controls"}),
        ("国台办：台湾问题是中国内政", {"taiwan"}),
        ("賴清德延後過境美國", {"taiwan"}),
        ("美参议员提出涉维吾尔族人权法案", {"human-rights"}),
        ("美国恢复英伟达H20芯片对华销售", {"export-controls"}),
        ("新华社：中方要求取消芬太尼关税", set()),
    ],
)
async def test_the_seeded_topics_tag_chinese_news(
    db: Database, seeded: Seeded, lead: Actor, title: str, expected: set[str]
) -> None:
    assert await _tags(db, lead, title) == expected


async def test_a_spaced_keyword_matches_its_hyphenated_spelling(db: Database, lead: Actor) -> None:
    await _topic(db, lead, "Minerals", ["rare earths"])
    assert await _tags(db, lead, "China tightens rare-earths exports") == {"minerals"}


async def test_explicit_sensitivity_ids_tag_an_event_that_mentions_nothing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    tags = await _tags(db, lead, "Quiet day in Stockholm", sensitivity_ids=[seeded.taiwan])
    assert tags == {"taiwan"}
    entry = (await audit_trail(db))[-1]
    assert entry.after is not None and entry.after["sensitivities"] == ["taiwan"]


async def test_add_event_stores_tz_aware_times_and_who_added_it(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        view = await events.add_event(
            s,
            actor=lead,
            now=NOW,
            title="Talks end",
            occurred_at=NOW + timedelta(days=1),
            zone="Europe/Stockholm",
            kind="talks",
            confidence="official",
            track_id=seeded.us_china,
            round_id=seeded.stockholm,
        )
    async with db.session() as s:
        [latest] = await events.latest_events(
            s, track_ids=[seeded.us_china], include_restricted=False, limit=1
        )
    assert latest.event.id == view.event.id
    assert_utc(latest.event.occurred_at)
    assert_utc(latest.event.created_at)
    assert (latest.event.created_by, latest.event.confidence) == (lead.id, "official")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("title", "t" * 151, "limit is 150"),
        ("zone", "Europe/Narnia", "Unknown time zone"),
        ("kind", "gossip", "Kind must be one of"),
        ("confidence", "certain", "Confidence must be one of"),
        ("visibility", "private", "Visibility must be one of"),
        ("summary", "s" * 3001, "limit is 3000"),
    ],
)
async def test_add_event_refuses_bad_input_and_changes_nothing(
    db: Database, lead: Actor, field: str, value: str, match: str
) -> None:
    fields: dict[str, object] = {"title": "Talks end", "occurred_at": NOW}
    fields[field] = value
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match=match) as refused:
            await events.add_event(s, actor=lead, now=NOW, **fields)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert await row_counts(db) == before


async def _events_for_listing(db: Database, seeded: Seeded, lead: Actor) -> None:
    base = NOW + timedelta(days=1)
    for offset, title, track, visibility in [
        (1, "China team note", seeded.us_china, "team"),
        (2, "China restricted note on Taiwan", seeded.us_china, "restricted"),
        (3, "EU note on Taiwan", seeded.us_eu, "team"),
        (4, "Desk-wide note on Taiwan", None, "team"),
    ]:
        async with db.session() as s:
            await events.add_event(
                s,
                actor=lead,
                now=base,
                title=title,
                occurred_at=base + timedelta(hours=offset),
                track_id=track,
                visibility=visibility,
            )


async def test_latest_events_respect_track_scope_and_visibility(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _events_for_listing(db, seeded, lead)
    async with db.session() as s:
        team = await events.latest_events(
            s, track_ids=[seeded.us_china], include_restricted=False, limit=3
        )
        leads = await events.latest_events(
            s, track_ids=[seeded.us_china], include_restricted=True, limit=3
        )
    team_titles = [v.event.title for v in team]
    assert team_titles[:2] == ["Desk-wide note on Taiwan", "China team note"]
    assert "China restricted note on Taiwan" not in team_titles
    assert "EU note on Taiwan" not in team_titles
    assert len(team_titles) == 3
    assert [v.event.title for v in leads] == [
        "Desk-wide note on Taiwan",
        "China restricted note on Taiwan",
        "China team note",
    ]


async def test_latest_events_since_lists_only_events_added_after(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _events_for_listing(db, seeded, lead)
    async with db.session() as s:
        fresh = await events.latest_events(
            s, track_ids=None, include_restricted=True, since=NOW + timedelta(hours=23)
        )
    assert len(fresh) == 4


async def test_timeline_hides_restricted_events_unless_asked(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _events_for_listing(db, seeded, lead)
    async with db.session() as s:
        team = await events.timeline(s, sensitivity_id=seeded.taiwan, include_restricted=False)
        leads = await events.timeline(s, sensitivity_id=seeded.taiwan, include_restricted=True)
    team_titles = [v.event.title for v in team]
    assert team_titles[:2] == ["Desk-wide note on Taiwan", "EU note on Taiwan"]
    assert "China restricted note on Taiwan" not in team_titles
    assert [v.event.title for v in leads][:3] == [
        "Desk-wide note on Taiwan",
        "EU note on Taiwan",
        "China restricted note on Taiwan",
    ]
    assert all("taiwan" in {t.slug for t in v.sensitivities} for v in leads)


@pytest.mark.parametrize("include_restricted", [False, True])
@pytest.mark.parametrize("per_topic", [1, 2, 5])
async def test_latest_by_sensitivity_is_each_topics_timeline_in_one_read(
    db: Database, seeded: Seeded, lead: Actor, include_restricted: bool, per_topic: int
) -> None:
    await _events_for_listing(db, seeded, lead)
    until = NOW + timedelta(days=1, hours=3)  # the Desk-wide note (hour 4) is not yet
    async with db.session() as s:
        topics = [t.id for t in await sensitivities.all_sensitivities(s) if t.id is not None]
        batched = await events.latest_by_sensitivity(
            s,
            sensitivity_ids=topics,
            include_restricted=include_restricted,
            until=until,
            per_topic=per_topic,
        )
        one_by_one = {
            t: await events.timeline(
                s,
                sensitivity_id=t,
                include_restricted=include_restricted,
                until=until,
                limit=per_topic,
            )
            for t in topics
        }

    assert {t: [e.id for e in found] for t, found in batched.items()} == {
        t: [v.event.id for v in views] for t, views in one_by_one.items()
    }
    assert any(batched.values())
    restricted = "China restricted note on Taiwan"
    shown = {e.title for found in batched.values() for e in found}
    assert (restricted in shown) == (include_restricted and per_topic >= 2)


async def timelines(
    db: Database, topics: list[int], *, include_restricted: bool, until: Any, per_topic: int
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """(latest_by_sensitivity, each topic's `timeline`): the tags' copies against the events."""
    async with db.session() as s:
        batched = await events.latest_by_sensitivity(
            s,
            sensitivity_ids=topics,
            include_restricted=include_restricted,
            until=until,
            per_topic=per_topic,
        )
        one_by_one = {
            t: await events.timeline(
                s, sensitivity_id=t, include_restricted=include_restricted, until=until,
                limit=per_topic,
            )
            for t in topics
        }  # fmt: skip
        # The reference: every tagged event through the event table, filtered in Python.
        tagged = (
            await s.exec(
                select(EventSensitivity.sensitivity_id, Event).join(
                    Event, col(Event.id) == col(EventSensitivity.event_id)
                )
            )
        ).all()
    reference = {
        t: [
            e.title
            for e in sorted(
                (e for topic, e in tagged if topic == t),
                key=lambda e: (e.occurred_at, e.id),
                reverse=True,
            )
            if (include_restricted or e.visibility == "team")
            and (until is None or e.occurred_at <= until)
        ][:per_topic]
        for t in topics
    }
    one_by_one_titles = {t: [v.event.title for v in views] for t, views in one_by_one.items()}
    assert one_by_one_titles == reference
    return {t: [e.title for e in found] for t, found in batched.items()}, one_by_one_titles


@pytest.mark.parametrize("seed", range(3))
async def test_latest_by_sensitivity_matches_each_timeline_on_random_records(
    db: Database, seeded: Seeded, lead: Actor, seed: int
) -> None:
    pick = random.Random(seed)
    async with db.session() as s:
        names = ["Quokka policy", "Wombat quotas", "Numbat rules"]
        for name in names:
            await sensitivities.add_sensitivity(
                s, actor=lead, now=NOW, name=name, keywords=[name.split()[0].lower()],
                visibility=pick.choice(["team", "team", "restricted"]),
            )  # fmt: skip
        for n in range(40):
            words = " and ".join(pick.sample(["quokka", "wombat", "numbat", "tariff"], 2))
            await events.add_event(
                s, actor=lead, now=NOW, title=f"Event {n}: {words}",
                occurred_at=NOW + timedelta(hours=pick.randrange(-200, 200)),
                visibility=pick.choice(["team", "restricted"]),
            )  # fmt: skip
        topics = [t.id for t in await sensitivities.all_sensitivities(s) if t.id is not None]
    for _ in range(6):
        until = pick.choice([None, NOW + timedelta(hours=pick.randrange(-100, 100))])
        for include_restricted in (False, True):
            for per_topic in (1, 2, 4):
                batched, one_by_one = await timelines(
                    db, topics, include_restricted=include_restricted, until=until,
                    per_topic=per_topic,
                )  # fmt: skip
                assert batched == one_by_one, (until, include_restricted, per_topic)


async def test_an_events_time_or_visibility_changed_by_sql_is_followed_by_its_tags(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    """The tags' copies are kept by the database (triggers), not by Parley's code: a write
    by `psql` or an import moves them too."""
    async with db.session() as s:
        taiwan = await sensitivities.find_sensitivity(s, "taiwan", include_restricted=True)
        old = await events.add_event(
            s, actor=lead, now=NOW, title="Old Taiwan note", occurred_at=NOW - timedelta(days=300)
        )
    topic = [taiwan.id or 0]
    latest, _ = await timelines(db, topic, include_restricted=False, until=None, per_topic=1)
    assert latest[topic[0]] != ["Old Taiwan note"]
    async with db.session() as s:
        await s.exec(
            update(Event)
            .where(col(Event.id) == old.event.id)
            .values(occurred_at=NOW + timedelta(days=30))  # the newest of them all
        )
        await s.commit()
    latest, timeline = await timelines(db, topic, include_restricted=False, until=None, per_topic=1)
    assert latest == timeline == {topic[0]: ["Old Taiwan note"]}
    assert await tag_copies(db, old.event.id) == {(NOW + timedelta(days=30), "team")}
    async with db.session() as s:
        await s.exec(
            update(Event).where(col(Event.id) == old.event.id).values(visibility="restricted")
        )
        await s.commit()
    hidden, timeline = await timelines(db, topic, include_restricted=False, until=None, per_topic=1)
    assert hidden == timeline and hidden[topic[0]] != ["Old Taiwan note"]
    shown, _ = await timelines(db, topic, include_restricted=True, until=None, per_topic=1)
    assert shown == {topic[0]: ["Old Taiwan note"]}
    assert await tag_copies(db, old.event.id) == {(NOW + timedelta(days=30), "restricted")}


async def tag_copies(db: Database, event_id: int | None) -> set[tuple[Any, Any]]:
    async with db.session() as s:
        tags = (
            await s.exec(select(EventSensitivity).where(col(EventSensitivity.event_id) == event_id))
        ).all()
    return {(t.occurred_at, t.visibility) for t in tags}


async def test_each_tag_carries_its_events_time_and_visibility(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    """Filled by the database when the tag is written (the seed's and a lead's events)."""
    async with db.session() as s:
        added = await events.add_event(
            s, actor=lead, now=NOW, title="Taiwan and rare earths", visibility="restricted",
            occurred_at=NOW - timedelta(hours=5),
        )  # fmt: skip
        every = (await s.exec(select(Event))).all()
    assert len(added.sensitivities) == 2
    assert await tag_copies(db, added.event.id) == {(NOW - timedelta(hours=5), "restricted")}
    for event in every:
        assert await tag_copies(db, event.id) <= {(event.occurred_at, event.visibility)}


@pytest.mark.parametrize("seed", range(3))
async def test_latest_and_coming_in_one_read_are_the_two_listings(
    db: Database, seeded: Seeded, lead: Actor, seed: int
) -> None:
    """App Home's one statement gives what `latest_events(until=now)` and `upcoming_events`
    give, in their orders: random records with ties of time, restricted events, events
    entered after the clock, seeded ones; every scope and limit."""
    await _dated_events(db, lead, seed, "Listed", [None, seeded.us_china, seeded.us_eu])
    checked = 0
    async with db.reads() as reads:
        for now in CLOCKS:
            for track_ids in (None, [seeded.us_china], [seeded.us_eu], []):
                for restricted in (True, False):
                    for limit, coming_limit in ((5, 3), (1, 1), (12, 9)):
                        latest, coming = await events.latest_and_coming(
                            reads, now=now, track_ids=track_ids,
                            include_restricted=restricted, limit=limit,
                            coming_limit=coming_limit,
                        )  # fmt: skip
                        apart = await events.latest_events(
                            reads, track_ids=track_ids, include_restricted=restricted,
                            until=now, limit=limit,
                        )  # fmt: skip
                        to_come = await events.upcoming_events(
                            reads, now=now, track_ids=track_ids,
                            include_restricted=restricted, limit=coming_limit,
                        )  # fmt: skip
                        got = (_tagged(latest), _tagged(coming))
                        assert got == (_tagged(apart), _tagged(to_come))
                        checked += bool(got[0]) and bool(got[1])
    assert checked > 20


@pytest.mark.parametrize("seed", range(3))
async def test_topics_with_their_latest_in_one_read_are_the_two_reads(
    db: Database, seeded: Seeded, lead: Actor, seed: int
) -> None:
    """`/watch`'s and App Home's one statement gives what `all_sensitivities` and
    `latest_by_sensitivity` give: random records (ties of time, restricted events and
    topics, a topic with no event), each level filter, bound and unbound, 1 to 3 a topic."""
    from storage.models import Level

    pick = random.Random(seed)
    async with db.session() as s:
        for name in ["Quokka policy", "Wombat quotas", "Numbat rules", "Bilby bills"]:
            await sensitivities.add_sensitivity(
                s, actor=lead, now=NOW, name=name, keywords=[name.split()[0].lower()],
                visibility=pick.choice(["team", "team", "restricted"]),
                level=pick.choice(["critical", "high", "medium", "low"]),
            )  # fmt: skip
        for n in range(40):
            words = " and ".join(pick.sample(["quokka", "wombat", "numbat", "tariff"], 2))
            await events.add_event(
                s, actor=lead, now=NOW, title=f"Event {n}: {words}",
                occurred_at=NOW + timedelta(hours=pick.randrange(-200, 200) // 8 * 8),
                visibility=pick.choice(["team", "restricted"]),
            )  # fmt: skip
    checked = 0
    async with db.reads() as reads:
        for until in (None, NOW, NOW + timedelta(hours=pick.randrange(-100, 100))):
            for restricted in (False, True):
                for levels in ((), (Level.critical, Level.high), (Level.low,)):
                    for per_topic in (1, 2, 3):
                        together = await events.topics_with_latest(
                            reads, include_restricted=restricted, levels=levels,
                            until=until, per_topic=per_topic,
                        )  # fmt: skip
                        items = await sensitivities.all_sensitivities(
                            reads, include_restricted=restricted, levels=levels
                        )
                        latest = await events.latest_by_sensitivity(
                            reads, sensitivity_ids=[i.id for i in items if i.id is not None],
                            include_restricted=restricted, until=until, per_topic=per_topic,
                        )  # fmt: skip
                        got = [(t.id, hs) for t, hs in together]  # every headline's column
                        apart = [(i.id, latest[i.id or 0]) for i in items]
                        assert got == apart, (until, restricted, levels, per_topic)
                        checked += sum(len(hs) == per_topic for _, hs in got)
    assert checked > 30


@pytest.mark.parametrize("seed", range(3))
async def test_a_topics_timeline_and_what_is_coming_in_one_read_are_the_two_reads(
    db: Database, seeded: Seeded, lead: Actor, seed: int
) -> None:
    """`/watch <topic>`'s one statement gives what `timeline(until=now)` and `coming_up`
    give: random records with ties of time, restricted events, events entered after the
    clock; every visibility, several clocks and limits."""
    await _dated_events(db, lead, seed, "Taiwan item")
    checked = 0
    async with db.reads() as reads:
        for now in CLOCKS:
            for restricted in (True, False):
                for limit, coming_limit in ((20, 5), (1, 1), (45, 2)):
                    past, coming = await events.topic_timeline_and_coming(
                        reads, sensitivity_id=seeded.taiwan, include_restricted=restricted,
                        now=now, limit=limit, coming_limit=coming_limit,
                    )  # fmt: skip
                    apart = await events.timeline(
                        reads, sensitivity_id=seeded.taiwan, include_restricted=restricted,
                        until=now, limit=limit,
                    )  # fmt: skip
                    to_come = await events.coming_up(
                        reads, sensitivity_id=seeded.taiwan, include_restricted=restricted,
                        now=now, limit=coming_limit,
                    )  # fmt: skip
                    got = (_tagged(past), _tagged(coming))
                    assert got == (_tagged(apart), _tagged(to_come))
                    checked += bool(got[0]) and bool(got[1])
    assert checked > 10


def _tagged(views: list[events.EventView]) -> list[tuple[int | None, list[int | None]]]:
    return [(v.event.id, [t.id for t in v.sensitivities]) for v in views]


async def _tag_topics(session: Any, lead: Actor) -> None:
    """Two more topics for the merged reads' records: one restricted (its name shown only to
    who may see it), one for the team."""
    for name, visibility in (("Quokka policy", "restricted"), ("Wombat quotas", "team")):
        await sensitivities.add_sensitivity(
            session, actor=lead, now=NOW, name=name, keywords=[name.split()[0].lower()],
            visibility=visibility,
        )  # fmt: skip


def _mentions(pick: random.Random) -> str:
    return " ".join(pick.sample(["quokka", "wombat", "tariff", "plain"], 2))


#: The clocks the merged reads are compared at: before, at and after the events' times.
CLOCKS = [NOW + timedelta(hours=h) for h in (-48, -6, 0, 1, 6, 24, 72)]


async def _dated_events(
    db: Database, lead: Actor, seed: int, title: str, tracks: list[int | None] | None = None
) -> None:
    """30 random events around NOW (ties of time, both visibilities, some entered after
    the clock, on `tracks` when given), mentioning the topics of `_tag_topics`."""
    pick = random.Random(seed)
    async with db.session() as s:
        await _tag_topics(s, lead)
        for n in range(30):
            entered = NOW + timedelta(hours=pick.choice([-300, -1, 0, 30]))
            await events.add_event(
                s, actor=lead, now=entered, title=f"{title} {n}: {_mentions(pick)}",
                occurred_at=NOW + timedelta(hours=pick.randrange(-60, 60) // 6 * 6),
                visibility=pick.choice(["team", "restricted"]),
                track_id=pick.choice(tracks) if tracks else None,
            )  # fmt: skip
