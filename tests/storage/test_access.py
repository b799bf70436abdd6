"""Who may write: members never, leads the record, admins also the leads."""

from __future__ import annotations

import pytest

from storage import roles
from storage.access import CLI, SEED, Actor, role_of
from storage.db import Database
from storage.errors import ADMINS_ONLY, LEADS_ONLY, NotPermitted
from storage.models import Role
from tests.support.record import LEAD_WRITES, MEMBER, NOW, WRITES, Seeded, row_counts


@pytest.mark.parametrize("write", list(WRITES))
async def test_member_is_refused_by_every_write_service_and_nothing_is_written(
    db: Database, seeded: Seeded, write: str
) -> None:
    call, _ = WRITES[write]
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(NotPermitted) as refused:
            await call(s, MEMBER, seeded)
    assert str(refused.value) in (LEADS_ONLY, ADMINS_ONLY)
    assert await row_counts(db) == before


@pytest.mark.parametrize("write", LEAD_WRITES)
async def test_lead_granted_by_cli_can_use_every_record_write_service(
    db: Database, seeded: Seeded, lead: Actor, write: str
) -> None:
    call, _ = WRITES[write]
    before = await row_counts(db)
    async with db.session() as s:
        await call(s, lead, seeded)
    after = await row_counts(db)
    assert after["audit_entry"] == before["audit_entry"] + 1


async def test_lead_cannot_grant_leads_and_nothing_is_written(db: Database, lead: Actor) -> None:
    before = await row_counts(db)
    async with db.session() as s:
        with pytest.raises(NotPermitted, match="Only an admin"):
            await roles.grant_lead(s, actor=lead, now=NOW, user_id="UOTHER")
    assert await row_counts(db) == before


async def test_lead_cannot_revoke_leads(db: Database, lead: Actor) -> None:
    async with db.session() as s:
        with pytest.raises(NotPermitted, match="Only an admin"):
            await roles.revoke_lead(s, actor=lead, now=NOW, user_id=lead.id)
    async with db.session() as s:
        assert await role_of(s, lead) == Role.lead


async def test_roles_come_from_grants_and_system_actors_are_admins(
    db: Database, lead: Actor
) -> None:
    async with db.session() as s:
        assert await role_of(s, MEMBER) == Role.member
        assert await role_of(s, lead) == Role.lead
        assert await role_of(s, CLI) == Role.admin
        assert await role_of(s, SEED) == Role.admin
        assert await role_of(s, Actor("UCONFIGURED", configured_admin=True)) == Role.admin
