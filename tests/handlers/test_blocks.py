"""Cutting a name to fit a button cleanly (`clip_words`), and buttons that name their item."""

from __future__ import annotations

from functools import partial

import pytest
from slack_sdk.models.blocks import Block, SectionBlock

from bot.render.blocks import (
    BUTTON_TEXT,
    MESSAGE_BLOCKS,
    Later,
    clip_words,
    fit,
    header,
    section,
)
from bot.render.ids import Action
from bot.render.present import ButtonVerb, item_button

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji: man, ZWJ, woman, ZWJ, girl
WAVE_DARK = "\U0001f44b\U0001f3ff"  # waving hand + skin-tone modifier
STOCKHOLM = "US–China economic and trade talks, Stockholm"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Taiwan", 10, "Taiwan"),
        ("  Rare \n earths  ", 20, "Rare earths"),  # one line, single spaces
        (STOCKHOLM, 44, STOCKHOLM),  # it fits
        (STOCKHOLM, 40, "US–China economic and trade talks…"),
        (STOCKHOLM, 20, "US–China economic…"),
        ("semiconductors, quantum and AI", 15, "semiconductors…"),  # a whole word, its comma gone
        ("Outbound investment (screening)", 22, "Outbound investment…"),
        ("Supercalifragilisticexpialidocious", 10, "Supercali…"),  # no space: between letters
        ("芬太尼关税芬太尼关税芬太尼关税", 8, "芬太尼关税芬太…"),
        ("ab Cafe\u0301 x", 7, "ab Caf…"),  # the e goes with its accent
        ("abcde\u0301fgh", 6, "abcd…"),
        (f"ab{FAMILY}xyz", 7, "ab…"),  # the family stays whole or goes
        (f"hi {WAVE_DARK} there", 5, "hi…"),
    ],
)
def test_clip_words_cuts_cleanly(text: str, limit: int, expected: str) -> None:
    assert clip_words(text, limit) == expected
    assert len(clip_words(text, limit)) <= limit


@pytest.mark.parametrize("length", [1, 10, 69, 70, 71, 74, 75, 76, 150, 400])
@pytest.mark.parametrize("word", ["word", "芬太尼", "e\u0301e\u0301", FAMILY])
def test_clip_words_always_fits(length: int, word: str) -> None:
    text = " ".join([word] * length)[:length]
    for limit in (5, 24, 70, 75):
        clipped = clip_words(text, limit)
        assert len(clipped) <= limit
        assert clipped == " ".join(text.split()) or clipped.endswith("…")


@pytest.mark.parametrize(
    ("verb", "label"),
    [
        ("edit", "Edit Taiwan"),
        ("edit_extend", "Edit / extend Taiwan"),
        ("extend_edit", "Extend / edit Taiwan"),
        ("mark_met", "Mark met: Taiwan"),
    ],
)
def test_item_button_names_its_item(verb: ButtonVerb, label: str) -> None:
    button = item_button(verb, "Taiwan", Action.edit_sensitivity, 7).to_dict()
    assert button["text"] == {"type": "plain_text", "text": label}
    assert button["value"] == "7" and button["action_id"] == Action.edit_sensitivity


@pytest.mark.parametrize("verb", ["edit", "edit_extend", "extend_edit", "mark_met"])
def test_item_button_cuts_a_long_name_to_fit_and_keeps_the_words_around_it(
    verb: ButtonVerb,
) -> None:
    title = "Deadline for the " + "very " * 40 + "long review"
    label = item_button(verb, title, Action.edit_deadline, 1).to_dict()["text"]["text"]
    assert len(label) <= BUTTON_TEXT
    assert "…" in label
    if verb == "mark_met":
        assert label.startswith("Mark met: Deadline for the very") and label.endswith("…")
    assert len(label) >= BUTTON_TEXT - 5  # uses the room it has


@pytest.mark.parametrize("items", [0, 1, 48, 49, 50, 51, 66, 120])
@pytest.mark.parametrize("before", [0, 1, 3])
def test_fit_makes_a_later_block_only_when_it_is_shown(items: int, before: int) -> None:
    """The same blocks and the same "n more" count as when every item is made first."""
    made: list[int] = []

    def item(n: int) -> SectionBlock:
        made.append(n)
        return section(f"item {n}")

    heads: list[Block] = [header(f"head {h}") for h in range(before)]
    lazy = fit([*heads, *(Later(partial(item, n)) for n in range(items))])
    made_lazily = list(made)
    eager = fit([*heads, *(item(n) for n in range(items))])
    assert [b.to_dict() for b in lazy] == [b.to_dict() for b in eager]
    shown = min(items, MESSAGE_BLOCKS - before if before + items <= MESSAGE_BLOCKS else 49 - before)
    assert made_lazily == list(range(shown))
