"""The bot's own posts, rendered from the record as it stands when they go out: countdowns,
digests, alerts and notices.

A countdown or an alert reads the same in every channel, so its content (`Shared`) is
rendered once and then checked against each channel's subscription as it stands now: a
channel that unsubscribed, stopped following the track, or is not restricted while the item
now is, gets nothing. None means the post is no longer owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block, ButtonElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.block_json import block_json
from bot.render.blocks import buttons, message, section
from bot.render.digest import channel_digest
from bot.render.ids import Action
from bot.render.intake import proposal_blocks
from bot.render.present import event_block, in_reader_zone, item_button, left_text, term_line
from bot.timeleft import TICK_SLACK, countdown_left, format_local, on_its_mark
from storage import events, feed_items, truces
from storage.feed_items import ItemView
from storage.models import (
    Deadline,
    DeadlineStatus,
    Delivery,
    DeliveryKind,
    FeedItem,
    ItemState,
    Subscription,
    Track,
    Truce,
    TruceStatus,
    Visibility,
)
from storage.planning import OWED_FOR, follows
from templates import escape_mrkdwn, render


@dataclass(frozen=True)
class Shared:
    """A countdown's or an alert's message, and what decides which channels may see it."""

    message: dict[str, Any]
    track: Track | None
    restricted: bool


def owed(delivery: Delivery, shared: Shared | None, subscription: Subscription | None) -> bool:
    if shared is None or subscription is None or not subscription.active:
        return False
    if delivery.kind == DeliveryKind.countdown and not subscription.countdowns_enabled:
        return False
    return follows(subscription, shared.track, restricted=shared.restricted)


async def _track(session: AsyncSession, track_id: int | None) -> Track | None:
    return await session.get(Track, track_id) if track_id is not None else None


def _countdown_buttons(
    deadline: Deadline, truce: Truce | None, *, reached: bool
) -> list[ButtonElement]:
    """A lead's buttons on a countdown. A truce's expiry is extended through the truce's
    form (`+90d` from the expiry, recorded as an extension); at its time the truce lapses,
    so the final post offers no *Mark met*."""
    if truce is not None:
        shown = [item_button("edit_extend", truce.title, Action.open_truce_form, truce.id)]
        if not reached:
            shown.append(
                item_button("mark_met", deadline.title, Action.mark_deadline_met, deadline.id)
            )
        return shown
    return [
        item_button("extend_edit", deadline.title, Action.edit_deadline, deadline.id),
        item_button("mark_met", deadline.title, Action.mark_deadline_met, deadline.id),
    ]


async def countdown_content(
    session: AsyncSession, delivery: Delivery, *, now: datetime
) -> Shared | None:
    payload = delivery.payload or {}
    deadline = await session.get(Deadline, payload.get("deadline_id"))
    if (
        deadline is None
        or deadline.status != DeadlineStatus.open
        or deadline.due_at.isoformat() != payload.get("due_at")
        or now - delivery.due_at >= OWED_FOR  # retried for too long: a later one stands
    ):
        return None
    track = await _track(session, deadline.track_id)
    offset = timedelta(seconds=int(payload.get("offset_seconds") or 0))
    caught_up = bool(payload.get("late"))  # planned after downtime (storage.planning)
    held_back = not caught_up and not on_its_mark(offset, due=deadline.due_at, now=now)
    reached = not offset
    left = countdown_left(offset, due=deadline.due_at, now=now, zone=deadline.zone, late=caught_up)
    text = render(
        "countdown",
        reached=reached,
        title=deadline.title,
        left=left,
        track=track.handle if track else "",
        restricted=deadline.visibility == Visibility.restricted,
        due_local=format_local(deadline.due_at, deadline.zone),
        due_reader=in_reader_zone(deadline.due_at, None),  # many read it: not one zone
        caught_up=caught_up,
        held_back=held_back,
        fired_local=format_local(delivery.due_at, deadline.zone),
    )
    truce = await session.get(Truce, deadline.truce_id) if deadline.truce_id else None
    blocks: list[Block] = [
        section(text),
        buttons(*_countdown_buttons(deadline, truce, reached=reached)),
    ]
    fallback = f"Deadline reached: {deadline.title}" if reached else f"{deadline.title}: {left}"
    return Shared(
        message(fallback, blocks),
        track=track,
        restricted=deadline.visibility == Visibility.restricted,
    )


#: An event dated longer before its alert than this was entered late (back-filled).
BACKFILLED = timedelta(days=1)


def backfilled(occurred: datetime | None, *, alerted: datetime) -> str:
    """``28 days 3 hours ago`` for an event dated over a day before its alert (news to the
    desk, but not breaking news), else ""."""
    if occurred is None or alerted - occurred <= BACKFILLED:
        return ""
    return left_text(occurred, now=alerted, zone="UTC").removeprefix("passed ")


async def alert_content(
    session: AsyncSession, delivery: Delivery, *, now: datetime
) -> Shared | None:
    payload = delivery.payload or {}
    if "item_id" in payload:
        return await item_alert_content(session, payload)
    if "event_id" in payload:
        found = await events.event_views(session, [payload["event_id"]], include_restricted=True)
        if not found:
            return None
        view = found[0]
        restricted = view.event.visibility == Visibility.restricted or any(
            s.visibility == Visibility.restricted
            for s in view.sensitivities
            if s.name in payload.get("sensitivities", [])
        )
        if not restricted:  # a team channel sees only the team's tags
            view = (
                await events.event_views(session, [payload["event_id"]], include_restricted=False)
            )[0]
        head = render(
            "alert_event",
            sensitivities=", ".join(payload.get("sensitivities", [])),
            dated=backfilled(view.event.occurred_at, alerted=delivery.due_at),
        )
        return Shared(
            message(f"Alert: {view.event.title}", [section(head), event_block(view)]),
            track=await _track(session, view.event.track_id),
            restricted=restricted,
        )
    truce = await session.get(Truce, payload.get("truce_id"))
    expiry = await session.get(Deadline, payload.get("deadline_id"))
    if truce is None or expiry is None or expiry.due_at.isoformat() != payload.get("expiry"):
        return None  # moved again since: the newer change has its own alert
    if payload.get("lapse"):
        return await lapse_content(session, truce, expiry)
    previous = datetime.fromisoformat(payload["previous"])
    text = render(
        "alert_expiry",
        title=truce.title,
        previous_local=format_local(previous, payload.get("previous_zone") or expiry.zone),
        expiry_local=format_local(expiry.due_at, expiry.zone),
        expiry_reader=in_reader_zone(expiry.due_at, None),  # many read it: not one zone
        left=left_text(expiry.due_at, now=now, zone=expiry.zone),
    )
    fallback = f"Alert: {truce.title} now expires {format_local(expiry.due_at, expiry.zone)}"
    return Shared(
        message(fallback, [section(text)]),
        track=await _track(session, expiry.track_id),
        restricted=expiry.visibility == Visibility.restricted,
    )


async def _open_item(session: AsyncSession, item_id: object) -> ItemView | None:
    """The proposal as it stands, or None once it was triaged (or its source removed)."""
    item = await session.get(FeedItem, item_id) if isinstance(item_id, int) else None
    if item is None or item.state != ItemState.proposed:
        return None
    return (await feed_items.item_views(session, [item]))[0]


async def item_alert_content(session: AsyncSession, payload: dict[str, Any]) -> Shared | None:
    """A critical feed item, alerted at once to the channels following its source's track."""
    view = await _open_item(session, payload.get("item_id"))
    if view is None:
        return None
    names = ", ".join(payload.get("sensitivities", []))
    restricted = any(s.visibility == Visibility.restricted for s in view.sensitivities)
    tracks = view.source.tracks or []
    track = (
        (await session.exec(select(Track).where(col(Track.handle) == tracks[0]))).first()
        if len(tracks) == 1
        else None
    )
    return Shared(
        message(
            f"Alert from the news: {view.item.title}",
            proposal_blocks(view, alert=names, triage=False),
        ),
        track=track,
        restricted=restricted,
    )


async def proposal_message(
    session: AsyncSession, delivery: Delivery, *, default_zone: str
) -> dict[str, Any] | None:
    """A proposal in a review channel, with its triage buttons; None once triaged, or when
    the channel stopped reviewing."""
    subscription = await session.get(Subscription, delivery.channel_id)
    if subscription is None or not subscription.active or not subscription.review:
        return None
    view = await _open_item(session, (delivery.payload or {}).get("item_id"))
    if view is None:
        return None
    return message(
        f"Proposed from the news: {view.item.title}",
        proposal_blocks(view, zone=subscription.digest_zone or default_zone),
    )


async def lapse_content(session: AsyncSession, truce: Truce, expiry: Deadline) -> Shared | None:
    """The truce lapsed at its expiry: tariffs snap back per its terms. None once a lead
    extended it again (the extension has its own alert)."""
    if truce.status != TruceStatus.lapsed:
        return None
    view = await truces.view_of(session, truce)
    text = render(
        "alert_lapse",
        title=truce.title,
        expiry_local=format_local(expiry.due_at, expiry.zone),
        expiry_reader=in_reader_zone(expiry.due_at, None),  # many read it: not one zone
        terms=[term_line(t) for t in view.terms],
    )
    fallback = f"Alert: {truce.title} lapsed at {format_local(expiry.due_at, expiry.zone)}"
    return Shared(
        message(fallback, [section(text)]),
        track=await _track(session, truce.track_id),
        restricted=expiry.visibility == Visibility.restricted,
    )


async def shared_content(
    session: AsyncSession, delivery: Delivery, *, now: datetime
) -> Shared | None:
    if delivery.kind == DeliveryKind.countdown:
        return await countdown_content(session, delivery, now=now)
    return await alert_content(session, delivery, now=now)


async def digest_message(
    session: AsyncSession, delivery: Delivery, *, now: datetime, default_zone: str
) -> dict[str, Any] | None:
    payload = delivery.payload or {}
    subscription = await session.get(Subscription, delivery.channel_id)
    active = subscription is not None and subscription.active and subscription.digest_enabled
    if not (active or payload.get("manual")):
        return None  # unsubscribed, or the digest turned off, since it was planned
    # On time (a tick or two after its time), it reads as of its time, as a countdown does.
    on_time = not payload.get("late") and timedelta(0) <= now - delivery.due_at <= TICK_SLACK
    reply = await channel_digest(
        session,
        now=now,
        channel_id=delivery.channel_id,
        default_zone=default_zone,
        shown_at=delivery.due_at if on_time else None,
    )
    if subscription is not None and payload.get("late"):
        fell_due = format_local(delivery.due_at, subscription.digest_zone)
        reply["blocks"].insert(
            1, block_json(section(f"_Late: this digest fell due {escape_mrkdwn(fell_due)}._"))
        )
    return reply


async def channel_message(
    session: AsyncSession, delivery: Delivery, *, now: datetime, default_zone: str
) -> dict[str, Any] | None:
    """A digest or a notice: written for its one channel (countdowns and alerts are
    `shared_content`), or None when it is no longer owed."""
    if delivery.kind == DeliveryKind.digest:
        return await digest_message(session, delivery, now=now, default_zone=default_zone)
    if delivery.kind == DeliveryKind.proposal:
        return await proposal_message(session, delivery, default_zone=default_zone)
    text = str((delivery.payload or {}).get("text", ""))
    return message(text, [section(text)]) if text else None
