"""Column types: instants go in and come out as tz-aware UTC on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, event, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite keeps no zone: store UTC, and give every value read back its UTC zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"naive or non-datetime value for a UTC column: {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return as_utc(value)


def as_utc(value: datetime) -> datetime:
    """An instant read back: a zone-less one (SQLite's) is UTC; any other, in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@cache
def _utc_keys(mapper: Mapper[Any]) -> tuple[str, ...]:
    return tuple(
        prop.key
        for prop in mapper.column_attrs
        if any(isinstance(column.type, UTCDateTime) for column in prop.columns)
    )


@event.listens_for(Session, "before_flush")
def _utc_before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Rows about to be written hold their instants in UTC, as they will read back: so a
    returned row and its audit snapshot (taken after the flush) show the stored instant,
    not the caller's offset. Naive values are left for process_bind_param to refuse."""
    for row in (*session.new, *session.dirty):
        state = inspect(row)
        for key in _utc_keys(state.mapper):
            value = state.dict.get(key)  # never a lazy load
            if isinstance(value, datetime) and value.tzinfo not in (None, UTC):
                setattr(row, key, value.astimezone(UTC))
