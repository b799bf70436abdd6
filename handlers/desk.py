"""`/desk`: help, `event`, `subscribe`/`unsubscribe`, `digest`, `lead …`, `history`, `search`."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.blocks import context_line, header, line_sections, message, section
from bot.render.changelog import describe
from bot.render.digest import digest_message
from bot.render.present import hit_block
from bot.timeleft import format_local
from bot.timeparse import TimeParseError, parse_clock
from handlers import forms
from handlers import sources as source_commands
from handlers.registry import Listeners
from handlers.request import Ask, answer_zone, asked
from handlers.usage import usage_reply
from storage import outbox, roles, subscriptions, tracks
from storage.access import require_lead
from storage.direct import ReadSource
from storage.errors import InvalidInput
from storage.history import EVERYTHING
from storage.history import changes as changes_of_record
from storage.models import Track
from storage.search import search_record
from templates import SlackMarkup, render, user_mention

SUBSCRIBE = (
    "`/desk subscribe [HH:MM] [Zone/Name] [weekdays|daily] "
    "[countdowns on|off] [digest on|off] [restricted on|off] [review on|off]`"
)
SUBSCRIBE_USAGE = f"{SUBSCRIBE}, e.g. `/desk subscribe 08:00 Europe/Stockholm weekdays`"
USAGE = (
    f"`/desk [help]`, `/desk event`, {SUBSCRIBE}, "
    "`/desk unsubscribe`, `/desk digest`, `/desk source add|list|pause|resume|remove|check`, "
    "`/desk lead add|remove|list [@user]`, `/desk history [N] [page P]`, `/desk search <words>`"
)
SEARCH_LIMIT = 40  # events shown; with the heading, within a message's 50 blocks
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")


async def handle_desk(
    ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    async with asked(command, context) as (session, ask):
        runtime = ask.runtime
        verb = ask.verb or "help"
        args = ask.words[1:]
        if verb == "help":
            await ack(await help_message(session, ask))
        elif verb == "event":
            await require_lead(session, ask.actor)
            await ack()
            view = await forms.event_form(
                session,
                channel_id=ask.channel_id,
                track=ask.named_track.handle if ask.named_track else None,
            )
            await forms.open_view(
                client, command["trigger_id"], view, response_url=command.get("response_url")
            )
        elif verb == "subscribe":
            await ack(await subscribe(session, ask, args, client))
        elif verb == "unsubscribe":
            await subscriptions.unsubscribe(
                session, actor=ask.actor, now=runtime.now(), channel_id=ask.channel_id
            )
            await ack(
                text="This channel is unsubscribed: no more digests or countdowns here.",
                response_type="in_channel",
            )
        elif verb == "digest":
            asked_at = runtime.now()  # before rendering: the next digest repeats nothing less
            reply = await digest_message(
                session, runtime, ask.channel_id, response_type="in_channel"
            )
            await outbox.record_asked_digest(
                session, channel_id=ask.channel_id, user_id=ask.user_id, now=asked_at
            )
            await session.commit()
            await ack(reply)
        elif verb == "lead":
            await ack(await lead(session, ask, args))
        elif verb == "history":
            await ack(await history(ask.reads, ask, args, client))
        elif verb == "search":
            await ack(await search(ask.reads, ask, " ".join(args), client))
        elif verb == "source":
            await source_commands.handle_source(session, ask, args, ack, command)
        else:
            await ack(usage_reply(context, "/desk", ask.text, USAGE))


async def help_message(session: AsyncSession, ask: Ask) -> dict[str, Any]:
    handles = ", ".join(f"`{t.handle}`" for t in await tracks.all_tracks(session)) or "none yet"
    text = render(
        "help",
        tracks=handles,
        zone=ask.runtime.settings.timezone,
        role="an admin" if ask.role.value == "admin" else f"a {ask.role.value}",
    )
    return message("Parley help", [section(text)], response_type="ephemeral")


def _flag(args: list[str], name: str) -> bool | None:
    for i, word in enumerate(args[:-1]):
        if word.lower() == name:
            value = args[i + 1].lower()
            if value not in ("on", "off"):
                raise InvalidInput(f"`{name}` takes on or off, not {args[i + 1]!r}.")
            del args[i : i + 2]
            return value == "on"
    return None


async def subscribe(
    session: AsyncSession, ask: Ask, args: list[str], client: AsyncWebClient
) -> dict[str, Any]:
    runtime = ask.runtime
    args = list(args)
    countdowns = _flag(args, "countdowns")
    digest = _flag(args, "digest")
    restricted = _flag(args, "restricted")
    review = _flag(args, "review")
    weekdays: bool | None = None
    for word in [w for w in args if w.lower() in ("weekdays", "daily")]:
        weekdays = word.lower() == "weekdays"
        args.remove(word)
    try:
        digest_time, digest_zone = parse_clock(" ".join(args))
    except TimeParseError as exc:
        raise InvalidInput(f"{exc} Usage: {SUBSCRIBE_USAGE}") from None
    current = await subscriptions.get_subscription(session, ask.channel_id)
    unchanged = (digest_time, digest_zone, weekdays, countdowns, digest, restricted, review)
    looked = bool(current) and all(value is None for value in unchanged)
    if current and looked:
        item = current
        intro = "This channel is subscribed."
    else:
        item = await subscriptions.subscribe(
            session,
            actor=ask.actor,
            now=runtime.now(),
            channel_id=ask.channel_id,
            digest_time=digest_time,
            digest_zone=digest_zone,
            weekdays_only=weekdays,
            countdowns_enabled=countdowns,
            digest_enabled=digest,
            restricted=restricted,
            review=review,
            channel_is_private=bool(restricted) and await _is_private(client, ask.channel_id),
            tracks=[t.handle for t in ask.scope] if ask.named_track else None,
            default_zone=runtime.settings.timezone,
        )
        intro = "Subscribed this channel." if current is None else "Subscription updated."
    text = render(
        "subscription",
        intro=intro,
        tracks=", ".join(item.tracks) if item.tracks else "all tracks",
        digest=(
            f"{item.digest_time} {item.digest_zone}, "
            f"{'weekdays' if item.weekdays_only else 'daily'}"
        )
        if item.digest_enabled
        else "off",
        countdowns="on" if item.countdowns_enabled else "off",
        restricted="yes" if item.restricted else "no",
        review="on" if item.review else "off",
    )
    # A change is the channel's news; a look at the settings is the asker's own answer.
    # (Not `item is current`: the session hands back the same row, changed.)
    return {"response_type": "ephemeral" if looked else "in_channel", "text": text}


async def _is_private(client: AsyncWebClient, channel_id: str) -> bool:
    """Asked of Slack only when a lead marks a channel restricted."""
    info = await client.conversations_info(channel=channel_id)
    channel = info.get("channel") or {}
    return bool(channel.get("is_private") or channel.get("is_im") or channel.get("is_mpim"))


def _user_id(args: list[str]) -> str:
    match = MENTION.match(args[0]) if args else None
    if not match:
        if args and args[0].startswith("@"):  # typed as text: Slack knew no such person
            raise InvalidInput(
                f"No Slack user is {args[0]!r} here: pick the person from Slack's @ list so "
                "the name becomes a mention, e.g. `/desk lead add @alice`."
            )
        raise InvalidInput("Name the user as a mention, e.g. `/desk lead add @alice`.")
    return match.group(1) or match.group(2)


async def lead(session: AsyncSession, ask: Ask, args: list[str]) -> dict[str, Any]:
    action = args[0].lower() if args else "list"
    now = ask.runtime.now()
    if action == "list":
        grants = await roles.leads(session)
        admins = sorted(ask.runtime.settings.admins)
        text = render(
            "leads",
            admins=[user_mention(a) for a in admins],
            leads=[user_mention(g.user_id) for g in grants],
        )
        return {"response_type": "ephemeral", "text": text}
    if action not in ("add", "remove"):
        raise InvalidInput(
            "Use `/desk lead add @user`, `/desk lead remove @user` or `/desk lead list`."
        )
    user_id = _user_id(args[1:])
    if action == "add":
        await roles.grant_lead(session, actor=ask.actor, now=now, user_id=user_id)
        text = render("lead_changed", user=user_mention(user_id), change="is now a lead")
    else:
        await roles.revoke_lead(session, actor=ask.actor, now=now, user_id=user_id)
        text = render("lead_changed", user=user_mention(user_id), change="is no longer a lead")
    return {"response_type": "ephemeral", "text": text}


HISTORY_USAGE = "`/desk history [N] [page P]`: the N latest changes (20 by default, up to 200)."
HISTORY_MAX = 200
#: `/desk history … public` is still answered to the asker alone, and says why.
HISTORY_NOT_POSTED = (
    "Shown to you alone, though you asked for `public`: history names people (who changed "
    "what, who was made a lead), and posted in the channel it would notify each of them."
)


def _history_args(args: list[str]) -> tuple[int, int]:
    """``history``, ``history 50``, ``history 50 page 2`` -> (how many, which page)."""
    words = [w.lower() for w in args]
    count, page = 20, 1
    if "page" in words:
        at = words.index("page")
        if at + 1 >= len(words) or not words[at + 1].isdigit() or int(words[at + 1]) < 1:
            raise InvalidInput(f"Say which page, e.g. `/desk history 20 page 2`. {HISTORY_USAGE}")
        page = int(words[at + 1])
        del words[at : at + 2]
    if len(words) > 1 or (words and not words[0].isdigit()):
        raise InvalidInput(f"I did not understand {' '.join(args)!r}. {HISTORY_USAGE}")
    if words:
        count = int(words[0])
        if not 1 <= count <= HISTORY_MAX:
            raise InvalidInput(f"Ask for 1 to {HISTORY_MAX} changes. {HISTORY_USAGE}")
    return count, page


#: How many changes an answer to a page past the end reads to say which page is the last.
PAGES_COUNTED_UP_TO = 2000


async def _no_page(source: ReadSource, ask: Ask, count: int, page: int) -> str:
    """Why a history page is empty: nothing on record, or which page is the last."""
    if page == 1:
        return "No changes are on record yet."
    before, _ = await changes_of_record(
        source,
        include_restricted=ask.sees_restricted,
        limit=min((page - 1) * count, PAGES_COUNTED_UP_TO),
        entities=EVERYTHING,
    )
    if not before:
        return "No changes are on record yet."
    if len(before) >= PAGES_COUNTED_UP_TO:
        return f"There is no page {page} of {count} changes."
    last = -(-len(before) // count)
    pages = "1 page" if last == 1 else f"{last} pages"
    last_page = f"`/desk history {count}`" if last == 1 else f"`/desk history {count} page {last}`"
    return f"There is no page {page}: there are {pages} of {count} changes. The last: {last_page}."


async def history(
    source: ReadSource, ask: Ask, args: list[str], client: AsyncWebClient
) -> dict[str, Any]:
    """Recent changes in words, newest first, paged; restricted items only for leads."""
    count, page = _history_args(args)
    found, more = await changes_of_record(
        source,
        include_restricted=ask.sees_restricted,
        offset=(page - 1) * count,
        limit=count,
        entities=EVERYTHING,
    )
    if not found:  # nothing to post: said to the asker alone
        return {"response_type": "ephemeral", "text": await _no_page(source, ask, count, page)}
    zone = await ask.runtime.reader_zone(client, ask.user_id)
    lines = [
        render(
            "audit_line",
            when=format_local(c.entry.at, zone),
            actor=user_mention(c.entry.actor) if c.entry.actor[:1] in "UW" else c.entry.actor,
            change=SlackMarkup(describe(c, zone=zone)),
        )
        for c in found
    ]
    first = (page - 1) * count + 1
    title = f"Changes {first}–{first + len(found) - 1}, newest first"
    blocks: list[Block] = [header(title), *line_sections(lines)]
    if more:
        blocks.append(context_line(f"Older changes: `/desk history {count} page {page + 1}`."))
    if ask.public:
        blocks.append(context_line(HISTORY_NOT_POSTED))
    return message(title, blocks, response_type="ephemeral")


_QUOTES = "\"'“”„‟«»‘’‚‹›"


def _as_quoted(words: str) -> str:
    """The search as the answer quotes it (“…”): one phrase typed in quotes of its own
    loses them, so it is not shown as ““export controls””."""
    text = words.strip()
    inner = text[1:-1]
    if len(text) > 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        if not any(q in inner for q in _QUOTES if q != "'"):
            return inner.strip()
    return text


async def search(
    source: ReadSource, ask: Ask, words: str, client: AsyncWebClient
) -> dict[str, Any]:
    """Full text over the record (storage.search), best first, restricted items only where
    they may be seen."""
    if not words.strip():
        raise InvalidInput("Say what to search for: `/desk search rare earths`.")
    _, hits = await search_record(
        source,
        typed=words,
        include_restricted=ask.sees_restricted,
        until=ask.runtime.now(),
        limit=SEARCH_LIMIT + 1,
    )
    if not hits:
        text = render("search_results", count=0, more=False, words=_as_quoted(words))
        return {"response_type": "ephemeral", "text": text}
    shown, more = hits[:SEARCH_LIMIT], len(hits) > SEARCH_LIMIT
    by_id: dict[int | None, Track] = {t.id: t for t in ask.known_tracks}
    heading = render("search_results", count=len(shown), more=more, words=_as_quoted(words))
    zone = await answer_zone(ask, client)
    blocks = [section(heading), *(hit_block(h, tracks=by_id, reader_zone=zone) for h in shown)]
    # The fallback goes through `message`'s own escaping, so it leaves the typed words out.
    fallback = render("search_results", count=len(shown), more=more, words="")
    return message(fallback, blocks, response_type=ask.response_type())


def register(app: Listeners) -> None:
    app.command("/desk")(handle_desk)
