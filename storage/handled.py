"""Slack requests already handled, by id, so a Slack retry has no second effect.

The claim is one `INSERT … ON CONFLICT DO NOTHING`: of two replicas receiving the same
event, exactly one gets True.

    first = await claim(db, request_id=body["event_id"], now=now)
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import HandledRequest
from storage.types import UTCDateTime
from storage.upsert import dialect_of, insert_in


@cache
def _claim(dialect: str) -> Any:
    """The claim, built once per dialect: every App Home opened makes one."""
    return (
        insert_in(dialect, HandledRequest)
        .values(
            request_id=bindparam("request_id"),
            handled_at=bindparam("handled_at", type_=UTCDateTime()),
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
    )


async def claim(db: Database, *, request_id: str, now: datetime) -> bool:
    """Records `request_id` as handled at `now`, committed, below the ORM
    (`DirectReader.write_at_once`); False if it already was."""
    assert db.direct is not None  # a database of a file or a server: every one we open
    params = {"request_id": request_id, "handled_at": now}
    return bool(await db.direct.write_at_once(_claim(db.dialect), params))


async def first_time(session: AsyncSession, *, request_id: str, now: datetime) -> bool:
    """Records `request_id` as handled at `now`; False if it already was. The caller commits."""
    params = {"request_id": request_id, "handled_at": now}
    connection = await session.connection()  # Core: an ORM insert with values is a bulk one
    result = await connection.execute(_claim(dialect_of(session)), params)
    return bool(result.rowcount)


async def forget_handled(session: AsyncSession, *, before: datetime) -> int:
    """Drops the ids handled before `before` (Slack stops retrying after minutes)."""
    statement = delete(HandledRequest).where(col(HandledRequest.handled_at) < before)
    result = await session.exec(statement)
    return int(result.rowcount or 0)
