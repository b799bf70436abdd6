"""Checks on values a user typed, raising `InvalidInput` with the limit or the choices."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.timeparse import format_offset, parse_offsets
from storage.errors import InvalidInput

TITLE_LIMIT = 150
SUMMARY_LIMIT = 3000
E = TypeVar("E", bound=StrEnum)


def clean_text(
    value: str | None, *, field: str, label: str, limit: int, required: bool = True
) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"{label} is required.", field=field)
    if len(text) > limit:
        raise InvalidInput(
            f"{label} is {len(text)} characters long; the limit is {limit}.", field=field
        )
    return text


def clean_url(value: str | None, *, field: str, label: str, limit: int = 1000) -> str:
    """An optional link to a source: empty, or an http(s) address with a host and no
    spaces (Slack shows it as a link; `javascript:` or a bare word is no source)."""
    text = clean_text(value, field=field, label=label, limit=limit, required=False)
    if not text:
        return ""
    parts = urlsplit(text)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.netloc
        or any(c.isspace() for c in text)
    ):
        raise InvalidInput(
            f"{label} must be a web address starting with http:// or https:// "
            f"(e.g. https://www.reuters.com/…), not {text[:60]!r}.",
            field=field,
        )
    return text


def clean_title(value: str | None, *, field: str = "title") -> str:
    return clean_text(value, field=field, label="The title", limit=TITLE_LIMIT)


def choice(value: str | None, enum: type[E], *, field: str, label: str) -> E:
    try:
        return enum((value or "").strip().lower())
    except ValueError:
        options = ", ".join(member.value for member in enum)
        raise InvalidInput(
            f"{label} must be one of: {options} (got {value!r}).", field=field
        ) from None


def zone_name(value: str, *, field: str = "zone") -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Unknown time zone {value!r}: use an IANA name such as Europe/Stockholm.",
            field=field,
        ) from None
    return value


def clean_offsets(value: str | None, *, field: str = "offsets") -> str | None:
    """A deadline's own countdown offsets, checked and written one way (``30d,7d,12h,0``),
    longest first; empty means the desk's default. One rule for forms, imports and seeds."""
    if value is None or not value.strip():
        return None
    try:
        offsets = parse_offsets(value)
    except ValueError as exc:  # TimeParseError is one: its text says what to write
        raise InvalidInput(str(exc), field=field) from None
    return ",".join(format_offset(o) for o in offsets)
