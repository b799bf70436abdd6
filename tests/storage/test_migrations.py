"""Migrations and models agree, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import Database, alembic_config
from storage.search import belongs_to_the_index


def _declared(_: Any, name: str | None, type_: str, reflected: bool, __: Any) -> bool:
    """Search's own objects (storage.search, migration 0003_search) are not in the models."""
    return not (reflected and belongs_to_the_index(name, type_))


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"include_object": _declared})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


async def test_upgrade_reaches_the_single_head_revision(db: Database) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    async with db.engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert version == heads[0]


async def test_upgrade_twice_is_harmless(db: Database) -> None:
    await db.upgrade()
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    ours = {n for n in names if not belongs_to_the_index(n, "table")}
    assert set(SQLModel.metadata.tables) | {"alembic_version"} == ours


async def test_a_fresh_database_has_every_table_of_the_record(database_url: str) -> None:
    fresh = Database(database_url)
    try:
        async with fresh.engine.connect() as conn:
            before = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert before == set()
        await fresh.upgrade()
        async with fresh.engine.connect() as conn:
            after = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(SQLModel.metadata.tables) <= after
    finally:
        await fresh.dispose()


async def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    """Two processes' first start on one empty database: both come up, neither fails."""
    import asyncio

    first, second = Database(database_url), Database(database_url)
    try:
        await asyncio.gather(first.upgrade(), second.upgrade())
        await first.ping()
    finally:
        await first.dispose()
        await second.dispose()
