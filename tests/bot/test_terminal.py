"""The shell's terminal rendering of Slack messages (bot/terminal.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.terminal import Renderer, make_console, wants_colour

STAMP = int(datetime(2025, 8, 12, 4, 1, tzinfo=UTC).timestamp())


def plain(text: str, zone: str = "UTC") -> str:
    renderer = Renderer(zone=zone, users={"U0ANNA": "anna"}, channels={"CLOCALDESK": "desk"})
    return renderer.mrkdwn(text).plain


def test_markup_is_dropped_and_entities_unescaped() -> None:
    assert plain("*US–China truce*  ·  `us-china`") == "US–China truce  ·  us-china"
    assert plain("_No extension recorded._") == "No extension recorded."
    assert plain("~gone~ and *bold _and italic_*") == "gone and bold and italic"
    assert plain("a &lt;b&gt; &amp;amp; c") == "a <b> &amp; c"
    assert plain("`&lt;words&gt;`") == "<words>"


def test_snake_case_times_and_lone_marks_stay_as_typed() -> None:
    typed = "rare_earth_exports at 12:30, 2 * 3 * 4"
    assert plain(typed) == typed
    assert plain("<https://example.com/a_b_c|the _doc_>") == "the doc (https://example.com/a_b_c)"


def test_links_mentions_and_channels() -> None:
    assert plain("see <https://ustr.gov|USTR>") == "see USTR (https://ustr.gov)"
    assert plain("<https://ustr.gov>") == "https://ustr.gov"
    assert plain("<mailto:desk@example.com|desk@example.com>") == "desk@example.com"
    assert plain("by <@U0ANNA> in <#CLOCALDESK>") == "by @anna in #desk"
    assert plain("<@U0BOB> in <#C0OTHER|trade>") == "@U0BOB in #trade"
    assert plain("<!here> <!subteam^S1|@leads>") == "@here @leads"


def test_emoji_codes_become_emoji_and_unknown_ones_stay() -> None:
    assert plain(":rotating_light: :hourglass_flowing_sand: :large_orange_circle:") == "🚨 ⏳ 🟠"
    assert plain(":white_check_mark: :not_an_emoji_at_all:") == "✅ :not_an_emoji_at_all:"


def test_date_tokens_read_in_the_local_users_zone() -> None:
    token = f"<!date^{STAMP}^your time: {{date_short_pretty}} {{time}}|Tue 12 Aug 2025 04:01 UTC>"
    assert plain(token, "America/New_York") == "your time: Tue 12 Aug 2025 00:01 EDT"
    assert plain(token) == "your time: Tue 12 Aug 2025 04:01 UTC"
    assert plain(f"<!date^{STAMP}^{{date_num}}|x>", "Asia/Shanghai") == "2025-08-12"
    assert plain("<!date^notanumber^{date}|the fallback>") == "the fallback"


def test_quotes_lists_headers_and_buttons() -> None:
    renderer = Renderer()
    numbers = iter(range(7, 100))
    payload: dict[str, Any] = {
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Upcoming deadlines (1)"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Tariff review*\n&gt; quoted\n• one"},
                "accessory": {
                    "type": "button",
                    "action_id": "edit",
                    "text": {"type": "plain_text", "text": "Edit Tariff review"},
                },
            },
            {"type": "divider"},
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_list",
                        "style": "ordered",
                        "elements": [
                            {
                                "type": "rich_text_section",
                                "elements": [{"type": "text", "text": "first"}],
                            }
                        ],
                    },
                    {
                        "type": "rich_text_quote",
                        "elements": [{"type": "text", "text": "said"}],
                    },
                ],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "_small_"}]},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Add deadline"}}
                ],
            },
        ]
    }
    lines = [line.plain for line in renderer.message(payload, lambda _b, _e: next(numbers))]
    assert lines == [
        "Upcoming deadlines (1)",
        "Tariff review",
        "│ quoted",
        "• one",
        "  (7) Edit Tariff review",
        "─" * 24,
        "1. first",
        "│ said",
        "small",
        "  (8) Add deadline",
    ]


def test_colour_on_a_terminal_and_none_otherwise() -> None:
    line = Renderer().mrkdwn("*bold* and `code`")
    styled, bare = io.StringIO(), io.StringIO()
    make_console(styled, colour=True).print(line)
    make_console(bare, colour=False).print(line)
    assert "\x1b[1m" in styled.getvalue()
    assert bare.getvalue() == "bold and code\n"
    long = Renderer().mrkdwn("word " * 60)
    make_console(bare, colour=False).print(long)
    assert bare.getvalue().splitlines()[1] == ("word " * 60)  # never wrapped or padded


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TERM": "xterm-256color"}, True),
        ({"TERM": "xterm-256color", "NO_COLOR": "1"}, False),
        ({"TERM": "xterm-256color", "NO_COLOR": ""}, False),
        ({"TERM": "dumb"}, False),
    ],
)
def test_wants_colour(environ: dict[str, str], expected: bool) -> None:
    assert wants_colour(FakeTTY(), environ) is expected
    assert wants_colour(io.StringIO(), {"TERM": "xterm-256color"}) is False  # piped
