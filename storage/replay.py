"""When the record was last written: a replay (`parley shell --as-of T`) that starts before
that instant would show later entries as known at T and post nothing that fell due between.

    written = await last_written_at(session)   # None for an empty record
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditEntry, Delivery


async def last_written_at(session: AsyncSession) -> datetime | None:
    """The newest instant in the audit trail or the outbox (planned, posted), by the clock
    that wrote it. Every change to the record has its audit entry; digests and countdowns
    have only their outbox rows."""
    instants = [
        (await session.exec(select(func.max(col(AuditEntry.at))))).one(),
        (await session.exec(select(func.max(col(Delivery.created_at))))).one(),
        (await session.exec(select(func.max(col(Delivery.sent_at))))).one(),
    ]
    return max((i for i in instants if i is not None), default=None)
