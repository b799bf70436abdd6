"""The reply to a subcommand Parley does not know: what was typed, and the usage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.runtime import REFUSED
from templates import SlackMarkup, render


def usage_reply(
    context: AsyncBoltContext,
    command: str,
    text: str,
    usage: str,
    *,
    tracks: Sequence[str] = (),
) -> dict[str, Any]:
    """The reply; the request is marked as refused (`bot.runtime.REFUSED`). A command that
    takes a track handle first passes the handles: one unknown word is perhaps a mistyped
    one, and the reply names them."""
    context[REFUSED] = True
    words = text.split()
    hint = ""
    if len(words) == 1 and tracks:
        hint = " " + render("no_such_track", track=words[0], tracks=", ".join(tracks))
    return {
        "response_type": "ephemeral",
        "text": render(
            "usage", command=command, text=text, usage=usage, track_hint=SlackMarkup(hint)
        ),
    }
