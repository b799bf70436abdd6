"""Who may change the record. Checked inside every service call that writes, at the write."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import ADMINS_ONLY, LEADS_ONLY, NotPermitted
from storage.models import Role, RoleGrant


@dataclass(frozen=True)
class Actor:
    """Who acts: a Slack user id, or a system actor (`cli`, `seed`, `scheduler`).

    `configured_admin` is true for users named in PARLEY_ADMINS and for system actors.
    """

    id: str
    configured_admin: bool = False


CLI = Actor("cli", configured_admin=True)
SEED = Actor("seed", configured_admin=True)
SCHEDULER = Actor("scheduler", configured_admin=True)
#: The clock itself: status changes that follow time (a truce lapsing at its expiry).
PARLEY = Actor("parley", configured_admin=True)


async def role_of(session: AsyncSession, actor: Actor) -> Role:
    if actor.configured_admin:
        return Role.admin
    grant = await session.get(RoleGrant, actor.id)
    return Role(grant.role) if grant else Role.member


async def require_lead(session: AsyncSession, actor: Actor) -> None:
    if await role_of(session, actor) == Role.member:
        raise NotPermitted(LEADS_ONLY)


async def require_admin(session: AsyncSession, actor: Actor) -> None:
    if await role_of(session, actor) != Role.admin:
        raise NotPermitted(ADMINS_ONLY)
