"""Sensitivities: watch topics whose keywords tag events automatically."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_lead
from storage.audit import commit_change, snapshot
from storage.checks import choice, clean_text
from storage.errors import InvalidInput, NotFound
from storage.models import Level, Sensitivity, Visibility

LEVEL_ORDER = {Level.critical: 0, Level.high: 1, Level.medium: 2, Level.low: 3}


# Between the words of a keyword: any run of spaces or hyphens (ASCII, Unicode hyphen,
# non-breaking hyphen), so "rare earths", "rare-earths" and "rare\u2011earths" are one keyword.
_JOINER = r"[\s\-\u2010\u2011]+"


def _keyword_regex(keyword: str) -> str:
    parts = [re.escape(p) for p in re.split(_JOINER, keyword) if p]
    return _JOINER.join(parts)


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive; spaces and hyphens between words are interchangeable.

    Words are not stemmed: "tariff" does not match "tariffs" (list both to catch both)."""
    words = [w for w in (_keyword_regex(k) for k in keywords) if w]
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)


def mentions(sensitivity: Sensitivity, text: str) -> bool:
    pattern = keyword_pattern([*sensitivity.keywords, sensitivity.name])
    return bool(pattern and pattern.search(text))


def parse_keywords(text: str) -> list[str]:
    return [k.strip() for k in re.split(r"[,\n]", text) if k.strip()]


async def all_sensitivities(
    session: AsyncSession, *, include_restricted: bool = True
) -> list[Sensitivity]:
    query = select(Sensitivity)
    if not include_restricted:
        query = query.where(col(Sensitivity.visibility) == Visibility.team)
    items = list((await session.exec(query)).all())
    return sorted(items, key=lambda s: (LEVEL_ORDER.get(Level(s.level), 9), s.name.lower()))


async def find_sensitivity(
    session: AsyncSession, topic: str, *, include_restricted: bool
) -> Sensitivity:
    """By slug, name or keyword, case-insensitively; the slug first, so the topic a listing
    shows beside an item always means that item (a renamed one may carry another's name)."""
    wanted = topic.strip().lower()
    items = await all_sensitivities(session, include_restricted=include_restricted)
    for match in (
        lambda s: s.slug == wanted,
        lambda s: s.name.lower() == wanted,
        lambda s: wanted in (k.lower() for k in s.keywords),
        lambda s: s.name.lower().startswith(wanted) or s.slug.startswith(wanted),
    ):
        found = [s for s in items if match(s)]
        if found:
            return found[0]
    known = ", ".join(s.name for s in items) or "none yet"
    raise NotFound(f"No watch topic matches {topic!r}. Topics: {known}.")


async def get_sensitivity(session: AsyncSession, sensitivity_id: int) -> Sensitivity:
    item = await session.get(Sensitivity, sensitivity_id)
    if item is None:
        raise NotFound(f"There is no sensitivity #{sensitivity_id}.")
    return item


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


async def add_sensitivity(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    name: str,
    level: str = Level.medium,
    description: str = "",
    keywords: Sequence[str] = (),
    visibility: str = Visibility.team,
    slug: str | None = None,
) -> Sensitivity:
    await require_lead(session, actor)
    name = clean_text(name, field="name", label="The name", limit=100)
    slug = slug or _slug(name)
    if (await session.exec(select(Sensitivity).where(col(Sensitivity.slug) == slug))).first():
        raise InvalidInput(f"A sensitivity called {name!r} exists already.", field="name")
    item = Sensitivity(
        slug=slug,
        name=name,
        level=choice(level, Level, field="level", label="Level"),
        description=clean_text(
            description, field="description", label="The description", limit=2000, required=False
        ),
        keywords=list(keywords),
        visibility=choice(visibility, Visibility, field="visibility", label="Visibility"),
    )
    await commit_change(session, item, actor=actor, at=now, action="add", entity="sensitivity")
    return item


async def update_sensitivity(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    sensitivity_id: int,
    name: str | None = None,
    level: str | None = None,
    description: str | None = None,
    keywords: Sequence[str] | None = None,
    visibility: str | None = None,
) -> Sensitivity:
    await require_lead(session, actor)
    item = await get_sensitivity(session, sensitivity_id)
    before = snapshot(item)
    if name is not None:
        item.name = clean_text(name, field="name", label="The name", limit=100)
    if level is not None:
        item.level = choice(level, Level, field="level", label="Level")
    if description is not None:
        item.description = clean_text(
            description, field="description", label="The description", limit=2000, required=False
        )
    if keywords is not None:
        item.keywords = list(keywords)
    if visibility is not None:
        item.visibility = choice(visibility, Visibility, field="visibility", label="Visibility")
    await commit_change(
        session, item, actor=actor, at=now, action="update", entity="sensitivity", before=before
    )
    return item
