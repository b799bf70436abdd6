"""The reply to a subcommand Parley does not know: what was typed, and the usage."""

from __future__ import annotations

from typing import Any

from templates import render


def usage_reply(command: str, text: str, usage: str) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "text": render("usage", command=command, text=text, usage=usage),
    }
