"""Sensitivities: watch topics with a level, keywords and visibility."""

from __future__ import annotations

import pytest

from storage import sensitivities
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput, NotFound
from tests.storage.conftest import NOW, Seeded, audit_trail, row_counts


async def test_add_sensitivity_derives_its_slug_and_keeps_its_keywords(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        item = await sensitivities.add_sensitivity(
            s, actor=lead, now=NOW, name="Fentanyl & precursors", level="critical",
            keywords=["fentanyl", "precursor chemicals"], visibility="restricted",
        )
    assert (item.slug, item.level, item.visibility) == (
        "fentanyl-precursors", "critical", "restricted"
    )
    async with db.session() as s:
        found = await sensitivities.find_sensitivity(
            s, "precursor chemicals", include_restricted=True
        )
    assert found.id == item.id
    assert found.keywords == ["fentanyl", "precursor chemicals"]


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"level": "severe"}, "Level must be one of"),
        ({"visibility": "hidden"}, "Visibility must be one of"),
        ({"name": "n" * 101}, "limit is 100"),
        ({"name": "Taiwan"}, "exists already"),
    ],
    ids=["level", "visibility", "name-too-long", "duplicate"],
)
async def test_add_sensitivity_refuses_bad_input_and_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor, fields: dict[str, object], match: str
) -> None:
    values: dict[str, object] = {"name": "Fentanyl"}
    values.update(fields)
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match=match):
            await sensitivities.add_sensitivity(s, actor=lead, now=NOW, **values)  # type: ignore[arg-type]
    assert await row_counts(db) == before


async def test_update_sensitivity_changes_level_and_keywords_with_an_audit_entry(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await sensitivities.update_sensitivity(
            s, actor=lead, now=NOW, sensitivity_id=seeded.taiwan, level="critical",
            keywords=["Taiwan", "Taipei"],
        )
    async with db.session() as s:
        item = await sensitivities.get_sensitivity(s, seeded.taiwan)
    assert (item.level, item.keywords) == ("critical", ["Taiwan", "Taipei"])
    entry = (await audit_trail(db))[-1]
    assert entry.before is not None and entry.after is not None
    assert (entry.before["level"], entry.after["level"]) == ("high", "critical")


async def test_update_sensitivity_with_an_invalid_level_changes_nothing(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="Level must be one of"):
            await sensitivities.update_sensitivity(
                s, actor=lead, now=NOW, sensitivity_id=seeded.taiwan, level="extreme"
            )
    assert await row_counts(db) == before
    async with db.session() as s:
        assert (await sensitivities.get_sensitivity(s, seeded.taiwan)).level == "high"


async def test_sensitivities_are_listed_by_level_and_restricted_ones_hidden(
    db: Database, seeded: Seeded, lead: Actor
) -> None:
    async with db.session() as s:
        await sensitivities.add_sensitivity(
            s, actor=lead, now=NOW, name="Fentanyl", level="critical", visibility="restricted"
        )
        everything = await sensitivities.all_sensitivities(s)
        team = await sensitivities.all_sensitivities(s, include_restricted=False)
    assert [i.slug for i in everything] == [
        "fentanyl", "export-controls", "rare-earths", "taiwan", "human-rights"
    ]
    assert "fentanyl" not in [i.slug for i in team]
    async with db.session() as s:
        with pytest.raises(NotFound, match="No watch topic matches") as refused:
            await sensitivities.find_sensitivity(s, "fentanyl", include_restricted=False)
    assert "Fentanyl" not in str(refused.value)  # a restricted topic's name is not leaked


def test_parse_keywords_splits_on_commas_and_lines() -> None:
    assert sensitivities.parse_keywords("Taiwan, Taipei\nPresident Lai,, ") == [
        "Taiwan", "Taipei", "President Lai"
    ]


@pytest.mark.parametrize(
    ("keyword", "text", "hit"),
    [
        ("rare earths", "China tightens rare-earths exports", True),
        ("rare-earths", "Rare  Earths quotas cut", True),
        ("rare earths", "rare\u2011earths (non-breaking hyphen)", True),
        ("rare earths", "supply of rare\nearths", True),
        ("Lai Ching-te", "lai ching te spoke", True),
        ("rare earths", "rareearths", False),
        ("rare earths", "rare earthsy", False),
        ("tariff", "new tariffs", False),
        ("tariff", "a Tariff.", True),
    ],
)
def test_keywords_match_across_hyphens_spaces_and_case_as_whole_words(
    keyword: str, text: str, hit: bool
) -> None:
    pattern = sensitivities.keyword_pattern([keyword])
    assert pattern is not None
    assert bool(pattern.search(text)) is hit


def test_keywords_of_only_spaces_or_hyphens_give_no_pattern() -> None:
    assert sensitivities.keyword_pattern(["", " ", "-"]) is None
