"""What every command reads first — tracks, role, restricted channel — in one query
(`command_context`), and the same as the memoised lookups read one by one."""

from __future__ import annotations

import pytest

from storage import tracks
from storage.access import CLI, Actor
from storage.db import Database
from storage.lookups import RecordLookups, command_context
from storage.models import Role, Subscription
from tests.support.record import LEAD, MEMBER, NOW, Seeded

RESTRICTED = "GLOCKED1"
OPEN = "CDESK001"
ADMIN = Actor("UADMIN", configured_admin=True)


async def _channels(db: Database) -> None:
    async with db.session() as s:
        for channel, restricted in ((RESTRICTED, True), (OPEN, False)):
            s.add(
                Subscription(
                    channel_id=channel, restricted=restricted, created_by="cli", created_at=NOW
                )
            )
        await s.commit()


@pytest.mark.parametrize(
    ("actor", "channel", "role", "restricted"),
    [
        (MEMBER, OPEN, Role.member, False),
        (LEAD, OPEN, Role.lead, False),
        (ADMIN, RESTRICTED, Role.admin, True),
        (CLI, RESTRICTED, Role.admin, True),
        (MEMBER, RESTRICTED, Role.member, True),
        (MEMBER, "CUNKNOWN", Role.member, False),
        (LEAD, "", Role.lead, False),
    ],
)
async def test_one_query_reads_what_the_lookups_read(
    db: Database,
    seeded: Seeded,
    lead: Actor,
    actor: Actor,
    channel: str,
    role: Role,
    restricted: bool,
) -> None:
    await _channels(db)
    async with db.session() as s:
        known, found_role, found_restricted = await command_context(s, actor, channel)
        memo = RecordLookups()
        assert [t.handle for t in known] == [t.handle for t in await tracks.all_tracks(s)]
        assert found_role == role == await memo.role(s, None, actor)
        expected = await memo.restricted_channel(s, None, channel) if channel else False
        assert found_restricted == restricted == expected
    assert len(known) >= 2  # the seeded us-china and us-eu


async def test_an_empty_record_still_reads_the_role(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        assert await command_context(s, LEAD, OPEN) == ([], Role.lead, False)
        assert await command_context(s, MEMBER, OPEN) == ([], Role.member, False)
