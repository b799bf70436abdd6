"""Fetching a source: one conditional GET with httpx, within limits.

`If-None-Match` / `If-Modified-Since` from the stored validators; 5 s to connect and 20 s
for the whole answer; at most 5 MB, read as a stream and dropped past the cap; redirects
followed by hand (at most `MAX_REDIRECTS`), so every hop's host is resolved and checked
against the private ranges like the address a lead typed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from bot import __version__
from storage.errors import InvalidInput
from storage.sources import check_url, is_private_address

if TYPE_CHECKING:  # httpx is imported when a source is first polled: with rich and click
    import httpx  # (its command line) it is a tenth of a second of every start

CONNECT_TIMEOUT = 5.0
WHOLE_TIMEOUT = 20.0
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = f"Parley/{__version__} (feed intake of a negotiation-desk Slack bot)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
)


class FetchError(Exception):
    """Why a fetch failed, in words for the desk (`/desk source list` shows it);
    `retry_after` is a 429's or 503's `Retry-After` in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 (not modified: `body` is empty)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""  # after redirects

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def http_client() -> httpx.AsyncClient:
    import httpx

    """One client for a poll round: redirects are ours to follow, the timeouts are set."""
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(WHOLE_TIMEOUT, connect=CONNECT_TIMEOUT),
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


async def _check_host(url: str, *, allow_private: bool) -> None:
    try:
        check_url(url, allow_private=allow_private)
    except InvalidInput as exc:
        raise FetchError(str(exc)) from None
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        return  # a literal address: check_url judged it already
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    for *_, address in found:
        if is_private_address(ipaddress.ip_address(address[0])):
            raise FetchError(f"{host} resolves to a private address ({address[0]}); refused")


def _error_for(response: httpx.Response) -> str:
    text = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    retry = response.headers.get("retry-after")
    if response.status_code == 429 and retry:
        text += f" (Retry-After: {retry[:40]})"
    return text


async def _read_capped(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise FetchError(f"the feed is {int(declared):,} bytes; the limit is {MAX_BYTES:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BYTES:
            raise FetchError(f"the feed is over {MAX_BYTES:,} bytes; stopped reading")
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    allow_private: bool = False,
    whole_timeout: float = WHOLE_TIMEOUT,
) -> Fetched:
    """The feed's bytes, or a 304; raises FetchError with the reason."""
    import httpx

    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(whole_timeout):
            return await _follow(client, url, headers, allow_private=allow_private)
    except TimeoutError:
        raise FetchError(f"no complete answer within {whole_timeout:g} s") from None
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}"[:300]) from None


async def _follow(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], *, allow_private: bool
) -> Fetched:
    seen: list[str] = []
    for _ in range(MAX_REDIRECTS + 1):
        await _check_host(url, allow_private=allow_private)
        seen.append(url)
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(304, headers=dict(response.headers), url=url)
            if response.is_redirect:
                target = response.headers.get("location", "")
                if not target:
                    raise FetchError(f"HTTP {response.status_code} without a Location")
                url = urljoin(url, target)
                if url in seen:
                    raise FetchError(f"redirect loop ({len(seen)} hops back to {url[:200]})")
                continue
            if response.status_code != 200:
                raise FetchError(_error_for(response), retry_after=_retry_after(response))
            body = await _read_capped(response)
            return Fetched(200, body, {k.lower(): v for k, v in response.headers.items()}, url)
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
