"""The installed `parley` command run as a person runs it: a subprocess in a temporary
folder (so no `.env` is read), with no SLACK_* or PARLEY_* variable inherited."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PARLEY = Path(sys.executable).parent / "parley"
TIMEOUT = 60


def clean_env(db_path: Path | None, **extra: str) -> dict[str, str]:
    """The environment less Slack's and Parley's settings; the database is `db_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARLEY_"))}
    if db_path is not None:
        env["PARLEY_DATABASE_URL"] = f"sqlite:///{db_path}"
    env.update(extra)
    return env


def parley(
    *args: str,
    db: Path | None,
    cwd: Path,
    stdin: str = "",
    timeout: float = TIMEOUT,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`parley ARGS…` with `stdin` piped in, run to its end."""
    return subprocess.run(
        [str(PARLEY), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(db, **env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def piped_shell(
    tmp_path: Path,
    *lines: str,
    db_name: str = "parley.db",
    as_of: str | None,
    flags: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`parley shell` with `lines` piped in; the process ends at end of input."""
    args = ["shell", *flags] + (["--as-of", as_of] if as_of is not None else [])
    stdin = "".join(line + "\n" for line in lines)
    return parley(*args, db=tmp_path / db_name, cwd=tmp_path, stdin=stdin)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Its output, once it is known to have exited 0 with no traceback anywhere."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout
    return result.stdout


# Derived from the record, so not part of what a snapshot compares: the full-text index
# (storage.search's FTS5 tables and their shadow tables) and the query planner's statistics.
_DERIVED = re.compile(r"\w_fts(_\w+)?\b|\bsqlite_stat\d\b")


def snapshot(db: Path) -> list[str]:
    """Every row of the SQLite file, as SQL text (a byte-exact view of the record; the
    search index and the planner's statistics, derived from it, are left out)."""
    connection = sqlite3.connect(db)
    try:
        return [line for line in connection.iterdump() if not _DERIVED.search(line)]
    finally:
        connection.close()
