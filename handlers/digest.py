"""The daily digest: deadlines ahead, what changed, hot sensitivities, current and next talks.

Empty sections are left out. Restricted items appear only in restricted channels.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.timeleft import format_local
from handlers.blocks import context_line, header, line_sections, message, section
from handlers.present import event_block, in_reader_zone, left_text
from handlers.runtime import Runtime
from storage import deadlines, events, outbox, rounds, sensitivities, tracks
from storage.subscriptions import get_subscription
from templates import render

DEADLINE_HORIZON = timedelta(days=30)
RECENT = timedelta(days=7)


async def digest_blocks(
    session: AsyncSession,
    *,
    now: datetime,
    track_ids: list[int] | None,
    include_restricted: bool,
    since: datetime,
    alerted: Collection[int] = (),
) -> list[Block]:
    """The digest's sections; events in `alerted` are marked as already alerted."""
    blocks: list[Block] = []
    ahead = [
        d
        for d in await deadlines.upcoming_deadlines(
            session,
            now=now,
            track_ids=track_ids,
            include_restricted=include_restricted,
            limit=15,
        )
        if d.due_at - now <= DEADLINE_HORIZON
    ]
    if ahead:
        blocks.append(header("Deadlines ahead"))
        lines = [
            render(
                "digest_deadline",
                title=d.title,
                due=format_local(d.due_at, d.zone),
                due_reader=in_reader_zone(d.due_at, None),  # a channel post: many read it
                left=left_text(d.due_at, now=now, zone=d.zone),
            )
            for d in ahead
        ]
        blocks += line_sections(lines)
    changed = await events.latest_events(
        session, track_ids=track_ids, include_restricted=include_restricted, since=since, limit=15
    )
    if changed:
        blocks.append(header("What changed"))
        blocks += [event_block(v, alerted=v.event.id in alerted) for v in changed]
    hot = []
    for item in await sensitivities.all_sensitivities(
        session, include_restricted=include_restricted
    ):
        assert item.id is not None
        recent = [
            v
            for v in await events.timeline(
                session, sensitivity_id=item.id, include_restricted=include_restricted, limit=3
            )
            if v.event.occurred_at >= now - RECENT
        ]
        if recent:
            hot.append(
                render(
                    "digest_sensitivity",
                    name=item.name,
                    level=item.level,
                    count=len(recent),
                    latest=recent[0].event.title,
                )
            )
    if hot:
        blocks.append(header("Sensitivities"))
        blocks.append(section("\n".join(hot)))
    latest, upcoming = await rounds.latest_and_next(session, now=now, track_ids=track_ids)
    talks = [
        render(
            "digest_round",
            title=v.round.title,
            place=v.round.place,
            when=format_local(v.round.starts_at, v.round.zone),
            status=v.status.replace("_", " "),
        )
        for v in latest + upcoming
    ]
    if talks:
        blocks.append(header("Talks"))
        blocks.append(section("\n".join(talks)))
    return blocks


async def channel_digest(
    session: AsyncSession, *, now: datetime, channel_id: str, default_zone: str
) -> dict[str, Any]:
    """The digest for one channel, scoped by its subscription (all active tracks if none).

    "What changed" runs from the last digest posted in the channel (else the last day);
    events already alerted there are marked so.
    """
    subscription = await get_subscription(session, channel_id)
    handle_filter = subscription.tracks if subscription else None
    scope = await tracks.resolve_tracks(session, handle=None)
    if handle_filter:
        scope = [t for t in scope if t.handle in handle_filter]
    last = await outbox.last_sent_digest(session, channel_id)
    since = now - timedelta(days=1)
    if last is not None:  # from when the last one was rendered: nothing falls in between
        rendered = (last.payload or {}).get("rendered_at")
        since = datetime.fromisoformat(rendered) if rendered else last.sent_at or since
    blocks = await digest_blocks(
        session,
        now=now,
        track_ids=[t.id for t in scope if t.id is not None],
        include_restricted=bool(subscription and subscription.restricted),
        since=since,
        alerted=await outbox.alerted_event_ids(session, channel_id, since=since),
    )
    zone = subscription.digest_zone if subscription else default_zone
    title = f"Desk digest · {format_local(now, zone)}"
    if not blocks:
        blocks = [context_line("Nothing ahead and nothing new on the record.")]
    return message(title, [header(title), *blocks])


async def digest_message(
    session: AsyncSession, runtime: Runtime, channel_id: str, *, response_type: str | None = None
) -> dict[str, Any]:
    """`/desk digest`: the channel's digest now."""
    reply = await channel_digest(
        session, now=runtime.now(), channel_id=channel_id, default_zone=runtime.settings.timezone
    )
    return {**reply, "response_type": response_type} if response_type else reply
