"""The console's people and how a typed @name reaches a command that Slack escapes."""

from __future__ import annotations

import pytest

from bot.local_desk import CHANNEL_ID, PEOPLE, escape_like_slack, person_named

ALICE = next(p for p in PEOPLE if p.name == "alice")


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("lead add @alice", f"lead add <@{ALICE.id}|alice>"),
        ("lead add @Alice", f"lead add <@{ALICE.id}|alice>"),  # any case, as Slack matches
        ("lead add @nobody", "lead add @nobody"),  # not a person here: stays text
        ("lead add alice", "lead add alice"),
        ("search mail@alice.example", "search mail@alice.example"),  # not a mention
        (f"lead add <@{ALICE.id}|alice>", f"lead add <@{ALICE.id}|alice>"),  # already one
        ("search #desk notes", f"search <#{CHANNEL_ID}|desk> notes"),
        ("search #other", "search #other"),
        ("search a&b <c>", "search a&b <c>"),
        ("@you and @bob", "<@ULOCALADMIN|you> and <@ULOCALBOB|bob>"),
    ],
)
def test_a_typed_mention_as_slack_sends_it(typed: str, sent: str) -> None:
    assert escape_like_slack(typed) == sent


@pytest.mark.parametrize(
    ("typed", "prefix", "found"),
    [
        ("@alice", False, "alice"),
        ("ALICE", False, "alice"),
        ("@al", False, None),
        ("@al", True, "alice"),
        ("@b", True, "bob"),
        ("@", True, None),
        ("@zed", True, None),
    ],
)
def test_a_person_by_name_or_the_start_of_one(typed: str, prefix: bool, found: str | None) -> None:
    person = person_named(typed, prefix=prefix)
    assert (person.name if person else None) == found


def test_one_admin_one_lead_and_members_with_distinct_names() -> None:
    assert [p.role for p in PEOPLE].count("admin") == 1
    assert [p.role for p in PEOPLE].count("lead") >= 1
    assert [p.role for p in PEOPLE].count("member") >= 1
    assert len({p.name for p in PEOPLE}) == len({p.id for p in PEOPLE}) == len(PEOPLE)
