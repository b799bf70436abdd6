"""Parsing a fetched source into entries: feedparser for RSS and Atom (on the bytes we
fetched, never its own HTTP), a small adapter for the Federal Register's documents.json.

A `bozo` feed is an error unless the only problem is its declared encoding. An entry with
neither title nor link, or with nothing to key it by, is skipped with the reason; a date
before 1990 or more than a day ahead is treated as unknown. Markup is stripped from titles
and summaries (script and style contents dropped), so only text reaches the record.
"""

from __future__ import annotations

import calendar
import html
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from storage.feed_items import IncomingItem, item_key
from storage.models import SourceKind

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
AHEAD_AT_MOST = timedelta(days=1)
SUMMARY_CHARS = 1000
TITLE_CHARS = 300


class ParseError(Exception):
    """Why a source's answer is not a feed, in words for the desk."""


@dataclass
class Parsed:
    items: list[IncomingItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one reason per entry left out


class _TextOnly(HTMLParser):
    _DROPPED = frozenset({"script", "style", "noscript", "template", "iframe", "object"})
    _BREAKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._DROPPED:
            self._hidden += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._DROPPED and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def strip_html(text: str, *, limit: int = SUMMARY_CHARS) -> str:
    """Plain text of an HTML fragment, spaces collapsed, cut at `limit` with an ellipsis."""
    if "<" in text or "&" in text:
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = html.unescape("".join(parser.parts))
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _when(value: Any, *, now: datetime) -> datetime | None:
    if isinstance(value, time.struct_time):
        when = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    elif isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    else:
        return None
    if when < EARLIEST or when > now + AHEAD_AT_MOST:
        return None
    return when


def _entry(
    *, number: int, guid: Any, link: Any, title: Any, summary: Any, when: datetime | None
) -> IncomingItem | str:
    """The entry, or why it is skipped."""
    link = link if isinstance(link, str) else ""
    title = strip_html(title if isinstance(title, str) else "", limit=TITLE_CHARS)
    if not title and not link:
        return f"entry {number}: no title and no link"
    key = item_key(guid if isinstance(guid, str) else None, link)
    if not key:
        return f"entry {number}: no id and no usable link"
    return IncomingItem(
        key=key,
        title=title or link[:TITLE_CHARS],
        link=link if link.startswith(("http://", "https://")) else "",
        published_at=when,
        summary=strip_html(summary if isinstance(summary, str) else ""),
    )


def _is_html(body: bytes, headers: dict[str, str]) -> bool:
    start = body[:512].lstrip().lower()
    return headers.get("content-type", "").startswith("text/html") or start.startswith(
        (b"<!doctype html", b"<html")
    )


def parse_feed(body: bytes, headers: dict[str, str], *, now: datetime) -> Parsed:
    if _is_html(body, headers):
        raise ParseError("not an RSS or Atom feed: the address answers with an HTML page")
    # Markup is stripped here (strip_html), so feedparser's own sanitizing and link
    # resolution, which re-parse every summary, are work thrown away: half its time.
    import feedparser  # here: a start that polls nothing never loads it

    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        if not isinstance(problem, feedparser.CharacterEncodingOverride):
            raise ParseError(f"not a well-formed feed: {problem}"[:300])
    if not parsed.get("version"):
        kind = headers.get("content-type", "").split(";")[0] or "no content type"
        raise ParseError(f"not an RSS or Atom feed ({kind})")
    result = Parsed()
    for number, entry in enumerate(parsed.entries, start=1):
        when = _when(entry.get("published_parsed") or entry.get("updated_parsed"), now=now)
        found = _entry(
            number=number,
            guid=entry.get("id"),
            link=entry.get("link"),
            title=entry.get("title"),
            summary=entry.get("summary"),
            when=when,
        )
        if isinstance(found, str):
            result.skipped.append(found)
        else:
            result.items.append(found)
    return result


def parse_federal_register(body: bytes, *, now: datetime) -> Parsed:
    """The `results` of a documents.json search: document number, title, abstract, the
    HTML page and the publication date."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not JSON: {exc}"[:300]) from None
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise ParseError('not a Federal Register search (no "results" list)')
    parsed = Parsed()
    for number, row in enumerate(results, start=1):
        if not isinstance(row, dict):
            parsed.skipped.append(f"entry {number}: not an object")
            continue
        found = _entry(
            number=number,
            guid=row.get("document_number"),
            link=row.get("html_url"),
            title=row.get("title"),
            summary=row.get("abstract"),
            when=_when(row.get("publication_date"), now=now),
        )
        if isinstance(found, str):
            parsed.skipped.append(found)
        else:
            parsed.items.append(found)
    return parsed


def parse(kind: str, body: bytes, headers: dict[str, str], *, now: datetime) -> Parsed:
    if kind == SourceKind.federal_register:
        return parse_federal_register(body, now=now)
    return parse_feed(body, headers, now=now)
