"""The calendar feed: rendered from the record, parsed back with icalendar, served at
GET /calendar.ics with a token, an ETag and 304s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar
from starlette.applications import Starlette

from bot.calendar import FORBIDDEN, UNAVAILABLE, calendar_route, render_calendar
from bot.clock import ManualClock
from bot.settings import Settings
from storage import deadlines, rounds
from storage.access import CLI
from storage.db import Database
from storage.models import RoundStatus
from tests.support.databases import seed
from tests.support.people import AS_OF

TEAM_TOKEN = "team-calendar-token-0123456789"
RESTRICTED_TOKEN = "restricted-calendar-token-987654"
DEFAULT_ALARMS = [
    timedelta(days=-30),
    timedelta(days=-14),
    timedelta(days=-7),
    timedelta(days=-3),
    timedelta(days=-1),
    timedelta(hours=-12),
    timedelta(hours=-1),
    timedelta(0),
]
SETTINGS = Settings(calendar_token=TEAM_TOKEN, calendar_restricted_token=RESTRICTED_TOKEN)


async def render(db: Database, *, restricted: bool = False, now: datetime = AS_OF) -> bytes:
    async with db.session() as session:
        return await render_calendar(session, now=now, include_restricted=restricted)


def events(body: bytes) -> dict[str, Any]:
    """UID -> VEVENT of a feed parsed back."""
    calendar = Calendar.from_ical(body)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


async def add_deadline(db: Database, title: str, **fields: Any) -> int:
    async with db.session() as session:
        deadline = await deadlines.add_deadline(
            session,
            actor=CLI,
            now=AS_OF,
            title=title,
            due_at=fields.pop("due_at", AS_OF + timedelta(days=5)),
            zone=fields.pop("zone", "Asia/Shanghai"),
            **fields,
        )
    assert deadline.id is not None
    return deadline.id


@pytest.fixture
async def seeded_db(db: Database) -> Database:
    await seed(db)
    return db


# ---- render_calendar -------------------------------------------------------------------------


async def test_the_truce_expiry_starts_at_its_instant_in_its_own_zone(seeded_db: Database) -> None:
    body = await render(seeded_db)
    calendar = Calendar.from_ical(body)
    expiry = next(e for e in calendar.walk("VEVENT") if "expires" in str(e["SUMMARY"]))
    start = expiry.decoded("DTSTART")
    assert start.tzinfo == ZoneInfo("America/New_York")
    assert (start.hour, start.minute) == (0, 1)
    assert start == datetime(2025, 8, 12, 4, 1, tzinfo=UTC)
    assert expiry["DTSTART"].params["TZID"] == "America/New_York"
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} >= {
        "America/New_York",
        "Europe/Stockholm",
    }
    assert calendar.get_missing_tzids() == set()


async def test_uids_and_the_whole_body_are_stable_across_renders(seeded_db: Database) -> None:
    first = await render(seeded_db)
    second = await render(seeded_db, now=AS_OF + timedelta(hours=3))
    assert first == second
    uids = set(events(first))
    assert all(uid.endswith("@parley") for uid in uids)
    assert any(uid.startswith("deadline-") for uid in uids)
    added = await add_deadline(seeded_db, "Rare-earth licence review")
    assert set(events(await render(seeded_db))) == uids | {f"deadline-{added}@parley"}


async def test_open_deadlines_and_coming_or_current_rounds_only(seeded_db: Database) -> None:
    met = await add_deadline(seeded_db, "Already met")
    async with seeded_db.session() as session:
        await deadlines.update_deadline(
            session, actor=CLI, now=AS_OF, deadline_id=met, status="met"
        )
        upcoming = await rounds.add_round(
            session,
            actor=CLI,
            now=AS_OF,
            title="Follow-up talks, Beijing",
            place="Beijing",
            starts_at=datetime(2025, 9, 1, 1, 0, tzinfo=UTC),
            ends_at=datetime(2025, 9, 2, 9, 0, tzinfo=UTC),
            zone="Asia/Shanghai",
            status=RoundStatus.scheduled,
        )
    found = events(await render(seeded_db))
    assert f"deadline-{met}@parley" not in found
    talks = {str(e["SUMMARY"]) for uid, e in found.items() if uid.startswith("round-")}
    assert talks == {  # Geneva and London are concluded
        "Talks: US–China economic and trade talks, Stockholm",  # in progress
        "Talks: Follow-up talks, Beijing",  # scheduled
    }
    beijing = found[f"round-{upcoming.id}@parley"]
    assert beijing.decoded("DTSTART") == datetime(
        2025, 9, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")
    )
    assert beijing.decoded("DTEND") == datetime(2025, 9, 2, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert str(beijing["LOCATION"]) == "Beijing"


async def test_alarms_follow_the_default_offsets_or_the_deadlines_own(
    seeded_db: Database,
) -> None:
    own = await add_deadline(seeded_db, "Export-control rule comment period", offsets="2d,6h,0")
    found = events(await render(seeded_db))

    def triggers(event: Any) -> list[timedelta]:
        return sorted(a.decoded("TRIGGER") for a in event.walk("VALARM"))

    expiry = next(e for uid, e in found.items() if "expires" in str(e["SUMMARY"]))
    assert triggers(expiry) == sorted(DEFAULT_ALARMS)
    assert triggers(found[f"deadline-{own}@parley"]) == [
        timedelta(days=-2),
        timedelta(hours=-6),
        timedelta(0),
    ]
    assert all(str(a["ACTION"]) == "DISPLAY" for a in expiry.walk("VALARM"))


async def test_the_settings_default_offsets_apply_when_a_deadline_has_none(
    seeded_db: Database,
) -> None:
    async with seeded_db.session() as session:
        body = await render_calendar(
            session, now=AS_OF, include_restricted=False, default_offsets=[timedelta(hours=2)]
        )
    expiry = next(e for e in events(body).values() if "expires" in str(e["SUMMARY"]))
    # and one at the due time, as the "deadline reached" post comes whatever the offsets
    alarms = [a.decoded("TRIGGER") for a in expiry.walk("VALARM")]
    assert alarms == [timedelta(hours=-2), timedelta(0)]


async def test_restricted_deadlines_only_in_the_restricted_feed(seeded_db: Database) -> None:
    secret = await add_deadline(seeded_db, "Quiet channel deadline", visibility="restricted")
    uid = f"deadline-{secret}@parley"
    team = await render(seeded_db)
    assert uid not in events(team)
    assert b"Quiet channel deadline" not in team
    restricted = events(await render(seeded_db, restricted=True))
    assert str(restricted[uid]["CLASS"]) == "CONFIDENTIAL"
    assert set(events(team)) < set(restricted)


# ---- GET /calendar.ics (SQLite: the route adds nothing database-specific) ----------------------


@pytest.fixture
async def served_db(sqlite_db: Database) -> Database:
    await seed(sqlite_db)
    return sqlite_db


@pytest.fixture
async def feed(served_db: Database, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[calendar_route(db=served_db, settings=SETTINGS, clock=clock)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://parley") as client:
        yield client


async def test_a_missing_or_wrong_token_is_forbidden_and_shows_nothing(
    feed: httpx.AsyncClient,
) -> None:
    wrong = ["", "?token=", "?token=wrong", f"?token={TEAM_TOKEN[:-1]}", f"?token={TEAM_TOKEN}x"]
    wrong += ["?token=%FF%FE", f"?TOKEN={TEAM_TOKEN}", f"?token={TEAM_TOKEN.upper()}"]
    for query in wrong:
        response = await feed.get(f"/calendar.ics{query}")
        assert response.status_code == 403, query
        assert response.text == FORBIDDEN
        assert "etag" not in response.headers


async def test_the_team_token_gets_the_feed(feed: httpx.AsyncClient) -> None:
    response = await feed.get("/calendar.ics", params={"token": TEAM_TOKEN})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert any("expires" in str(e["SUMMARY"]) for e in events(response.content).values())


async def test_the_restricted_token_gets_restricted_deadlines(
    feed: httpx.AsyncClient, served_db: Database
) -> None:
    await add_deadline(served_db, "Quiet channel deadline", visibility="restricted")
    team = await feed.get("/calendar.ics", params={"token": TEAM_TOKEN})
    restricted = await feed.get("/calendar.ics", params={"token": RESTRICTED_TOKEN})
    assert "Quiet channel deadline" not in team.text
    assert "Quiet channel deadline" in restricted.text
    assert team.headers["etag"] != restricted.headers["etag"]


async def test_etag_gives_304_until_the_record_changes(
    feed: httpx.AsyncClient, served_db: Database, clock: ManualClock
) -> None:
    params = {"token": TEAM_TOKEN}
    first = await feed.get("/calendar.ics", params=params)
    etag = first.headers["etag"]
    clock.advance(timedelta(minutes=5))
    same = await feed.get("/calendar.ics", params=params, headers={"if-none-match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag

    added = await add_deadline(served_db, "Section 301 hearing")
    changed = await feed.get("/calendar.ics", params=params, headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert f"deadline-{added}@parley" in events(changed.content)


async def test_without_a_calendar_token_the_feed_is_not_there(
    served_db: Database, clock: ManualClock
) -> None:
    settings = replace(SETTINGS, calendar_token=None, calendar_restricted_token=None)
    app = Starlette(routes=[calendar_route(db=served_db, settings=settings, clock=clock)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://parley"
    ) as client:
        for query in ("", "?token=", f"?token={TEAM_TOKEN}"):
            response = await client.get(f"/calendar.ics{query}")
            assert response.status_code == 404
            assert "truce" not in response.text.lower()


async def test_a_database_that_is_down_gives_503_and_no_trace(clock: ManualClock) -> None:
    down = Database("postgresql+asyncpg://nobody@127.0.0.1:1/parley")
    app = Starlette(routes=[calendar_route(db=down, settings=SETTINGS, clock=clock)])
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://parley"
        ) as client:
            response = await client.get("/calendar.ics", params={"token": TEAM_TOKEN})
    finally:
        await down.dispose()
    assert response.status_code == 503
    assert response.text == UNAVAILABLE


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (datetime(2025, 7, 27, 9, 0, tzinfo=UTC), "scheduled"),
        (AS_OF, "in progress"),
        (datetime(2025, 8, 5, 9, 0, tzinfo=UTC), "concluded"),
    ],
)
async def test_a_rounds_status_in_the_feed_follows_the_clock(
    seeded_db: Database, now: datetime, status: str
) -> None:
    """As `/talks` reads it (SPEC §3, status follows time), not as stored."""
    found = events(await render(seeded_db, now=now))
    stockholm = next(e for e in found.values() if "Stockholm" in str(e["SUMMARY"]))
    assert str(stockholm["DESCRIPTION"]).startswith(f"Talks round, {status}.")
