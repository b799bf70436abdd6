"""The bench's feed server, run as its own process: `python -m bench.feed_server PORT`.

`GET /feed/N` is an RSS feed of `ITEMS` entries (a few of them mention a sensitivity), with
an ETag so a repeated poll is a 304; `POST /bump` adds one entry to every feed.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ITEMS = 50
START = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)
TOPICS = ("Taiwan transit", "rare earths export licences", "Nvidia H20 chips", "tariff talks")
_generation = 0
_cache: dict[tuple[int, int], tuple[bytes, str]] = {}


def feed(number: int, generation: int) -> tuple[bytes, str]:
    if (number, generation) not in _cache:
        items = []
        for i in range(ITEMS + generation):
            topic = TOPICS[(number + i) % len(TOPICS)] if i % 10 == 0 else "market roundup"
            published = format_datetime(START - timedelta(minutes=number + i))
            items.append(
                f"<item><guid isPermaLink='false'>feed{number}-item{i}</guid>"
                f"<title>Source {number}: {topic} #{i}</title>"
                f"<link>https://news{number}.example.com/{i}?utm_source=rss</link>"
                f"<pubDate>{published}</pubDate>"
                f"<description>&lt;p&gt;Item {i} of feed {number} about {topic}.&lt;/p&gt;"
                "</description></item>"
            )
        body = (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Feed {number}</title><link>https://news{number}.example.com/</link>"
            f"<description>bench</description>{''.join(items)}</channel></rss>"
        ).encode()
        _cache[(number, generation)] = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
    return _cache[(number, generation)]


async def serve_feed(request: Request) -> Response:
    body, tag = feed(int(request.path_params["number"]), _generation)
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/rss+xml", headers={"ETag": tag})


async def bump(_: Request) -> Response:
    global _generation
    _generation += 1
    return Response("ok")


async def healthz(_: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/feed/{number:int}", serve_feed),
        Route("/bump", bump, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
