"""Slack retries an Events API delivery it thinks we missed (`X-Slack-Retry-Num`); a retry of
an event already handled must have no second effect, and one not yet handled runs once.

Bolt does not de-duplicate. This middleware claims each `event_id` in the database before
any listener runs (so several replicas agree), and answers a second delivery with an empty
200 and `X-Slack-No-Retry: 1`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.runtime import runtime_of
from storage.handled import claim, forget_handled

log = logging.getLogger("parley.retries")
NO_RETRY_HEADER = "x-slack-no-retry"  # the answer to a retry already handled carries it
# Slack retries for about five minutes; ids are kept well beyond that.
KEEP_HANDLED = timedelta(days=1)
# Ids older than that are dropped at most this often per process, not on every event: the
# DELETE was a third of the claim's cost for each App Home opened.
FORGET_EVERY = timedelta(minutes=10)
#: Events whose handling only notes what Slack said, so a second delivery changes nothing:
#: no claim (a write) for each, though a workspace sends one for every status a member sets.
SAME_TWICE = frozenset({"user_change"})


async def handle_each_event_once(
    body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]
) -> Any:
    event_id = body.get("event_id") if body.get("type") == "event_callback" else None
    if not isinstance(event_id, str) or not event_id or _kind(body) in SAME_TWICE:
        return await next()
    runtime = runtime_of(context)
    now = runtime.now()
    first = await claim(runtime.db, request_id=event_id, now=now)
    if runtime.due_to_forget_handled is None or now >= runtime.due_to_forget_handled:
        runtime.due_to_forget_handled = now + FORGET_EVERY
        try:  # housekeeping: its failure must not fail the event it was claimed for
            async with runtime.db.session() as session:
                await forget_handled(session, before=now - KEEP_HANDLED)
                await session.commit()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not drop old handled ids: %s", type(exc).__name__)
    if first:
        return await next()
    log.info("ignored a Slack retry of an event already handled", extra={"event_id": event_id})
    return BoltResponse(status=200, body="", headers={NO_RETRY_HEADER: "1"})


def _kind(body: dict[str, Any]) -> object:
    event = body.get("event")
    return event.get("type") if isinstance(event, dict) else None
