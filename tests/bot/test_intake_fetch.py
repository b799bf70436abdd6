"""Fetching over real HTTP from a local feed server: conditional GETs, limits, failures."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator

import pytest

from bot.intake.fetch import MAX_BYTES, FetchError, fetch, http_client
from storage.sources import is_private_address
from tests.bot.feeds import Entry, FeedServer, serving


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    server = FeedServer(feeds={"/feed/good": [Entry("1", "Taiwan vote")]})
    async with serving(server):
        yield server


async def test_a_good_feed_is_fetched_then_answered_304_with_its_etag(feeds: FeedServer) -> None:
    async with http_client() as client:
        first = await fetch(client, feeds.url("/feed/good"), allow_private=True)
        assert first.status == 200 and b"Taiwan vote" in first.body
        etag = first.headers["etag"]
        second = await fetch(client, feeds.url("/feed/good"), etag=etag, allow_private=True)
        assert second.not_modified and second.body == b""
        feeds.feeds["/feed/good"].append(Entry("2", "Rare earths"))
        changed = await fetch(client, feeds.url("/feed/good"), etag=etag, allow_private=True)
    assert changed.status == 200 and b"Rare earths" in changed.body
    assert feeds.conditional["/feed/good"] == 1
    assert all(agent.startswith("Parley/") for agent in feeds.agents)


async def test_a_redirect_is_followed_to_the_feed(feeds: FeedServer) -> None:
    async with http_client() as client:
        fetched = await fetch(client, feeds.url("/moved"), allow_private=True)
    assert fetched.status == 200 and fetched.url == feeds.url("/feed/good")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/status/404", "HTTP 404 Not Found"),
        ("/status/500", "HTTP 500 Internal Server Error"),
        ("/status/429", "HTTP 429 Too Many Requests (Retry-After: 120)"),
        ("/loop/a", "redirect loop"),
        ("/huge", f"over {MAX_BYTES:,} bytes"),
    ],
)
async def test_a_failing_answer_is_an_error_naming_why(
    feeds: FeedServer, path: str, reason: str
) -> None:
    async with http_client() as client:
        with pytest.raises(FetchError) as failed:
            await fetch(client, feeds.url(path), allow_private=True)
    assert reason in str(failed.value)


async def test_a_slow_feed_is_given_up_after_the_whole_timeout(feeds: FeedServer) -> None:
    async with http_client() as client:
        with pytest.raises(FetchError, match="no complete answer within 0.3 s"):
            await fetch(client, feeds.url("/slow"), allow_private=True, whole_timeout=0.3)


async def test_a_loopback_feed_is_refused_unless_private_addresses_are_allowed(
    feeds: FeedServer,
) -> None:
    async with http_client() as client:
        with pytest.raises(FetchError, match="own or private"):
            await fetch(client, feeds.url("/feed/good"))
    assert feeds.hits["/feed/good"] == 0


async def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    """This machine's own name resolves (from /etc/hosts) to one of its addresses."""
    host = socket.gethostname()
    try:
        address = socket.getaddrinfo(host, 80)[0][4][0]
    except OSError:
        pytest.skip(f"{host} does not resolve here")
    if not is_private_address(ipaddress.ip_address(address)):
        pytest.skip(f"{host} resolves to a public address here")
    async with http_client() as client:
        with pytest.raises(FetchError, match=f"{host} resolves to a private address"):
            await fetch(client, f"http://{host}:1/feed")
