"""Parsing fetched bytes into entries: RSS, Atom, the Federal Register, and hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.intake.parse import ParseError, parse, parse_feed, strip_html
from tests.support.feeds import FEDERAL_REGISTER, Entry, rss

NOW = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)
HEADERS = {"content-type": "application/rss+xml"}


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Tariffs <b>rise</b></p><p>again</p>", "Tariffs rise again"),
        ("a<script>alert('x')</script>b", "ab"),
        ("<style>p{}</style>Body &amp; soul", "Body & soul"),
        ("&lt;!channel&gt; now", "<!channel> now"),  # text; escaped when shown (templates)
        ("  many \n\n spaces\t", "many spaces"),
        ("Unclosed <b>bold", "Unclosed bold"),
        ("x" * 1200, "x" * 999 + "…"),
        ("无标记的中文", "无标记的中文"),
    ],
)
def test_markup_is_stripped_to_plain_text(html: str, text: str) -> None:
    assert strip_html(html) == text


def test_a_good_feed_gives_its_entries_with_utc_times() -> None:
    body = rss(
        [
            Entry(
                "a1",
                "Talks end",
                "https://w.example/1?utm_source=x",
                NOW - timedelta(hours=2),
                "<p>No <i>deal</i></p>",
            )
        ]
    )
    [item] = parse_feed(body, HEADERS, now=NOW).items
    assert (item.key, item.title, item.link, item.summary) == (
        "a1",
        "Talks end",
        "https://w.example/1?utm_source=x",
        "No deal",
    )
    assert item.published_at == NOW - timedelta(hours=2)


def test_atom_entries_are_read_too() -> None:
    body = (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        "<title>MOFCOM</title><id>urn:m</id><updated>2025-07-29T08:00:00Z</updated>"
        "<entry><id>urn:m:1</id><title>商务部：稀土出口</title>"
        "<link href='https://english.mofcom.gov.cn/1'/><updated>2025-07-29T08:00:00+08:00"
        "</updated><summary>稀土</summary></entry></feed>"
    ).encode()
    [item] = parse_feed(body, {"content-type": "application/atom+xml"}, now=NOW).items
    assert item.key == "urn:m:1" and item.title == "商务部：稀土出口"
    assert item.published_at == datetime(2025, 7, 29, 0, 0, tzinfo=UTC)


def test_hostile_entries_are_skipped_with_a_reason_or_made_harmless() -> None:
    body = rss(
        [
            Entry(None, None, None),  # nothing at all
            Entry(None, "Title only, no id, no link"),
            Entry("g3", None, "https://w.example/3"),  # no title: the link stands in
            Entry("g4", "Old", "https://w.example/4", datetime(1970, 1, 1, tzinfo=UTC)),
            Entry("g5", "Future", "https://w.example/5", NOW + timedelta(days=30)),
            Entry(
                "g6",
                "<script>alert(1)</script>Taiwan <!channel> <@U123> &lt;@here&gt;",
                "javascript:alert(1)",
                NOW,
                "<img src=x onerror=alert(1)>Text",
            ),
        ]
    )
    parsed = parse_feed(body, HEADERS, now=NOW)
    assert parsed.skipped == ["entry 1: no title and no link", "entry 2: no id and no usable link"]
    by_key = {i.key: i for i in parsed.items}
    assert by_key["g3"].title == "https://w.example/3"
    assert by_key["g4"].published_at is None and by_key["g5"].published_at is None
    hostile = by_key["g6"]
    assert "script" not in hostile.title and "alert" not in hostile.title
    assert hostile.link == "" and hostile.summary == "Text"


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (
            b"<html><body><h1>Press releases</h1></body></html>",
            {"content-type": "text/html"},
            "answers with an HTML page",
        ),
        (b"<!DOCTYPE html><html><body>x</body></html>", HEADERS, "answers with an HTML page"),
        (b"<rss><channel><title>x</titl></rss>", HEADERS, "not a well-formed feed"),
        (rss([Entry("1", "Taiwan")])[:60], HEADERS, "not a well-formed feed"),
        (b"", HEADERS, "not an RSS or Atom feed"),
        (b'{"results": []}', {"content-type": "application/json"}, "not a well-formed feed"),
    ],
)
def test_what_is_not_a_feed_is_an_error_naming_why(
    body: bytes, headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_feed(body, headers, now=NOW)


def test_a_feed_whose_only_fault_is_its_declared_encoding_is_read() -> None:
    body = rss([Entry("1", "Taiwan café")]).replace(b"utf-8", b"iso-8859-1")
    [item] = parse_feed(body, {"content-type": "application/rss+xml; charset=utf-8"}, now=NOW).items
    assert item.title == "Taiwan café"


def test_the_federal_register_adapter_reads_documents_json() -> None:
    parsed = parse("federal_register", json.dumps(FEDERAL_REGISTER).encode(), {}, now=NOW)
    [item] = parsed.items
    assert item.key == "2025-14000"
    assert item.summary == "The Trade Representative extends the exclusions on Nvidia chips."
    assert item.published_at == datetime(2025, 7, 29, tzinfo=UTC)
    assert parsed.skipped == ["entry 2: no title and no link"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"<html>", "not JSON"), (b'{"count": 0}', 'no "results" list'), (b"[]", 'no "results"')],
)
def test_a_federal_register_answer_that_is_not_a_search_is_an_error(
    body: bytes, reason: str
) -> None:
    with pytest.raises(ParseError, match=reason):
        parse("federal_register", body, {}, now=NOW)
