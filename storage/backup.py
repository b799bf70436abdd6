"""`parley export` / `parley import`: the whole record as one JSON document.

The document carries a SHA-256 of its tables, so a truncated or edited file is refused
before anything is written. An import runs in one transaction and adds one audit entry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.access import Actor, require_admin
from storage.audit import record_change
from storage.checks import clean_offsets
from storage.db import ANALYSIS_LIMIT
from storage.errors import InvalidInput
from storage.models import (
    AuditEntry,
    Deadline,
    Delegation,
    Delivery,
    Event,
    EventSensitivity,
    FeedItem,
    HandledRequest,
    RoleGrant,
    Sensitivity,
    Source,
    Subscription,
    TalksRound,
    Track,
    Truce,
    TruceExtension,
    TruceTerm,
)
from storage.search import rebuild_index
from storage.types import UTCDateTime

FORMAT = "parley-export"
VERSION = 1
# Parents before children, so foreign keys hold while importing.
TABLES: tuple[type[SQLModel], ...] = (
    Track,
    TalksRound,
    Delegation,
    Truce,
    TruceTerm,
    TruceExtension,
    Deadline,
    Sensitivity,
    Event,
    EventSensitivity,
    Source,
    FeedItem,
    Subscription,
    RoleGrant,
    AuditEntry,
    Delivery,
    HandledRequest,
)
BY_NAME: dict[str, type[SQLModel]] = {str(m.__tablename__): m for m in TABLES}


def checksum(tables: dict[str, Any]) -> str:
    canonical = json.dumps(tables, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def export_record(session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for model in TABLES:
        primary = [c.name for c in model.__table__.primary_key.columns]  # type: ignore[attr-defined]
        order = [getattr(model, name) for name in primary]
        rows = (await session.exec(select(model).order_by(*order))).all()
        tables[str(model.__tablename__)] = [row.model_dump(mode="json") for row in rows]
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": now.isoformat(),
        "sha256": checksum(tables),
        "tables": tables,
    }


def _require_zoned(model: type[SQLModel], item: SQLModel, *, table: str, row: int) -> None:
    """Every instant in an export carries its offset; a naive one is ambiguous, so refused."""
    for column in model.__table__.columns:  # type: ignore[attr-defined]
        if not isinstance(column.type, UTCDateTime):
            continue
        value = getattr(item, column.key)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise InvalidInput(
                f"table {table!r}, row {row}: {column.key}: the time {value.isoformat()!r} "
                "has no time zone; give it as UTC with an offset (e.g. ending in Z or +00:00)"
            )


def _check_offsets(deadline: Deadline, *, table: str, row: int) -> None:
    """The same rule as a form's: an export with offsets Parley cannot read is refused."""
    try:
        deadline.offsets = clean_offsets(deadline.offsets)
    except InvalidInput as exc:
        raise InvalidInput(f"table {table!r}, row {row}: offsets: {exc}") from None


def parse_export(raw: str) -> dict[str, list[SQLModel]]:
    """Checks a document completely before anything is written; raises InvalidInput."""
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"not valid JSON ({exc.msg} at line {exc.lineno}); the file may be truncated"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidInput('not a Parley export (missing "format": "parley-export")')
    if document.get("version") != VERSION:
        raise InvalidInput(f"unsupported export version {document.get('version')!r}")
    tables = document.get("tables")
    if not isinstance(tables, dict):
        raise InvalidInput('the export has no "tables" object')
    if document.get("sha256") != checksum(tables):
        raise InvalidInput("the checksum does not match: the file was edited or damaged")
    unknown = set(tables) - set(BY_NAME)
    if unknown:
        raise InvalidInput(f"unknown tables in the export: {', '.join(sorted(unknown))}")
    parsed: dict[str, list[SQLModel]] = {}
    for name, model in BY_NAME.items():
        rows = tables.get(name, [])
        if not isinstance(rows, list):
            raise InvalidInput(f"table {name!r} is not a list of rows")
        items = []
        for i, row in enumerate(rows):
            try:
                items.append(model.model_validate(row))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise InvalidInput(
                    f"table {name!r}, row {i + 1}: {where}: {first['msg']}"
                ) from None
            _require_zoned(model, items[-1], table=name, row=i + 1)
            if isinstance(items[-1], Deadline):
                _check_offsets(items[-1], table=name, row=i + 1)
        parsed[name] = items
    return parsed


async def is_empty(session: AsyncSession) -> bool:
    for model in TABLES:
        count = (await session.exec(select(func.count()).select_from(model))).one()
        if count:
            return False
    return True


async def import_record(
    session: AsyncSession, *, actor: Actor, now: datetime, raw: str, replace: bool = False
) -> dict[str, int]:
    """Restores an export; refuses a non-empty record unless `replace`."""
    await require_admin(session, actor)
    parsed = parse_export(raw)
    if not replace and not await is_empty(session):
        raise InvalidInput("the record is not empty; use --replace to replace it entirely")
    for model in reversed(TABLES):
        await session.exec(delete(model))
    for model in TABLES:
        for row in parsed[str(model.__tablename__)]:
            session.add(row)
        try:
            await session.flush()
        except IntegrityError as exc:
            await session.rollback()
            reason = str(exc.orig).splitlines()[0] if exc.orig else "a constraint failed"
            raise InvalidInput(
                f"table {model.__tablename__!r} breaks the record's rules ({reason})"
            ) from None
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        for model in TABLES:
            table = str(model.__tablename__)
            if "id" in model.__table__.columns:  # type: ignore[attr-defined]
                await session.exec(
                    text(  # type: ignore[call-overload]
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    )
                )
    await rebuild_index(session)  # in the same transaction: the import's rows, searchable
    counts = {name: len(rows) for name, rows in parsed.items()}
    record_change(
        session,
        actor=actor,
        at=now,
        action="import",
        entity="record",
        entity_id="all",
        after={"rows": counts},
    )
    await session.commit()
    connection = await session.connection()  # fresh statistics for the planner, as at start
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    await connection.exec_driver_sql("ANALYZE")
    await session.commit()
    return counts
