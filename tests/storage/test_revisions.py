"""The head revision read without Alembic agrees with Alembic, and a database at head is
upgraded without importing it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from storage.db import alembic_config
from storage.revisions import read_revisions, single_head


def test_the_head_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert [single_head()] == list(script.get_heads())
    assert set(read_revisions()) == {r.revision for r in script.walk_revisions()}


def write(folder: Path, name: str, revision: str, down: str) -> None:
    (folder / name).write_text(
        f'"""{name}"""\n\nrevision{": str" if "x" in name else ""} = {revision}\n'
        f"down_revision = {down}\nbranch_labels = None\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("files", "head"),
    [
        ([("0001_a.py", '"0001"', "None")], "0001"),
        ([("0001_a.py", '"0001"', "None"), ("0002_b.py", "'0002'", "'0001'")], "0002"),
        # a merge revision revises two
        (
            [
                ("0001_a.py", '"0001"', "None"),
                ("0002_b.py", '"0002"', '"0001"'),
                ("0003_c.py", '"0003"', '"0001"'),
                ("0004_m.py", '"0004"', '("0002", "0003")'),
            ],
            "0004",
        ),
        # two heads: Alembic decides, not us
        (
            [
                ("0001_a.py", '"0001"', "None"),
                ("0002_b.py", '"0002"', '"0001"'),
                ("0003_c.py", '"0003"', '"0001"'),
            ],
            None,
        ),
        ([("0001_x.py", '"0001"', "None")], "0001"),  # an annotated assignment
        # a quoted id in a comment is not a parent
        (
            [
                ("0001_a.py", '"0001"', "None"),
                ("0002_b.py", '"0002"', '"0001"  # "0002_b" in the other naming'),
            ],
            "0002",
        ),
        ([], None),
    ],
)
def test_single_head_of_a_folder(
    tmp_path: Path, files: list[tuple[str, str, str]], head: str | None
) -> None:
    for name, revision, down in files:
        write(tmp_path, name, revision, down)
    (tmp_path / "__init__.py").write_text("", encoding="utf-8")
    assert single_head(tmp_path) == head


UPGRADE_TWICE = """
import asyncio, sys
from storage.db import Database

async def main(url):
    db = Database(url)
    await db.upgrade()
    await db.dispose()

asyncio.run(main(sys.argv[1]))
print("alembic" in sys.modules)
"""


def test_a_database_at_head_is_upgraded_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    run = [sys.executable, "-c", UPGRADE_TWICE, url]
    first = subprocess.run(run, capture_output=True, text=True, check=True, timeout=60)
    second = subprocess.run(run, capture_output=True, text=True, check=True, timeout=60)
    assert first.stdout.split() == ["True"]  # the empty database is migrated by Alembic
    assert second.stdout.split() == ["False"]


async def test_a_database_behind_head_is_still_migrated(tmp_path: Path) -> None:
    from storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        await db.upgrade("0001")
        assert await db.recorded_revision() == "0001"
        await db.upgrade()
        assert await db.recorded_revision() == single_head()
    finally:
        await db.dispose()
