"""The reply to a subcommand Parley does not know: what was typed, and the usage."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.runtime import REFUSED
from templates import render


def usage_reply(context: AsyncBoltContext, command: str, text: str, usage: str) -> dict[str, Any]:
    """The reply; the request is marked as refused (`bot.runtime.REFUSED`)."""
    context[REFUSED] = True
    return {
        "response_type": "ephemeral",
        "text": render("usage", command=command, text=text, usage=usage),
    }
