"""Lead grants, made and withdrawn by admins."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_admin
from storage.audit import commit_change, record_change, snapshot
from storage.errors import InvalidInput
from storage.models import Role, RoleGrant


async def grant_lead(session: AsyncSession, *, actor: Actor, now: datetime, user_id: str) -> None:
    await require_admin(session, actor)
    existing = await session.get(RoleGrant, user_id)
    if existing is not None:
        raise InvalidInput(f"{user_id} is a {existing.role} already.")
    grant = RoleGrant(user_id=user_id, role=Role.lead, granted_by=actor.id, granted_at=now)
    await commit_change(session, grant, actor=actor, at=now, action="grant", entity="role")


async def revoke_lead(session: AsyncSession, *, actor: Actor, now: datetime, user_id: str) -> None:
    await require_admin(session, actor)
    grant = await session.get(RoleGrant, user_id)
    if grant is None:
        raise InvalidInput(f"{user_id} is not a lead.")
    before = snapshot(grant)
    await session.delete(grant)
    record_change(
        session,
        actor=actor,
        at=now,
        action="revoke",
        entity="role",
        entity_id=user_id,
        before=before,
    )
    await session.commit()


async def leads(session: AsyncSession) -> list[RoleGrant]:
    query = select(RoleGrant).order_by(col(RoleGrant.granted_at))
    return list((await session.exec(query)).all())
