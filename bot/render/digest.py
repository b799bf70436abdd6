"""The daily digest: deadlines ahead, what changed, hot sensitivities, current and next talks.

Empty sections are left out. Restricted items appear only in restricted channels.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.blocks import context_line, header, line_sections, message, section
from bot.render.changelog import describe
from bot.render.intake import news_lines
from bot.render.present import expiry_left, in_reader_zone, left_text
from bot.runtime import Runtime
from bot.timeleft import format_day, format_local
from storage import (
    deadlines,
    events,
    feed_items,
    history,
    outbox,
    rounds,
    sensitivities,
    tracks,
    truces,
)
from storage.access import SEED
from storage.models import AuditEntry, Deadline, DeadlineKind, RoundStatus, TruceStatus
from storage.planning import followed_tracks
from storage.subscriptions import get_subscription
from templates import escape_mrkdwn, render

DEADLINE_HORIZON = timedelta(days=30)
DEADLINES_SHOWN = 15  # in "Deadlines ahead"; past them, a line counts the rest
SOON = timedelta(days=7)  # a deadline this close keeps a day from being quiet
FIRST_DIGEST_COVERS = timedelta(days=1)
CHANGES_SHOWN = 15
HISTORY_MAX = 200  # the most `/desk history N` lists at once
TALKS_AHEAD = timedelta(days=7)
NEWS_SHOWN = 5  # untriaged proposals listed; the rest are counted


async def _truce_lines(
    session: AsyncSession, *, now: datetime, shown_at: datetime, track_ids: list[int] | None
) -> list[str]:
    """Every truce in force or lapsed, with its time left: there whatever its distance."""
    lines = []
    for view in await truces.truce_views(session, track_ids=track_ids):
        expiry = view.expiry
        if expiry is None:
            continue
        lines.append(
            render(
                "digest_truce",
                title=view.truce.title,
                lapsed=view.status_at(now) == TruceStatus.lapsed,
                due=format_local(expiry.due_at, expiry.zone),
                due_reader=in_reader_zone(expiry.due_at, None),  # a channel post: many read it
                left=expiry_left(expiry, now=shown_at),
            )
        )
    return lines


def _deadline_lines(items: list[Deadline], *, shown_at: datetime) -> list[str]:
    return [
        render(
            "digest_deadline",
            title=d.title,
            ref=d.id,
            due=format_local(d.due_at, d.zone),
            due_reader=in_reader_zone(d.due_at, None),  # a channel post: many read it
            left=left_text(d.due_at, now=shown_at, zone=d.zone),
        )
        for d in items
    ]


def _moved_to(entry: AuditEntry, ref: int | None) -> tuple[int, datetime] | None:
    """(deadline id, new due instant) when this entry moved a deadline's due time."""
    before, after = entry.before or {}, entry.after or {}
    due = after.get("due_at")
    if ref is None or not isinstance(due, str) or before.get("due_at") == due:
        return None
    try:
        return ref, datetime.fromisoformat(due)
    except ValueError:
        return None


async def _change_blocks(
    session: AsyncSession,
    found: list[history.Change],
    more: int,
    *,
    zone: str,
    alerted: Collection[int],
    alerted_truces: Collection[int],
    alerted_moves: Collection[tuple[int, datetime]],
) -> list[Block]:
    """WHAT CHANGED: one line a change, newest first, grouped by track when several."""
    handles = {t.id: t.handle for t in await tracks.all_tracks(session) if t.id is not None}
    groups: dict[str, list[str]] = {}
    for change in found:
        line = describe(change, zone=zone)
        entry = change.entry
        ref = int(entry.entity_id) if entry.entity_id.isdigit() else None
        if (
            (entry.entity == "event" and ref in alerted)
            or (
                entry.entity == "truce"
                and entry.action in ("lapse", "extend")
                and ref in alerted_truces
            )
            or (entry.entity == "deadline" and _moved_to(entry, ref) in alerted_moves)
        ):
            line += " — _already alerted_"
        group = handles.get(change.track_id, "") if change.track_id else "desk-wide"
        groups.setdefault(group, []).append(f"• {line}")
    blocks: list[Block] = [header("What changed")]
    for group, lines in groups.items():
        if len(groups) > 1:
            lines = [f"*{escape_mrkdwn(group)}*", *lines]
        blocks += line_sections(lines)
    if more:
        total = min(more + CHANGES_SHOWN, HISTORY_MAX)
        blocks.append(context_line(render("digest_more", more=more, total=total)))
    return blocks


async def _quiet_line(
    session: AsyncSession,
    *,
    now: datetime,
    shown_at: datetime,
    since: datetime,
    zone: str,
    track_ids: list[int] | None,
    include_restricted: bool,
) -> Block:
    """A quiet day in one line: since when nothing changed, and what comes next."""
    ahead = await deadlines.upcoming_deadlines(
        session, now=now, track_ids=track_ids, include_restricted=include_restricted, limit=1
    )
    return section(
        render(
            "digest_quiet",
            since=_since_text(since, shown_at, zone),
            next_title=ahead[0].title if ahead else "",
            next_left=left_text(ahead[0].due_at, now=shown_at, zone=ahead[0].zone) if ahead else "",
        )
    )


def _since_text(since: datetime, now: datetime, zone: str) -> str:
    """``Wed 30 Jul``; or ``08:00 today`` when the last digest was today (a digest asked
    for after the morning's must not say "since Thu 31 Jul" on Thu 31 Jul)."""
    local = ZoneInfo(zone)
    if since.astimezone(local).date() == now.astimezone(local).date():
        return f"{since.astimezone(local):%H:%M} today"
    return format_day(since, zone)


async def digest_blocks(
    session: AsyncSession,
    *,
    now: datetime,
    zone: str,
    track_ids: list[int] | None,
    include_restricted: bool,
    since: datetime,
    alerted: Collection[int] = (),
    alerted_truces: Collection[int] = (),
    alerted_moves: Collection[tuple[int, datetime]] = (),
    shown_at: datetime | None = None,
) -> list[Block]:
    """The digest's sections, or one line on a quiet day (nothing changed since `since`,
    no deadline passed since then, none due within 7 days, no event came into view, no
    round in progress or starting within 7 days).
    Events in `alerted`, truce changes in `alerted_truces` and expiry moves in
    `alerted_moves` (deadline id, new due instant) are marked as already alerted.
    Time left is given as of `shown_at` (the digest's own time when it goes out a few
    seconds after it)."""
    shown_at = shown_at or now
    found, more = await history.changes(
        session,
        include_restricted=include_restricted,
        track_ids=track_ids,
        since=since,
        until=now,
        limit=CHANGES_SHOWN,
        without_actors=(SEED.id,),  # the seed is the record's history, not news
    )
    fetched = await deadlines.upcoming_deadlines(
        session,
        now=now,
        track_ids=track_ids,
        include_restricted=include_restricted,
        limit=DEADLINES_SHOWN,
    )
    ahead = [d for d in fetched if d.due_at - now <= DEADLINE_HORIZON]
    ahead_more = 0
    if len(ahead) == DEADLINES_SHOWN:  # perhaps more within the horizon: count them
        within = await deadlines.count_upcoming(
            session,
            now=now,
            track_ids=track_ids,
            include_restricted=include_restricted,
            until=now + DEADLINE_HORIZON,
        )
        ahead_more = within - len(ahead)
    passed = await deadlines.recently_passed(
        session, now=now, track_ids=track_ids, include_restricted=include_restricted
    )
    passed_since = any(d.due_at > since for d in passed)
    news, news_more = await feed_items.untriaged(
        session, include_restricted=include_restricted, limit=NEWS_SHOWN, track_ids=track_ids
    )
    hot = await _hot_lines(session, now=now, since=since, include_restricted=include_restricted)
    talks = await _talks_lines(session, now=now, track_ids=track_ids)
    if (
        not found
        and not passed_since
        and not news
        and not hot
        and not talks  # a round in progress or within 7 days is news every day
        and not any(d.due_at - now <= SOON for d in ahead)
    ):
        return [
            await _quiet_line(
                session,
                now=now,
                shown_at=shown_at,
                since=since,
                zone=zone,
                track_ids=track_ids,
                include_restricted=include_restricted,
            )
        ]
    blocks: list[Block] = []
    truce_lines = await _truce_lines(session, now=now, shown_at=shown_at, track_ids=track_ids)
    if truce_lines:
        blocks.append(header("Truce" if len(truce_lines) == 1 else "Truces"))
        blocks += line_sections(truce_lines)
    # a truce's expiry is on the truce's own line
    ahead = [d for d in ahead if d.kind != DeadlineKind.truce_expiry]
    passed = [d for d in passed if d.kind != DeadlineKind.truce_expiry]
    if ahead or ahead_more:
        blocks.append(header("Deadlines ahead"))
        blocks += line_sections(_deadline_lines(ahead, shown_at=shown_at))
        if ahead_more:
            days = DEADLINE_HORIZON.days
            blocks.append(context_line(render("digest_deadlines_more", more=ahead_more, days=days)))
    if passed:
        blocks.append(header("Recently passed"))
        blocks += line_sections(_deadline_lines(passed, shown_at=shown_at))
    if found:
        blocks += await _change_blocks(
            session,
            found,
            more,
            zone=zone,
            alerted=alerted,
            alerted_truces=alerted_truces,
            alerted_moves=alerted_moves,
        )
    if hot:
        blocks.append(header("Sensitivities"))
        blocks += line_sections(hot)
    if talks:
        blocks.append(header("Talks"))
        blocks += line_sections(talks)
    if news:
        blocks.append(header("From the news"))
        blocks += line_sections(news_lines(news, zone=zone))
        if news_more:
            blocks.append(context_line(render("digest_news_more", more=news_more)))
    return blocks


async def _hot_lines(
    session: AsyncSession, *, now: datetime, since: datetime, include_restricted: bool
) -> list[str]:
    """Sensitivities with events new to the desk since the last digest (not the same ones
    every day): added since, or added before but dated since (seeded or imported news, not
    in view until its time)."""
    hot = []
    items = await sensitivities.all_sensitivities(session, include_restricted=include_restricted)
    latest = await events.latest_by_sensitivity(
        session,
        sensitivity_ids=[i.id for i in items if i.id is not None],
        include_restricted=include_restricted,
        until=now,
        per_topic=10,
    )
    for item in items:
        recent = [
            e for e in latest.get(item.id or 0, []) if max(e.created_at, e.occurred_at) > since
        ]
        if recent:
            hot.append(
                render(
                    "digest_sensitivity",
                    name=item.name,
                    level=item.level,
                    count=len(recent),
                    latest=recent[0].title,
                )
            )
    return hot


async def _talks_lines(
    session: AsyncSession, *, now: datetime, track_ids: list[int] | None
) -> list[str]:
    """Rounds in progress, or starting within 7 days: not the same past round every day."""
    latest, upcoming = await rounds.latest_and_next(session, now=now, track_ids=track_ids)
    shown = [v for v in latest if v.status == RoundStatus.in_progress] + [
        v for v in upcoming if v.round.starts_at - now <= TALKS_AHEAD
    ]
    return [
        render(
            "digest_round",
            title=v.round.title,
            place=v.round.place,
            when=format_local(v.round.starts_at, v.round.zone),
            status=v.status.replace("_", " "),
        )
        for v in shown
    ]


async def channel_digest(
    session: AsyncSession,
    *,
    now: datetime,
    channel_id: str,
    default_zone: str,
    shown_at: datetime | None = None,
) -> dict[str, Any]:
    """The digest for one channel, scoped by its subscription (all active tracks if none).

    "What changed" runs from the last digest posted in the channel; the first one after
    subscribing, from the subscription (at most a day back). Events already alerted there
    are marked so.
    """
    subscription = await get_subscription(session, channel_id)
    scope = followed_tracks(subscription, await tracks.all_tracks(session))
    last = await outbox.last_sent_digest(session, channel_id)
    since = now - FIRST_DIGEST_COVERS
    if subscription is not None and subscription.active_since is not None:
        # (since, now]: a change made in the same instant as subscribing is after it
        since = max(since, subscription.active_since - timedelta(microseconds=1))
    if last is not None:  # from when the last one was rendered: nothing falls in between
        rendered = (last.payload or {}).get("rendered_at")
        since = datetime.fromisoformat(rendered) if rendered else last.sent_at or since
    zone = subscription.digest_zone if subscription else default_zone
    blocks = await digest_blocks(
        session,
        now=now,
        zone=zone,
        track_ids=[t.id for t in scope if t.id is not None],
        include_restricted=bool(subscription and subscription.restricted),
        since=since,
        alerted=await outbox.alerted_event_ids(session, channel_id, since=since),
        alerted_truces=await outbox.alerted_truce_ids(session, channel_id, since=since),
        alerted_moves=await outbox.alerted_expiry_moves(session, channel_id, since=since),
        shown_at=shown_at,
    )
    title = f"Desk digest · {format_local(shown_at or now, zone)}"
    return message(title, [header(title), *blocks])


async def digest_message(
    session: AsyncSession, runtime: Runtime, channel_id: str, *, response_type: str | None = None
) -> dict[str, Any]:
    """`/desk digest`: the channel's digest now."""
    reply = await channel_digest(
        session, now=runtime.now(), channel_id=channel_id, default_zone=runtime.settings.timezone
    )
    return {**reply, "response_type": response_type} if response_type else reply
