"""News intake in Slack: `/desk source …`, a proposal's triage buttons (Add to record,
Dismiss, Mute similar) and the message shortcut *Add to Parley*.

`/desk` dispatches `source` here. Leads only for every change (the services check it too);
members get the record's own refusal as a clear reply.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.blocks import header, line_sections, message
from bot.render.ids import Action, Callback
from bot.render.intake import check_text, source_line
from bot.runtime import Runtime, runtime_of
from handlers import forms
from handlers.forms import EventPrefill, local_text
from handlers.registry import Listeners
from handlers.request import Ask
from storage import feed_items, sources
from storage.access import Actor, require_lead
from storage.errors import InvalidInput
from storage.models import Confidence, Source
from templates import escape_mrkdwn, render

USAGE = (
    "`/desk [track] source add <url> [name]`, `/desk source list`, "
    "`/desk source pause|resume|remove|check <name>`"
)
# A link as Slack escapes it in command text: <https://x|label> or <https://x>.
_SLACK_LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|([^>]*))?>")
_SLACK_MARKUP = re.compile(r"<([@#!])([^|>]+)(?:\|([^>]*))?>")
NO_CHECKS = "Polling is not available in this process."
CHECKING = "Checking *{name}* now…"


def _url_word(word: str) -> str:
    found = _SLACK_LINK.fullmatch(word)
    return found.group(1) if found else word


async def handle_source(
    session: AsyncSession, ask: Ask, args: list[str], ack: AsyncAck, command: dict[str, Any]
) -> None:
    """`/desk source …`; acknowledges itself (a check answers later, through response_url)."""
    runtime = ask.runtime
    verb = args[0].lower() if args else "list"
    rest = args[1:]
    now = runtime.now()
    if verb == "list":
        await ack(await _list(session, ask))
        return
    if verb == "add":
        if not rest:
            raise InvalidInput(f"Give the feed's address. Usage: {USAGE}")
        source = await sources.add_source(
            session,
            actor=ask.actor,
            now=now,
            url=_url_word(rest[0]),
            name=" ".join(rest[1:]) or None,
            tracks=[ask.named_track.handle] if ask.named_track else None,
            allow_private=runtime.settings.intake_allow_private,
        )
        await ack(_said("added", source))
        return
    if verb not in ("pause", "resume", "remove", "check"):
        raise InvalidInput(f"Unknown `source` command {verb!r}. Usage: {USAGE}")
    if not rest:
        raise InvalidInput(f"Name the source, e.g. `/desk source {verb} USTR`. Usage: {USAGE}")
    name = " ".join(rest)
    if verb == "remove":
        removed = await sources.remove_source(session, actor=ask.actor, now=now, name=name)
        await ack(_reply(render("source_saved", verb="removed", name=removed)))
    elif verb in ("pause", "resume"):
        source = await sources.set_enabled(
            session, actor=ask.actor, now=now, name=name, enabled=verb == "resume"
        )
        await ack(_said("resumed" if verb == "resume" else "paused", source))
    else:
        await _check(session, ask, name, ack, command)


def _reply(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _said(verb: str, source: Source) -> dict[str, Any]:
    return _reply(
        render(
            "source_saved",
            verb=verb,
            name=source.name,
            url=source.url,
            kind="Federal Register search" if source.kind == "federal_register" else "feed",
            confidence=source.confidence,
            minutes=source.poll_minutes,
        )
    )


async def _list(session: AsyncSession, ask: Ask) -> dict[str, Any]:
    found = await sources.all_sources(session)
    if not found:
        return _reply(f"No news sources yet. A lead adds one: {USAGE}")
    zone = ask.runtime.settings.timezone
    title = f"News sources ({len(found)})"
    lines = [source_line(s, zone=zone) for s in found]
    return message(title, [header(title), *line_sections(lines)], response_type="ephemeral")


async def _check(
    session: AsyncSession, ask: Ask, name: str, ack: AsyncAck, command: dict[str, Any]
) -> None:
    await require_lead(session, ask.actor)
    source = await sources.find_source(session, name)
    check = ask.runtime.check_source
    if check is None:
        raise InvalidInput(NO_CHECKS)
    assert source.id is not None
    await ack(_reply(CHECKING.format(name=escape_mrkdwn(source.name))))
    outcome = await check(source.id)
    if outcome.status == "busy":
        outcome.source = source.name
    response_url = str(command.get("response_url") or "")
    if response_url:
        await AsyncWebhookClient(response_url).send(
            text=check_text(outcome), response_type="ephemeral", replace_original=False
        )


# ---- a proposal's buttons ------------------------------------------------------------------


def _item_id(body: dict[str, Any]) -> int:
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value") or "")
    if not value.isdigit():
        raise InvalidInput("This button's item is unreadable; use the latest post.")
    return int(value)


def _actor_of(runtime: Runtime, body: dict[str, Any]) -> Actor:
    return runtime.actor(str((body.get("user") or {}).get("id") or ""))


async def add_item_from_button(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """*Add to record*: the add-event form, prefilled from the item and its source."""
    runtime = runtime_of(context)
    async with runtime.db.session() as session:
        await require_lead(session, _actor_of(runtime, body))
        item = await feed_items.get_item(session, _item_id(body))
        feed_items.check_open(item)
        [view] = await feed_items.item_views(session, [item])
        tracks = view.source.tracks or []
        form = await forms.event_form(
            session,
            channel_id=str((body.get("channel") or {}).get("id") or ""),
            track=tracks[0] if len(tracks) == 1 else None,
            prefill=EventPrefill(
                title=item.title,
                when=local_text(item.published_at, "UTC"),
                summary=item.summary,
                source_name=view.source.name,
                source_url=item.link,
                confidence=view.source.confidence,
                sensitivities=item.matched,
                from_item=item.id,
            ),
        )
    await ack()
    await forms.open_view(
        client, str(body.get("trigger_id") or ""), form, response_url=body.get("response_url")
    )


async def dismiss_item_from_button(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    runtime = runtime_of(context)
    async with runtime.db.session() as session:
        item = await feed_items.dismiss_item(
            session, actor=_actor_of(runtime, body), now=runtime.now(), item_id=_item_id(body)
        )
    await ack()
    await respond(
        text=render("proposal_done", state="dismissed", title=item.title, muted="", source=""),
        response_type="ephemeral",
        replace_original=False,
    )


async def mute_item_from_button(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """*Mute similar*: the words it matched no longer match for its source; it is dismissed."""
    runtime = runtime_of(context)
    async with runtime.db.session() as session:
        item, words = await feed_items.mute_similar(
            session, actor=_actor_of(runtime, body), now=runtime.now(), item_id=_item_id(body)
        )
        [view] = await feed_items.item_views(session, [item])
    await ack()
    await respond(
        text=render(
            "proposal_done",
            state="dismissed",
            title=item.title,
            muted=", ".join(words),
            source=view.source.name,
        ),
        response_type="ephemeral",
        replace_original=False,
    )


# ---- the message shortcut ------------------------------------------------------------------


def plain_message(text: str) -> str:
    """A message's mrkdwn as the text a form shows: links as their label (or address),
    mentions and pings as @names, so nothing in it is markup any more."""
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return _SLACK_MARKUP.sub(lambda m: "@" + (m.group(3) or m.group(2)).lstrip("@"), text)


def first_link(text: str) -> str:
    found = _SLACK_LINK.search(text)
    return found.group(1) if found else ""


async def add_to_parley(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """*Add to Parley* on any message: the add-event form prefilled from it; its first link
    is the source, else the message's permalink."""
    await ack()  # first: a refusal then goes back through response_url
    runtime = runtime_of(context)
    channel = str((body.get("channel") or {}).get("id") or "")
    posted = body.get("message") or {}
    raw = str(posted.get("text") or "")
    async with runtime.db.session() as session:
        await require_lead(session, _actor_of(runtime, body))
        link = first_link(raw)
        if not link:
            link = await _permalink(client, channel, str(posted.get("ts") or ""))
        text = " ".join(plain_message(raw).split())
        matcher = await feed_items.load_matcher(session)
        found = matcher.match(text)
        form = await forms.event_form(
            session,
            channel_id=channel,
            track=None,
            prefill=EventPrefill(
                title=text[:150],
                summary=text if len(text) > 150 else "",
                source_name="Slack message",
                source_url=link,
                confidence=Confidence.reported,
                sensitivities=[s.slug for s in found.sensitivities],
            ),
        )
    await forms.open_view(
        client, str(body.get("trigger_id") or ""), form, response_url=body.get("response_url")
    )


async def _permalink(client: AsyncWebClient, channel: str, ts: str) -> str:
    if not (channel and ts):
        return ""
    try:
        reply = await client.chat_getPermalink(channel=channel, message_ts=ts)
    except SlackApiError:
        return ""  # the form still opens; the lead can paste a source
    return str(reply.get("permalink") or "")


def register(app: Listeners) -> None:
    app.action(Action.add_item.value)(add_item_from_button)
    app.action(Action.dismiss_item.value)(dismiss_item_from_button)
    app.action(Action.mute_item.value)(mute_item_from_button)
    app.shortcut(Callback.add_to_parley.value)(add_to_parley)
