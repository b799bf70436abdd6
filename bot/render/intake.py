"""News intake as mrkdwn blocks: a proposal with its triage buttons, the digest's
"From the news" lines, the source list and what a check found."""

from __future__ import annotations

import re
from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from bot.render.blocks import button, buttons, section
from bot.render.ids import Action
from bot.render.present import LEVEL_ICONS
from bot.timeleft import format_local
from storage.feed_items import ItemView
from storage.models import Level, Source
from storage.sources import PollOutcome
from templates import SlackMarkup, escape_mrkdwn, render

# A link the bot may write as <url|label>: http(s), and nothing Slack's link syntax reads.
_SAFE_URL = re.compile(r"https?://[^\s<>|]+")
HEALTH_ICONS = {
    "ok": ":large_green_circle:",
    "failing": ":red_circle:",
    "paused": ":pause_button:",
    "new": ":white_circle:",
}


def linked(title: str, url: str) -> SlackMarkup:
    """`title` as a link to `url`, both made safe; the bare title when the URL is not."""
    label = escape_mrkdwn(title)
    if _SAFE_URL.fullmatch(url):
        return SlackMarkup(f"<{escape_mrkdwn(url)}|{label}>")
    return SlackMarkup(label)


def _when(view: ItemView, zone: str) -> str:
    published = view.item.published_at
    return format_local(published, zone) if published else "time not given"


def _matched(view: ItemView) -> str:
    names = [f"{LEVEL_ICONS.get(Level(s.level), '')} {s.name}".strip() for s in view.sensitivities]
    return ", ".join([*names, *view.item.mentioned])


def proposal_blocks(
    view: ItemView, *, zone: str = "UTC", alert: str = "", triage: bool = True
) -> list[Block]:
    assert view.item.id is not None
    text = render(
        "proposal",
        alert=alert,
        title=linked(view.item.title, view.item.link),
        source=view.source.name,
        also=", ".join(view.also_from),
        when=_when(view, zone),
        confidence=view.source.confidence,
        matched=_matched(view),
        summary=view.item.summary[:600],
    )
    blocks: list[Block] = [section(text)]
    if triage:
        value = str(view.item.id)
        blocks.append(
            buttons(
                button("Add to record", Action.add_item, value, primary=True),
                button("Dismiss", Action.dismiss_item, value),
                button("Mute similar", Action.mute_item, value),
            )
        )
    return blocks


def news_lines(views: Sequence[ItemView], *, zone: str) -> list[str]:
    return [
        render(
            "digest_news",
            title=linked(v.item.title, v.item.link),
            source=v.source.name,
            also=", ".join(v.also_from),
            when=_when(v, zone),
            matched=_matched(v),
        )
        for v in views
    ]


def health_of(source: Source) -> str:
    if not source.enabled:
        return "paused"
    if source.consecutive_failures:
        return "failing"
    return "ok" if source.last_success_at else "new"


def source_line(source: Source, *, zone: str) -> str:
    state = health_of(source)
    return render(
        "source_line",
        icon=HEALTH_ICONS[state],
        name=source.name,
        url=source.url,
        minutes=source.poll_minutes,
        state={"ok": "ok", "failing": "failing", "paused": "paused", "new": "not polled yet"}[
            state
        ],
        unverified=not source.verified,
        last_success=format_local(source.last_success_at, zone) if source.last_success_at else "",
        seen=source.items_seen,
        failures=source.consecutive_failures,
        error=source.last_error[:300],
    )


def check_text(outcome: PollOutcome) -> str:
    return render(
        "source_check",
        status=outcome.status,
        name=outcome.source,
        error=outcome.error[:500],
        new=outcome.new,
        first=outcome.first,
        proposed="; ".join(f"“{t}”" for t in outcome.proposed[:10]),
        same_story=outcome.same_story,
        skipped="; ".join(outcome.skipped[:5])
        + (f" and {len(outcome.skipped) - 5} more" if len(outcome.skipped) > 5 else ""),
    )
