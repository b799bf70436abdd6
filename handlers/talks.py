"""`/talks`: the current or latest round and the next ones; `new` and `edit` for leads."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.blocks import button, buttons, context_line, header, message
from bot.render.ids import Action
from bot.render.present import round_block
from bot.runtime import runtime_of
from handlers import forms
from handlers.request import read_command
from handlers.usage import usage_reply
from storage import rounds
from storage.access import require_lead
from storage.errors import InvalidInput

USAGE = "`/talks [track] [public]`, `/talks new`, `/talks edit <#>`"


async def handle_talks(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    runtime = runtime_of(context)
    async with runtime.db.session() as session:
        ask = await read_command(session, runtime, command)
        verb = ask.words[0].lower() if ask.words else ""
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
            await ack(usage_reply(context, "/talks", ask.text, USAGE))
            return
        latest, upcoming = await rounds.latest_and_next(
            session, now=runtime.now(), track_ids=ask.track_ids
        )
        if not latest and not upcoming:
            await ack(text="No talks rounds are on record.", response_type="ephemeral")
            return
        blocks: list[Block] = []
        if latest:
            blocks.append(header("Latest talks"))
            blocks += [round_block(v, is_lead=ask.is_lead) for v in latest]
        blocks.append(header("Next talks"))
        if upcoming:
            blocks += [round_block(v, is_lead=ask.is_lead) for v in upcoming]
        else:
            blocks.append(context_line("No next round is scheduled yet."))
        if ask.is_lead and not ask.public:
            blocks.append(buttons(button("Add round", Action.open_round_form, primary=True)))
        fallback = "; ".join(f"{v.round.title} ({v.round.status})" for v in latest + upcoming)
        await ack(message(fallback, blocks, response_type=ask.response_type()))


def register(app: AsyncApp) -> None:
    app.command("/talks")(handle_talks)
