"""Sensitivities: watch topics with a level, keywords and visibility."""

from __future__ import annotations

import pytest

from storage import sensitivities
from storage.access import Actor
from storage.db import Database
from storage.errors import InvalidInput, NotFound
from storage.models import Sensitivity
from tests.support.record import NOW, Seeded, audit_trail, row_counts


async def test_add_sensitivity_derives_its_slug_and_keeps_its_keywords(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        item = await sensitivities.add_sensitivity(
            s,
            actor=lead,
            now=NOW,
            name="Fentanyl & precursors",
            level="critical",
            keywords=["fentanyl", "precursor chemicals"],
            visibility="restricted",
        )
    assert (item.slug, item.level, item.visibility) == (
        "fentanyl-precursors",
        "critical",
        "restricted",
    )
    async with db.session() as s:
        found = await sensitivities.find_sensitivity(
            s, "precursor chemicals", include_restricted=True
        )
    assert found.id == item.id
    assert found.keywords == ["fentanyl", "precursor chemicals"]


async def test_sensitivities_named_in_chinese_get_their_own_slugs(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        fentanyl = await sensitivities.add_sensitivity(s, actor=lead, now=NOW, name="芬太尼")
        chips = await sensitivities.add_sensitivity(s, actor=lead, now=NOW, name="AI 芯片")
    assert (fentanyl.slug, chips.slug) == ("芬太尼", "ai-芯片")
    async with db.session() as s:
        found = await sensitivities.find_sensitivity(s, "芬太尼", include_restricted=False)
    assert found.id == fentanyl.id


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"level": "severe"}, "Level must be one of"),
        ({"visibility": "hidden"}, "Visibility must be one of"),
        ({"name": "n" * 101}, "limit is 100"),
        ({"name": "Taiwan"}, "exists already"),
        ({"name": "?!"}, "needs a letter or a digit"),
    ],
    ids=["level", "visibility", "name-too-long", "duplicate", "no-letters"],
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
            s,
            actor=lead,
            now=NOW,
            sensitivity_id=seeded.taiwan,
            level="critical",
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
        "fentanyl",
        "export-controls",
        "rare-earths",
        "taiwan",
        "human-rights",
    ]
    assert "fentanyl" not in [i.slug for i in team]
    async with db.session() as s:
        with pytest.raises(NotFound, match="No watch topic matches") as refused:
            await sensitivities.find_sensitivity(s, "fentanyl", include_restricted=False)
    assert "Fentanyl" not in str(refused.value)  # a restricted topic's name is not leaked


def test_parse_keywords_splits_on_commas_and_lines() -> None:
    assert sensitivities.parse_keywords("Taiwan, Taipei\nPresident Lai,, ") == [
        "Taiwan",
        "Taipei",
        "President Lai",
    ]


def test_parse_keywords_splits_on_the_commas_typed_in_chinese_and_japanese() -> None:
    assert sensitivities.parse_keywords("台湾，台灣、 赖清德, Taipei") == [
        "台湾",
        "台灣",
        "赖清德",
        "Taipei",
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


@pytest.mark.parametrize(
    ("keyword", "text", "hit"),
    [
        # Chinese: no spaces between words, so a keyword matches inside a longer run
        ("芬太尼", "新华社：中方要求取消芬太尼关税", True),
        ("关税", "新华社：中方要求取消芬太尼关税", True),
        ("稀土", "商务部：对部分中重稀土相关物项实施出口管制", True),
        ("出口管制", "商务部：对部分中重稀土相关物项实施出口管制", True),
        ("台湾", "国台办：坚决反对美台官方往来，台湾问题是中国内政", True),
        ("台灣", "賴清德延後過境美國，台灣總統府：行程另行規劃", True),
        ("维吾尔", "美参议员提出涉维吾尔族人权法案", True),
        ("人权", "美参议员提出涉维吾尔族人权法案。", True),
        ("出口 管制", "加强出口管制", True),  # a space typed between CJK words is optional
        ("出口管制", "出口限制", False),
        ("稀土", "希土", False),
        # full-width punctuation and spaces around or beside the keyword
        ("芬太尼", "（芬太尼）", True),
        ("芬太尼", "【快讯】芬太尼。", True),
        ("芬太尼", "中方：\u3000芬太尼问题", True),
        # Japanese: kanji, hiragana, katakana; half-width katakana is the same word
        ("台湾", "台湾有事は日本有事", True),
        ("レアアース", "中国がレアアースの輸出を規制", True),
        ("レアアース", "中国がﾚｱｱｰｽの輸出を規制", True),
        ("半導体", "米国の対中半導体規制", True),
        ("エヌビディア", "エヌビディアのH20", True),
        # Korean: particles are written onto the noun
        ("대만", "대만의 라이칭더 총통", True),
        ("희토류", "중국이희토류수출을통제", True),
        ("관세", "미국은 중국산 제품에 관세를 부과했다", True),
        # a keyword mixing scripts: the Latin end keeps its boundary, the CJK end has none
        ("AI芯片", "美国暂停对华AI芯片出口限制", True),
        ("AI芯片", "AI 芯片出口", True),
        ("AI 芯片", "AI芯片出口", True),
        ("AI芯片", "OpenAI芯片", False),
        ("H20芯片", "英伟达H20芯片", True),
        ("H20芯片", "英伟达H200芯片", False),
        ("芯片H20", "芯片H200", False),
        # Latin keywords in CJK text: a CJK neighbour is a word boundary
        ("Nvidia", "美国放宽对Nvidia芯片的出口限制", True),
        ("H20", "英伟达H20芯片恢复对华销售", True),
        ("H20", "英伟达H200芯片", False),
        ("Taiwan", "台湾Taiwan问题", True),
        ("Taiwan", "台湾Taiwanese", False),
        # Latin keywords stay whole words, across case, hyphens and spaces
        ("Taiwan", "Taiwanese President Lai", False),
        ("Taiwan", "Statement on Taiwan.", True),
        ("Taiwan", "(TAIWAN)", True),
        ("Taiwan", "Taiwan's president", True),
        ("chips", "potato microchips", False),
        ("chips", "AI chips, again", True),
        ("export controls", "new export-controls", True),
        ("export controls", "exportcontrols", False),
        ("tariff", "new tariffs", False),
        ("tariffs", "new tariffs", True),
        ("Lai Ching-te", "LAI CHING\u2011TE spoke", True),
        # full-width Latin is the same word (NFKC)
        ("AI chips", "ＡＩ ｃｈｉｐｓ", True),
        ("Nvidia", "Ｎｖｉｄｉａ", True),
        ("H20", "Ｈ２０芯片", True),
        ("Ｈ２０", "H20 chips", True),
        # other spaced scripts keep whole words
        ("Пекин", "Пекинский", False),
        ("Пекин", "визит в Пекин.", True),
    ],
)
def test_cjk_keywords_match_inside_words_and_latin_ones_as_whole_words(
    keyword: str, text: str, hit: bool
) -> None:
    assert sensitivities.text_mentions([keyword], text) is hit


def test_a_sensitivity_mentions_its_cjk_name_too() -> None:
    item = Sensitivity(slug="fentanyl", name="芬太尼", keywords=["fentanyl"])
    assert sensitivities.mentions(item, "新华社：中方要求取消芬太尼关税")
    assert sensitivities.mentions(item, "China on fentanyl.")
    assert not sensitivities.mentions(item, "Taiwan")
