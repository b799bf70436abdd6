"""Checks on the founding-case seed file, seeds/us_china_2025.yaml.

These tests read the YAML only (no database, no loader): they pin the schema the loader
is written against and the facts of the founding case (the news report of 29 July 2025 on
the US–China trade talks in Stockholm).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
import yaml

SEED_PATH = Path(__file__).parents[2] / "seeds" / "us_china_2025.yaml"
TIME_FORMAT = "%Y-%m-%d %H:%M"
OUTSIDE_MARK = "(not in the founding report)"
FOUNDING_MARK = "founding case"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
REPORT_DATE = "2025-07-29"  # Tuesday; the report's "Monday" is 28 July, "Sunday" 27 July

SECTIONS = ("tracks", "sensitivities", "rounds", "truces", "deadlines", "events", "sources")

TRACK_STATUS = {"active", "dormant", "closed"}
LEVELS = {"low", "medium", "high", "critical"}
VISIBILITY = {"team", "restricted"}
ROUND_STATUS = {"scheduled", "in_progress", "concluded", "cancelled"}
TRUCE_STATUS = {"active", "extended", "lapsed", "superseded"}
DEADLINE_KINDS = {"truce_expiry", "tariff_action", "legislative_step", "meeting", "other"}
DEADLINE_STATUS = {"open", "met", "missed", "extended", "cancelled"}
EVENT_KINDS = {
    "talks",
    "statement",
    "report",
    "agreement",
    "measure",
    "legislation",
    "diplomatic",
    "other",
}
CONFIDENCE = {"rumour", "reported", "confirmed", "official"}

REQUIRED = {
    "tracks": {"key", "name", "parties", "status"},
    "sensitivities": {"key", "name", "level", "description", "keywords", "visibility"},
    "rounds": {
        "key",
        "track",
        "title",
        "place",
        "starts_at",
        "zone",
        "status",
        "delegations",
        "source",
    },
    "truces": {
        "key",
        "track",
        "title",
        "parties",
        "starts_at",
        "expires_at",
        "zone",
        "status",
        "terms",
        "extensions",
        "source",
    },
    "deadlines": {"key", "track", "title", "due_at", "zone", "kind", "status", "visibility"},
    "events": {
        "key",
        "track",
        "occurred_at",
        "zone",
        "kind",
        "title",
        "summary",
        "source",
        "confidence",
        "visibility",
    },
    "sources": {"key", "name", "url", "confidence"},
}
OPTIONAL = {
    "tracks": set(),
    "sensitivities": set(),
    "rounds": {"ends_at", "outcome"},
    "truces": set(),
    "deadlines": set(),
    "events": {"round"},
    "sources": {"tracks", "poll_minutes", "enabled", "verified"},
}


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    with SEED_PATH.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def _by_key(seed: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in seed[section]}


def _parse(value: Any) -> datetime:
    assert isinstance(value, str), f"time {value!r} must be a quoted string"
    return datetime.strptime(value, TIME_FORMAT)


def _aware(value: str, zone: str) -> datetime:
    return _parse(value).replace(tzinfo=ZoneInfo(zone))


def _all_sources(seed: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for section in ("rounds", "truces", "events"):
        for item in seed[section]:
            found.append((f"{section}/{item['key']}", item["source"]))
            for ext in item.get("extensions", []) or []:
                found.append((f"{section}/{item['key']}/extension", ext["source"]))
    return found


def _mentions(text: str, keyword: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", text, re.IGNORECASE) is not None


# --- schema -----------------------------------------------------------------------------


def test_top_level_shape(seed: dict[str, Any]) -> None:
    assert seed["version"] == 1
    assert set(seed) == {"version", *SECTIONS}
    for section in SECTIONS:
        assert isinstance(seed[section], list), section


@pytest.mark.parametrize("section", SECTIONS)
def test_required_and_known_fields(seed: dict[str, Any], section: str) -> None:
    for item in seed[section]:
        missing = REQUIRED[section] - set(item)
        unknown = set(item) - REQUIRED[section] - OPTIONAL[section]
        assert not missing, f"{section}/{item.get('key')}: missing {missing}"
        assert not unknown, f"{section}/{item.get('key')}: unknown {unknown}"


@pytest.mark.parametrize("section", SECTIONS)
def test_keys_unique_and_slug_shaped(seed: dict[str, Any], section: str) -> None:
    keys = [item["key"] for item in seed[section]]
    assert len(keys) == len(set(keys)), f"duplicate keys in {section}"
    for key in keys:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", key), key


def test_enum_values(seed: dict[str, Any]) -> None:
    for t in seed["tracks"]:
        assert t["status"] in TRACK_STATUS
        assert len(t["parties"]) >= 2
    for s in seed["sensitivities"]:
        assert s["level"] in LEVELS
        assert s["visibility"] in VISIBILITY
        assert s["keywords"] and all(isinstance(k, str) and k.strip() for k in s["keywords"])
    for r in seed["rounds"]:
        assert r["status"] in ROUND_STATUS
    for t in seed["truces"]:
        assert t["status"] in TRUCE_STATUS
    for d in seed["deadlines"]:
        assert d["kind"] in DEADLINE_KINDS
        assert d["status"] in DEADLINE_STATUS
        assert d["visibility"] in VISIBILITY
    for e in seed["events"]:
        assert e["kind"] in EVENT_KINDS
        assert e["confidence"] in CONFIDENCE
        assert e["visibility"] in VISIBILITY


def test_zones_are_valid_iana_names(seed: dict[str, Any]) -> None:
    for section in ("rounds", "truces", "deadlines", "events"):
        for item in seed[section]:
            try:
                ZoneInfo(item["zone"])
            except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - failure path
                pytest.fail(f"{section}/{item['key']}: bad zone {item['zone']!r}: {exc}")


def test_times_parse_and_are_ordered(seed: dict[str, Any]) -> None:
    for r in seed["rounds"]:
        start = _parse(r["starts_at"])
        if "ends_at" in r:
            assert _parse(r["ends_at"]) > start, r["key"]
    for t in seed["truces"]:
        assert _parse(t["expires_at"]) > _parse(t["starts_at"]), t["key"]
        for ext in t["extensions"]:
            for field in ("from", "to", "decided_at"):
                _parse(ext[field])
    for d in seed["deadlines"]:
        _parse(d["due_at"])
    for e in seed["events"]:
        _parse(e["occurred_at"])


def test_references_resolve(seed: dict[str, Any]) -> None:
    tracks = _by_key(seed, "tracks")
    rounds = _by_key(seed, "rounds")
    for section in ("rounds", "truces", "deadlines", "events"):
        for item in seed[section]:
            track = item["track"]
            if section == "events" and track is None:
                continue  # desk-wide event
            assert track in tracks, f"{section}/{item['key']}: unknown track {track!r}"
    for e in seed["events"]:
        if e.get("round") is not None:
            assert e["round"] in rounds, f"events/{e['key']}: unknown round {e['round']!r}"
            assert rounds[e["round"]]["track"] == e["track"], e["key"]
    for t in seed["truces"]:
        assert set(t["parties"]) <= set(tracks[t["track"]]["parties"]), t["key"]
        for term in t["terms"]:
            assert set(term) == {"party", "measure", "rate", "target"}, t["key"]
            assert term["party"] in t["parties"] and term["target"] in t["parties"]
    for r in seed["rounds"]:
        assert r["delegations"], r["key"]
        for d in r["delegations"]:
            assert set(d) == {"party", "lead", "title"}, r["key"]
            assert d["party"] in tracks[r["track"]]["parties"], r["key"]


def test_text_lengths_and_sources(seed: dict[str, Any]) -> None:
    for e in seed["events"]:
        assert 0 < len(e["title"]) <= 150, e["key"]
        assert 0 < len(e["summary"]) <= 1000, e["key"]
    for section in ("rounds", "truces", "deadlines"):
        for item in seed[section]:
            assert 0 < len(item["title"]) <= 150, item["key"]
    for where, source in _all_sources(seed):
        assert set(source) <= {"name", "url"}, where
        assert isinstance(source.get("name"), str) and source["name"].strip(), where
        if "url" in source:
            assert source["url"].startswith("https://"), where


# --- the founding case ------------------------------------------------------------------


def test_us_china_track(seed: dict[str, Any]) -> None:
    track = _by_key(seed, "tracks")["us-china"]
    assert track["parties"] == ["United States", "China"]
    assert track["status"] == "active"


def test_three_rounds_in_local_zones(seed: dict[str, Any]) -> None:
    rounds = _by_key(seed, "rounds")
    expected = {
        "geneva-2025": ("Europe/Zurich", "2025-05-10", "2025-05-11", "concluded"),
        "london-2025": ("Europe/London", "2025-06-09", "2025-06-10", "concluded"),
        "stockholm-2025": ("Europe/Stockholm", "2025-07-28", "2025-07-29", "in_progress"),
    }
    for key, (zone, first, last, status) in expected.items():
        r = rounds[key]
        assert r["track"] == "us-china"
        assert r["zone"] == zone
        assert r["starts_at"].startswith(first)
        assert r["ends_at"].startswith(last)
        assert r["status"] == status
        leads = {d["party"]: (d["lead"], d["title"]) for d in r["delegations"]}
        assert leads == {
            "United States": ("Scott Bessent", "Treasury Secretary"),
            "China": ("He Lifeng", "Vice Premier"),
        }, key


def test_stockholm_round(seed: dict[str, Any]) -> None:
    r = _by_key(seed, "rounds")["stockholm-2025"]
    assert "Rosenbad" in r["place"] and "Stockholm" in r["place"]
    assert "Prime Minister" in r["place"]
    assert _parse(r["starts_at"]).date().isoformat() == "2025-07-28"  # "on Monday"
    assert _parse(r["ends_at"]).date().isoformat() == "2025-07-29"  # two-day talks
    assert r["status"] == "in_progress"  # "currently engaged" as of 29 July
    assert "outcome" not in r  # no outcome was known on 29 July
    assert FOUNDING_MARK in r["source"]["name"]


def test_truce_expires_12_august_new_york(seed: dict[str, Any]) -> None:
    truces = seed["truces"]
    assert len(truces) == 1
    t = truces[0]
    assert t["track"] == "us-china"
    assert t["parties"] == ["United States", "China"]
    assert t["zone"] == "America/New_York"
    assert t["status"] == "active"
    assert t["starts_at"] == "2025-05-14 00:01"
    assert t["expires_at"] == "2025-08-12 00:01"
    expiry = _aware(t["expires_at"], t["zone"])
    assert expiry.utcoffset() is not None and expiry.tzname() == "EDT"
    assert expiry.astimezone(ZoneInfo("UTC")) == datetime(2025, 8, 12, 4, 1, tzinfo=ZoneInfo("UTC"))
    rates = {(term["party"], term["target"]): term["rate"] for term in t["terms"]}
    assert rates == {("United States", "China"): "30%", ("China", "United States"): "10%"}


def test_no_extension_applied(seed: dict[str, Any]) -> None:
    for t in seed["truces"]:
        assert t["extensions"] == [], t["key"]
        assert t["status"] != "extended", t["key"]
    # the expiry deadline comes from the truce; no other deadline is supported by the report
    assert not any(d["kind"] == "truce_expiry" for d in seed["deadlines"])


def test_90_day_extension_is_a_rumour_event(seed: dict[str, Any]) -> None:
    event = _by_key(seed, "events")["truce-90-day-extension-suggested"]
    text = f"{event['title']} {event['summary']}"
    assert "90" in event["title"] and "extension" in event["title"].lower()
    assert "officials" in text.lower() and "suggest" in text.lower()
    assert event["confidence"] == "rumour"
    assert event["round"] == "stockholm-2025"
    assert "August 12" in event["summary"]


def test_truth_social_event_is_official_and_quoted(seed: dict[str, Any]) -> None:
    event = _by_key(seed, "events")["trump-truth-social-not-seeking-xi-meeting"]
    assert event["confidence"] == "official"
    assert event["kind"] == "statement"
    assert event["occurred_at"].startswith("2025-07-29")  # "on Tuesday"
    assert "Truth Social" in event["source"]["name"]
    assert "Donald Trump" in event["source"]["name"]
    assert (
        "This is not correct, I am not SEEKING anything! I may go to China, but it would only "
        "be at the invitation of President Xi, which has been extended. Otherwise, no interest!"
    ) in event["summary"]


def test_ft_h20_event_is_reported(seed: dict[str, Any]) -> None:
    event = _by_key(seed, "events")["ft-us-pauses-h20-export-restrictions"]
    assert event["confidence"] == "reported"
    assert "Financial Times" in event["source"]["name"]
    assert "H20" in event["title"] and "Nvidia" in event["title"]


def test_confidence_matches_report_wording(seed: dict[str, Any]) -> None:
    events = _by_key(seed, "events")
    expected = {
        "stockholm-talks-open-2025-07-28": "confirmed",
        "stockholm-first-session-over-five-hours": "rumour",  # "Sources indicate"
        "senators-prepare-human-rights-taiwan-bills": "reported",  # "reportedly"
        "lai-ching-te-postpones-us-visit": "reported",  # "reportedly"
        "us-eu-pact-15-percent-2025-07-27": "confirmed",
        "geneva-joint-statement-2025-05-12": "official",
    }
    for key, confidence in expected.items():
        assert events[key]["confidence"] == confidence, key
    for e in seed["events"]:
        summary = e["summary"].lower()
        if "reportedly" in summary or "reported that" in summary:
            assert e["confidence"] == "reported", e["key"]
        if "sources indicate" in summary or "officials close to" in summary:
            assert e["confidence"] == "rumour", e["key"]


def test_context_events_on_their_own_tracks(seed: dict[str, Any]) -> None:
    events = _by_key(seed, "events")
    eu = events["us-eu-pact-15-percent-2025-07-27"]
    assert eu["track"] == "us-eu" and "15%" in eu["title"]
    assert eu["occurred_at"].startswith("2025-07-27")  # "on Sunday"
    assert events["us-japan-accord-2025"]["track"] == "us-japan"


def test_every_sensitivity_has_a_matching_event(seed: dict[str, Any]) -> None:
    keys = {s["key"] for s in seed["sensitivities"]}
    assert {"taiwan", "human-rights", "export-controls", "rare-earths"} <= keys
    for s in seed["sensitivities"]:
        hits = [
            e["key"]
            for e in seed["events"]
            if any(_mentions(f"{e['title']}\n{e['summary']}", kw) for kw in s["keywords"])
        ]
        assert hits, f"no event mentions a keyword of {s['key']}"


def test_sensitivity_keywords(seed: dict[str, Any]) -> None:
    sens = _by_key(seed, "sensitivities")
    wanted = {
        "taiwan": {"taiwan", "taipei", "lai ching-te"},
        "human-rights": {"human rights", "ethnic minorities", "dissidents"},
        "export-controls": {"export controls", "export restrictions", "h20", "nvidia", "ai chips"},
        "rare-earths": {"rare earth", "rare earths"},
    }
    for key, words in wanted.items():
        assert words <= {k.lower() for k in sens[key]["keywords"]}, key


def test_sensitivities_carry_the_chinese_keywords_a_desk_sets(seed: dict[str, Any]) -> None:
    sens = _by_key(seed, "sensitivities")
    wanted = {
        "taiwan": {"台湾", "台灣"},
        "human-rights": {"人权", "维吾尔"},
        "export-controls": {"出口管制", "芯片", "英伟达"},
        "rare-earths": {"稀土"},
    }
    for key, words in wanted.items():
        assert words <= set(sens[key]["keywords"]), key
    # no tariff topic is seeded, so no 关税 keyword either
    assert not any("关税" in s["keywords"] for s in seed["sensitivities"])


def test_chinese_keywords_are_marked_as_desk_choices() -> None:
    """The report is in English: every CJK keyword is named in a "Desk choice" comment
    above its list, so no one reads it as a fact of the report."""
    lines = SEED_PATH.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if not line.strip().startswith("keywords:"):
            continue
        comment: list[str] = []
        for above in reversed(lines[:n]):
            if not above.strip().startswith("#"):
                break
            comment.insert(0, above)
        note = " ".join(comment)
        cjk = [k for k in yaml.safe_load(line.strip())["keywords"] if CJK.search(k)]
        assert cjk and "Desk choice, not in the report" in note, line
        for keyword in cjk:
            assert keyword in note, f"{keyword} is not marked as a desk choice"


def test_sources_outside_the_report_are_marked(seed: dict[str, Any]) -> None:
    for where, source in _all_sources(seed):
        name = source["name"]
        assert FOUNDING_MARK in name or OUTSIDE_MARK in name, f"{where}: unclear provenance"
        # the founding report carries no links: a URL always points outside it
        if "url" in source:
            assert OUTSIDE_MARK in name, where
    must_be_marked = [
        _by_key(seed, "rounds")["geneva-2025"]["source"],
        _by_key(seed, "rounds")["london-2025"]["source"],
        seed["truces"][0]["source"],
        _by_key(seed, "events")["geneva-joint-statement-2025-05-12"]["source"],
        _by_key(seed, "events")["us-japan-accord-2025"]["source"],
    ]
    for source in must_be_marked:
        assert OUTSIDE_MARK in source["name"], source["name"]


def test_no_event_after_the_report(seed: dict[str, Any]) -> None:
    for e in seed["events"]:
        # nothing in the timeline happens after the report's date, in its own local time
        assert _parse(e["occurred_at"]).date().isoformat() <= REPORT_DATE, e["key"]
