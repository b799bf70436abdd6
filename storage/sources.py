"""News sources: the feeds Parley polls, who polls which one now, and how each is faring.

A poll is claimed like a scheduled post: a conditional UPDATE on the source's row names
the worker and a lease, so replicas on one PostgreSQL poll each source once. A source's
health (last success, last error, failures in a row, items seen) is data the desk sees;
after `FAILURES_BEFORE_NOTICE` failures in a row the lead who added it gets one direct
message through the outbox, and one more when it recovers.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.access import Actor, require_lead
from storage.audit import commit_change, record_change, snapshot
from storage.checks import choice, clean_text
from storage.errors import InvalidInput, NotFound
from storage.models import Confidence, DeliveryKind, FeedItem, Source, SourceKind, Track

MIN_POLL_MINUTES = 5
DEFAULT_POLL_MINUTES = 15
BACKOFF_MAX = timedelta(hours=6)
FAILURES_BEFORE_NOTICE = 5
URL_LIMIT = 1000
NAME_LIMIT = 100
# Hosts whose releases are official; any other source is a report.
OFFICIAL_SUFFIXES = (".gov", ".gov.cn", ".gov.uk", ".gouv.fr", ".europa.eu", ".mil")

NOT_HTTP = "Only http and https feeds can be added (got {scheme!r})."
NO_HOST = "The address {url!r} has no host name."
PRIVATE_ADDRESS = (
    "{host} is one of this machine's own or private addresses; Parley only polls public "
    "feeds (PARLEY_INTAKE_ALLOW_PRIVATE=on allows them, for tests)."
)
FAILING_NOTICE = (
    "The news source *{name}* has failed {failures} polls in a row; the last error: "
    "`{error}`. Check it with `/desk source check {name}`, or pause it with "
    "`/desk source pause {name}`."
)
RECOVERED_NOTICE = "The news source *{name}* works again: its last poll succeeded."


def is_private_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, link-local, private, unspecified, multicast or reserved: not the public
    internet. An IPv4 address mapped into IPv6 is judged as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def check_url(url: str, *, allow_private: bool) -> str:
    """The rule for a source's address: http(s), a host, and (unless allowed) not a literal
    private address or a local name. Names are resolved, and checked again, when fetched."""
    url = url.strip().strip("<>")
    if len(url) > URL_LIMIT:
        raise InvalidInput(f"The address is {len(url)} characters long; the limit is {URL_LIMIT}.")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidInput(NOT_HTTP.format(scheme=parts.scheme or url[:20]))
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInput(NO_HOST.format(url=url[:100]))
    if not allow_private and is_private_host(host):
        raise InvalidInput(PRIVATE_ADDRESS.format(host=host))
    return url


def is_private_host(host: str) -> bool:
    """A literal private address, or a name that means this machine."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        return is_private_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return False


def kind_of(url: str) -> SourceKind:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith("federalregister.gov") and parts.path.endswith("documents.json"):
        return SourceKind.federal_register
    return SourceKind.feed


def default_confidence(url: str) -> Confidence:
    host = (urlsplit(url).hostname or "").lower()
    return Confidence.official if host.endswith(OFFICIAL_SUFFIXES) else Confidence.reported


def spread(source_id: int, interval: timedelta) -> timedelta:
    """A fixed offset per source within a tenth of its interval, so sources added together
    do not all poll in the same second."""
    window = max(int(interval.total_seconds() // 10), 1)
    return timedelta(seconds=zlib.crc32(str(source_id).encode()) % window)


def retry_delay(source: Source) -> timedelta:
    """After n failures in a row: the interval × 2ⁿ, capped at six hours."""
    interval = timedelta(minutes=source.poll_minutes)
    delay: timedelta = interval * 2 ** min(source.consecutive_failures, 16)
    return min(delay, BACKOFF_MAX)


# ------------------------------------------------------------------ reading


async def all_sources(session: AsyncSession) -> list[Source]:
    return list((await session.exec(select(Source).order_by(func.lower(Source.name)))).all())


async def find_source(session: AsyncSession, name: str) -> Source:
    """By name (case-insensitive), by `#id`, or by a unique start of its name."""
    wanted = name.strip().lower()
    items = await all_sources(session)
    if wanted.startswith("#") and wanted[1:].isdigit():
        found = [s for s in items if s.id == int(wanted[1:])]
    else:
        found = [s for s in items if s.name.lower() == wanted] or [
            s for s in items if s.name.lower().startswith(wanted)
        ]
    if len(found) == 1:
        return found[0]
    known = ", ".join(s.name for s in (found or items)) or "none yet"
    if found:
        raise NotFound(f"{name!r} could mean several sources: {known}.")
    raise NotFound(f"No source called {name!r}. Sources: {known}.")


# ------------------------------------------------------------------ changes by a lead


async def add_source(
    session: AsyncSession,
    *,
    actor: Actor,
    now: datetime,
    url: str,
    name: str | None = None,
    tracks: Sequence[str] | None = None,
    confidence: str | None = None,
    poll_minutes: int = DEFAULT_POLL_MINUTES,
    enabled: bool = True,
    allow_private: bool = False,
    verified: bool = True,
    seed_key: str | None = None,
) -> Source:
    await require_lead(session, actor)
    url = check_url(url, allow_private=allow_private)
    name = clean_text(
        name or urlsplit(url).hostname, field="name", label="The name", limit=NAME_LIMIT
    )
    if poll_minutes < MIN_POLL_MINUTES:
        raise InvalidInput(
            f"A source is polled every {MIN_POLL_MINUTES} minutes at most often "
            f"(got {poll_minutes})."
        )
    existing = (
        await session.exec(
            select(Source).where(
                or_(func.lower(Source.name) == name.lower(), col(Source.url) == url)
            )
        )
    ).first()
    if existing is not None:
        what = "address" if existing.url == url else "name"
        raise InvalidInput(f"A source with this {what} exists already: {existing.name}.")
    known = {t.handle for t in (await session.exec(select(Track))).all()}
    unknown = [t for t in tracks or () if t not in known]
    if unknown:
        raise InvalidInput(
            f"No track called {unknown[0]!r}. Known tracks: {', '.join(sorted(known))}."
        )
    source = Source(
        name=name,
        url=url,
        kind=kind_of(url),
        tracks=list(tracks) if tracks else None,
        confidence=choice(
            confidence or default_confidence(url),
            Confidence,
            field="confidence",
            label="Confidence",
        ),
        poll_minutes=poll_minutes,
        enabled=enabled,
        muted=[],
        next_poll_at=now,
        added_by=actor.id,
        added_at=now,
        verified=verified,
        seed_key=seed_key,
    )
    await commit_change(session, source, actor=actor, at=now, action="add", entity="source")
    return source


async def set_enabled(
    session: AsyncSession, *, actor: Actor, now: datetime, name: str, enabled: bool
) -> Source:
    """Pause or resume; a resumed source polls at once and starts its back-off afresh."""
    await require_lead(session, actor)
    source = await find_source(session, name)
    if source.enabled == enabled:
        state = "running" if enabled else "paused"
        raise InvalidInput(f"{source.name} is {state} already.")
    before = snapshot(source)
    source.enabled = enabled
    if enabled:
        source.next_poll_at = now
        source.consecutive_failures = 0
    await commit_change(
        session,
        source,
        actor=actor,
        at=now,
        action="resume" if enabled else "pause",
        entity="source",
        before=before,
    )
    return source


async def remove_source(session: AsyncSession, *, actor: Actor, now: datetime, name: str) -> str:
    """Removes the source and its items (events made from them stay). Returns its name."""
    await require_lead(session, actor)
    source = await find_source(session, name)
    before = snapshot(source)
    ids = select(FeedItem.id).where(col(FeedItem.source_id) == source.id)
    await session.exec(
        update(FeedItem)
        .where(col(FeedItem.same_as_id).in_(ids.scalar_subquery()))
        .values(same_as_id=None)
    )
    await session.exec(delete(FeedItem).where(col(FeedItem.source_id) == source.id))
    await session.delete(source)
    record_change(
        session,
        actor=actor,
        at=now,
        action="remove",
        entity="source",
        entity_id=source.id,
        before=before,
    )
    await session.commit()
    return source.name


# ------------------------------------------------------------------ polling


def _claimable(now: datetime) -> Any:
    return and_(
        col(Source.enabled),
        col(Source.next_poll_at) <= now,
        or_(col(Source.claimed_by).is_(None), col(Source.lease_until) < now),
    )


async def claim_due_sources(
    session: AsyncSession, *, worker: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[Source]:
    """Claims up to `limit` sources due a poll for `worker`; each is claimed by one worker."""
    candidates = (
        select(Source.id)
        .where(_claimable(now))
        .order_by(col(Source.next_poll_at), col(Source.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Source)
        .where(col(Source.id).in_(candidates.scalar_subquery()), _claimable(now))
        .values(claimed_by=worker, lease_until=now + lease)
        .returning(col(Source.id))
    )
    ids = list((await session.exec(statement)).scalars())
    await session.commit()
    if not ids:
        return []
    query = select(Source).where(col(Source.id).in_(ids)).order_by(col(Source.id))
    rows = await session.exec(query)
    return list(rows.all())


async def claim_source(
    session: AsyncSession, *, source_id: int, worker: str, now: datetime, lease: timedelta
) -> Source | None:
    """Claims one source now, due or not (`/desk source check`); None while another
    worker polls it."""
    statement = (
        update(Source)
        .where(
            col(Source.id) == source_id,
            or_(col(Source.claimed_by).is_(None), col(Source.lease_until) < now),
        )
        .values(claimed_by=worker, lease_until=now + lease)
    )
    result = await session.exec(statement)
    await session.commit()
    if not result.rowcount:
        return None
    return await session.get(Source, source_id, populate_existing=True)


async def _held(session: AsyncSession, source_id: int, worker: str) -> Source | None:
    query = select(Source).where(col(Source.id) == source_id, col(Source.claimed_by) == worker)
    return (await session.exec(query.with_for_update())).first()


def _mrkdwn_safe(text: str) -> str:
    """A name or an error (a remote server's words) made inert in a notice's mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def _notice(source: Source, *, key: str, text: str, now: datetime) -> outbox.PlannedDelivery:
    return outbox.PlannedDelivery(
        key=key,
        kind=DeliveryKind.notice,
        channel_id=source.added_by,
        due_at=now,
        payload={"text": text, "source_id": source.id},
    )


def _streak(source: Source) -> str:
    """Names the current run of failures: it began after the last success."""
    since = source.last_success_at or source.added_at
    return f"{since:%Y%m%dT%H%M%S%fZ}"


def _tells_lead(source: Source) -> bool:
    return source.added_by[:1] in ("U", "W")


async def record_success(
    session: AsyncSession,
    *,
    source_id: int,
    worker: str,
    now: datetime,
    etag: str | None,
    last_modified: str | None,
    new_items: int,
    commit: bool = True,
) -> Source | None:
    """A poll that worked (a 304 included): the next one at the interval, the claim released,
    the lead told if it had been told it was failing. None when the claim was lost."""
    source = await _held(session, source_id, worker)
    if source is None:
        return None
    if source.failing_notified and _tells_lead(source):
        await outbox.plan(
            session,
            [
                _notice(
                    source,
                    key=f"notice:source-recovered:{source.id}:{_streak(source)}",
                    text=RECOVERED_NOTICE.format(name=_mrkdwn_safe(source.name)),
                    now=now,
                )
            ],
            now=now,
            commit=False,
        )
    interval = timedelta(minutes=source.poll_minutes)
    source.etag = etag[:300] if etag else None
    source.last_modified = last_modified[:100] if last_modified else None
    source.last_polled_at = now
    source.last_success_at = now
    source.consecutive_failures = 0
    source.failing_notified = False
    source.items_seen += new_items
    source.next_poll_at = now + interval + spread(source_id, interval)
    source.claimed_by = None
    source.lease_until = None
    session.add(source)
    if commit:
        await session.commit()
    return source


async def record_failure(
    session: AsyncSession,
    *,
    source_id: int,
    worker: str,
    now: datetime,
    error: str,
    retry_after: float | None = None,
) -> Source | None:
    """A poll that failed: the error kept, the next poll backed off (no sooner than the
    server's `Retry-After`, capped like the back-off), the lead told once after
    `FAILURES_BEFORE_NOTICE` in a row. None when the claim was lost."""
    source = await _held(session, source_id, worker)
    if source is None:
        return None
    source.consecutive_failures += 1
    source.last_polled_at = now
    source.last_error = error[:1000]
    source.last_error_at = now
    asked = timedelta(seconds=retry_after or 0)
    source.next_poll_at = now + min(max(retry_delay(source), asked), BACKOFF_MAX)
    source.claimed_by = None
    source.lease_until = None
    if source.consecutive_failures >= FAILURES_BEFORE_NOTICE and not source.failing_notified:
        source.failing_notified = True
        if _tells_lead(source):
            text = FAILING_NOTICE.format(
                name=_mrkdwn_safe(source.name),
                failures=source.consecutive_failures,
                error=_mrkdwn_safe(error[:300]),
            )
            await outbox.plan(
                session,
                [
                    _notice(
                        source,
                        key=f"notice:source-failing:{source.id}:{_streak(source)}",
                        text=text,
                        now=now,
                    )
                ],
                now=now,
                commit=False,
            )
    session.add(source)
    await session.commit()
    return source


async def health_counts(session: AsyncSession) -> dict[str, int]:
    """Sources by state, for /healthz and /metrics: ok, failing (1+ failures in a row),
    paused, and never polled yet."""
    counts = {"ok": 0, "failing": 0, "paused": 0, "new": 0}
    for source in await all_sources(session):
        if not source.enabled:
            counts["paused"] += 1
        elif source.consecutive_failures:
            counts["failing"] += 1
        elif source.last_success_at is None:
            counts["new"] += 1
        else:
            counts["ok"] += 1
    return counts


@dataclass
class PollOutcome:
    """What one poll found: what `/desk source check` answers and the bench counts."""

    source: str
    status: str  # ok, not-modified, error, busy (another worker is polling it)
    new: int = 0
    first: bool = False  # the source's first good poll: recorded, not proposed
    proposed: list[str] = field(default_factory=list)  # titles
    same_story: int = 0
    skipped: list[str] = field(default_factory=list)  # entries left out, with the reason
    error: str = ""
