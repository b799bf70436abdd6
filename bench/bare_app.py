"""The baseline for `bench.http`: a bare Bolt app that acks every read command with a constant
text and answers `app_home_opened` with a constant `views.publish`, behind the same stack as
`parley serve` (Starlette, Bolt's AsyncSlackRequestHandler, uvicorn with the same flags) and
with the same settings
(`SLACK_SIGNING_SECRET`, `SLACK_BOT_TOKEN`, `SLACK_API_URL`).

    python -m bench.bare_app --port 3100
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

COMMANDS = ("/truce", "/deadline", "/talks", "/watch", "/desk")
ANSWER = "A constant answer from the bare Bolt app."
HOME = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ANSWER}}],
}


async def answer_constant(ack: AsyncAck) -> None:
    await ack(text=ANSWER, response_type="ephemeral")


async def publish_constant(event: dict[str, Any], client: AsyncWebClient) -> None:
    await client.views_publish(user_id=event["user"], view=HOME)


def build_bare_app(*, signing_secret: str, token: str, api_url: str) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url),
        signing_secret=signing_secret,
        logger=logging.getLogger("bench.bare_app"),
    )
    for command in COMMANDS:
        app.command(command)(answer_constant)
    app.event("app_home_opened")(publish_constant)
    return app


def build_bare_web(app: AsyncApp) -> Starlette:
    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = build_bare_app(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token=os.environ["SLACK_BOT_TOKEN"],
        api_url=os.environ.get("SLACK_API_URL", "https://slack.com/api/"),
    )
    config = uvicorn.Config(
        build_bare_web(app), host=args.host, port=args.port, lifespan="off", log_level="warning"
    )
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
