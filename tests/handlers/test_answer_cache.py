"""Cached `/truce` and `/deadline` answers: a repeat reads nothing, yet every change to the
record — by a command, beside the server, or on another replica — and every turn of the
clock that changes the wording shows in the very next answer; each role gets its own."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from bot.answers import Answer, AnswerCache, AnswerKey
from bot.clock import ManualClock
from bot.render.ids import Action
from bot.runtime import Runtime
from bot.settings import Settings
from handlers.deadline import _upcoming_answer
from handlers.request import KEYED_BY, Ask, answer_key, read_command
from handlers.truce import list_truces
from storage import deadlines
from storage.access import CLI
from storage.db import Database
from storage.lookups import VersionedMemo
from storage.models import Role
from storage.roles import grant_lead
from storage.subscriptions import subscribe
from tests.support.bots import RunningBot, start_bot
from tests.support.checks import answer, block_text, walk
from tests.support.databases import drop_pg_database, make_database_url, seed
from tests.support.people import ADMIN, AS_OF, LEAD, MEMBER
from tests.support.slack import SlackStandIn

REPLICA_WAIT = 3.0
RESTRICTED_CHANNEL = "GLOCKED01"


class Statements:
    """Counts the SQL statements the bot sends: through the engine (`orm`) and on its direct
    readers' connection (storage.direct), as SQLite itself traces them."""

    def __init__(self) -> None:
        self.orm = 0
        self.direct = 0

    @property
    def count(self) -> int:
        return self.orm + self.direct

    @count.setter
    def count(self, value: int) -> None:
        self.orm, self.direct = value, 0

    def seen(self, *_: Any) -> None:
        self.orm += 1

    def seen_direct(self, _: str) -> None:
        self.direct += 1


@contextmanager
def counted(db: Database) -> Iterator[Statements]:
    counter = Statements()
    engine = db.engine.sync_engine
    assert db.direct is not None and db.direct._sqlite is not None  # noqa: SLF001
    direct = db.direct._sqlite  # noqa: SLF001
    connection = direct._connection or direct._open()  # noqa: SLF001
    event.listen(engine, "before_cursor_execute", counter.seen)
    connection.set_trace_callback(counter.seen_direct)
    yield counter
    connection.set_trace_callback(None)
    event.remove(engine, "before_cursor_execute", counter.seen)


@pytest.fixture
def statements(bot: RunningBot) -> Iterator[Statements]:
    with counted(bot.db) as counter:
        yield counter


def action_ids(body: dict[str, Any]) -> set[str]:
    return {str(o["action_id"]) for o in walk(body.get("blocks") or []) if "action_id" in o}


async def listing(bot: RunningBot, command: str, user: str = MEMBER, text: str = "") -> str:
    return block_text(answer(await bot.command(command, text, user=user)))


async def add_beside_the_server(url: str, title: str, due_at: datetime) -> None:
    """As `parley seed` or `parley import` would: another process's own connection."""
    other = Database(url)
    try:
        async with other.session() as session:
            await deadlines.add_deadline(
                session, actor=CLI, now=AS_OF, title=title, due_at=due_at, zone="UTC"
            )
    finally:
        await other.dispose()


async def test_a_repeated_listing_reads_nothing_and_reads_the_same(
    bot: RunningBot, statements: Statements
) -> None:
    for command in ("/truce", "/deadline"):
        first = answer(await bot.command(command, user=MEMBER))
        statements.count = 0
        again = answer(await bot.command(command, user=MEMBER))
        assert again == first
        assert statements.count == 0, f"{command} read the record again"


async def test_a_deadline_added_by_command_is_in_the_next_listing(bot: RunningBot) -> None:
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")
    answer(await bot.command("/deadline", "add Tariff review | +3d", user=LEAD))
    listed = await listing(bot, "/deadline")
    assert "Upcoming deadlines (2)" in listed and "*Tariff review*" in listed


async def test_a_deadline_marked_met_leaves_the_next_listing(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Tariff review | +3d", user=LEAD))
    assert "*Tariff review*" in await listing(bot, "/deadline")
    (added,) = [d for d in await _upcoming(bot) if d.title == "Tariff review" and d.id is not None]
    answer(await bot.command("/deadline", f"met {added.id}", user=LEAD))
    assert "*Tariff review*" not in await listing(bot, "/deadline")


async def test_a_change_written_beside_the_server_is_in_the_next_listing(
    bot: RunningBot,
) -> None:
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")
    await add_beside_the_server(bot.db.url, "Written elsewhere", AS_OF + timedelta(days=2))
    listed = await listing(bot, "/deadline")
    assert "Upcoming deadlines (2)" in listed and "*Written elsewhere*" in listed


async def test_member_lead_and_public_answers_are_kept_apart(bot: RunningBot) -> None:
    for _ in range(2):  # the second round is served from the cache
        member = answer(await bot.command("/deadline", user=MEMBER))
        lead = answer(await bot.command("/deadline", user=LEAD))
        public = answer(await bot.command("/deadline", "public", user=LEAD))
        assert action_ids(member) == set()
        assert action_ids(lead) == {Action.edit_deadline, Action.open_deadline_form}
        assert action_ids(public) == {Action.edit_deadline}
        assert (member["response_type"], public["response_type"]) == ("ephemeral", "in_channel")
        assert action_ids(answer(await bot.command("/truce", user=MEMBER))) == set()
        assert action_ids(answer(await bot.command("/truce", user=LEAD))) == {
            Action.open_truce_form
        }


async def test_in_a_restricted_channel_only_the_lead_gets_buttons(bot: RunningBot) -> None:
    """There both see restricted items: the role alone tells the answers apart."""
    async with bot.db.session() as session:
        await subscribe(
            session,
            actor=CLI,
            now=AS_OF,
            channel_id=RESTRICTED_CHANNEL,
            restricted=True,
            channel_is_private=True,
        )
    for _ in range(2):
        member = answer(await bot.command("/deadline", user=MEMBER, channel=RESTRICTED_CHANNEL))
        lead = answer(await bot.command("/deadline", user=LEAD, channel=RESTRICTED_CHANNEL))
        assert action_ids(member) == set()
        assert Action.open_deadline_form in action_ids(lead)


async def test_a_granted_role_shows_in_the_next_answer(bot: RunningBot) -> None:
    assert action_ids(answer(await bot.command("/deadline", user=MEMBER))) == set()
    async with bot.db.session() as session:
        await grant_lead(session, actor=CLI, now=AS_OF, user_id=MEMBER)
    assert Action.open_deadline_form in action_ids(
        answer(await bot.command("/deadline", user=MEMBER))
    )


async def test_time_left_moves_with_the_clock_not_the_wall_minute(bot: RunningBot) -> None:
    """Countdowns floor the seconds: 20 s after 09:00:00 a deadline at 11:30 is under
    2 h 30 min away, though it is still the same wall-clock minute."""
    answer(await bot.command("/deadline", "add Soon | 2025-07-29 11:30 UTC", user=LEAD))
    assert "2 hours 30 minutes left" in await listing(bot, "/deadline")
    bot.clock.advance(timedelta(seconds=20))
    assert "2 hours 29 minutes left" in await listing(bot, "/deadline")
    bot.clock.advance(timedelta(minutes=1))
    assert "2 hours 28 minutes left" in await listing(bot, "/deadline")


async def test_the_turn_of_a_minute_changes_the_truce_countdown(bot: RunningBot) -> None:
    """The expiry is 13 d 19 h 1 min away at 09:00: one minute on it still reads 19 hours,
    the next minute 18 (13 d 18 h 59 min, floored)."""
    assert "13 days 19 hours left" in await listing(bot, "/truce")
    bot.clock.advance(timedelta(minutes=1))
    assert "13 days 19 hours left" in await listing(bot, "/truce")
    bot.clock.advance(timedelta(minutes=1))
    assert "13 days 18 hours left" in await listing(bot, "/truce")


async def test_a_deadline_that_falls_due_moves_to_recently_passed(bot: RunningBot) -> None:
    answer(await bot.command("/deadline", "add Imminent | 2025-07-29 09:01 UTC", user=LEAD))
    assert "*Imminent*" in await listing(bot, "/deadline")
    bot.clock.advance(timedelta(seconds=59))
    assert "under a minute left" in await listing(bot, "/deadline")
    bot.clock.advance(timedelta(seconds=2))
    ahead, _, passed = (await listing(bot, "/deadline")).partition("Recently passed (1)")
    assert "*Imminent*" not in ahead
    assert "*Imminent*" in passed and "passed just now" in passed
    bot.clock.advance(timedelta(days=7))
    assert "*Imminent*" not in await listing(bot, "/deadline")


async def _upcoming(bot: RunningBot) -> list[Any]:
    async with bot.db.session() as session:
        return await deadlines.upcoming_deadlines(
            session, now=bot.clock.now(), track_ids=None, include_restricted=True
        )


@pytest.fixture
async def two_replicas(
    tmp_path: Any, standin: SlackStandIn, clock: ManualClock
) -> AsyncIterator[tuple[RunningBot, Database]]:
    """The bot on PostgreSQL, and a second `Database` on the same record: another replica."""
    url = await make_database_url("postgres", tmp_path)
    db, other = Database(url), Database(url)
    try:
        await db.upgrade()
        await seed(db)
        server, task, base = await start_bot(db, standin, clock)
        async with httpx.AsyncClient(timeout=10) as http:
            settings = Settings(admins=frozenset({ADMIN}), timezone="Europe/Stockholm")
            yield RunningBot(base, http, standin, db, clock, settings), other
        server.should_exit = True
        await task
    finally:
        await other.dispose()
        await db.dispose()
        await drop_pg_database(url)


async def test_a_change_on_another_replica_reaches_this_ones_answers(
    two_replicas: tuple[RunningBot, Database],
) -> None:
    bot, other = two_replicas
    assert await bot.db.watch_changes()
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")  # now from the cache
    async with other.session() as session:
        await deadlines.add_deadline(
            session,
            actor=CLI,
            now=AS_OF,
            title="Decided in another replica",
            due_at=AS_OF + timedelta(days=2),
            zone="UTC",
        )
    waited = 0.0
    while "Decided in another replica" not in await listing(bot, "/deadline"):
        assert waited < REPLICA_WAIT, "the other replica's change never showed"
        await asyncio.sleep(0.05)
        waited += 0.05


def _key(version: int) -> AnswerKey:
    return AnswerKey((version, 0), "/truce", None, False, Role.member, False, "UTC")


async def test_concurrent_askers_of_one_missing_answer_make_it_once() -> None:
    cache = AnswerCache()
    made = 0

    async def make() -> Answer:
        nonlocal made
        made += 1
        await asyncio.sleep(0.01)
        return Answer({"text": "made"}, made_at=AS_OF, fresh_until=AS_OF + timedelta(seconds=1))

    answers = await asyncio.gather(
        *(cache.answer(_key(1), now=AS_OF, make=make) for _ in range(20))
    )
    assert made == 1 and all(a == {"text": "made"} for a in answers)
    await cache.answer(_key(2), now=AS_OF, make=make)  # another version: made again
    await cache.answer(_key(1), now=AS_OF + timedelta(seconds=1), make=make)  # gone stale
    assert made == 3


@pytest.mark.parametrize(
    "changes_in",
    [[], [timedelta(seconds=30)], [timedelta(hours=5, seconds=7)], [timedelta(days=-1)],
     [timedelta(days=3), timedelta(minutes=2, seconds=1)]],
)  # fmt: skip
async def test_until_when_an_answer_holds_is_worked_out_only_for_a_cache(
    changes_in: list[timedelta],
) -> None:
    """Uncached (the key None), an answer's freshness is never computed; cached, it is the
    one `fresh_until` gives for the countdowns it shows."""
    from bot.answers import fresh_until

    now = AS_OF + timedelta(seconds=17)
    dues = [now + d for d in changes_in]
    walked: list[datetime] = []

    def changes() -> Iterator[datetime]:
        for due in dues:
            walked.append(due)
            yield due

    async def make() -> Answer:
        return Answer({"text": "made"}, made_at=now, changes=changes())

    assert await AnswerCache().answer(None, now=now, make=make) == {"text": "made"}
    assert walked == []
    made = await make()
    assert made.fresh_until == fresh_until(now, dues)
    assert made.fresh_until == fresh_until(now, dues)  # worked out once, the same after
    assert walked == dues


async def test_when_making_an_answer_fails_the_waiters_make_their_own() -> None:
    cache = AnswerCache()
    calls = 0

    async def make() -> Answer:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise OSError("the record is unavailable")
        return Answer({"text": "made"}, made_at=AS_OF, fresh_until=AS_OF + timedelta(seconds=1))

    first, second = await asyncio.gather(
        cache.answer(_key(1), now=AS_OF, make=make),
        cache.answer(_key(1), now=AS_OF, make=make),
        return_exceptions=True,
    )
    assert isinstance(first, OSError) and second == {"text": "made"}


class ReadsRecorded:
    """An `Ask` that notes each attribute read of it."""

    def __init__(self, ask: Ask) -> None:
        self._ask = ask
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self._ask, name)


@pytest.mark.parametrize(
    ("user", "text", "channel"),
    [
        (MEMBER, "", "CDESK001"),
        (LEAD, "", "CDESK001"),
        (LEAD, "public", "CDESK001"),
        (MEMBER, "us-china", "CDESK001"),
        (MEMBER, "us-eu public", RESTRICTED_CHANNEL),
        (ADMIN, "", RESTRICTED_CHANNEL),
    ],
)
async def test_a_cached_answer_reads_only_what_its_key_holds(
    bot: RunningBot, user: str, text: str, channel: str
) -> None:
    """Add a read of anything else to `/truce` or `/deadline` (the channel, the user, a
    setting) and this fails until `AnswerKey` and `KEYED_BY` carry it too."""
    async with bot.db.session() as session:
        await subscribe(
            session, actor=CLI, now=AS_OF, channel_id=RESTRICTED_CHANNEL, restricted=True,
            channel_is_private=True,
        )  # fmt: skip
    runtime = Runtime(settings=bot.settings, db=bot.db, clock=bot.clock)
    command = {"text": text, "user_id": user, "channel_id": channel}
    async with bot.db.session() as session:
        ask = await read_command(session, runtime, command)
        for make in (list_truces, _upcoming_answer):
            recorded = ReadsRecorded(ask)
            await make(session, cast(Ask, recorded), now=AS_OF, reader_zone="Asia/Tokyo")
            assert recorded.read, make.__name__
            assert recorded.read <= set(KEYED_BY), recorded.read - set(KEYED_BY)


def test_every_input_of_the_key_tells_answers_apart() -> None:
    base = AnswerKey((1, 0), "/truce", None, False, Role.member, False, "UTC")
    for field_name, other in [
        ("version", (2, 0)),
        ("command", "/deadline"),
        ("track_id", 1),
        ("public", True),
        ("role", Role.lead),
        ("sees_restricted", True),
        ("reader_zone", "Asia/Tokyo"),
    ]:
        assert dataclasses.replace(base, **{field_name: other}) != base, field_name
    assert {f.name for f in dataclasses.fields(AnswerKey)} == {
        "version", "command", "track_id", "public", "role", "sees_restricted", "reader_zone",
    }  # fmt: skip


async def test_a_raw_sql_write_beside_the_server_is_in_the_next_answer(bot: RunningBot) -> None:
    """As `sqlite3 parley.db` would write: no session of ours sees it; data_version does."""
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")  # from the cache
    path = make_url(bot.db.url).database
    assert path
    raw = sqlite3.connect(path)
    try:
        raw.execute(
            "INSERT INTO deadline (title, due_at, zone, kind, status, visibility, created_at) "
            "VALUES ('Typed into sqlite3', '2025-07-31 09:00:00.000000', 'UTC', 'other', "
            "'open', 'team', '2025-07-29 09:00:00.000000')"
        )
        raw.commit()
    finally:
        raw.close()
    listed = await listing(bot, "/deadline")
    assert "Upcoming deadlines (2)" in listed and "*Typed into sqlite3*" in listed


async def test_a_psql_write_on_postgres_reaches_the_answers(
    two_replicas: tuple[RunningBot, Database],
) -> None:
    bot, other = two_replicas
    assert await bot.db.watch_changes()
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")
    assert "Upcoming deadlines (1)" in await listing(bot, "/deadline")  # from the cache
    async with other.engine.begin() as connection:  # Core, no session: the trigger tells
        await connection.execute(
            text(
                "INSERT INTO deadline (title, due_at, zone, kind, status, visibility, created_at)"
                " VALUES ('Typed into psql', '2025-07-31 09:00+00', 'UTC', 'other', 'open', "
                "'team', '2025-07-29 09:00+00')"
            )
        )
    waited = 0.0
    while "Typed into psql" not in await listing(bot, "/deadline"):
        assert waited < REPLICA_WAIT, "the psql write never showed"
        await asyncio.sleep(0.05)
        waited += 0.05


async def test_with_the_cache_off_every_answer_reads_the_record(
    bot: RunningBot, statements: Statements
) -> None:
    runtime = Runtime(settings=Settings(answer_cache=False), db=bot.db, clock=bot.clock)
    command = {"text": "", "user_id": MEMBER, "channel_id": "CDESK001"}
    for _ in range(2):
        statements.count = 0
        async with bot.db.session() as session:
            ask = await read_command(session, runtime, command)
            assert answer_key(ask, "/truce", "UTC") is None
            await list_truces(session, ask, now=AS_OF, reader_zone="UTC")
        assert statements.count >= 2  # the context, the truces: read each time


def test_a_memo_forgets_after_its_time() -> None:
    async def run() -> list[int]:
        reads: list[int] = []

        async def read() -> int:
            reads.append(1)
            return len(reads)

        kept, forgetful = VersionedMemo[str, int](), VersionedMemo[str, int](max_age=0.0)
        for memo in (kept, forgetful):
            await memo.get((1, 0), "k", read)
            await memo.get((1, 0), "k", read)
        return reads

    assert len(asyncio.run(run())) == 3  # once for `kept`, twice for `forgetful`
