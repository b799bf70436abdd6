"""`parley socket`: the same Bolt app over Socket Mode (no public URL needed).

    handler = SocketModeHandler(app, app_token=settings.app_token, metrics=metrics)
    await handler.open()          # asks apps.connections.open (at SLACK_API_URL), connects
    ...
    await handler.close()

Bolt's aiohttp handler does the protocol (envelopes, acks, reconnects); this subclass adds
what `parley serve` has around the same app: the malformed-payload guard, the request
metrics and the request log line.
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.metrics import Metrics, Outcome, describe, outcome_of
from bot.runtime import LISTENER_FAILED
from bot.slack_body import payload_problem

# Envelope types whose payload is an interaction (Bolt parses those; the guard checks first).
INTERACTIVE = "interactive"


class SocketModeHandler(AsyncSocketModeHandler):
    def __init__(self, app: AsyncApp, *, app_token: str, metrics: Metrics) -> None:
        super().__init__(app, app_token=app_token)
        self.metrics = metrics

    async def open(self) -> None:
        """Connects; raises `SlackApiError` when Slack refuses the app token.

        slack_sdk's own connect retries a refused token forever; asking for the URL first
        lets `parley socket` stop with one line naming the setting instead.
        """
        self.client.wss_uri = await self.client.issue_new_wss_url()
        await self.connect_async()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Disconnects and releases the connection's resources."""
        await self.close_async()  # type: ignore[no-untyped-call]

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.perf_counter()
        payload: dict[str, Any] = req.payload if isinstance(req.payload, dict) else {}
        why = payload_problem(payload) if req.type == INTERACTIVE else None
        if why:
            # Acknowledged, so Slack does not redeliver it; never dispatched.
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            status, outcome = 400, Outcome.malformed
        else:
            # as `run_async_bolt_app` does, keeping the request to read its context after
            bolt = AsyncBoltRequest(
                mode="socket_mode", body=req.payload, headers=build_headers(req)
            )
            response = await self.app.async_dispatch(bolt)
            await send_async_response(client, req, response, started)
            status = response.status
            outcome = outcome_of(
                status,
                response.body or "",
                response.headers,
                failed=bool(bolt.context.get(LISTENER_FAILED)),
            )
        kind, name = describe(payload)
        self.metrics.record_request(
            kind=kind,
            name=name,
            outcome=outcome,
            status=status,
            seconds=time.perf_counter() - started,
            request_id=req.envelope_id,
        )
