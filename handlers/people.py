"""People's own settings, as Slack tells of their changes: a member who moves to another
time zone (`user_change`, scope `users:read`) reads "your time" in it from their next answer.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext

from bot.runtime import runtime_of
from handlers.registry import Listeners


async def handle_user_change(event: dict[str, Any], context: AsyncBoltContext) -> None:
    user = event.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        runtime_of(context).note_zone(user["id"], user.get("tz"))


def register(app: Listeners) -> None:
    app.event("user_change")(handle_user_change)
