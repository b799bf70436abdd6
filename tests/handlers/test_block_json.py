"""`block_json` makes exactly what slack_sdk's `to_dict()` makes, and refuses what it refuses:
on every kind of block and view Parley builds, on a thousand generated ones, and on invalid
ones (each with slack_sdk's own message)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    ImageElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    RichTextBlock,
    RichTextSectionElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.render.block_json import block_json
from bot.render.blocks import (
    Later,
    button,
    buttons,
    context_line,
    divider,
    fit,
    header,
    line_sections,
    message,
    section,
)

TEXTS = [
    " ",
    "Taiwan",
    "*US–China* tariff truce · Tue 12 Aug 2025 00:01 EDT",
    "芬太尼关税 · 稀土",
    "a <!date^1754971260^{date_short}|12 Aug> b",
    "x" * 2999,
]


def options(n: int) -> list[Option]:
    return [Option(value=f"v{i}", label=f"Choice {i}") for i in range(n)]


KINDS: list[Callable[[], JsonObject]] = [
    lambda: section("Taiwan"),
    lambda: section("Open it", accessory=button("Open", "event.open", "12")),
    lambda: section("Primary", accessory=button("Extend", "truce.extend", primary=True)),
    lambda: context_line("Reported · Tue 29 Jul 2025 12:00 CEST · us-china"),
    lambda: header("US–China tariff truce (Geneva, 90 days)"),
    divider,
    lambda: buttons(button("Add event", "event.add"), button("Edit", "event.edit", "3")),
    lambda: SectionBlock(text=MarkdownTextObject(text="no verbatim"), block_id="b-1"),
    lambda: SectionBlock(fields=[MarkdownTextObject(text="a"), PlainTextObject(text="b")]),
    lambda: SectionBlock(text="plain string becomes mrkdwn"),
    lambda: SectionBlock(
        text="with image", accessory=ImageElement(image_url="https://x.test/a.png", alt_text="a")
    ),
    lambda: ContextBlock(elements=[MarkdownTextObject(text="a"), PlainTextObject(text="b")]),
    lambda: ActionsBlock(
        elements=[
            ButtonElement(
                text="Delete",
                action_id="event.delete",
                value="9",
                style="danger",
                confirm=ConfirmObject(title="Sure?", text="It goes for good."),
            )
        ]
    ),
    lambda: InputBlock(
        label="Track",
        block_id="track",
        element=StaticSelectElement(
            action_id="track", options=options(3), initial_option=options(3)[1]
        ),
    ),
    lambda: InputBlock(
        label="Topics",
        block_id="topics",
        optional=True,
        element=StaticMultiSelectElement(
            action_id="topics", options=options(5), initial_options=options(5)[:2]
        ),
    ),
    lambda: InputBlock(
        label="Grouped",
        element=StaticSelectElement(
            action_id="g", option_groups=[OptionGroup(label="G", options=options(2))]
        ),
    ),
    lambda: InputBlock(
        label="Summary",
        block_id="summary",
        hint="One or two lines.",
        element=PlainTextInputElement(action_id="summary", multiline=True, initial_value="x"),
    ),
    lambda: RichTextBlock(elements=[RichTextSectionElement(elements=[])]),  # empty allowed
    lambda: View(type="home", blocks=[section("a"), divider(), header("h")]),
    lambda: View(
        type="modal",
        callback_id="event.form",
        title="Add an event",
        submit="Save",
        close="Cancel",
        private_metadata='{"channel": "C1"}',
        blocks=[InputBlock(label="Title", element=PlainTextInputElement(action_id="t"))],
    ),
    lambda: Option(value="v", label="Plain option"),  # makes its own JSON
]


@pytest.mark.parametrize("make", KINDS, ids=lambda make: type(make()).__name__)
def test_the_same_json_as_slack_sdk_for_every_kind(make: Callable[[], JsonObject]) -> None:
    assert block_json(make()) == make().to_dict()


def _generated(rng: random.Random) -> JsonObject:
    if rng.random() < 0.15:
        return View(type="home", blocks=[_block(rng) for _ in range(rng.randint(1, 5))])
    return _block(rng)


def _block(rng: random.Random) -> Any:
    text = rng.choice(TEXTS)
    accessory = (
        button(rng.choice(["Open", "Edit", "芬太尼"]), "event.open", str(rng.randint(0, 99)))
        if rng.random() < 0.4
        else None
    )
    choice = rng.randrange(6)
    if choice == 0:
        return section(text, accessory=accessory)
    if choice == 1:
        return context_line(text)
    if choice == 2:
        return header(text[:150])
    if choice == 3:
        labels = rng.sample(["Add", "Edit", "Extend", "Supersede", "Open", "更多"], 3)
        return buttons(*(button(b, f"a.{b}", primary=rng.random() < 0.3) for b in labels))
    if choice == 4:
        return line_sections([rng.choice(TEXTS)[:900] for _ in range(rng.randint(1, 6))])[0]
    return SectionBlock(
        text=MarkdownTextObject(text=text, verbatim=rng.choice([None, True, False])),
        block_id=rng.choice([None, "", "block-7"]),
        accessory=accessory,
    )


def test_the_same_json_on_a_thousand_generated_blocks() -> None:
    rng = random.Random(20251112)
    for _ in range(1000):
        state = rng.getstate()
        made = block_json(_generated(rng))
        rng.setstate(state)
        assert made == _generated(rng).to_dict()


def test_a_whole_answer_is_what_slack_sdk_would_send() -> None:
    items: list[Any] = [section(f"Event {n}") for n in range(70)]
    items += [Later(lambda: section("made late"))]
    answer = message("70 events", items)
    assert answer["blocks"] == [b.to_dict() for b in fit(items)]


INVALID: list[Callable[[], JsonObject]] = [
    lambda: SectionBlock(text=MarkdownTextObject(text="x" * 3001)),
    lambda: SectionBlock(block_id="b" * 256, text="x"),
    lambda: SectionBlock(),  # neither text nor fields
    lambda: HeaderBlock(text="h" * 151),
    lambda: ActionsBlock(elements=[button(str(n), f"a{n}") for n in range(26)]),
    lambda: ContextBlock(elements=[MarkdownTextObject(text="c")] * 11),
    lambda: ButtonElement(text="b" * 76, action_id="a"),
    lambda: ButtonElement(text="b", action_id="a" * 256),
    lambda: View(type="home", blocks=[divider()] * 101),
    lambda: View(type="modal", title="t" * 25, blocks=[]),
    lambda: section("nested", accessory=ButtonElement(text="b" * 76, action_id="a")),
    lambda: View(type="home", blocks=[HeaderBlock(text="h" * 151)]),
]


@pytest.mark.parametrize("make", INVALID, ids=range(len(INVALID)))
def test_refuses_what_slack_sdk_refuses_with_its_message(make: Callable[[], JsonObject]) -> None:
    with pytest.raises(SlackObjectFormationError) as theirs:
        make().to_dict()
    with pytest.raises(SlackObjectFormationError) as ours:
        block_json(make())
    assert str(ours.value) == str(theirs.value)
