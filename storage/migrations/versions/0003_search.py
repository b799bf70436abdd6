"""search: full text over events, deadlines, rounds, sensitivities and truce terms

SQLite: an FTS5 table per source table (external content, porter stemming over unicode61),
kept in step by triggers on insert, update and delete, and filled from what is there.
PostgreSQL: a generated, weighted tsvector column `search` on each source table (title A,
the rest B, sources C) with a GIN index. `storage.search` queries both.

Revision ID: 0003_search
Revises: 0002
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0003_search"
down_revision = "0002"  # "0002_scheduling" in the lead's naming; re-chained at merge
branch_labels = None
depends_on = None

#: FTS5 table -> (source table, indexed columns); the same as storage.search.FTS5_TABLES,
#: written out here so that the migration stays as it was when the code moves on.
FTS5_TABLES = {
    "event_fts": ("event", ("title", "summary", "source_name")),
    "deadline_fts": ("deadline", ("title", "kind")),
    "talks_round_fts": ("talks_round", ("title", "place", "outcome")),
    "sensitivity_fts": ("sensitivity", ("name", "description", "keywords")),
    "truce_term_fts": ("truce_term", ("party", "measure", "rate", "target")),
}

#: table -> (weight, column SQL) parts of its tsvector.
TSVECTORS = {
    "event": (("A", "title"), ("B", "summary"), ("C", "source_name")),
    "deadline": (("A", "title"), ("C", "kind")),
    "talks_round": (("A", "title"), ("B", "place"), ("B", "outcome")),
    "sensitivity": (("A", "name"), ("B", "keywords::text"), ("B", "description")),
    "truce_term": (("A", "measure"), ("B", "party"), ("B", "target"), ("C", "rate")),
}


def _sqlite_upgrade() -> None:
    for fts, (table, columns) in FTS5_TABLES.items():
        names = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', "
            "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_update AFTER UPDATE ON {table} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END"
        )
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _sqlite_downgrade() -> None:
    for fts in FTS5_TABLES:
        for action in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_{action}")
        op.execute(f"DROP TABLE IF EXISTS {fts}")


def _postgres_upgrade() -> None:
    for table, parts in TSVECTORS.items():
        vector = " || ".join(
            f"setweight(to_tsvector('english'::regconfig, coalesce({column}, '')), '{weight}')"
            for weight, column in parts
        )
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search tsvector GENERATED ALWAYS AS ({vector}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (search)")


def _postgres_downgrade() -> None:
    for table in TSVECTORS:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgres_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
    else:
        _postgres_downgrade()
