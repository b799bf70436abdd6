"""Full-text search (storage.search) on SQLite and PostgreSQL: a table of queries and the
items they find, odd input that never raises, restricted items, filters, and writes (by the
services and by raw SQL) that keep the index in step."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from storage import deadlines, events, rounds, sensitivities
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput
from storage.models import SEARCH_FILTER_INDEX
from storage.search import MARK_END, MARK_START, read_query, search_record
from tests.support.record import NOW, Seeded

LATER = NOW + timedelta(days=1)
MINE = "quokka"  # a word the seeded case never uses: the hits below are these items only


async def _items(db: Database, seeded: Seeded, lead: Actor) -> None:
    for n, (title, summary, track, visibility) in enumerate(
        [
            ("Quokka tariff snapback announced", "The zebrafish clause on soybeans", "c", "team"),
            ("Quokka ministers meet in Geneva", "No tariff was discussed", "e", "team"),
            ("Quokka restricted briefing on chips", "Export controls on H20", "c", "restricted"),
            ("Quokka: 商务部对稀土相关物项实施出口管制", "", "c", "team"),
            ("Quokka steel tariff rises to 50%", "", None, "team"),
            ("Quokka rate_limit notice", "", None, "team"),
        ]
    ):
        async with db.session() as s:
            await events.add_event(
                s,
                actor=lead,
                now=NOW,
                title=title,
                summary=summary,
                occurred_at=NOW - timedelta(hours=n + 1),
                track_id={"c": seeded.us_china, "e": seeded.us_eu, None: None}[track],
                visibility=visibility,
            )
    async with db.session() as s:
        await events.add_event(
            s, actor=lead, now=NOW, title="Quokka news from tomorrow", occurred_at=LATER
        )
    async with db.session() as s:
        await deadlines.add_deadline(
            s,
            actor=lead,
            now=NOW,
            title="Quokka tariff review",
            due_at=NOW + timedelta(days=3),
            zone="UTC",
            track_id=seeded.us_china,
        )
    async with db.session() as s:
        await rounds.add_round(
            s, actor=lead, now=NOW, title="Quokka round", place="Madrid",
            starts_at=NOW + timedelta(days=9), zone="Europe/Madrid",
        )  # fmt: skip
    async with db.session() as s:
        await sensitivities.add_sensitivity(
            s, actor=lead, now=NOW, name="Quokka fisheries", keywords=["quokka fish"],
            description="Disputes over fishing quotas",
        )  # fmt: skip


async def _titles(db: Database, typed: str, *, restricted: bool = False) -> list[str]:
    async with db.session() as s:
        _, hits = await search_record(s, typed=typed, include_restricted=restricted, until=NOW)
    return [h.title for h in hits]


@pytest.mark.parametrize(
    ("typed", "found", "not_found"),
    [
        (
            "quokka",
            {"Quokka tariff snapback announced", "Quokka tariff review", "Quokka round"},
            {"Quokka restricted briefing on chips", "Quokka news from tomorrow"},
        ),
        ("quokka fisheries", {"Quokka fisheries"}, {"Quokka round"}),
        (
            "QUOKKA Tariff",
            {"Quokka tariff snapback announced", "Quokka ministers meet in Geneva"},
            {"Quokka round"},
        ),
        ("quokka snapbacks", {"Quokka tariff snapback announced"}, set()),  # stemmed
        ('"tariff snapback"', {"Quokka tariff snapback announced"}, {"Quokka tariff review"}),
        ('"snapback tariff"', set(), {"Quokka tariff snapback announced"}),  # in order
        (
            "quokka tariff -geneva",
            {"Quokka tariff snapback announced", "Quokka tariff review"},
            {"Quokka ministers meet in Geneva"},
        ),
        ("quokka kind:deadline", {"Quokka tariff review"}, {"Quokka round"}),
        ("quokka kind:round kind:sensitivity", {"Quokka round", "Quokka fisheries"}, set()),
        (
            "quokka track:us-eu",
            {"Quokka ministers meet in Geneva", "Quokka round", "Quokka fisheries"},
            {"Quokka tariff snapback announced", "Quokka tariff review"},
        ),
        ("稀土", {"Quokka: 商务部对稀土相关物项实施出口管制"}, set()),
        ("出口管制 quokka", {"Quokka: 商务部对稀土相关物项实施出口管制"}, set()),
        ("50%", {"Quokka steel tariff rises to 50%"}, set()),
        ("rate_limit", {"Quokka rate_limit notice"}, set()),
        ("zebrafish", {"Quokka tariff snapback announced"}, set()),
        ("quokka AND OR (", set(), {"Quokka round"}),  # `(` is text, found nowhere
        ('quokka "', {"Quokka round"}, set()),  # an unclosed quote is no error
        ("quokka*", set(), {"Quokka round"}),  # no prefix syntax: text
        ("x" * 500, set(), set()),
        ("*", set(), {"Quokka round"}),
        ("quokka " + "tariff " * 80, {"Quokka tariff review"}, set()),  # terms capped
        # `a OR b`, and the quotes Slack's clients type
        ("fisheries OR snapback", {"Quokka fisheries", "Quokka tariff snapback announced"}, set()),
        (
            "quokka fisheries OR geneva",
            {"Quokka fisheries", "Quokka ministers meet in Geneva"},
            {"Quokka round", "Quokka tariff review"},
        ),
        (
            '"tariff snapback" OR fisheries',
            {"Quokka tariff snapback announced", "Quokka fisheries"},
            {"Quokka tariff review"},
        ),
        (
            "fisheries OR snapback -geneva",
            {"Quokka fisheries"},
            {"Quokka ministers meet in Geneva"},
        ),
        ("“tariff snapback”", {"Quokka tariff snapback announced"}, {"Quokka tariff review"}),
        ("'tariff snapback'", {"Quokka tariff snapback announced"}, {"Quokka tariff review"}),
        ("‘QUOKKA’ kind:round", {"Quokka round"}, {"Quokka tariff review"}),
    ],
)
async def test_queries_find_what_they_should(
    db: Database, seeded: Seeded, lead: Actor, typed: str, found: set[str], not_found: set[str]
) -> None:
    await _items(db, seeded, lead)
    titles = set(await _titles(db, typed))
    assert found <= titles, found - titles
    assert not (not_found & titles), not_found & titles


@pytest.mark.parametrize("typed", ['"', "AND OR", "-quokka", "", "   ", '""', "track:us-eu"])
async def test_input_with_nothing_to_find_gets_a_clear_answer(
    db: Database, seeded: Seeded, lead: Actor, typed: str
) -> None:
    await _items(db, seeded, lead)
    with pytest.raises(InvalidInput, match="Say what to search for"):
        await _titles(db, typed)


@pytest.mark.parametrize(
    ("typed", "says"),
    [("quokka kind:banana", "`kind:` takes event"), ("quokka track:mars", "No track has")],
)
async def test_unknown_filters_are_named(
    db: Database, seeded: Seeded, lead: Actor, typed: str, says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        await _titles(db, typed)


async def test_restricted_items_only_when_they_may_be_seen(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _items(db, seeded, lead)
    assert await _titles(db, "quokka chips") == []
    assert await _titles(db, "quokka chips", restricted=True) == [
        "Quokka restricted briefing on chips"
    ]


async def test_ranked_best_first_with_marked_snippets(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    await _items(db, seeded, lead)
    async with db.session() as s:
        _, hits = await search_record(s, typed="snapback", include_restricted=False, until=NOW)
    assert [h.title for h in hits][:1] == ["Quokka tariff snapback announced"]
    assert f"{MARK_START}snapback{MARK_END}" in hits[0].snippet
    async with db.session() as s:
        _, hits = await search_record(s, typed="quokka tariff kind:event", include_restricted=False)
    # The title counts most: a title with both words ranks above one with a word in its summary.
    titles = [h.title for h in hits]
    assert titles.index("Quokka tariff snapback announced") < titles.index(
        "Quokka ministers meet in Geneva"
    )


async def test_writes_keep_the_index_in_step(db: Database, seeded: Seeded, lead: Actor) -> None:
    await _items(db, seeded, lead)
    async with db.session() as s:
        _, hits = await search_record(s, typed="review quokka", include_restricted=False)
    (review,) = [h for h in hits if h.kind == "deadline"]
    async with db.session() as s:
        await deadlines.update_deadline(
            s, actor=lead, now=NOW, deadline_id=review.item_id, title="Quokka wombat audit"
        )
    assert await _titles(db, "quokka review kind:deadline") == []
    assert await _titles(db, "wombat") == ["Quokka wombat audit"]
    async with db.session() as s:  # raw SQL, as psql or a migration would write
        await s.exec(
            text("UPDATE deadline SET title = 'Quokka platypus' WHERE id = :id"),
            params={"id": review.item_id},
        )  # type: ignore[call-overload]  # noqa: E501
        await s.commit()
    assert await _titles(db, "wombat") == []
    assert await _titles(db, "platypus") == ["Quokka platypus"]
    async with db.session() as s:
        await s.exec(text("DELETE FROM deadline WHERE id = :id"), params={"id": review.item_id})  # type: ignore[call-overload]  # noqa: E501
        await s.commit()
    assert await _titles(db, "platypus") == []


def test_reading_a_query() -> None:
    query = read_query('"Export  controls" -nvidia 稀土 50% track:us-china KIND:Events or')
    assert query.phrases == ["Export controls"]
    assert query.excluded_words == ["nvidia"]
    assert query.literals == ["稀土", "50%"]
    assert query.track == "us-china"
    assert query.kinds == ("event",)
    assert query.words == []  # `or` is no word to find


async def _searchable(db: Database, lead: Actor, titles: list[str]) -> None:
    for n, title in enumerate(titles):
        async with db.session() as s:
            await events.add_event(
                s, actor=lead, now=NOW, title=title, occurred_at=NOW - timedelta(hours=n + 1)
            )


async def _search(db: Database, words: str) -> list[str]:
    return await _titles(db, f"{words} kind:event", restricted=True)


@pytest.mark.parametrize(
    ("words", "titles"),
    [
        ("50%", ["US tariff rises to 50% on steel"]),
        ("%", ["US tariff rises to 50% on steel"]),
        ("rate_limit", ["rate_limit notice"]),
        ("_", ["rate_limit notice"]),
        ("C:\\temp", ["Filed under C:\\temp"]),
        ("\\", ["Filed under C:\\temp"]),
        ("芬太尼", ["新华社：中方要求取消芬太尼关税"]),
        ("芬太尼关税", ["新华社：中方要求取消芬太尼关税"]),
        ("关税 芬太尼", ["新华社：中方要求取消芬太尼关税"]),
        ("关税 steel", []),
        ("レアアース", ["中国がレアアースの輸出を規制"]),
        ("희토류", ["중국, 희토류 수출 통제"]),
        ("STEEL", ["US tariff rises to 50% on steel", "US tariff rises to 50 on steel"]),
    ],
)
async def test_punctuation_and_cjk_are_found_as_typed(
    db: Database, lead: Actor, words: str, titles: list[str]
) -> None:
    await _searchable(
        db,
        lead,
        [
            "US tariff rises to 50% on steel",
            "US tariff rises to 50 on steel",
            "rate_limit notice",
            "ratealimit notice",
            "Filed under C:\\temp",
            "Filed under C:temp",
            "新华社：中方要求取消芬太尼关税",
            "中国がレアアースの輸出を規制",
            "중국, 희토류 수출 통제",
        ],
    )
    assert await _search(db, words) == titles


@pytest.mark.parametrize("include_restricted", [False, True])
@pytest.mark.parametrize("typed", ["tariff", '"export controls" -nvidia', "tariff track:us-china"])
async def test_on_sqlite_each_match_is_filtered_off_the_narrow_index(
    seeded_sqlite_db: Database, include_restricted: bool, typed: str
) -> None:
    """SQLite would read every match's event row by its primary key (a wide row each: 1.1
    ms for 1,000 matches); the search tells it to use the filter's own index (0.17 ms)."""
    seen: list[tuple[str, Any]] = []

    def record(_: Any, __: Any, statement: str, parameters: Any, *___: Any) -> None:
        if "bm25" in statement:
            seen.append((statement, parameters))

    engine = seeded_sqlite_db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with seeded_sqlite_db.session() as session:
            await search_record(session, typed=typed, include_restricted=include_restricted)
            ((statement, parameters),) = seen
            connection = await session.connection()
            plan = (
                await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ).all()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    steps = [str(row[-1]) for row in plan]
    assert any(f"INDEX {SEARCH_FILTER_INDEX}" in step for step in steps), steps
    assert not any(step.startswith("SEARCH s USING INTEGER PRIMARY KEY") for step in steps[:3])


@pytest.mark.parametrize(
    ("typed", "words", "phrases", "either", "literals"),
    [
        ("“export controls”", [], ["export controls"], [], []),  # Slack's curly quotes
        ("„export controls“ «rare earths»", [], ["export controls", "rare earths"], [], []),
        ("'export controls'", [], ["export controls"], [], []),
        ("‘SEEKING’", ["SEEKING"], [], [], []),
        ("China's", [], [], [], ["China's"]),  # an apostrophe in a word stays
        ("tariff OR taiwan", [], [], [("tariff", "taiwan")], []),
        ("tariff or taiwan or chips", [], [], [("tariff", "taiwan", "chips")], []),
        ("nvidia tariff OR taiwan", ["nvidia"], [], [("tariff", "taiwan")], []),
        ('"export controls" OR nvidia', [], [], [("export controls", "nvidia")], []),
        ("tariff OR tariff", ["tariff"], [], [], []),
        ("OR tariff", ["tariff"], [], [], []),  # nothing before it: left out
        ("tariff OR", ["tariff"], [], [], []),
        ("tariff OR 稀土", ["tariff"], [], [], ["稀土"]),  # a substring term: no OR
        ("a OR b c OR d", [], [], [("a", "b"), ("c", "d")], []),
        ("tariff -geneva OR taiwan", ["tariff", "taiwan"], [], [], []),
    ],
)
def test_reading_quotes_and_or(
    typed: str,
    words: list[str],
    phrases: list[str],
    either: list[tuple[str, ...]],
    literals: list[str],
) -> None:
    query = read_query(typed)
    assert (query.words, query.phrases, query.either, query.literals) == (
        words,
        phrases,
        either,
        literals,
    )


@pytest.mark.parametrize(
    ("typed", "left_out", "narrowed"),
    [
        ("OR", False, False),
        ('"', False, False),
        ("-quokka", True, False),
        ("kind:deadline", False, True),
        ("track:us-china", False, True),
        ("kind:event -quokka", True, True),
    ],
)
async def test_nothing_to_find_is_told_as_it_is(
    db: Database, seeded: Seeded, lead: Actor, typed: str, left_out: bool, narrowed: bool
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await _titles(db, typed)
    said = str(refused.value)
    assert said.startswith("Say what to search for")
    assert ("not only what to leave out" in said) is left_out
    assert ("not only where: `kind:` and `track:` narrow a search" in said) is narrowed
