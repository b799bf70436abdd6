"""The console's own Slack workspace: its team, its one channel and a few people.

`parley shell` is a Slack client with no Slack behind it, so the people in it are made up:
you (an admin), a lead and two members. `:as @name` acts as one of them, so a member's
refusal can be seen. Kept apart from `bot.shell` so that `parley digest --channel '#desk'`
can name the channel without loading the console (rich, prompt_toolkit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHANNEL_ID = "CLOCALDESK"
CHANNEL_NAME = "desk"  # shown as #desk; `parley digest --channel '#desk'` takes it too
USER_ID = "ULOCALADMIN"  # you


@dataclass(frozen=True)
class Person:
    id: str
    name: str  # the handle typed after @
    real_name: str
    role: str  # "admin", "lead" or "member": what the shell sets up, not a rule

    @property
    def mention(self) -> str:
        """As Slack hands a command with should_escape a typed @name: ``<@U…|name>``."""
        return f"<@{self.id}|{self.name}>"


PEOPLE: tuple[Person, ...] = (
    Person(USER_ID, "you", "You", "admin"),
    Person("ULOCALLENA", "lena", "Lena Fischer", "lead"),
    Person("ULOCALALICE", "alice", "Alice Moreau", "member"),
    Person("ULOCALBOB", "bob", "Bob Okafor", "member"),
)
YOU = PEOPLE[0]
LEADS = tuple(p for p in PEOPLE if p.role == "lead")

# The commands whose text Slack escapes (`should_escape: true` in
# deploy/slack-manifest.yaml; a test keeps the two in step).
ESCAPED_COMMANDS = frozenset({"/desk"})

_MENTION = re.compile(r"(?<![\w<@|])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_CHANNEL = re.compile(r"(?<![\w<#|])#([a-z0-9][a-z0-9_-]*)", re.IGNORECASE)


def person_named(name: str, *, prefix: bool = False) -> Person | None:
    """The person `name` (with or without its @, any case) names, or None; with `prefix`,
    also the one person whose name starts with it (`:as @al`)."""
    wanted = name.strip().removeprefix("@").casefold()
    exact = next((p for p in PEOPLE if p.name == wanted), None)
    if exact is not None or not prefix or not wanted:
        return exact
    found = [p for p in PEOPLE if p.name.startswith(wanted)]
    return found[0] if len(found) == 1 else None


def escape_like_slack(text: str) -> str:
    """A command's text with its mentions as Slack sends them with should_escape: a known
    ``@name`` as ``<@U…|name>``, ``#desk`` as ``<#C…|desk>``; an unknown @name stays text."""

    def person(match: re.Match[str]) -> str:
        found = person_named(match[1])
        return found.mention if found else match[0]

    def channel(match: re.Match[str]) -> str:
        return f"<#{CHANNEL_ID}|{CHANNEL_NAME}>" if match[1].lower() == CHANNEL_NAME else match[0]

    return _CHANNEL.sub(channel, _MENTION.sub(person, text))
