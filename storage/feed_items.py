"""Feed items: each entry of a source stored once, matched against what the desk watches,
proposed for the record, and triaged (dismissed, muted or added as an event).

An entry's identity is (source, guid), falling back to its link without tracking
parameters; an id derived from the content would make every edit look new. The same story
from another source (the same link, or the same title within a day) is kept but not
proposed again: the first one's proposal names both sources.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.access import PARLEY, Actor, require_lead
from storage.audit import commit_change, record_change, snapshot, stage_change
from storage.errors import InvalidInput, NotFound
from storage.models import (
    Delegation,
    DeliveryKind,
    FeedItem,
    ItemState,
    Level,
    Sensitivity,
    Source,
    Subscription,
    Track,
    Visibility,
)
from storage.outbox import PlannedDelivery
from storage.planning import follows
from storage.sensitivities import LEVEL_ORDER, keyword_pattern, normal_form

SAME_STORY_WITHIN = timedelta(days=1)
TITLE_LIMIT = 300
SUMMARY_LIMIT = 3000
LINK_LIMIT = 1000
# Query parameters that say who sent the reader, not what they read.
_TRACKING = re.compile(
    r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_hsenc|_hsmi|"
    r"cmpid|ocid|smid|sref|ref|ref_src|src|cid|at_medium|at_campaign|sh)$",
    re.IGNORECASE,
)
ALREADY_TRIAGED = "This item was {state} already{by}."


@dataclass(frozen=True)
class IncomingItem:
    """An entry as parsed from a feed, before it is stored."""

    key: str
    title: str
    link: str = ""
    published_at: datetime | None = None
    summary: str = ""


@dataclass
class StoreReport:
    new: list[FeedItem] = field(default_factory=list)
    proposed: list[FeedItem] = field(default_factory=list)
    same_story: list[FeedItem] = field(default_factory=list)  # kept, shown with the first


def clean_link(url: str) -> str:
    """The link without its fragment and tracking parameters (utm_*, fbclid …)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), "")
    )


def item_key(guid: str | None, link: str | None) -> str:
    """The entry's id, else its cleaned link; empty when it has neither."""
    guid = (guid or "").strip()
    if guid:
        return guid[:LINK_LIMIT]
    return clean_link(link or "")[:LINK_LIMIT]


def story_title(title: str) -> str:
    """A title as compared across sources: case, accents, punctuation and spacing aside."""
    text = unicodedata.normalize("NFKD", normal_form(title).lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", text))


# ------------------------------------------------------------------ matching


@dataclass(frozen=True)
class Match:
    sensitivities: list[Sensitivity]
    names: list[str]

    def __bool__(self) -> bool:
        return bool(self.sensitivities or self.names)


class Matcher:
    """What the desk watches, read once a poll round: sensitivities with their keywords
    (the events' matcher) and the tracked parties and delegation leads. Patterns are
    compiled once; a source's muted words make its own, cached per muted set."""

    def __init__(self, sensitivities: list[Sensitivity], names: list[str]) -> None:
        self.sensitivities = sensitivities
        self.names = names
        self._compiled: dict[frozenset[str], list[tuple[object, re.Pattern[str]]]] = {}

    def _patterns(self, muted: Sequence[str]) -> list[tuple[object, re.Pattern[str]]]:
        silenced = frozenset(m.lower() for m in muted)
        if silenced not in self._compiled:
            found: list[tuple[object, re.Pattern[str]]] = []
            for sensitivity in self.sensitivities:
                words = [
                    w
                    for w in [*sensitivity.keywords, sensitivity.name]
                    if w.lower() not in silenced
                ]
                pattern = keyword_pattern(words)
                if pattern is not None:
                    found.append((sensitivity, pattern))
            for name in self.names:
                pattern = keyword_pattern([name]) if name.lower() not in silenced else None
                if pattern is not None:
                    found.append((name, pattern))
            self._compiled[silenced] = found
        return self._compiled[silenced]

    def match(self, text: str, *, muted: Sequence[str] = ()) -> Match:
        plain = normal_form(text)
        hits = [what for what, pattern in self._patterns(muted) if pattern.search(plain)]
        return Match(
            [h for h in hits if isinstance(h, Sensitivity)], [h for h in hits if isinstance(h, str)]
        )

    def words_found(self, text: str, item: FeedItem) -> list[str]:
        """The keywords and names by which `item` matched, as found in `text`."""
        plain = normal_form(text)
        words = []
        for sensitivity in self.sensitivities:
            if sensitivity.slug in item.matched:
                for word in [*sensitivity.keywords, sensitivity.name]:
                    pattern = keyword_pattern([word])
                    if pattern is not None and pattern.search(plain):
                        words.append(word)
        return [*words, *item.mentioned]


# Parties too short or too common to stand alone as a match ("US" is a pronoun in a title).
_TOO_SHORT = 3


async def load_matcher(session: AsyncSession) -> Matcher:
    sensitivities = list((await session.exec(select(Sensitivity))).all())
    names: set[str] = set()
    for track in (await session.exec(select(Track))).all():
        names.update(p for p in track.parties if len(p) >= _TOO_SHORT)
    for lead in (await session.exec(select(Delegation.lead_name))).all():
        if lead:
            names.add(lead)
    return Matcher(sensitivities, sorted(names))


# ------------------------------------------------------------------ storing and proposing


async def known_keys(session: AsyncSession, source_id: int, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        query = select(FeedItem.key).where(
            col(FeedItem.source_id) == source_id, col(FeedItem.key).in_(keys[start : start + 500])
        )
        found.update((await session.exec(query)).all())
    return found


class Stories:
    """The stories proposed within a day, by cleaned link and by compared title: read once
    for a batch of entries, and told of each one proposed from it."""

    def __init__(self, proposed: Sequence[FeedItem]) -> None:
        self._by_link: dict[str, FeedItem] = {}
        self._by_title: dict[str, FeedItem] = {}
        for item in proposed:
            self.add(item)

    @classmethod
    async def load(cls, session: AsyncSession, *, now: datetime) -> Stories:
        query = select(FeedItem).where(
            col(FeedItem.same_as_id).is_(None),
            col(FeedItem.state).in_([ItemState.proposed, ItemState.dismissed, ItemState.added]),
            col(FeedItem.fetched_at) >= now - SAME_STORY_WITHIN,
        )
        return cls(list((await session.exec(query.order_by(col(FeedItem.id)))).all()))

    def add(self, item: FeedItem) -> None:
        link, title = clean_link(item.link), story_title(item.title)
        if link:
            self._by_link.setdefault(link, item)
        if title:
            self._by_title.setdefault(title, item)

    def first_of(self, item: FeedItem) -> FeedItem | None:
        """The same story proposed already: from another source, or from this one under a
        new id (a re-issued entry is not news again)."""
        link, title = clean_link(item.link), story_title(item.title)
        return (self._by_link.get(link) if link else None) or (
            self._by_title.get(title) if title else None
        )


async def store_items(
    session: AsyncSession,
    *,
    source: Source,
    items: Sequence[IncomingItem],
    matcher: Matcher,
    now: datetime,
    propose: bool,
) -> StoreReport:
    """Stores the entries not seen before; with `propose`, those that match are proposed
    (audited, posted to review channels, critical ones alerted). Adds to the caller's
    transaction; the caller commits with the source's health."""
    assert source.id is not None
    report = StoreReport()
    unique: dict[str, IncomingItem] = {}
    for incoming in items:
        unique.setdefault(incoming.key, incoming)
    known = await known_keys(session, source.id, list(unique))
    quiet: list[dict[str, object]] = []  # stored with one INSERT: nobody needs their ids
    for incoming in unique.values():
        if incoming.key in known:
            continue
        row: dict[str, object] = {
            "source_id": source.id,
            "key": incoming.key,
            "title": incoming.title[:TITLE_LIMIT],
            "link": incoming.link[:LINK_LIMIT],
            "published_at": incoming.published_at,
            "summary": incoming.summary[:SUMMARY_LIMIT],
            "fetched_at": now,
            "state": ItemState.new.value,
            "matched": [],
            "mentioned": [],
            "decided_by": "",
        }
        if propose:
            found = matcher.match(f"{incoming.title}\n{incoming.summary}", muted=source.muted)
            row["matched"] = [s.slug for s in found.sensitivities]
            row["mentioned"] = found.names
        if row["matched"] or row["mentioned"]:
            item = FeedItem.model_validate(row)
            session.add(item)
        else:  # unvalidated: the values above are already the columns' own
            item = FeedItem.model_construct(**row)  # type: ignore[arg-type]
            quiet.append(row)
        report.new.append(item)
    if quiet:  # one statement, compiled once and cached, run for every row
        connection = await session.connection()
        await connection.execute(insert(FeedItem), quiet)
    await session.flush()
    if not propose:
        return report
    matching = [item for item in report.new if item.matched or item.mentioned]
    if not matching:
        return report
    stories = await Stories.load(session, now=now)
    subscriptions = list(
        (await session.exec(select(Subscription).where(col(Subscription.active)))).all()
    )
    for item in matching:
        first = stories.first_of(item)
        if first is not None:
            item.same_as_id = first.id
            report.same_story.append(item)
            continue
        await _propose(
            session, item, source=source, matcher=matcher, subscriptions=subscriptions, now=now
        )
        stories.add(item)
        report.proposed.append(item)
    return report


def _restricted(item: FeedItem, matcher: Matcher) -> bool:
    return any(
        s.visibility == Visibility.restricted
        for s in matcher.sensitivities
        if s.slug in item.matched
    )


async def _propose(
    session: AsyncSession,
    item: FeedItem,
    *,
    source: Source,
    matcher: Matcher,
    subscriptions: Sequence[Subscription],
    now: datetime,
) -> None:
    item.state = ItemState.proposed
    session.add(item)
    restricted = _restricted(item, matcher)
    review = [s.channel_id for s in subscriptions if s.review and (s.restricted or not restricted)]
    planned = [
        PlannedDelivery(
            key=f"proposal:{item.id}:{channel}",
            kind=DeliveryKind.proposal,
            channel_id=channel,
            due_at=now,
            payload={"item_id": item.id},
        )
        for channel in review
    ]
    critical = [
        s.name
        for s in matcher.sensitivities
        if s.slug in item.matched and s.level == Level.critical
    ]
    if critical:
        tracks = await _tracks_of(session, source)
        planned += [
            PlannedDelivery(
                key=f"alert:item:{item.id}:{s.channel_id}",
                kind=DeliveryKind.alert,
                channel_id=s.channel_id,
                due_at=now,
                payload={"item_id": item.id, "sensitivities": critical},
            )
            for s in subscriptions
            if s.channel_id not in review  # a review channel has the proposal itself
            and any(follows(s, track, restricted=restricted) for track in tracks)
        ]
    outbox.queue(session, planned, now=now)
    record_change(
        session,
        actor=PARLEY,
        at=now,
        action="propose",
        entity="feed_item",
        entity_id=item.id,
        after=snapshot(item),
    )


async def _tracks_of(session: AsyncSession, source: Source) -> list[Track | None]:
    """The tracks a source feeds; a desk-wide source (none named) counts as every channel's."""
    if not source.tracks:
        return [None]
    rows = await session.exec(select(Track).where(col(Track.handle).in_(source.tracks)))
    return list(rows.all()) or [None]


# ------------------------------------------------------------------ triage


async def get_item(session: AsyncSession, item_id: int) -> FeedItem:
    item = await session.get(FeedItem, item_id)
    if item is None:
        raise NotFound(f"There is no feed item #{item_id} (its source may have been removed).")
    return item


def check_open(item: FeedItem) -> None:
    """Refuses an item already dismissed or added, naming who did it."""
    if item.state in (ItemState.dismissed, ItemState.added):
        by = f" by <@{item.decided_by}>" if item.decided_by[:1] in ("U", "W") else ""
        raise InvalidInput(ALREADY_TRIAGED.format(state=item.state, by=by))


async def dismiss_item(
    session: AsyncSession, *, actor: Actor, now: datetime, item_id: int
) -> FeedItem:
    await require_lead(session, actor)
    item = await get_item(session, item_id)
    check_open(item)
    before = snapshot(item)
    item.state = ItemState.dismissed
    item.decided_by = actor.id
    item.decided_at = now
    await commit_change(
        session, item, actor=actor, at=now, action="dismiss", entity="feed_item", before=before
    )
    return item


async def stage_added(
    session: AsyncSession, *, actor: Actor, now: datetime, item_id: int, event_id: int
) -> None:
    """Links the item to the event made from it, in the event's own transaction."""
    item = await get_item(session, item_id)
    check_open(item)
    before = snapshot(item)
    item.state = ItemState.added
    item.event_id = event_id
    item.decided_by = actor.id
    item.decided_at = now
    session.add(item)
    record_change(
        session,
        actor=actor,
        at=now,
        action="add_to_record",
        entity="feed_item",
        entity_id=item.id,
        before=before,
        after=snapshot(item),
    )


async def mute_similar(
    session: AsyncSession, *, actor: Actor, now: datetime, item_id: int
) -> tuple[FeedItem, list[str]]:
    """Mutes, for this item's source, the words it matched on, and dismisses it: one
    transaction, an audit entry for each change."""
    await require_lead(session, actor)
    item = await get_item(session, item_id)
    check_open(item)
    matcher = await load_matcher(session)
    words = matcher.words_found(f"{item.title}\n{item.summary}", item)
    if not words:
        raise InvalidInput("This item matched nothing that can be muted.")
    source = await session.get(Source, item.source_id)
    assert source is not None
    before = snapshot(source)
    source.muted = sorted({*source.muted, *words})
    await stage_change(
        session, source, actor=actor, at=now, action="mute", entity="source", before=before
    )
    before = snapshot(item)
    item.state = ItemState.dismissed
    item.decided_by = actor.id
    item.decided_at = now
    await commit_change(
        session, item, actor=actor, at=now, action="dismiss", entity="feed_item", before=before
    )
    return item, words


@dataclass(frozen=True)
class ItemView:
    item: FeedItem
    source: Source
    sensitivities: list[Sensitivity]
    also_from: list[str]  # other sources with the same story


async def item_views(session: AsyncSession, items: Sequence[FeedItem]) -> list[ItemView]:
    if not items:
        return []
    ids = [i.id for i in items]
    sources = {s.id: s for s in (await session.exec(select(Source))).all()}
    by_slug = {s.slug: s for s in (await session.exec(select(Sensitivity))).all()}
    twins = (await session.exec(select(FeedItem).where(col(FeedItem.same_as_id).in_(ids)))).all()
    also: dict[int, list[str]] = {}
    own = {i.id: i.source_id for i in items}
    for twin in twins:
        assert twin.same_as_id is not None
        name = sources[twin.source_id].name
        listed = also.setdefault(twin.same_as_id, [])
        if twin.source_id != own[twin.same_as_id] and name not in listed:
            listed.append(name)
    views = []
    for item in items:
        assert item.id is not None
        tagged = [by_slug[slug] for slug in item.matched if slug in by_slug]
        tagged.sort(key=lambda s: LEVEL_ORDER.get(Level(s.level), 9))
        views.append(ItemView(item, sources[item.source_id], tagged, sorted(also.get(item.id, []))))
    return views


def _rank(view: ItemView) -> tuple[int, float]:
    level = min((LEVEL_ORDER.get(Level(s.level), 9) for s in view.sensitivities), default=9)
    when = view.item.published_at or view.item.fetched_at
    return (level, -when.timestamp())


async def untriaged(
    session: AsyncSession,
    *,
    include_restricted: bool,
    limit: int = 5,
    track_ids: Sequence[int] | None = None,
) -> tuple[list[ItemView], int]:
    """Proposals not yet triaged, the most sensitive and newest first, and how many more.
    With `track_ids` (the tracks a channel follows), only those from sources that feed one
    of them, or that feed the whole desk."""
    query = select(FeedItem).where(col(FeedItem.state) == ItemState.proposed)
    views = await item_views(session, list((await session.exec(query)).all()))
    if track_ids is not None:
        handles = set(
            (await session.exec(select(Track.handle).where(col(Track.id).in_(track_ids)))).all()
        )
        views = [v for v in views if not v.source.tracks or handles & set(v.source.tracks)]
    if not include_restricted:
        views = [v for v in views if all(s.visibility == Visibility.team for s in v.sensitivities)]
    views.sort(key=_rank)
    return views[:limit], max(len(views) - limit, 0)
