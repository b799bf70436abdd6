"""Lead grants: made and withdrawn by admins, each with its audit entry."""

from __future__ import annotations

import pytest

from storage import roles
from storage.access import CLI, Actor, role_of
from storage.db import Database
from storage.errors import InvalidInput
from storage.models import Role
from tests.support.record import NOW, assert_utc, audit_trail, row_counts


async def test_grant_lead_by_cli_makes_the_user_a_lead_with_an_audit_entry(db: Database) -> None:
    async with db.session() as s:
        await roles.grant_lead(s, actor=CLI, now=NOW, user_id="UNEW")
    async with db.session() as s:
        assert await role_of(s, Actor("UNEW")) == Role.lead
        [grant] = await roles.leads(s)
    assert (grant.user_id, grant.role, grant.granted_by) == ("UNEW", "lead", "cli")
    assert_utc(grant.granted_at)
    [entry] = await audit_trail(db)
    assert (entry.actor, entry.action, entry.entity, entry.entity_id) == (
        "cli",
        "grant",
        "role",
        "UNEW",
    )
    assert entry.before is None
    assert entry.after is not None and entry.after["role"] == "lead"


async def test_granting_an_existing_lead_again_is_refused_and_changes_nothing(
    db: Database, lead: Actor
) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="already"):
            await roles.grant_lead(s, actor=CLI, now=NOW, user_id=lead.id)
    assert await row_counts(db) == before


async def test_revoke_lead_makes_the_user_a_member_again(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        await roles.revoke_lead(s, actor=CLI, now=NOW, user_id=lead.id)
    async with db.session() as s:
        assert await role_of(s, lead) == Role.member
        assert await roles.leads(s) == []
    entry = (await audit_trail(db))[-1]
    assert (entry.action, entry.entity, entry.entity_id) == ("revoke", "role", lead.id)
    assert entry.before is not None and entry.after is None


async def test_revoking_a_user_who_is_not_a_lead_is_refused(db: Database) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="not a lead"):
            await roles.revoke_lead(s, actor=CLI, now=NOW, user_id="UNOBODY")
    assert await row_counts(db) == before
