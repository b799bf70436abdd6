"""The audit trail: one entry beside every change, in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor
from storage.errors import InvalidInput
from storage.models import AuditEntry


def snapshot(row: SQLModel | None) -> dict[str, Any] | None:
    return None if row is None else row.model_dump(mode="json")


def record_change(
    session: AsyncSession,
    *,
    actor: Actor,
    at: datetime,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at,
        actor=actor.id,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


NOTHING_CHANGED = "Nothing changed: {what} is as it was. Change a field, or close the form."


def refuse_no_change(before: dict[str, Any] | None, row: SQLModel, *, what: str) -> None:
    """An edit that leaves the row as it was is refused, not audited as an update."""
    if before is not None and before == snapshot(row):
        raise InvalidInput(NOTHING_CHANGED.format(what=what))


async def commit_change(
    session: AsyncSession,
    row: SQLModel,
    *,
    actor: Actor,
    at: datetime,
    action: str,
    entity: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Writes `row` with its audit entry and commits: the one commit of a service call.

    The entry is keyed by the row's primary key; `after` defaults to the row as written.
    """
    await stage_change(
        session, row, actor=actor, at=at, action=action, entity=entity, before=before, after=after
    )
    await session.commit()


async def stage_change(
    session: AsyncSession,
    row: SQLModel,
    *,
    actor: Actor,
    at: datetime,
    action: str,
    entity: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """`commit_change` without the commit, for a service call that makes several changes
    (each with its entry) in one transaction."""
    session.add(row)
    await session.flush()
    record_change(
        session,
        actor=actor,
        at=at,
        action=action,
        entity=entity,
        entity_id=inspect(row).identity[0],
        before=before,
        after=snapshot(row) if after is None else after,
    )


async def recent_entries(session: AsyncSession, *, limit: int = 20) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return list((await session.exec(query.limit(limit))).all())
