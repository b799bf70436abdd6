"""Changes to the record in words ("moved deadline #3 … to …", "raised Taiwan from high to
critical"), for the digest's WHAT CHANGED and `/desk history`: one line each, from the audit
entry alone, so the line says what changed then, whatever the item became since."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.timeleft import format_local
from storage.history import Change
from storage.models import Level
from storage.rounds import SETTLED
from templates import SlackMarkup, render

_LEVELS = list(Level)
_OUTCOMES = {"mark_met": "met", "mark_missed": "missed", "mark_cancelled": "cancelled"}
#: Fields whose change a line names when nothing more telling changed.
_FIELDS = {
    "title": "title",
    "kind": "kind",
    "offsets": "countdown offsets",
    "visibility": "visibility",
    "place": "place",
    "delegations": "delegations",
    "description": "description",
    "keywords": "keywords",
    "summary": "summary",
    "source_name": "source",
    "starts_at": "start",
    "ends_at": "end",
    "outcome": "outcome",
    "name": "name",
}


def _time(value: Any, zone: str) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return format_local(datetime.fromisoformat(value), zone)
    except ValueError:
        return value


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [
        label for key, label in _FIELDS.items() if key in after and before.get(key) != after[key]
    ]


def _settings(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What a subscription change set, as `/desk subscribe` words: ``digest 07:30
    Asia/Shanghai, weekdays; countdowns off``."""
    said = []
    if any(before.get(k) != after.get(k) for k in ("digest_time", "digest_zone", "weekdays_only")):
        days = "weekdays" if after.get("weekdays_only") else "daily"
        said.append(f"digest {after.get('digest_time')} {after.get('digest_zone')}, {days}")
    for key, word in (
        ("digest_enabled", "digest"),
        ("countdowns_enabled", "countdowns"),
        ("restricted", "restricted"),
        ("review", "review"),
    ):
        if key in after and before.get(key) != after.get(key):
            said.append(f"{word} {'on' if after.get(key) else 'off'}")
    if before.get("tracks") != after.get("tracks"):
        said.append("tracks " + (", ".join(after.get("tracks") or []) or "all"))
    return "; ".join(said) or "nothing new"


TERM_CHANGES_SHOWN = 3


def _term(term: dict[str, Any]) -> str:
    """``United States → China: additional tariff on Chinese goods``."""
    target = f" → {term.get('target')}" if term.get("target") else ""
    return f"{term.get('party', '')}{target}: {term.get('measure', '')}"


def _term_changes(before: Any, after: Any) -> str:
    """What a terms edit changed, term by term: ``United States → China: additional tariff
    on Chinese goods 30% → 20%; added …; removed …`` (the first few, then how many more)."""

    def keyed(terms: Any) -> dict[tuple[str, str, str], str]:
        return {
            (str(t.get("party", "")), str(t.get("measure", "")), str(t.get("target", ""))): str(
                t.get("rate", "")
            )
            for t in terms or []
            if isinstance(t, dict)
        }

    old, new = keyed(before), keyed(after)
    said: list[str] = []
    for key, rate in new.items():
        term = dict(zip(("party", "measure", "target"), key, strict=True))
        if key not in old:
            said.append(f"added {_term(term)}" + (f", {rate}" if rate else ""))
        elif old[key] != rate:
            said.append(f"{_term(term)} {old[key] or 'no rate'} → {rate or 'no rate'}")
    for key, rate in old.items():
        if key not in new:
            term = dict(zip(("party", "measure", "target"), key, strict=True))
            said.append(f"removed {_term(term)}" + (f", {rate}" if rate else ""))
    if len(said) > TERM_CHANGES_SHOWN:
        more = len(said) - TERM_CHANGES_SHOWN
        said = [*said[:TERM_CHANGES_SHOWN], f"{more} more change{'' if more == 1 else 's'}"]
    return "; ".join(said)


def _what(change: Change, zone: str) -> dict[str, Any]:
    """The template's values: `kind` picks the sentence."""
    entry, item, was = change.entry, change.snapshot, change.previous
    ref, title = entry.entity_id, item.get("title") or item.get("name") or item.get("handle") or ""
    base = {"ref": ref, "title": title, "entity": entry.entity}
    action, entity = entry.action, entry.entity
    if entity == "subscription" and action == "subscribe" and entry.before:
        return {**base, "kind": "subscription_settings", "fields": _settings(entry.before, item)}
    if entity in ("role", "subscription", "record") or (
        entity == "source" and action in ("pause", "resume", "remove", "mute")
    ):
        return {**base, "kind": f"{entity}_{action}", "muted": ", ".join(item.get("muted") or [])}
    if action == "add" and entity == "truce":
        # Its span in its expiry's zone (older entries hold no expiry: the start alone).
        expiry = (entry.after or {}).get("expiry") or {}
        truce_zone = expiry.get("zone") or zone
        return {
            **base,
            "kind": "add_truce",
            "from": _time(item.get("starts_at"), truce_zone),
            "to": _time(expiry.get("due_at"), truce_zone),
        }
    if action == "add":
        when = item.get("due_at") or item.get("starts_at") or item.get("occurred_at")
        return {
            **base,
            "kind": "add",
            "when": _time(when, item.get("zone") or zone),
            "level": item.get("level", ""),
            "confidence": item.get("confidence", ""),
        }
    if action in _OUTCOMES:
        return {**base, "kind": "outcome", "status": _OUTCOMES[action]}
    if action == "reopen":
        return {**base, "kind": "reopen"}
    if action == "lapse":
        expiry_zone = item.get("expiry_zone") or zone
        return {**base, "kind": "lapse", "when": _time(item.get("expired_at"), expiry_zone)}
    if action == "extend":
        old = (entry.before or {}).get("expiry") or {}
        new = (entry.after or {}).get("expiry") or {}
        expiry_zone = new.get("zone") or zone
        return {
            **base,
            "kind": "extend",
            "from": _time(old.get("due_at"), expiry_zone),
            "to": _time(new.get("due_at"), expiry_zone),
            "note": (entry.after or {}).get("note") or "",
        }
    if action == "set_terms":
        after = entry.after or {}
        return {
            **base,
            "kind": "terms",
            "count": len(after.get("terms") or []),
            "changes": _term_changes((entry.before or {}).get("terms"), after.get("terms")),
            "source": after.get("source") or "",
            "note": after.get("note") or "",
        }
    if entity == "deadline" and was.get("due_at") != item.get("due_at"):
        deadline_zone = item.get("zone") or zone
        return {
            **base,
            "kind": "moved",
            "from": _time(was.get("due_at"), deadline_zone),
            "to": _time(item.get("due_at"), deadline_zone),
        }
    if entity == "sensitivity" and was.get("level") != item.get("level"):
        up = _LEVELS.index(Level(item["level"])) > _LEVELS.index(Level(was["level"]))
        return {
            **base,
            "kind": "level",
            "verb": "raised" if up else "lowered",
            "from": was.get("level"),
            "to": item.get("level"),
            "fields": ", ".join(_changed(was, item)),  # what else the same edit changed
        }
    status, was_status = str(item.get("status", "")), str(was.get("status", ""))
    if entity == "round" and status != was_status and (status in SETTLED or was_status in SETTLED):
        shown = status if status in SETTLED else "to follow its times"
        return {**base, "kind": "status", "status": shown}
    return {**base, "kind": "update", "fields": ", ".join(_changed(was, item))}


def describe(change: Change, *, zone: str) -> str:
    """One line of mrkdwn, user text escaped: ``moved deadline #3 “Hearing” to …``."""
    values = _what(change, zone)
    item = SlackMarkup(render("change_item", **values))  # escaped once, here
    return render("change_line", **{**values, "item": item})
