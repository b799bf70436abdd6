"""App Home: a dashboard of the record, with buttons that open the forms for leads."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.block_json import block_json
from bot.render.blocks import VIEW_BLOCKS, button, buttons, context_line, divider, fit, header
from bot.render.ids import Action
from bot.render.present import (
    deadline_block,
    event_block,
    sensitivity_block,
    truce_blocks,
    truce_heading,
)
from bot.runtime import Runtime, runtime_of
from handlers.registry import Listeners
from storage import deadlines, events, tracks, truces
from storage.lookups import command_context
from storage.models import Level, Role

HOT_LEVELS = (Level.critical, Level.high)


async def home_view(runtime: Runtime, client: AsyncWebClient, user_id: str) -> View:
    now = runtime.now()
    actor = runtime.actor(user_id)
    async with runtime.db.reads() as reads:
        # The tracks and the reader's role in one statement (no channel: App Home is a tab).
        known, role, _ = await command_context(reads, actor, channel_id="")
        is_lead = role != Role.member
        scope = [t.id for t in tracks.active_tracks(known) if t.id]
        by_id = {t.id: t for t in known if t.id is not None}
        upcoming = await deadlines.upcoming_deadlines(
            reads, now=now, track_ids=scope, include_restricted=is_lead, limit=5
        )
        current = await truces.truce_views(reads, track_ids=scope)
        latest, coming = await events.latest_and_coming(
            reads, now=now, track_ids=scope, include_restricted=is_lead, limit=5, coming_limit=3
        )
        hot = await events.topics_with_latest(
            reads, include_restricted=is_lead, levels=HOT_LEVELS, until=now, per_topic=1
        )
    zone = await runtime.reader_zone(client, user_id)
    blocks: list[Block] = []
    if is_lead:
        blocks.append(
            buttons(
                button("Add event", Action.open_event_form, primary=True),
                button("Add deadline", Action.open_deadline_form),
                button("Add talks round", Action.open_round_form),
                button("Add sensitivity", Action.open_sensitivity_form),
            )
        )
    blocks.append(header("Next deadlines"))
    blocks += [
        deadline_block(d, tracks=by_id, now=now, reader_zone=zone, is_lead=is_lead)
        for d in upcoming
    ] or [context_line("No upcoming deadlines.")]
    blocks += [divider(), header(truce_heading(current, now=now) if current else "Active truce")]
    for view in current:
        blocks += truce_blocks(view, now=now, reader_zone=zone, is_lead=is_lead)
    if not current:
        blocks.append(context_line("No active truce."))
    blocks += [divider(), header("Latest events")]
    blocks += [event_block(v, reader_zone=zone) for v in latest] or [context_line("No events yet.")]
    if coming:
        blocks += [header("Coming up"), *(event_block(v, reader_zone=zone) for v in coming)]
    if hot:
        blocks += [divider(), header("Hot sensitivities")]
        blocks += [sensitivity_block(s, latest, is_lead=is_lead) for s, latest in hot]
    return View(type="home", blocks=fit(blocks, limit=VIEW_BLOCKS))


async def handle_home_opened(
    event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    if event.get("tab", "home") != "home":
        return
    runtime = runtime_of(context)
    user_id = str(event.get("user") or "")
    view = await home_view(runtime, client, user_id)
    await client.views_publish(user_id=user_id, view=block_json(view))


def register(app: Listeners) -> None:
    app.event("app_home_opened")(handle_home_opened)
