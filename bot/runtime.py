"""What every listener needs besides Slack's own arguments, carried in Bolt's context."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers import AnswerCache
from bot.clock import Clock
from bot.settings import Settings
from bot.timeparse import is_valid_zone
from storage.access import Actor
from storage.db import Database
from storage.lookups import RecordLookups
from storage.sources import PollOutcome

#: Set in a request's context when a listener failed unexpectedly (`handlers.errors`); the
#: serving code reads it back to count the request as an error in /metrics. Nothing about
#: it is sent to Slack.
LISTENER_FAILED = "parley_listener_failed"
#: Set in a request's context when its answer refuses it: a domain error (not permitted, not
#: found, bad input) or an unknown subcommand. `parley shell --strict` reads it back for its
#: exit status. Nothing about it is sent to Slack.
REFUSED = "parley_refused"

ZONE_CACHE_SECONDS = 3600.0


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    lookups: RecordLookups = field(default_factory=RecordLookups)
    answers: AnswerCache = field(default_factory=AnswerCache)
    #: Polls one news source now (`/desk source check`): the serving layer's intake.
    check_source: Callable[[int], Awaitable[PollOutcome]] | None = None
    #: When `bot.retries` next drops the handled event ids older than a day (None: at once).
    due_to_forget_handled: datetime | None = None
    _zones: dict[str, tuple[str, float]] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    def actor(self, user_id: str) -> Actor:
        return Actor(user_id, configured_admin=user_id in self.settings.admins)

    async def reader_zone(self, client: AsyncWebClient, user_id: str) -> str:
        """The user's own zone from `users.info`, cached for an hour; the desk's if unknown."""
        cached = self._zones.get(user_id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        zone = self.settings.timezone
        try:
            reply = await client.users_info(user=user_id)
            found = (reply.get("user") or {}).get("tz")
            if isinstance(found, str) and is_valid_zone(found):
                zone = found
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            pass  # the desk's zone is a fine answer when Slack cannot say
        self._zones[user_id] = (zone, time.monotonic() + ZONE_CACHE_SECONDS)
        return zone

    def note_zone(self, user_id: str, zone: object) -> None:
        """Slack said (`user_change`) the user's zone is now `zone`: this process's answers
        use it at once, not when the hour-long memo of `users.info` runs out. Only a user
        already remembered is noted: a workspace sends one for every profile change."""
        if user_id not in self._zones:
            return  # not remembered: asked when they next read (the memo stays bounded)
        if isinstance(zone, str) and is_valid_zone(zone):
            self._zones[user_id] = (zone, time.monotonic() + ZONE_CACHE_SECONDS)
        else:
            self._zones.pop(user_id, None)  # asked again next time


def runtime_of(context: AsyncBoltContext | dict[str, Any]) -> Runtime:
    runtime = context["parley"]
    assert isinstance(runtime, Runtime)
    return runtime
