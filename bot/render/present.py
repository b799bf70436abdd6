"""Record items as mrkdwn blocks: wording from `templates`, structure from `bot.render.blocks`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from slack_sdk.models.blocks import Block, ButtonElement

from bot.render.blocks import BUTTON_TEXT, button, clip_words, context_line, divider, section
from bot.render.ids import Action
from bot.timeleft import (
    SHOWN_INSTANTS,
    describe_time_left,
    format_local,
    slack_date,
    time_left,
    unchanged_until,
)
from storage.events import EventView, Headline
from storage.models import (
    Deadline,
    DeadlineStatus,
    Level,
    Sensitivity,
    Track,
    TruceStatus,
    TruceTerm,
    Visibility,
)
from storage.rounds import RoundView
from storage.search import MARK_END, MARK_START, Hit
from storage.truces import TruceView
from templates import SlackMarkup, escape_mrkdwn, render, render_plain

LEVEL_ICONS = {
    Level.critical: ":red_circle:",
    Level.high: ":large_orange_circle:",
    Level.medium: ":large_yellow_circle:",
    Level.low: ":white_circle:",
}


ButtonVerb = Literal["edit", "edit_extend", "extend_edit", "mark_met", "reopen"]


def item_button(verb: ButtonVerb, item: str, action_id: str, value: int | None) -> ButtonElement:
    """A button whose label names the item it acts on ("Edit Taiwan"); a long name is cut
    at a word so the label fits Slack's 75 characters. The label is plain_text, as typed."""
    room = BUTTON_TEXT - (len(render_plain("item_button", verb=verb, item="x")) - 1)
    label = render_plain("item_button", verb=verb, item=clip_words(item, room))
    return button(label, action_id, "" if value is None else str(value))


READER_LABEL = "your time:"


def in_reader_zone(instant: datetime, reader_zone: str | None) -> SlackMarkup:
    """``your time: <date>`` as a `<!date^…>` token: Slack shows it in each reader's zone.

    The label is inside the token, so it appears only where Slack did the converting. The
    fallback (clients that cannot) is the time in `reader_zone`, the one reader's zone
    from `users.info`, in an answer only that reader sees; in a post many read (a channel
    post, a `public` answer: `reader_zone` None) it is UTC, named as such.
    """
    return _in_zone_utc(instant.astimezone(UTC), reader_zone)


@lru_cache(maxsize=SHOWN_INSTANTS)  # by the instant in UTC, as `format_local`'s memo
def _in_zone_utc(instant: datetime, reader_zone: str | None) -> SlackMarkup:
    fallback = format_local(instant, reader_zone or "UTC")
    return SlackMarkup(slack_date(instant, fallback, label=READER_LABEL))


def reader_span(start: datetime, end: datetime | None, reader_zone: str | None) -> SlackMarkup:
    """``your time: <start> – <end>``: both ends in the reader's zone (one label, as Slack
    shows both tokens converted or neither)."""
    shown = in_reader_zone(start, reader_zone)
    if end is None:
        return shown
    return SlackMarkup(f"{shown} – {slack_date(end, format_local(end, reader_zone or 'UTC'))}")


def left_text(due: datetime, *, now: datetime, zone: str) -> str:
    """``13 days 19 hours left · 10 business days``. Every answer that shows a deadline says
    it (twice: its block and the notification's fallback text), and it reads the same for a
    minute at most (`unchanged_until`): each deadline's is remembered with the span of
    instants it holds for, keyed by the instants in UTC (equal datetimes of one zone may be
    an hour apart in a DST fold)."""
    if due.utcoffset() is None or now.utcoffset() is None:
        return describe_time_left(time_left(due, now=now, zone=zone))  # refuses the naive
    return _left_utc(due.astimezone(UTC), now.astimezone(UTC), zone)


#: (due, zone) -> (the words, the first and the first-after-last instant they hold for)
_LEFT: dict[tuple[datetime, str], tuple[str, datetime, datetime]] = {}
_MOST_LEFT = 2048


def _left_utc(due: datetime, now: datetime, zone: str) -> str:
    key = (due, zone)
    known = _LEFT.get(key)
    if known is not None and known[1] <= now < known[2]:
        return known[0]
    words = describe_time_left(time_left(due, now=now, zone=zone))
    if len(_LEFT) >= _MOST_LEFT:
        _LEFT.clear()  # a record's worth of deadlines is far fewer: never a working set
    _LEFT[key] = (words, now, unchanged_until(due, now=now))
    return words


def term_line(term: TruceTerm) -> str:
    """``United States → China: additional tariff on Chinese goods, 30%``: who applies what
    to whom at what rate (SPEC §2), the target named once."""
    who = f"{term.party} → {term.target}" if term.target else term.party
    return f"{who}: {term.measure}" + (f", {term.rate}" if term.rate else "")


def truce_heading(views: Sequence[TruceView], *, now: datetime) -> str:
    """ "Active truce", "Lapsed truce", or "3 truces (1 lapsed)": as the clock reads them."""
    lapsed = sum(v.status_at(now) == TruceStatus.lapsed for v in views)
    if len(views) == 1:
        return "Lapsed truce" if lapsed else "Active truce"
    return f"{len(views)} truces" + (f" ({lapsed} lapsed)" if lapsed else "")


def expiry_left(expiry: Deadline, *, now: datetime) -> str:
    """The time left, or what a closed expiry means: marked met, the truce does not lapse."""
    if expiry.status == DeadlineStatus.open or expiry.status == DeadlineStatus.extended:
        return left_text(expiry.due_at, now=now, zone=expiry.zone)
    return render("truce_expiry_closed", status=expiry.status)


def truce_blocks(
    view: TruceView, *, now: datetime, reader_zone: str | None, is_lead: bool
) -> list[Block]:
    expiry = view.expiry
    zone = expiry.zone if expiry else "UTC"
    terms = [term_line(t) for t in view.terms]
    extensions = [
        f"{format_local(e.from_at, zone)} → {format_local(e.to_at, zone)}, "
        f"decided {format_local(e.decided_at, zone)}"
        + (f" ({e.source})" if e.source else "")
        + (f" — {e.note}" if e.note else "")
        for e in view.extensions
    ]
    text = render(
        "truce",
        title=view.truce.title,
        track=view.track.handle if view.track else "",
        parties=" · ".join(view.truce.parties),
        status=view.status_at(now),
        lapsed=view.status_at(now) == TruceStatus.lapsed,
        expired=bool(expiry and expiry.due_at <= now),  # marked met: past, yet not lapsed
        expiry_local=format_local(expiry.due_at, expiry.zone) if expiry else "",
        expiry_reader=in_reader_zone(expiry.due_at, reader_zone) if expiry else "",
        left=expiry_left(expiry, now=now) if expiry else "",
        terms=terms,
        extensions=extensions,
    )
    accessory = (
        item_button("edit_extend", view.truce.title, Action.open_truce_form, view.truce.id)
        if is_lead
        else None
    )
    blocks: list[Block] = [section(text, accessory=accessory)]
    if view.truce.source_name:
        blocks.append(context_line(f"Source: {escape_mrkdwn(view.truce.source_name)}"))
    return blocks


def deadline_block(
    deadline: Deadline,
    *,
    tracks: dict[int, Track],
    now: datetime,
    reader_zone: str | None,
    is_lead: bool,
    name_desk_wide: bool = False,
) -> Block:
    """A deadline; `name_desk_wide` (a listing for one track) labels one of no track so."""
    track = tracks.get(deadline.track_id) if deadline.track_id else None
    text = render(
        "deadline_line",
        title=deadline.title,
        track=track.handle if track else ("desk-wide" if name_desk_wide else ""),
        restricted=deadline.visibility == Visibility.restricted,
        due_local=format_local(deadline.due_at, deadline.zone),
        due_reader=in_reader_zone(deadline.due_at, reader_zone),
        left=left_text(deadline.due_at, now=now, zone=deadline.zone),
        kind=deadline.kind.replace("_", " "),
        ref=deadline.id,
    )
    accessory = (
        item_button("edit", deadline.title, Action.edit_deadline, deadline.id) if is_lead else None
    )
    return section(text, accessory=accessory)


def round_block(view: RoundView, *, is_lead: bool, reader_zone: str | None = None) -> Block:
    """A round with its times in its own zone, and both in the reader's."""
    talks = view.round
    when = format_local(talks.starts_at, talks.zone)
    if talks.ends_at:
        when += " – " + format_local(talks.ends_at, talks.zone)
    text = render(
        "round",
        title=talks.title,
        track=view.track.handle if view.track else "",
        place=talks.place,
        when=when,
        when_reader=reader_span(talks.starts_at, talks.ends_at, reader_zone),
        status=view.status.replace("_", " "),
        delegations=[
            f"{d.party}: {d.lead_name}" + (f", {d.lead_title}" if d.lead_title else "")
            for d in view.delegations
        ],
        outcome=talks.outcome,
        ref=talks.id,
    )
    accessory = item_button("edit", talks.title, Action.edit_round, talks.id) if is_lead else None
    return section(text, accessory=accessory)


def event_block(view: EventView, *, alerted: bool = False, reader_zone: str | None = None) -> Block:
    """An event with its time in its own zone and the reader's (Slack's `<!date^…>`: each
    reader's own, with `reader_zone` for clients that cannot convert; UTC in a post)."""
    event = view.event
    source = event.source_name
    if event.source_url:
        source = f"{source} ({event.source_url})" if source else event.source_url
    return section(
        render(
            "event_line",
            title=event.title,
            when=format_local(event.occurred_at, event.zone),
            when_reader=in_reader_zone(event.occurred_at, reader_zone),
            confidence=event.confidence,
            restricted=event.visibility == Visibility.restricted,
            summary=event.summary,
            source=source,
            tags=", ".join(s.name for s in view.sensitivities),
            alerted=alerted,
        )
    )


def sensitivity_block(item: Sensitivity, latest: Sequence[Headline], *, is_lead: bool) -> Block:
    latest_text = "; ".join(f"{e.title} ({format_local(e.occurred_at, e.zone)})" for e in latest)
    text = render(
        "sensitivity",
        icon=SlackMarkup(LEVEL_ICONS.get(Level(item.level), "")),
        name=item.name,
        level=item.level,
        restricted=item.visibility == Visibility.restricted,
        description=item.description,
        latest=latest_text,
        handle=item.slug,
    )
    accessory = (
        item_button("edit", item.name, Action.edit_sensitivity, item.id) if is_lead else None
    )
    return section(text, accessory=accessory)


def separated(groups: Sequence[Sequence[Block]]) -> list[Block]:
    blocks: list[Block] = []
    for group in groups:
        if blocks:
            blocks.append(divider())
        blocks.extend(group)
    return blocks


HIT_KINDS = {
    "event": "Event",
    "deadline": "Deadline",
    "round": "Talks round",
    "sensitivity": "Sensitivity",
    "term": "Truce term",
}


def marked_snippet(snippet: str) -> SlackMarkup:
    """The snippet escaped for mrkdwn, its matches in bold (the marks are never typed)."""
    text = " ".join(escape_mrkdwn(snippet).split())
    return SlackMarkup(text.replace(MARK_START, "*").replace(MARK_END, "*"))


def hit_block(
    hit: Hit, *, tracks: Mapping[int | None, Track], reader_zone: str | None = None
) -> Block:
    track = tracks.get(hit.track_id) if hit.track_id is not None else None
    return section(
        render(
            "search_hit",
            kind=HIT_KINDS[hit.kind],
            title=hit.title,
            when=format_local(hit.when, hit.zone or "UTC") if hit.when else "",
            when_reader=in_reader_zone(hit.when, reader_zone) if hit.when else "",
            track=track.handle if track else "",
            snippet=marked_snippet(hit.snippet) if hit.snippet else "",
        )
    )
