"""The lead forms (modals): built with slack_sdk's view models, read back from view state.

`private_metadata` carries a small JSON `FormMeta`; on submit it is parsed and the item and
the submitter's role are checked again, never trusted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.render.blocks import clip, context_line
from bot.render.ids import Action, Callback, Field
from bot.timeleft import format_local
from bot.timeparse import (
    TimeParseError,
    When,
    day_month,
    format_offset,
    parse_when,
    written_with_year,
)
from storage import deadlines, rounds, sensitivities, tracks, truces
from storage.errors import InvalidInput
from storage.models import (
    Confidence,
    DeadlineKind,
    EventKind,
    Level,
    RoundStatus,
    Visibility,
)
from storage.truces import TermInput
from templates import escape_mrkdwn

log = logging.getLogger("parley.forms")

DESK_WIDE = "-"
LOCAL_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class FormMeta:
    item_id: int | None = None
    channel_id: str = ""
    from_item: int | None = None  # the feed item an event form was opened from

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, text: str | None) -> FormMeta:
        try:
            data = json.loads(text or "{}")
            item_id = data.get("item_id")
            channel_id = data.get("channel_id") or ""
            from_item = data.get("from_item")
            for number in (item_id, from_item):
                if number is not None and not isinstance(number, int):
                    raise ValueError
            return cls(item_id=item_id, channel_id=str(channel_id), from_item=from_item)
        except (ValueError, AttributeError, TypeError):
            raise InvalidInput("This form's data is damaged; open the form again.") from None


def _option(value: str, label: str) -> Option:
    return Option(value=value, label=clip(label, 75))


def text_input(
    field: Field,
    label: str,
    *,
    initial: str | None = None,
    multiline: bool = False,
    optional: bool = False,
    hint: str | None = None,
    max_length: int | None = None,
) -> InputBlock:
    return InputBlock(
        block_id=field,
        label=label,
        optional=optional,
        hint=PlainTextObject(text=hint) if hint else None,
        element=PlainTextInputElement(
            action_id=Action.input,
            initial_value=initial or None,
            multiline=multiline,
            max_length=max_length,
        ),
    )


def select_input(
    field: Field,
    label: str,
    choices: Sequence[tuple[str, str]],
    *,
    initial: str | None = None,
    optional: bool = False,
) -> InputBlock:
    options = [_option(v, t) for v, t in choices][:100]
    chosen = next((o for o in options if o.value == initial), None)
    return InputBlock(
        block_id=field,
        label=label,
        optional=optional,
        element=StaticSelectElement(action_id=Action.input, options=options, initial_option=chosen),
    )


def multi_select_input(
    field: Field,
    label: str,
    choices: Sequence[tuple[str, str]],
    *,
    optional: bool = True,
    initial: Sequence[str] = (),
) -> InputBlock:
    options = [_option(v, t) for v, t in choices][:100]
    chosen = [o for o in options if o.value in initial]
    return InputBlock(
        block_id=field,
        label=label,
        optional=optional,
        element=StaticMultiSelectElement(
            action_id=Action.input, options=options, initial_options=chosen or None
        ),
    )


#: A round is scheduled, in progress or concluded by its times (`storage.rounds.status_at`);
#: a lead settles it by hand only as concluded or cancelled.
ROUND_STATUS_CHOICES = [
    (RoundStatus.scheduled.value, "by its times (scheduled, in progress, concluded)"),
    (RoundStatus.concluded.value, "concluded (by hand, whatever its times)"),
    (RoundStatus.cancelled.value, "cancelled"),
]


def enum_choices(enum: Any) -> list[tuple[str, str]]:
    return [(m.value, m.value.replace("_", " ")) for m in enum]


def modal(
    callback: Callback, title: str, blocks: list[Block], meta: FormMeta, submit: str = "Save"
) -> View:
    return View(
        type="modal",
        callback_id=callback,
        title=clip(title, 24),
        submit=submit,
        close="Cancel",
        private_metadata=meta.dump(),
        blocks=blocks,
    )


async def track_choices(session: AsyncSession) -> list[tuple[str, str]]:
    items = [(t.handle, f"{t.handle} — {t.name}") for t in await tracks.all_tracks(session)]
    return [(DESK_WIDE, "desk-wide (no track)"), *items]


def local_text(instant: datetime | None, zone: str) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(ZoneInfo(zone)).strftime(LOCAL_FORMAT) + f" {zone}"


TIME_HINT = "e.g. 2025-08-12 00:01 America/New_York, Aug 12 00:01 EDT, +90d, in 3 days"


# ---- the forms -------------------------------------------------------------------------


@dataclass(frozen=True)
class EventPrefill:
    """What an event form opens with: a news item's or a Slack message's content."""

    title: str = ""
    when: str | None = None
    summary: str = ""
    source_name: str = ""
    source_url: str = ""
    confidence: str = Confidence.reported
    sensitivities: Sequence[str] = ()
    from_item: int | None = None


async def event_form(
    session: AsyncSession,
    *,
    channel_id: str,
    track: str | None,
    prefill: EventPrefill | None = None,
) -> View:
    topics = [(s.slug, s.name) for s in await sensitivities.all_sensitivities(session)]
    given = prefill or EventPrefill()
    blocks: list[Block] = [
        text_input(Field.headline, "Title", max_length=150, initial=given.title[:150]),
        text_input(
            Field.when,
            "When",
            optional=True,
            hint="Empty means now. " + TIME_HINT,
            initial=given.when,
        ),
        select_input(Field.kind, "Kind", enum_choices(EventKind), initial=EventKind.report),
        text_input(
            Field.summary,
            "Summary",
            multiline=True,
            optional=True,
            max_length=3000,
            initial=given.summary[:3000],
        ),
        text_input(
            Field.source,
            "Source",
            optional=True,
            hint="Who said it: e.g. Financial Times, Truth Social post",
            initial=given.source_name[:300],
        ),
        text_input(Field.source_url, "Source URL", optional=True, initial=given.source_url[:1000]),
        select_input(
            Field.confidence, "Confidence", enum_choices(Confidence), initial=given.confidence
        ),
        select_input(
            Field.track, "Track", await track_choices(session), initial=track or DESK_WIDE
        ),
        select_input(
            Field.visibility, "Visibility", enum_choices(Visibility), initial=Visibility.team
        ),
    ]
    if topics:
        blocks.append(
            multi_select_input(
                Field.sensitivities, "Sensitivities", topics, initial=given.sensitivities
            )
        )
    blocks.append(context_line("Events that mention a sensitivity's keywords are tagged with it."))
    meta = FormMeta(None, channel_id, from_item=given.from_item)
    return modal(Callback.event_form, "Add event", blocks, meta, "Add")


async def deadline_form(
    session: AsyncSession,
    *,
    channel_id: str,
    deadline_id: int | None,
    track: str | None,
    default_offsets: Sequence[timedelta],
) -> View:
    item = await deadlines.get_deadline(session, deadline_id) if deadline_id else None
    track_handle = track
    if item and item.track_id:
        track_handle = next(
            (t.handle for t in await tracks.all_tracks(session) if t.id == item.track_id), None
        )
    blocks: list[Block] = [
        text_input(Field.headline, "Title", initial=item.title if item else None, max_length=150),
        text_input(
            Field.due,
            "Due",
            initial=local_text(item.due_at, item.zone) if item else None,
            hint=TIME_HINT,
        ),
        select_input(
            Field.kind,
            "Kind",
            enum_choices(DeadlineKind),
            initial=item.kind if item else DeadlineKind.other,
        ),
        select_input(
            Field.track, "Track", await track_choices(session), initial=track_handle or DESK_WIDE
        ),
        text_input(
            Field.offsets,
            "Countdown offsets",
            optional=True,
            initial=item.offsets if item else None,
            hint="Empty means the desk's default: "
            + ",".join(format_offset(o) for o in default_offsets),
        ),
        select_input(
            Field.visibility,
            "Visibility",
            enum_choices(Visibility),
            initial=item.visibility if item else Visibility.team,
        ),
    ]
    title = f"Edit deadline #{item.id}" if item else "New deadline"
    return modal(Callback.deadline_form, title, blocks, FormMeta(deadline_id, channel_id))


async def truce_form(session: AsyncSession, *, channel_id: str, truce_id: int) -> View:
    view = await truces.view_of(session, await truces.get_truce(session, truce_id))
    terms = "\n".join(" | ".join([t.party, t.measure, t.rate, t.target]) for t in view.terms)
    expiry = view.expiry
    blocks: list[Block] = [
        context_line(
            f"*{view.truce.title}* — expires "
            + (format_local(expiry.due_at, expiry.zone) if expiry else "(no expiry)")
        ),
        text_input(
            Field.expiry,
            "New expiry (to extend)",
            optional=True,
            hint="Empty keeps the expiry. +90d counts from the current expiry. " + TIME_HINT,
        ),
        text_input(
            Field.terms,
            "Terms",
            initial=terms or None,
            multiline=True,
            optional=True,
            hint="One per line: party | measure | rate | target",
        ),
        text_input(Field.source, "Source of the change", optional=True),
        text_input(Field.note, "Note", optional=True, multiline=True, max_length=1000),
    ]
    return modal(
        Callback.truce_form, "Truce terms & expiry", blocks, FormMeta(truce_id, channel_id)
    )


async def round_form(
    session: AsyncSession, *, channel_id: str, round_id: int | None, track: str | None
) -> View:
    item = (
        await rounds.round_view(session, await rounds.get_round(session, round_id))
        if round_id
        else None
    )
    talks = item.round if item else None
    delegations = "\n".join(
        " | ".join([d.party, d.lead_name, d.lead_title]) for d in (item.delegations if item else [])
    )
    zone = talks.zone if talks else None
    blocks: list[Block] = [
        text_input(Field.headline, "Title", initial=talks.title if talks else None, max_length=150),
        text_input(Field.place, "Place", initial=talks.place if talks else None, optional=True),
        text_input(
            Field.starts,
            "Starts",
            initial=local_text(talks.starts_at, zone or "UTC") if talks else None,
            hint=TIME_HINT,
        ),
        text_input(
            Field.ends,
            "Ends",
            optional=True,
            initial=local_text(talks.ends_at, zone or "UTC") if talks else None,
        ),
        select_input(
            Field.status,
            "Status",
            ROUND_STATUS_CHOICES,
            # scheduled / in progress are the clock's to say: one choice for both
            initial=(
                talks.status if talks and talks.status in rounds.SETTLED else RoundStatus.scheduled
            ),
        ),
        text_input(
            Field.delegations,
            "Delegations",
            initial=delegations or None,
            multiline=True,
            optional=True,
            hint="One per line: party | lead | title",
        ),
        text_input(
            Field.outcome,
            "Outcome",
            initial=talks.outcome if talks else None,
            multiline=True,
            optional=True,
        ),
        select_input(
            Field.track,
            "Track",
            await track_choices(session),
            initial=(item.track.handle if item and item.track else track) or DESK_WIDE,
        ),
    ]
    title = f"Edit round #{talks.id}" if talks else "New talks round"
    return modal(Callback.round_form, title, blocks, FormMeta(round_id, channel_id))


async def sensitivity_form(
    session: AsyncSession, *, channel_id: str, sensitivity_id: int | None
) -> View:
    item = await sensitivities.get_sensitivity(session, sensitivity_id) if sensitivity_id else None
    blocks: list[Block] = [
        text_input(Field.name, "Name", initial=item.name if item else None, max_length=100),
        select_input(
            Field.level, "Level", enum_choices(Level), initial=item.level if item else Level.medium
        ),
        text_input(
            Field.description,
            "Description",
            multiline=True,
            optional=True,
            initial=item.description if item else None,
            max_length=2000,
        ),
        text_input(
            Field.keywords,
            "Keywords",
            optional=True,
            initial=", ".join(item.keywords) if item else None,
            hint=(
                "Comma-separated; events that mention one are tagged. Latin keywords match "
                "whole words (list plurals too); Chinese, Japanese and Korean ones anywhere"
            ),
        ),
        select_input(
            Field.visibility,
            "Visibility",
            enum_choices(Visibility),
            initial=item.visibility if item else Visibility.team,
        ),
    ]
    title = "Edit sensitivity" if item else "New sensitivity"
    return modal(Callback.sensitivity_form, title, blocks, FormMeta(sensitivity_id, channel_id))


# ---- opening them ------------------------------------------------------------------------


FORM_NOT_OPENED = "The form could not be opened (Slack said: {why}). Please try again."


async def open_view(
    client: AsyncWebClient, trigger_id: str, view: View, *, response_url: str | None
) -> None:
    """Opens the modal after the request was acknowledged. A failure here must not raise
    past the ack (Slack could then see a 404), so the user is told through `response_url`."""
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.warning("views.open failed: %s", why)
        if response_url:
            await AsyncWebhookClient(response_url).send(
                text=escape_mrkdwn(FORM_NOT_OPENED.format(why=why)), response_type="ephemeral"
            )


# ---- reading a submission ----------------------------------------------------------------


class Submission:
    """The values of a `view_submission`, by input block id."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.values: dict[str, Any] = (view.get("state") or {}).get("values") or {}

    def _state(self, field: Field) -> dict[str, Any]:
        block = self.values.get(field) or {}
        state: Any = (block.get(Action.input) or next(iter(block.values()), {})) if block else {}
        return state if isinstance(state, dict) else {}

    def text(self, field: Field) -> str:
        state = self._state(field)
        value = state.get("value")
        if value is None and isinstance(state.get("selected_option"), dict):
            value = state["selected_option"].get("value")
        return str(value).strip() if value is not None else ""

    def choices(self, field: Field) -> list[str]:
        options = self._state(field).get("selected_options") or []
        return [str(o.get("value")) for o in options if isinstance(o, dict)]

    def lines(self, field: Field) -> list[list[str]]:
        return [
            [part.strip() for part in line.split("|")]
            for line in self.text(field).splitlines()
            if line.strip()
        ]


def read_time(
    text: str,
    field: Field,
    *,
    now: datetime,
    default_zone: str,
    date_order: str | None = None,
    base: datetime | None = None,
    base_zone: str | None = None,
) -> When:
    """A typed time, or the reader's error shown at `field` (inline in a form)."""
    try:
        return parse_when(
            text,
            now=now,
            default_zone=default_zone,
            date_order=date_order,
            base=base,
            base_zone=base_zone,
        )
    except TimeParseError as exc:
        raise InvalidInput(str(exc), field=field) from None


NEW_DEADLINE_RULE = "a new deadline must lie in the future"
EXTENSION_RULE = "an extension must end in the future"
PAST_TIME = "That time ({when}) is already past: {rule}."
GUESSED_YEAR = (
    " No year was written, so the nearest {day_month} was taken; "
    "to mean a later one, write the year, e.g. {example}."
)


WORDED_SPAN = (
    "“{typed}” counts from now, but an extension moves the current expiry: write `+90d` or "
    "`90 days` (from the expiry), or a date, e.g. `2025-11-10 00:01 America/New_York`."
)


def require_counted_from_expiry(when: When, typed: str, field: Field) -> When:
    """Refuses a span in words (``3 months``, ``next week``) for a new expiry: read from
    now, it would take weeks off what a lead means, counted from the expiry."""
    if when.worded_span:
        raise InvalidInput(WORDED_SPAN.format(typed=typed.strip()), field=field)
    return when


def require_future(when: When, field: Field, *, now: datetime, rule: str) -> When:
    """Refuses a past time with the reason, and a hint to write the year when none was."""
    if when.instant > now:
        return when
    message = PAST_TIME.format(when=format_local(when.instant, when.zone), rule=rule)
    if when.year_guessed:
        message += GUESSED_YEAR.format(
            day_month=day_month(when), example=written_with_year(when, years=1)
        )
    raise InvalidInput(message, field=field)


TOO_MANY_PARTS = (
    "“{line}” has more parts than a {item} ({most} at most, split by |): "
    "put each {item} on a line of its own."
)


def read_terms(submission: Submission) -> list[TermInput]:
    terms = []
    for parts in submission.lines(Field.terms):
        if len(parts) > 4:
            raise InvalidInput(
                TOO_MANY_PARTS.format(line=" | ".join(parts), item="term", most=4),
                field=Field.terms,
            )
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise InvalidInput(
                "Write each term as: party | measure | rate | target, "
                "e.g. United States | additional tariff on Chinese goods | 30% | China",
                field=Field.terms,
            )
        parts += [""] * (4 - len(parts))
        terms.append(TermInput(parts[0], parts[1], parts[2], parts[3]))
    return terms


def read_delegations(submission: Submission) -> list[rounds.DelegationInput]:
    items = []
    for parts in submission.lines(Field.delegations):
        if len(parts) > 3:
            raise InvalidInput(
                TOO_MANY_PARTS.format(line=" | ".join(parts), item="delegation", most=3),
                field=Field.delegations,
            )
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise InvalidInput(
                "Write each delegation as: party | lead | title, "
                "e.g. United States | Scott Bessent | Treasury Secretary",
                field=Field.delegations,
            )
        items.append(rounds.DelegationInput(parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return items
