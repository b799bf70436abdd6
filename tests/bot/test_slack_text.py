"""`message_text`: a Slack payload flattened to the plain text the tests read."""

from __future__ import annotations

from typing import Any

from bot.slack_text import message_text


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, **extra}}


def test_message_text_flattens_blocks() -> None:
    payload = {
        "text": "fallback only",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Truce report"}},
            section("*Sector* <@U0ANNA> &amp; <#C0DESK|desk>"),
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Ends*"},
                    {"type": "mrkdwn", "text": "<!date^1753779600^{date}|29 Jul 2025>"},
                ],
            },
            {"type": "divider"},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "see <https://x.test|docs>"}],
            },
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Extend"}},
                    {"type": "button", "text": {"type": "plain_text", "text": "Cancel"}},
                ],
            },
        ],
    }
    text = message_text(payload)
    assert text.splitlines() == [
        "TRUCE REPORT",
        "*Sector* @U0ANNA & #desk",
        "*Ends*",
        "29 Jul 2025",
        "-" * 24,
        "see docs",
        "[Extend] [Cancel]",
    ]
    assert "fallback only" not in text
    assert "<@U0ANNA> &amp;" in message_text(payload, raw=True)


def test_message_text_plain_text_and_views() -> None:
    assert message_text({"text": "just text"}) == "just text"
    topic = {"type": "plain_text_input", "action_id": "topic"}
    label = {"type": "plain_text", "text": "Topic"}
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Open talks"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [{"type": "input", "block_id": "topic", "label": label, "element": topic}],
    }
    view_text = message_text({"trigger_id": "1", "view": modal})
    assert view_text.splitlines() == ["Open talks", "Topic: [plain_text_input]", "[Save]"]
    assert message_text(modal) == view_text


# --------------------------------------------------------------------------- with bolt
