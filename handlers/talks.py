"""`/talks`: the current or latest round and the next ones; `new` and `edit` for leads."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.blocks import button, buttons, context_line, header, message
from bot.render.ids import Action, Callback, Field
from bot.render.present import round_block
from bot.settings import Settings
from bot.timeleft import format_local
from handlers import forms
from handlers.registry import Listeners
from handlers.request import answer_zone, asked
from handlers.submissions import lead_submission, opens_form
from handlers.usage import usage_reply
from storage import rounds
from storage.access import require_lead
from storage.errors import InvalidInput
from templates import render

USAGE = "`/talks [track] [public]`, `/talks new`, `/talks edit <#>`"


async def handle_talks(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    async with asked(command, context) as (session, ask):
        runtime = ask.runtime
        verb = ask.verb
        if verb in ("new", "edit"):
            await require_lead(session, ask.actor)
            round_id = None
            if verb == "edit":
                ref = ask.words[1].lstrip("#") if len(ask.words) > 1 else ""
                if not ref.isdigit():
                    raise InvalidInput(
                        "Name the round by the number `/talks` shows beside it: `/talks edit <#>`."
                    )
                round_id = (await rounds.get_round(session, int(ref))).id
            await ack()
            view = await forms.round_form(
                session,
                channel_id=ask.channel_id,
                round_id=round_id,
                track=ask.named_track.handle if ask.named_track else None,
            )
            await forms.open_view(
                client, command["trigger_id"], view, response_url=command.get("response_url")
            )
            return
        if verb:
            await ack(usage_reply(context, "/talks", ask.text, USAGE, tracks=ask.unnamed_handles))
            return
        latest, upcoming = await rounds.latest_and_next(
            ask.reads,
            now=runtime.now(),
            track_ids=ask.track_ids,
            tracks={t.id: t for t in ask.known_tracks if t.id is not None},
        )
        if not latest and not upcoming:
            scope = f" for {ask.named_track.handle}" if ask.named_track else ""
            await ack(text=f"No talks rounds are on record{scope}.", response_type="ephemeral")
            return
        zone = await answer_zone(ask, client)
        blocks: list[Block] = []
        if latest:
            blocks.append(header("Latest talks"))
            blocks += [round_block(v, is_lead=ask.is_lead, reader_zone=zone) for v in latest]
        blocks.append(header("Next talks"))
        if upcoming:
            blocks += [round_block(v, is_lead=ask.is_lead, reader_zone=zone) for v in upcoming]
        else:
            blocks.append(context_line("No next round is scheduled yet."))
        if ask.is_lead and not ask.public:
            blocks.append(buttons(button("Add round", Action.open_round_form, primary=True)))
        fallback = "; ".join(f"{v.round.title} ({v.round.status})" for v in latest + upcoming)
        await ack(message(fallback, blocks, response_type=ask.response_type()))


async def _new_round_form(
    session: AsyncSession, channel_id: str, _: int | None, settings: Settings
) -> View:
    return await forms.round_form(session, channel_id=channel_id, round_id=None, track=None)


async def _round_form(
    session: AsyncSession, channel_id: str, item_id: int | None, settings: Settings
) -> View:
    return await forms.round_form(session, channel_id=channel_id, round_id=item_id, track=None)


async def submit_round(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> None:
    async with lead_submission(body, view, context) as sub:
        starts = sub.time(Field.starts)
        ends = sub.time(Field.ends, default_zone=starts.zone) if sub.text(Field.ends) else None
        fields: dict[str, Any] = dict(
            title=sub.text(Field.headline),
            place=sub.text(Field.place),
            starts_at=starts.instant,
            ends_at=ends.instant if ends else None,
            zone=starts.zone,
            status=sub.text(Field.status) or "scheduled",
            outcome=sub.text(Field.outcome),
            delegations=forms.read_delegations(sub.form),
        )
        if sub.meta.item_id is None:
            saved = await rounds.add_round(
                sub.session, actor=sub.actor, now=sub.now, track_id=await sub.track_id(), **fields
            )
            verb = "added"
        else:
            saved = await rounds.update_round(
                sub.session, actor=sub.actor, now=sub.now, round_id=sub.meta.item_id, **fields
            )
            verb = "updated"
    await ack()
    ends_shown = f" – {format_local(saved.ends_at, saved.zone)}" if saved.ends_at else ""
    await sub.confirm(
        client,
        render(
            "round_saved",
            verb=verb,
            title=saved.title,
            ref=saved.id,
            when=format_local(saved.starts_at, saved.zone) + ends_shown,
        ),
    )


def register(app: Listeners) -> None:
    app.command("/talks")(handle_talks)
    app.view(Callback.round_form.value)(submit_round)
    app.action(Action.open_round_form.value)(opens_form(_new_round_form))
    app.action(Action.edit_round.value)(opens_form(_round_form))
