"""`INSERT … ON CONFLICT DO NOTHING` for the session's dialect.

Each dialect's `insert` is imported when first asked for: a SQLite process never loads
SQLAlchemy's PostgreSQL dialect (a tenth of a second of `parley shell`'s start).
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An insert into `table` that has `.on_conflict_do_nothing(index_elements=…)`."""
    return insert_in(dialect_of(session), table)


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


def insert_in(dialect: str, table: Any) -> Any:
    """`insert_for` by the dialect's name, for a statement built once per dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
