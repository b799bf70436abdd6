"""What a slash command asked: the track, the words, `public`, and who asks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.answers import AnswerKey
from bot.runtime import Runtime, runtime_of
from storage import tracks
from storage.access import Actor
from storage.direct import Reads, SessionReads
from storage.lookups import command_context
from storage.models import Role, Track
from storage.version import Version


@dataclass
class Ask:
    runtime: Runtime
    actor: Actor
    channel_id: str
    text: str  # after the track handle and `public`
    scope: list[Track]
    named_track: Track | None
    public: bool
    role: Role
    restricted_channel: bool
    known_tracks: list[Track]  # every track, to label items with their handle
    version: Version | None  # the record's, read before anything else (bot.answers)
    #: What the answer reads the record with (storage.direct); the session is for writes.
    reads: Reads

    @property
    def user_id(self) -> str:
        return self.actor.id

    @property
    def is_lead(self) -> bool:
        return self.role != Role.member

    @property
    def track_ids(self) -> list[int] | None:
        """None means everything (no track named and no active track filter needed)."""
        return [t.id for t in self.scope if t.id is not None]

    @property
    def sees_restricted(self) -> bool:
        """Restricted items: in restricted channels, and in answers only a lead reads."""
        if self.public:
            return self.restricted_channel
        return self.restricted_channel or self.is_lead

    @property
    def unnamed_handles(self) -> list[str]:
        """Every track's handle, as `/truce <track>` takes it, when no track was named (an
        unknown first word may be a mistyped one); none when one was."""
        return [] if self.named_track else [t.handle for t in self.known_tracks]

    @property
    def words(self) -> list[str]:
        return self.text.split()

    @property
    def verb(self) -> str:
        """The first word, lower-cased ("" when there is none): a subcommand, if it is one."""
        return self.words[0].lower() if self.words else ""

    def response_type(self) -> str:
        return "in_channel" if self.public else "ephemeral"


async def answer_zone(ask: Ask, client: AsyncWebClient) -> str | None:
    """The zone an answer's "your time" falls back to: its one reader's (`users.info`); None
    in a `public` answer, which the whole channel reads (then UTC, named as such)."""
    return None if ask.public else await ask.runtime.reader_zone(client, ask.user_id)


async def read_command(
    session: AsyncSession,
    runtime: Runtime,
    command: dict[str, Any],
    reads: Reads | None = None,
) -> Ask:
    """Parses the command; its lookups come from `runtime.lookups`, so a warm one reads nothing
    (with `PARLEY_ANSWER_CACHE=off`, no version: everything is read from the record, with
    `reads`, or else through `session`)."""
    reads = reads or SessionReads(session)
    version = runtime.db.version.current() if runtime.settings.answer_cache else None
    lookups = runtime.lookups
    text = " ".join(str(command.get("text") or "").split())
    words = text.split(" ") if text else []
    public = False
    if words and words[-1].lower() == "public":
        public = True
        words = words[:-1]
    actor = runtime.actor(str(command.get("user_id") or ""))
    channel_id = str(command.get("channel_id") or "")
    if version is None:  # nothing may be memoised: one query for all three
        known, role, restricted = await command_context(reads, actor, channel_id)
    else:
        known = await lookups.tracks(session, version)  # the handle, scope and labels
        restricted = (
            await lookups.restricted_channel(session, version, channel_id) if channel_id else False
        )
        role = await lookups.role(session, version, actor)
    named = tracks.find_track(known, words[0]) if words else None
    if named is not None:
        words = words[1:]
    scope = [named] if named else tracks.active_tracks(known)
    return Ask(
        runtime=runtime,
        actor=actor,
        channel_id=channel_id,
        text=" ".join(words),
        scope=scope,
        named_track=named,
        public=public,
        role=role,
        restricted_channel=restricted,
        known_tracks=known,
        version=version,
        reads=reads,
    )


#: What a cached answer may read of its `Ask`, and what in `AnswerKey` stands for it
#: (tests/handlers/test_answer_cache.py fails when an answer reads anything else).
KEYED_BY = {
    "named_track": "track_id",
    "track_ids": "track_id (a named track) or the record's version (the active tracks)",
    "scope": "track_id or the record's version",
    "known_tracks": "the record's version",
    "unnamed_handles": "the record's version and track_id",
    "public": "public",
    "response_type": "public",
    "role": "role",
    "is_lead": "role",
    "sees_restricted": "sees_restricted",
    "runtime": "nothing: an answer reads no setting, and the clock bounds it (fresh_until)",
}


def answer_key(ask: Ask, command: str, reader_zone: str | None) -> AnswerKey | None:
    """None when the record's changes cannot be seen: the answer is then made afresh."""
    if ask.version is None:
        return None
    return AnswerKey(
        version=ask.version,
        command=command,
        track_id=ask.named_track.id if ask.named_track else None,
        public=ask.public,
        role=ask.role,
        sees_restricted=ask.sees_restricted,
        reader_zone=reader_zone,
    )


@asynccontextmanager
async def asked(
    command: dict[str, Any], context: AsyncBoltContext
) -> AsyncIterator[tuple[AsyncSession, Ask]]:
    """The opening of every slash command's listener: one session for the whole answer and
    the command read into an `Ask` (track, words, `public`, who asks and their role)."""
    runtime = runtime_of(context)
    async with runtime.db.session_when_used() as session, runtime.db.reads() as reads:
        yield session, await read_command(session, runtime, command, reads)
