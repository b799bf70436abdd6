"""`GET /calendar.ics?token=…`: open deadlines and coming talks rounds as an RFC 5545 feed.

    app = Starlette(routes=[calendar_route(db=db, settings=settings, clock=clock)])

The feed is rendered from the database on every request, so a change shows at the next
poll; its ETag is a hash of the body, so a client polling an unchanged record gets a 304.
DTSTAMP is each item's last audited change (not the request time), which keeps the body,
and so the ETag, the same until the record changes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.clock import Clock
from bot.settings import DEFAULT_OFFSETS, Settings
from bot.timeleft import format_local
from bot.timeparse import format_offset, parse_offsets
from storage import rounds
from storage.db import Database
from storage.models import (
    AuditEntry,
    Deadline,
    DeadlineStatus,
    Delegation,
    RoundStatus,
    TalksRound,
    Track,
    Visibility,
)
from storage.planning import deadline_offsets

log = logging.getLogger("parley.calendar")

PATH = "/calendar.ics"
MEDIA_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//Parley//Negotiation desk record//EN"
FORBIDDEN = "forbidden"
NOT_ENABLED = "not found"
UNAVAILABLE = "the record is unavailable, try again"
# A hint to clients; the server side reflects a change at the very next request.
REFRESH = timedelta(minutes=15)
_OPEN_ROUNDS = (RoundStatus.scheduled, RoundStatus.in_progress)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")  # zones are checked when written; never fail a whole feed


async def _last_changes(session: AsyncSession) -> dict[tuple[str, str], datetime]:
    """(entity, entity_id) -> its latest audit entry, for the entities the feed shows."""
    query = (
        select(AuditEntry.entity, AuditEntry.entity_id, func.max(AuditEntry.at))
        .where(col(AuditEntry.entity).in_(("deadline", "truce", "round")))
        .group_by(col(AuditEntry.entity), col(AuditEntry.entity_id))
    )
    rows = (await session.exec(query)).all()
    return {(entity, entity_id): at for entity, entity_id, at in rows if at is not None}


def _stamp(*candidates: datetime | None, fallback: datetime) -> datetime:
    present = [c for c in candidates if c is not None]
    return max(present) if present else fallback


def _deadline_event(
    deadline: Deadline,
    *,
    track: Track | None,
    stamp: datetime,
    offsets: Sequence[timedelta],
) -> Event:
    zone = _zone(deadline.zone)
    due = deadline.due_at.astimezone(zone)
    kind = deadline.kind.replace("_", " ")
    restricted = deadline.visibility == Visibility.restricted
    lines = [
        f"Deadline ({kind}) due {format_local(deadline.due_at, zone.key)}"
        f" = {format_local(deadline.due_at, 'UTC')}.",
    ]
    if track is not None:
        lines.append(f"Track: {track.name} ({track.handle}).")
    if restricted:
        lines.append("Restricted: not for channels outside the restricted ones.")
    lines.append("Countdowns: " + ", ".join(format_offset(o) for o in offsets) + ".")
    event = Event()
    event.add("uid", f"deadline-{deadline.id}@parley")
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", due)
    event.add("summary", f"Deadline: {deadline.title}")
    event.add("description", "\n".join(lines))
    event.add("categories", ["deadline", kind] + ([track.handle] if track else []))
    event.add("class", "CONFIDENTIAL" if restricted else "PUBLIC")
    event.add("transp", "TRANSPARENT")
    for offset in offsets:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -offset)
        left = "due now" if not offset else f"{format_offset(offset)} left"
        alarm.add("description", f"{deadline.title}: {left}")
        event.add_component(alarm)
    return event


def _round_event(
    talks: TalksRound,
    *,
    track: Track | None,
    delegations: Sequence[Delegation],
    stamp: datetime,
    now: datetime,
) -> Event:
    zone = _zone(talks.zone)
    # as `/talks` reads it (status follows time, SPEC §3); the ETag changes with it
    lines = [f"Talks round, {rounds.status_at(talks, now).replace('_', ' ')}."]
    if track is not None:
        lines.append(f"Track: {track.name} ({track.handle}).")
    for item in delegations:
        lead = f"{item.lead_name}, {item.lead_title}" if item.lead_title else item.lead_name
        lines.append(f"{item.party}: {lead}.")
    event = Event()
    event.add("uid", f"round-{talks.id}@parley")
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", talks.starts_at.astimezone(zone))
    if talks.ends_at is not None and talks.ends_at > talks.starts_at:
        event.add("dtend", talks.ends_at.astimezone(zone))
    event.add("summary", f"Talks: {talks.title}")
    if talks.place:
        event.add("location", talks.place)
    event.add("description", "\n".join(lines))
    event.add("categories", ["talks"] + ([track.handle] if track else []))
    event.add("status", "CONFIRMED")
    return event


async def render_calendar(
    session: AsyncSession,
    *,
    now: datetime,
    include_restricted: bool,
    default_offsets: Sequence[timedelta] | None = None,
) -> bytes:
    """The feed: every open deadline and every scheduled or in-progress talks round.

    `now` only stands in for DTSTAMP of an item that has no audit entry (a row written
    around the services); restricted deadlines appear only with `include_restricted`.
    """
    default = list(default_offsets or parse_offsets(DEFAULT_OFFSETS))
    deadline_query = select(Deadline).where(col(Deadline.status) == DeadlineStatus.open)
    if not include_restricted:
        deadline_query = deadline_query.where(col(Deadline.visibility) == Visibility.team)
    deadlines = (await session.exec(deadline_query.order_by(col(Deadline.id)))).all()
    rounds = (
        await session.exec(
            select(TalksRound)
            .where(col(TalksRound.status).in_(_OPEN_ROUNDS))
            .order_by(col(TalksRound.id))
        )
    ).all()
    round_ids = [r.id for r in rounds]
    delegations = (
        await session.exec(
            select(Delegation)
            .where(col(Delegation.round_id).in_(round_ids))
            .order_by(col(Delegation.id))
        )
    ).all()
    tracks = {t.id: t for t in (await session.exec(select(Track))).all()}
    changed = await _last_changes(session)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    name = "Parley: deadlines and talks" + (" (restricted)" if include_restricted else "")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT15M")
    instants: list[datetime] = []
    for deadline in deadlines:
        stamp = _stamp(
            deadline.created_at,
            changed.get(("deadline", str(deadline.id))),
            changed.get(("truce", str(deadline.truce_id))) if deadline.truce_id else None,
            fallback=now,
        )
        track = tracks.get(deadline.track_id) if deadline.track_id else None
        offsets = deadline_offsets(deadline, default)
        calendar.add_component(_deadline_event(deadline, track=track, stamp=stamp, offsets=offsets))
        instants.append(deadline.due_at)
    for talks in rounds:
        stamp = _stamp(changed.get(("round", str(talks.id))), fallback=now)
        track = tracks.get(talks.track_id) if talks.track_id else None
        own = [d for d in delegations if d.round_id == talks.id]
        calendar.add_component(
            _round_event(talks, track=track, delegations=own, stamp=stamp, now=now)
        )
        instants.extend(i for i in (talks.starts_at, talks.ends_at) if i is not None)
    if instants:
        # Transitions only for the years the feed spans: a smaller, stable VTIMEZONE.
        calendar.add_missing_timezones(
            first_date=date(min(instants).year - 1, 1, 1),
            last_date=date(max(instants).year + 2, 1, 1),
        )
    body: bytes = calendar.to_ical()
    return body


def _token_matches(given: bytes, expected: str | None) -> bool:
    return expected is not None and hmac.compare_digest(given, expected.encode())


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _not_modified(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def calendar_route(*, db: Database, settings: Settings, clock: Clock) -> Route:
    """GET /calendar.ics: 404 unless PARLEY_CALENDAR_TOKEN is set, 403 for a wrong token.

    PARLEY_CALENDAR_RESTRICTED_TOKEN, when set, gives the feed with restricted deadlines.
    """

    async def calendar(request: Request) -> Response:
        if not settings.calendar_token:
            return PlainTextResponse(NOT_ENABLED, status_code=404)
        given = request.query_params.get("token", "").encode()
        team = _token_matches(given, settings.calendar_token)
        restricted = _token_matches(given, settings.calendar_restricted_token)
        if not (team or restricted):
            return PlainTextResponse(
                FORBIDDEN, status_code=403, headers={"cache-control": "no-store"}
            )
        try:
            async with db.session() as session:
                body = await render_calendar(
                    session,
                    now=clock.now(),
                    include_restricted=restricted,
                    default_offsets=settings.countdown_offsets,
                )
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.error("calendar feed: database unavailable: %s", type(exc).__name__)
            return PlainTextResponse(UNAVAILABLE, status_code=503)
        etag = _etag(body)
        headers = {"etag": etag, "cache-control": "private, no-cache"}
        if _not_modified(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        headers["content-disposition"] = 'inline; filename="parley.ics"'
        return Response(body, media_type=MEDIA_TYPE, headers=headers)

    return Route(PATH, calendar, methods=["GET"])
