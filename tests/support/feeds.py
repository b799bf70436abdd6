"""A local feed server for the intake tests: real HTTP on loopback (starlette + uvicorn),
serving good, changed, conditional (304), malformed, HTML, truncated, huge, slow, failing,
redirecting and hostile feeds, and counting the requests it gets."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Entry:
    guid: str | None
    title: str | None
    link: str | None = None
    published: datetime | None = None
    summary: str = ""


def rss(entries: list[Entry], *, title: str = "Trade wire") -> bytes:
    items = []
    for e in entries:
        parts = []
        if e.guid is not None:
            parts.append(f"<guid isPermaLink='false'>{escape(e.guid)}</guid>")
        if e.title is not None:
            parts.append(f"<title>{escape(e.title)}</title>")
        if e.link is not None:
            parts.append(f"<link>{escape(e.link)}</link>")
        if e.published is not None:
            parts.append(f"<pubDate>{format_datetime(e.published)}</pubDate>")
        if e.summary:
            parts.append(f"<description>{escape(e.summary)}</description>")
        items.append(f"<item>{''.join(parts)}</item>")
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{escape(title)}</title><link>https://wire.example.com/</link>"
        f"<description>news</description>{''.join(items)}</channel></rss>"
    ).encode()


@dataclass
class FeedServer:
    """Feeds by path; `feeds[path]` can be changed between polls."""

    feeds: dict[str, list[Entry]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    conditional: Counter[str] = field(default_factory=Counter)  # 304s answered
    agents: list[str] = field(default_factory=list)  # User-Agent of each request
    base: str = ""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # ends a slow answer

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    async def _feed(self, request: Request) -> Response:
        path = request.url.path
        self.hits[path] += 1
        self.agents.append(request.headers.get("user-agent", ""))
        body = rss(self.feeds.get(path, []))
        tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == tag:
            self.conditional[path] += 1
            return Response(status_code=304, headers={"ETag": tag})
        return Response(body, media_type="application/rss+xml", headers={"ETag": tag})

    async def _fixed(self, request: Request) -> Response:
        path = request.url.path
        self.hits[path] += 1
        if path == "/html":
            return Response("<html><body><h1>Press</h1></body></html>", media_type="text/html")
        if path == "/malformed":
            return Response(b"<rss><channel><title>x</titl></rss>", media_type="text/xml")
        if path == "/truncated":
            body = rss([Entry("1", "Taiwan vote"), Entry("2", "Rare earths")])
            return Response(body[: len(body) // 2], media_type="application/rss+xml")
        if path == "/huge":
            return StreamingResponse(self._huge(), media_type="application/rss+xml")
        if path == "/slow":  # 5 s, or until the server stops (its shutdown waits for it)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 5)
            return Response(rss([]), media_type="application/rss+xml")
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            headers = {"Retry-After": "120"} if code == 429 else {}
            return Response("no", status_code=code, headers=headers)
        if path == "/busy":
            return Response("later", status_code=503, headers={"Retry-After": "7200"})
        if path == "/loop/a":
            return RedirectResponse("/loop/b", status_code=302)
        if path == "/loop/b":
            return RedirectResponse("/loop/a", status_code=301)
        if path == "/moved":
            return RedirectResponse("/feed/good", status_code=301)
        if path == "/fr/documents.json":
            return Response(json.dumps(FEDERAL_REGISTER), media_type="application/json")
        if path == "/latin1":
            body = rss([Entry("1", "Taiwan café")]).replace(b"utf-8", b"iso-8859-1")
            return Response(body, media_type="application/rss+xml; charset=utf-8")
        return Response("not here", status_code=404)

    async def _huge(self) -> AsyncIterator[bytes]:
        yield b"<?xml version='1.0'?><rss version='2.0'><channel><title>big</title>"
        chunk = b"<item><title>filler</title></item>" * 2000
        for _ in range(200):  # ~14 MB if nobody stops reading
            yield chunk

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/feed/{name}", self._feed),
                Route("/{rest:path}", self._fixed),
            ]
        )


FEDERAL_REGISTER = {
    "count": 2,
    "results": [
        {
            "document_number": "2025-14000",
            "title": "Notice of Modification: China's Acts, Policies and Practices Related to "
            "Technology Transfer",
            "abstract": "The <b>Trade Representative</b> extends the exclusions on Nvidia chips.",
            "html_url": "https://www.federalregister.gov/documents/2025/07/30/2025-14000/x",
            "publication_date": "2025-07-29",
            "type": "Notice",
        },
        {"document_number": "", "title": "", "html_url": None, "publication_date": "2025-07-29"},
    ],
}


@asynccontextmanager
async def serving(server: FeedServer) -> AsyncIterator[FeedServer]:
    config = uvicorn.Config(
        server.app(), host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    port = running.servers[0].sockets[0].getsockname()[1]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.stopping.set()
        running.should_exit = True
        await task
