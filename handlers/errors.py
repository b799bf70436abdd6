"""One error handler for every listener: domain errors become clear replies, the rest an id.

A slash command or form not yet acknowledged gets its answer in the HTTP response (a form
shows it inline, `response_action: errors`); one already acknowledged gets an ephemeral
follow-up through `response_url`.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import aiohttp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError

from bot.render.ids import DEFAULT_FIELD, Callback, Field
from bot.runtime import LISTENER_FAILED, REFUSED
from bot.timeparse import TimeParseError
from storage.errors import RECORD_UNAVAILABLE, InvalidInput, ParleyError
from templates import escape_mrkdwn

log = logging.getLogger("parley.errors")
UNEXPECTED = "Something went wrong on Parley's side (error id {id}). Nothing was changed."
SLACK_UNREACHABLE = "Parley cannot reach Slack right now; try again in a moment."


def reply_text(error: Exception) -> tuple[str, str | None]:
    """(message, form field) for an error raised by a listener."""
    if isinstance(error, InvalidInput):
        return str(error), error.field
    if isinstance(error, (ParleyError, TimeParseError)):
        return str(error), None
    if isinstance(error, (aiohttp.ClientError, SlackApiError)):
        # Slack's Web API (Bolt's auth.test, users.info, views.open …), not the record
        log.error("Slack Web API unreachable: %s", type(error).__name__)
        return SLACK_UNREACHABLE, None
    if isinstance(error, (DBAPIError, OSError)):
        log.error("database unavailable: %s", type(error).__name__)
        return RECORD_UNAVAILABLE, None
    error_id = uuid.uuid4().hex[:8]
    log.exception("unexpected error %s", error_id, exc_info=error)
    return UNEXPECTED.format(id=error_id), None


def _json(body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200,
        body=json.dumps(body),
        headers={"content-type": "application/json;charset=utf-8"},
    )


async def handle_listener_error(
    error: Exception,
    body: dict[str, Any],
    respond: AsyncRespond,
    response: BoltResponse | None,
    context: AsyncBoltContext,
) -> BoltResponse | None:
    text, field = reply_text(error)
    context[REFUSED] = True
    if not isinstance(error, ParleyError | TimeParseError):
        context[LISTENER_FAILED] = True  # the user still gets a clear 200 reply
    kind = body.get("type") or ("slash_command" if body.get("command") else "")
    if response is not None:  # not acknowledged yet: answer in the HTTP response
        if kind == "view_submission":
            callback = str((body.get("view") or {}).get("callback_id") or "")
            known = Callback(callback) if callback in set(Callback) else None
            target = field or (DEFAULT_FIELD.get(known) if known else None) or Field.headline
            # Slack shows a field's error as plain text: no `code` marks in it
            plain = text.replace("`", "")
            errors = {"response_action": "errors", "errors": {str(target): plain[:2000]}}
            return _json(errors)
        if kind == "slash_command":
            return _json({"response_type": "ephemeral", "text": escape_mrkdwn(text)})
        if kind == "block_actions" and body.get("response_url"):
            await respond(
                text=escape_mrkdwn(text), response_type="ephemeral", replace_original=False
            )
        return BoltResponse(status=200, body="")
    if body.get("response_url") or body.get("response_urls"):
        await respond(text=escape_mrkdwn(text), response_type="ephemeral", replace_original=False)
    return None
