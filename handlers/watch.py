"""`/watch`: sensitivities by level with their latest events; `/watch <topic>`: its timeline."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.blocks import (
    Later,
    button,
    buttons,
    context_line,
    header,
    message,
)
from bot.render.ids import Action, Callback, Field
from bot.render.present import event_block, sensitivity_block
from bot.settings import Settings
from handlers import forms
from handlers.registry import Listeners
from handlers.request import answer_zone, asked
from handlers.submissions import lead_submission, opens_form
from storage import events, sensitivities
from storage.access import require_lead
from templates import render


async def handle_watch(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    async with asked(command, context) as (session, ask):
        verb = ask.verb
        if verb in ("new", "edit") and (verb == "new" or len(ask.words) > 1):
            await require_lead(session, ask.actor)
            item_id = None
            if verb == "edit":
                item = await sensitivities.find_sensitivity(
                    session, " ".join(ask.words[1:]), include_restricted=True
                )
                item_id = item.id
            await ack()
            view = await forms.sensitivity_form(
                session, channel_id=ask.channel_id, sensitivity_id=item_id
            )
            await forms.open_view(
                client, command["trigger_id"], view, response_url=command.get("response_url")
            )
            return
        blocks: list[Block | Later]
        if ask.text:
            item = await sensitivities.find_sensitivity(
                ask.reads, ask.text, include_restricted=ask.sees_restricted
            )
            assert item.id is not None
            now = ask.runtime.now()
            # What happened and what is coming up, with their tags, in one statement: the
            # timeline read as long as a message can hold, cut to leave room for the rest.
            timeline, coming = await events.topic_timeline_and_coming(
                ask.reads,
                sensitivity_id=item.id,
                include_restricted=ask.sees_restricted,
                now=now,
                limit=45,
            )
            timeline = timeline[: 45 - (len(coming) + 1 if coming else 0)]  # within one message
            zone = await answer_zone(ask, client)
            blocks = [header(f"Watch: {item.name} ({item.level})")]
            blocks += [event_block(v, reader_zone=zone) for v in timeline] or [
                context_line("No events yet.")
            ]
            if coming:  # dated later than now: upcoming, soonest first (SPEC §3)
                blocks += [header("Coming up"), *(event_block(v, reader_zone=zone) for v in coming)]
            fallback = f"{item.name}: {len(timeline)} event" + ("" if len(timeline) == 1 else "s")
        else:
            # The topics and the latest two events of each, in one statement.
            listed = await events.topics_with_latest(
                ask.reads, include_restricted=ask.sees_restricted, until=ask.runtime.now()
            )
            if not listed:
                await ack(text="No sensitivities are on record.", response_type="ephemeral")
                return
            items = [item for item, _ in listed]
            blocks = [header("Sensitivities")]
            blocks += [
                Later(partial(sensitivity_block, item, latest, is_lead=ask.is_lead))
                for item, latest in listed
            ]
            fallback = ", ".join(f"{i.name} ({i.level})" for i in items)
        if ask.is_lead and not ask.public:
            blocks.append(
                buttons(
                    button("Add event", Action.open_event_form, primary=True),
                    button("Add sensitivity", Action.open_sensitivity_form),
                )
            )
        noun, hint = (
            ("events", "`/desk search <words> kind:event` finds older ones")
            if ask.text
            else ("topics", "`/watch <topic>` shows any one")
        )
        await ack(
            message(fallback, blocks, noun=noun, hint=hint, response_type=ask.response_type())
        )


async def _new_sensitivity_form(
    session: AsyncSession, channel_id: str, _: int | None, settings: Settings
) -> View:
    return await forms.sensitivity_form(session, channel_id=channel_id, sensitivity_id=None)


async def _sensitivity_form(
    session: AsyncSession, channel_id: str, item_id: int | None, settings: Settings
) -> View:
    return await forms.sensitivity_form(session, channel_id=channel_id, sensitivity_id=item_id)


async def submit_sensitivity(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    async with lead_submission(body, view, context) as sub:
        fields: dict[str, Any] = dict(
            name=sub.text(Field.name),
            level=sub.text(Field.level) or "medium",
            description=sub.text(Field.description),
            keywords=sensitivities.parse_keywords(sub.text(Field.keywords)),
            visibility=sub.text(Field.visibility) or "team",
        )
        if sub.meta.item_id is None:
            saved = await sensitivities.add_sensitivity(
                sub.session, actor=sub.actor, now=sub.now, **fields
            )
            verb = "added"
        else:
            saved = await sensitivities.update_sensitivity(
                sub.session, actor=sub.actor, now=sub.now, sensitivity_id=sub.meta.item_id, **fields
            )
            verb = "updated"
    await ack()
    await sub.confirm(
        client, render("sensitivity_saved", verb=verb, name=saved.name, level=saved.level)
    )


def register(app: Listeners) -> None:
    app.command("/watch")(handle_watch)
    app.view(Callback.sensitivity_form.value)(submit_sensitivity)
    app.action(Action.open_sensitivity_form.value)(opens_form(_new_sensitivity_form))
    app.action(Action.edit_sensitivity.value)(opens_form(_sensitivity_form))
