"""The record's tables (SPEC §2). Times are tz-aware UTC; zones are IANA names.

Enumerations are stored as short strings (checked in the service layer) so that a new
value never needs a database enum migration.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


def json_column(*, nullable: bool = False) -> Any:
    return Field(default=None if nullable else ..., sa_column=Column(JSON, nullable=nullable))


#: Event's (id, visibility, occurred_at, track_id) index: see `storage.search`.
SEARCH_FILTER_INDEX = "ix_event_search_filter"


class TrackStatus(StrEnum):
    active = "active"
    dormant = "dormant"
    closed = "closed"


class RoundStatus(StrEnum):
    scheduled = "scheduled"
    in_progress = "in_progress"
    concluded = "concluded"
    cancelled = "cancelled"


class TruceStatus(StrEnum):
    active = "active"
    extended = "extended"
    lapsed = "lapsed"
    superseded = "superseded"


class DeadlineKind(StrEnum):
    truce_expiry = "truce_expiry"
    tariff_action = "tariff_action"
    legislative_step = "legislative_step"
    meeting = "meeting"
    other = "other"


class DeadlineStatus(StrEnum):
    open = "open"
    met = "met"
    missed = "missed"
    extended = "extended"
    cancelled = "cancelled"


class Level(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Confidence(StrEnum):
    rumour = "rumour"
    reported = "reported"
    confirmed = "confirmed"
    official = "official"


class EventKind(StrEnum):
    talks = "talks"
    statement = "statement"
    report = "report"
    agreement = "agreement"
    measure = "measure"
    legislation = "legislation"
    diplomatic = "diplomatic"
    other = "other"


class Visibility(StrEnum):
    team = "team"
    restricted = "restricted"


class Role(StrEnum):
    member = "member"
    lead = "lead"
    admin = "admin"


class DeliveryKind(StrEnum):
    countdown = "countdown"
    digest = "digest"
    alert = "alert"
    notice = "notice"
    proposal = "proposal"  # a feed item proposed in a review channel


class SourceKind(StrEnum):
    feed = "feed"  # RSS or Atom
    federal_register = "federal_register"  # the Federal Register's documents.json search


class ItemState(StrEnum):
    new = "new"  # stored, not proposed (a first poll, or nothing it watches matched)
    proposed = "proposed"
    dismissed = "dismissed"
    added = "added"  # turned into an event (`event_id`)


class DeliveryStatus(StrEnum):
    pending = "pending"
    claimed = "claimed"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"


class Track(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=150)
    parties: list[str] = json_column()
    status: str = Field(default=TrackStatus.active, max_length=20)
    seed_key: str | None = Field(default=None, max_length=80, unique=True)


class TalksRound(SQLModel, table=True):
    __tablename__ = "talks_round"
    id: int | None = Field(default=None, primary_key=True)
    track_id: int | None = Field(default=None, foreign_key="track.id", index=True)
    title: str = Field(max_length=150)
    place: str = Field(default="", max_length=150)
    starts_at: datetime = utc_column()
    ends_at: datetime | None = utc_column(nullable=True)
    zone: str = Field(default="UTC", max_length=64)
    status: str = Field(default=RoundStatus.scheduled, max_length=20)
    outcome: str = Field(default="", max_length=3000)
    source_name: str = Field(default="", max_length=300)
    source_url: str = Field(default="", max_length=1000)
    seed_key: str | None = Field(default=None, max_length=80, unique=True)


class Delegation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="talks_round.id", index=True)
    party: str = Field(max_length=150)
    lead_name: str = Field(max_length=150)
    lead_title: str = Field(default="", max_length=150)


class Truce(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    track_id: int | None = Field(default=None, foreign_key="track.id", index=True)
    title: str = Field(max_length=150)
    parties: list[str] = json_column()
    starts_at: datetime | None = utc_column(nullable=True)
    status: str = Field(default=TruceStatus.active, max_length=20)
    source_name: str = Field(default="", max_length=300)
    source_url: str = Field(default="", max_length=1000)
    seed_key: str | None = Field(default=None, max_length=80, unique=True)


class TruceTerm(SQLModel, table=True):
    __tablename__ = "truce_term"
    id: int | None = Field(default=None, primary_key=True)
    truce_id: int = Field(foreign_key="truce.id", index=True)
    party: str = Field(max_length=150)
    measure: str = Field(max_length=300)
    rate: str = Field(default="", max_length=50)
    target: str = Field(default="", max_length=150)
    position: int = 0


class TruceExtension(SQLModel, table=True):
    __tablename__ = "truce_extension"
    id: int | None = Field(default=None, primary_key=True)
    truce_id: int = Field(foreign_key="truce.id", index=True)
    from_at: datetime = utc_column()
    to_at: datetime = utc_column()
    decided_at: datetime = utc_column()
    decided_by: str = Field(max_length=40)
    source: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=1000)


class Deadline(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    track_id: int | None = Field(default=None, foreign_key="track.id", index=True)
    title: str = Field(max_length=150)
    due_at: datetime = utc_column(index=True)
    zone: str = Field(default="UTC", max_length=64)
    kind: str = Field(default=DeadlineKind.other, max_length=20)
    status: str = Field(default=DeadlineStatus.open, max_length=20)
    truce_id: int | None = Field(default=None, foreign_key="truce.id", index=True)
    round_id: int | None = Field(default=None, foreign_key="talks_round.id")
    offsets: str | None = Field(default=None, max_length=200)
    visibility: str = Field(default=Visibility.team, max_length=20)
    created_at: datetime = utc_column()
    # Since when the current due time stands: countdowns that fell due before it are history.
    planned_from: datetime | None = utc_column(nullable=True)
    seed_key: str | None = Field(default=None, max_length=80, unique=True)


class Sensitivity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60, unique=True, index=True)
    name: str = Field(max_length=100)
    level: str = Field(default=Level.medium, max_length=20)
    description: str = Field(default="", max_length=2000)
    keywords: list[str] = json_column()
    visibility: str = Field(default=Visibility.team, max_length=20)


class Event(SQLModel, table=True):
    # What a search filters each full-text match by, beside its id (migration
    # 0007_search_filter): read from this narrow index, not from the wide rows.
    __table_args__ = (Index(SEARCH_FILTER_INDEX, "id", "visibility", "occurred_at", "track_id"),)
    id: int | None = Field(default=None, primary_key=True)
    track_id: int | None = Field(default=None, foreign_key="track.id", index=True)
    occurred_at: datetime = utc_column(index=True)
    zone: str = Field(default="UTC", max_length=64)
    kind: str = Field(default=EventKind.other, max_length=20)
    title: str = Field(max_length=150)
    summary: str = Field(default="", max_length=3000)
    source_name: str = Field(default="", max_length=300)
    source_url: str = Field(default="", max_length=1000)
    confidence: str = Field(default=Confidence.reported, max_length=20)
    visibility: str = Field(default=Visibility.team, max_length=20)
    round_id: int | None = Field(default=None, foreign_key="talks_round.id")
    created_at: datetime = utc_column(index=True)
    created_by: str = Field(default="", max_length=40)
    seed_key: str | None = Field(default=None, max_length=80, unique=True)


class EventSensitivity(SQLModel, table=True):
    """A tag. `occurred_at` and `visibility` are the event's, copied by the database's own
    triggers (migration 0006_topic_recency) so that a topic's latest events are one index
    range; Parley never sets them."""

    __tablename__ = "event_sensitivity"
    __table_args__ = (
        Index("ix_event_sensitivity_recency", "sensitivity_id", "occurred_at", "event_id"),
    )
    event_id: int = Field(foreign_key="event.id", primary_key=True)
    sensitivity_id: int = Field(foreign_key="sensitivity.id", primary_key=True, index=True)
    occurred_at: datetime | None = utc_column(nullable=True)
    visibility: str | None = Field(default=None, max_length=20)


class Subscription(SQLModel, table=True):
    channel_id: str = Field(primary_key=True, max_length=40)
    tracks: list[str] | None = json_column(nullable=True)
    digest_enabled: bool = True
    digest_time: str = Field(default="08:00", max_length=5)
    digest_zone: str = Field(default="UTC", max_length=64)
    weekdays_only: bool = False
    countdowns_enabled: bool = True
    restricted: bool = False
    review: bool = False  # gets the proposals from news sources (`/desk subscribe review on`)
    active: bool = True
    created_by: str = Field(max_length=40)
    created_at: datetime = utc_column()
    # Since when it is (again) active: posts that fell due before it are not owed to it.
    active_since: datetime | None = utc_column(nullable=True)


class Source(SQLModel, table=True):
    """A feed Parley polls; its health is data shown to the desk, not only a log line."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    url: str = Field(max_length=1000, unique=True)
    kind: str = Field(default=SourceKind.feed, max_length=20)
    tracks: list[str] | None = json_column(nullable=True)
    confidence: str = Field(default=Confidence.reported, max_length=20)
    poll_minutes: int = 15
    enabled: bool = True
    muted: list[str] = json_column()  # keyword exclusions ("Mute similar")
    etag: str | None = Field(default=None, max_length=300)
    last_modified: str | None = Field(default=None, max_length=100)
    last_polled_at: datetime | None = utc_column(nullable=True)
    last_success_at: datetime | None = utc_column(nullable=True)
    last_error: str = Field(default="", max_length=1000)
    last_error_at: datetime | None = utc_column(nullable=True)
    consecutive_failures: int = 0
    items_seen: int = 0
    failing_notified: bool = False  # the lead was told it keeps failing (told again on recovery)
    next_poll_at: datetime = utc_column(index=True)
    claimed_by: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = utc_column(nullable=True)
    added_by: str = Field(max_length=40)
    added_at: datetime = utc_column()
    verified: bool = True  # False for seeded examples whose address nobody has checked
    seed_key: str | None = Field(default=None, max_length=80, unique=True)


class FeedItem(SQLModel, table=True):
    """One entry of one source, stored once: keyed by its guid, else its cleaned link."""

    __tablename__ = "feed_item"
    __table_args__ = (UniqueConstraint("source_id", "key", name="uq_feed_item_source_key"),)
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    key: str = Field(max_length=1000)
    title: str = Field(default="", max_length=300)
    link: str = Field(default="", max_length=1000)
    published_at: datetime | None = utc_column(nullable=True)
    summary: str = Field(default="", max_length=3000)
    fetched_at: datetime = utc_column(index=True)
    state: str = Field(default=ItemState.new, max_length=20, index=True)
    matched: list[str] = json_column()  # slugs of the sensitivities it mentions
    mentioned: list[str] = json_column()  # tracked parties and people it names
    # The same story seen first from another source: shown once, naming both.
    same_as_id: int | None = Field(default=None, foreign_key="feed_item.id")
    event_id: int | None = Field(default=None, foreign_key="event.id")
    decided_by: str = Field(default="", max_length=40)
    decided_at: datetime | None = utc_column(nullable=True)


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grant"
    user_id: str = Field(primary_key=True, max_length=40)
    role: str = Field(max_length=20)
    granted_by: str = Field(max_length=40)
    granted_at: datetime = utc_column()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column(index=True)
    actor: str = Field(max_length=40)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: str = Field(default="", max_length=80)
    before: dict[str, Any] | None = json_column(nullable=True)
    after: dict[str, Any] | None = json_column(nullable=True)


class Delivery(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("key", name="uq_delivery_key"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300)
    kind: str = Field(max_length=20)
    channel_id: str = Field(max_length=40, index=True)
    due_at: datetime = utc_column(index=True)
    status: str = Field(default=DeliveryStatus.pending, max_length=20, index=True)
    claimed_by: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = utc_column(nullable=True)
    attempts: int = 0
    retry_at: datetime | None = utc_column(nullable=True)
    last_error: str = Field(default="", max_length=1000)
    ts: str | None = Field(default=None, max_length=40)
    payload: dict[str, Any] | None = json_column(nullable=True)
    created_at: datetime = utc_column()
    sent_at: datetime | None = utc_column(nullable=True)


class HandledRequest(SQLModel, table=True):
    """Slack event ids already handled, so a Slack retry has no second effect."""

    __tablename__ = "handled_request"
    request_id: str = Field(primary_key=True, max_length=120)
    handled_at: datetime = utc_column()
