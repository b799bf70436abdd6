"""Sensitivities: watch topics whose keywords tag events automatically."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_lead
from storage.audit import commit_change, refuse_no_change, snapshot
from storage.checks import choice, clean_text
from storage.direct import ReadSource, reading
from storage.errors import InvalidInput, NotFound
from storage.models import Event, EventSensitivity, Level, Sensitivity, Visibility

LEVEL_ORDER = {Level.critical: 0, Level.high: 1, Level.medium: 2, Level.low: 3}


# Scripts that write words without spaces between them (Han, Hiragana, Katakana) or join
# particles to the word (Hangul): a keyword's end in one of them needs no word boundary.
_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK and Kangxi radicals
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b"  # 々〆〇, Suzhou numerals, kana repeats
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u31bf"  # Bopomofo, Hangul compatibility Jamo, Kanbun, Bopomofo extended
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf\u4e00-\u9fff"  # Han
    "\ua960-\ua97f\uac00-\ud7ff"  # Hangul
    "\uf900-\ufaff"  # Han compatibility ideographs
    "\uff66-\uffdc"  # half-width Katakana and Hangul
    "\U00020000-\U0003ffff"  # Han extensions B and later
)
# Between the words of a keyword: any run of spaces or hyphens (ASCII, Unicode hyphen,
# non-breaking hyphen), so "rare earths", "rare-earths" and "rare\u2011earths" are one keyword.
_JOINERS = r"\s\-\u2010\u2011"
_JOINER = rf"[{_JOINERS}]+"
# A keyword's pieces: runs of CJK, and runs of anything else up to a joiner.
_PIECE = re.compile(rf"[{_CJK}]+|[^{_CJK}{_JOINERS}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
# A word character of a script that spaces its words: what a Latin end must not touch.
_SPACED_WORD = rf"[^\W{_CJK}]"


def _is_cjk(piece: str) -> bool:
    return _CJK_CHAR.match(piece) is not None


def normal_form(text: str) -> str:
    """NFKC, as keywords are matched: full-width ＡＩ is AI, half-width ｶﾀｶﾅ is カタカナ."""
    return unicodedata.normalize("NFKC", text)


def _keyword_regex(keyword: str) -> str:
    """One keyword as a regex. Its words are joined by any run of spaces or hyphens, which
    may be left out next to a CJK piece ("出口 管制" finds 出口管制, "AI芯片" finds "AI 芯片");
    a Latin end stands at a word boundary, a CJK end anywhere."""
    pieces: list[str] = _PIECE.findall(normal_form(keyword))
    if not pieces:
        return ""
    regex = re.escape(pieces[0])
    for before, after in itertools.pairwise(pieces):
        joiner = rf"[{_JOINERS}]*" if _is_cjk(before) or _is_cjk(after) else _JOINER
        regex += joiner + re.escape(after)
    start = "" if _is_cjk(pieces[0]) else rf"(?<!{_SPACED_WORD})"
    end = "" if _is_cjk(pieces[-1]) else rf"(?!{_SPACED_WORD})"
    return start + regex + end


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """Case-insensitive, for text in `normal_form`; spaces and hyphens between words are
    interchangeable. Latin keywords match whole words (a CJK neighbour counts as a
    boundary: "Nvidia" is found in 美国放宽Nvidia芯片出口); keywords in Chinese, Japanese and
    Korean match inside words, which those scripts do not separate with spaces.

    Words are not stemmed: "tariff" does not match "tariffs" (list both to catch both)."""
    words = [w for w in (_keyword_regex(k) for k in keywords) if w]
    if not words:
        return None
    return re.compile("|".join(words), re.IGNORECASE)


def text_mentions(keywords: Iterable[str], text: str) -> bool:
    """Whether `text` mentions one of `keywords`: the one rule that tags events."""
    pattern = keyword_pattern(keywords)
    return bool(pattern and pattern.search(normal_form(text)))


def mentions(sensitivity: Sensitivity, text: str) -> bool:
    return text_mentions([*sensitivity.keywords, sensitivity.name], text)


@cache
def _all_query(include_restricted: bool, levels: tuple[Level, ...]) -> Any:
    query = select(Sensitivity)
    if not include_restricted:
        query = query.where(col(Sensitivity.visibility) == Visibility.team)
    if levels:
        query = query.where(col(Sensitivity.level).in_([str(level) for level in levels]))
    return query


def parse_keywords(text: str) -> list[str]:
    """One keyword per comma or line; the full-width comma and 、 typed in CJK count too."""
    return [k.strip() for k in re.split(r"[,\n\uff0c\u3001]", text) if k.strip()]


async def all_sensitivities(
    source: ReadSource, *, include_restricted: bool = True, levels: Sequence[Level] = ()
) -> list[Sensitivity]:
    """Every sensitivity (only those at `levels`, when named), by level then name."""
    query = _all_query(include_restricted, tuple(levels))
    items = list(await reading(source).all(query))
    return sorted(items, key=sensitivity_order)


def sensitivity_order(item: Sensitivity) -> tuple[int, str, int]:
    """By level (critical first), then name, then the order they were added (names are not
    unique: two of one name and level keep one order whichever way they were read)."""
    return (LEVEL_ORDER.get(Level(item.level), 9), item.name.lower(), item.id or 0)


async def find_sensitivity(
    source: ReadSource, topic: str, *, include_restricted: bool
) -> Sensitivity:
    """By slug, name or keyword, case-insensitively; the slug first, so the topic a listing
    shows beside an item always means that item (a renamed one may carry another's name)."""
    wanted = topic.strip().lower()
    items = await all_sensitivities(source, include_restricted=include_restricted)
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
    """Letters and digits of every script ("Rare earths" is rare-earths, 芬太尼 stays 芬太尼)."""
    slug = re.sub(r"[\W_]+", "-", normal_form(name).lower()).strip("-")[:60].strip("-")
    if not slug:
        raise InvalidInput("The name needs a letter or a digit.", field="name")
    return slug


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
    session.add(item)
    await session.flush()
    after = snapshot(item) or {}
    after["tagged_events"] = await _tag_the_record(session, item)
    await commit_change(
        session, item, actor=actor, at=now, action="add", entity="sensitivity", after=after
    )
    return item


async def _tag_the_record(session: AsyncSession, item: Sensitivity) -> int:
    """Tags the events on record that mention `item` (its name or a keyword) and are not
    tagged with it yet: a new topic, or new keywords, find the past mentions too (SPEC §2:
    events that mention a keyword are tagged automatically). Old news alerts no one.
    Returns how many were tagged."""
    assert item.id is not None
    pattern = keyword_pattern([*item.keywords, item.name])
    if pattern is None:
        return 0
    tagged = set(
        (
            await session.exec(
                select(EventSensitivity.event_id).where(
                    col(EventSensitivity.sensitivity_id) == item.id
                )
            )
        ).all()
    )
    rows = (await session.exec(select(Event.id, Event.title, Event.summary))).all()
    found = [
        event_id
        for event_id, title, summary in rows
        if event_id is not None
        and event_id not in tagged
        and pattern.search(normal_form(f"{title}\n{summary}"))
    ]
    for event_id in found:
        session.add(EventSensitivity(event_id=event_id, sensitivity_id=item.id))
    return len(found)


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
    refuse_no_change(before, item, what=f"sensitivity {item.name}")
    after = snapshot(item) or {}
    if (before or {}).get("keywords") != item.keywords or (before or {}).get("name") != item.name:
        after["tagged_events"] = await _tag_the_record(session, item)
    await commit_change(
        session,
        item,
        actor=actor,
        at=now,
        action="update",
        entity="sensitivity",
        before=before,
        after=after,
    )
    return item
