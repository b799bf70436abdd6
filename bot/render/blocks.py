"""Block Kit structure built with slack_sdk's models, kept within Slack's limits.

User-visible mrkdwn is always `verbatim` so Slack's automatic parsing cannot turn typed
text into a ping; the text itself is escaped by `templates`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.render.block_json import block_json
from templates import escape_mrkdwn

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
FALLBACK_TEXT = 3000


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def clip_words(text: str, limit: int) -> str:
    """`text` on one line, within `limit` characters: a longer one is cut after a whole word
    (back to the last space, if that keeps at least half of it; else between two characters,
    never before a combining mark or inside joined emoji), trailing punctuation dropped, and
    "…" added."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = limit - 1
    while cut > 0 and (_clings(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1  # marks, selectors and joined emoji stay with the character they belong to
    if cut > 0 and text[cut - 1].isalnum() and text[cut].isalnum():  # inside a word
        space = text.rfind(" ", 0, cut)
        if space >= limit // 2:
            cut = space
    return text[:cut].rstrip(" ,;:.–—-/(") + "…"


def _clings(char: str) -> bool:
    """A combining mark, a joiner or selector, or an emoji skin-tone modifier."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me", "Cf") or (
        "\U0001f3fb" <= char <= "\U0001f3ff"
    )


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, SECTION_TEXT) or " ", verbatim=True)


def section(text: str, *, accessory: ButtonElement | None = None) -> SectionBlock:
    return SectionBlock(text=mrkdwn(text), accessory=accessory)


def line_sections(lines: Sequence[str]) -> list[SectionBlock]:
    """Lines packed whole into as few sections as fit Slack's text limit, so no line (and no
    `<!date^…>` token in one) is cut in half; only a line longer than a section is clipped."""
    groups: list[list[str]] = []
    size = 0
    for line in lines:
        if groups and size + 1 + len(line) <= SECTION_TEXT:
            groups[-1].append(line)
            size += 1 + len(line)
        else:
            groups.append([line])
            size = len(line)
    return [section("\n".join(group)) for group in groups]


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_TEXT), emoji=True))


def context_line(text: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(text)])


def divider() -> DividerBlock:
    return DividerBlock()


def button(label: str, action_id: str, value: str = "", *, primary: bool = False) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(label, BUTTON_TEXT)),
        action_id=action_id,
        value=value or None,
        style="primary" if primary else None,
    )


def buttons(*elements: ButtonElement) -> ActionsBlock:
    return ActionsBlock(elements=list(elements))


class Later:
    """An item's block, made only if `fit` keeps it: a long answer reads more items than a
    message shows (to count them), and making each block is most of an answer's cost."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Block]) -> None:
        self.make = make


def fit(
    blocks: Sequence[Block | Later],
    *,
    limit: int = MESSAGE_BLOCKS,
    noun: str = "items",
    hint: str = "",
) -> list[Block]:
    """Cuts a long answer to `limit` blocks, ending with an "n more" line instead (and
    `hint`, how to see them); `Later` blocks are made only when kept, and each counts as
    an item when it is not."""
    if len(blocks) > limit:
        kept = list(blocks[: limit - 1])
        while kept and isinstance(kept[-1], DividerBlock):
            kept.pop()
        hidden = sum(1 for b in blocks[len(kept) :] if isinstance(b, SectionBlock | Later))
        more = f"…and {hidden} more {noun} not shown" + (f": {hint}" if hint else "") + "."
        blocks = [*kept, context_line(more)]
    return [b.make() if isinstance(b, Later) else b for b in blocks]


def beyond_the_limit(count: int) -> list[Block]:
    """Stand-ins for items past what any message shows (MESSAGE_BLOCKS): `fit` counts them
    in its "n more" line, and they cost nothing to make, as they are never shown."""
    return [_UNSHOWN] * max(0, count)


_UNSHOWN = SectionBlock(text=" ")


def message(
    text: str,
    blocks: Sequence[Block | Later],
    *,
    noun: str = "items",
    hint: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """A message payload: fallback text plus the blocks, validated by slack_sdk's validators
    (cut to a message's blocks as `fit` cuts them)."""
    return {
        "text": escape_mrkdwn(clip(text, FALLBACK_TEXT)),
        "blocks": [block_json(block) for block in fit(blocks, noun=noun, hint=hint)],
        **extra,
    }
