"""The `parley` command line, run as the installed console script in a subprocess.

Every run gets a clean environment (no SLACK_* or PARLEY_* inherited), its own SQLite file
and a temporary working folder (so no `.env` is read), and a timeout.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot import __version__
from storage.backup import checksum
from tests.support.cli import TIMEOUT, ok, parley, snapshot


def run_all(jobs: Sequence[dict[str, Any]]) -> list[subprocess.CompletedProcess[str]]:
    """Runs several `parley(...)` calls at once (they are independent), keeping the order."""

    def one(job: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        job = dict(job)
        args = job.pop("args")
        return parley(*args, **job)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, jobs))


def export(db: Path, cwd: Path) -> dict[str, Any]:
    document = json.loads(ok(parley("export", db=db, cwd=cwd)))
    assert isinstance(document, dict)
    return document


def copy_db(source: Path, target: Path) -> Path:
    for path in source.parent.glob(source.name + "*"):
        shutil.copy(path, target.parent / path.name.replace(source.name, target.name))
    return target


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A seeded SQLite file and its export (made once; tests copy the file)."""
    folder = tmp_path_factory.mktemp("seeded")
    db = folder / "seeded.db"
    ok(parley("seed", db=db, cwd=folder))
    document = export(db, folder)
    (folder / "export.json").write_text(json.dumps(document), encoding="utf-8")
    return db, document


# ---- version and help ----------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    out = ok(parley("--version", db=tmp_path / "p.db", cwd=tmp_path))
    assert out.strip() == f"parley {__version__}"
    assert not (tmp_path / "p.db").exists()


def test_the_command_line_module_imports_no_database_or_slack_code() -> None:
    # What `parley --version` and `--help` load: the rest is imported by the command run.
    script = (
        "import sys, bot.cli; print(' '.join(sorted(m for m in "
        "('alembic', 'storage.db', 'sqlmodel', 'slack_bolt', 'slack_sdk', 'aiohttp', 'yaml') "
        "if m in sys.modules)))"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=TIMEOUT
    )
    assert found.stdout.strip() == ""


HELP = [
    ["shell"],
    ["seed"],
    ["db"],
    ["db", "upgrade"],
    ["export"],
    ["import"],
    ["serve"],
    ["socket"],
    ["run"],
    ["digest"],
    ["outbox"],
]


def test_help_exits_zero(tmp_path: Path) -> None:
    out = ok(parley("--help", db=tmp_path / "p.db", cwd=tmp_path))
    assert "Usage: parley" in out
    for name in ("shell", "seed", "db", "export", "import", "serve", "run"):
        assert name in out
    assert not (tmp_path / "p.db").exists()


@pytest.mark.parametrize("command", HELP, ids=" ".join)
def test_help_of_each_command_exits_zero(command: list[str]) -> None:
    # In-process (the same typer app the console script runs): quicker than 8 processes.
    from typer.testing import CliRunner

    from bot.cli import app

    result = CliRunner().invoke(app, [*command, "--help"], prog_name="parley")
    assert result.exit_code == 0, result.output
    assert f"Usage: parley {' '.join(command)}" in result.output
    if command == ["shell"]:
        assert "--as-of" in result.output
        assert "--fresh" in result.output
    if command == ["import"]:
        assert "--replace" in result.output
    if command == ["digest"]:
        assert "--as-of" in result.output and "#desk" in result.output
    if command == ["outbox"]:
        assert "--upcoming" in result.output and "--limit" in result.output


# ---- seed and migrations -------------------------------------------------------------------


def test_seed_twice_adds_nothing_the_second_time(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    first = ok(parley("seed", db=db, cwd=tmp_path))
    assert first.startswith("Seed loaded: added 3 tracks")
    assert "; 0 already present" in first
    before = snapshot(db)
    second = ok(parley("seed", db=db, cwd=tmp_path))
    assert second.strip() == "Seed loaded: added nothing; 28 already present."
    assert snapshot(db) == before


def test_seed_with_a_missing_file_is_refused(tmp_path: Path) -> None:
    result = parley("seed", str(tmp_path / "nope.yaml"), db=tmp_path / "p.db", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("parley seed: ")
    assert "nope.yaml" in result.stderr
    assert "Traceback" not in result.stderr


GOOD_TRACK = "version: 1\ntracks:\n  - key: good\n    name: Good\n"
NOT_SEEDS = {
    "yaml-syntax": (
        "version: 1\ntracks:\n  - key: a\n    name: [x\n",
        ":5:1: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence from line 4, column 11)",
    ),
    "yaml-indent": (
        "version: 1\ntracks:\n  - key: a\n   name: x\n",
        ":4:4: not valid YAML: expected <block end>",
    ),
    "missing-field": (
        GOOD_TRACK + "  - key: b\n    parties: [X]\n",
        ":5:5: tracks item 2 (b): missing field 'name'",
    ),
    "wrong-type": (
        GOOD_TRACK + "    parties: China\n",
        ":5:14: tracks item 1 (good), parties: expected a list of text, not text",
    ),
    "unquoted-date": (
        "version: 1\nrounds:\n  - key: r\n    title: R\n    starts_at: 2025-07-28\n",
        ":5:16: rounds item 1 (r), starts_at: expected a local time written YYYY-MM-DD HH:MM, "
        "not a YAML date (quote it: '2025-08-12 00:01')",
    ),
    "unreadable-time": (
        "version: 1\nrounds:\n  - key: r\n    title: R\n    starts_at: '28 July'\n",
        ":5:16: rounds item 1 (r), starts_at: '28 July' is not a local time written "
        "YYYY-MM-DD HH:MM",
    ),
    "unknown-field": (
        GOOD_TRACK + "    vsibility: restricted\n",
        ":5:5: tracks item 1 (good): unknown field 'vsibility' (the fields are key, name, ",
    ),
    "unknown-zone": (
        "version: 1\nevents:\n  - key: e\n    title: E\n    occurred_at: '2025-07-28 10:00'\n"
        "    zone: Mars/Olympus\n",
        ":6:11: events item 1 (e), zone: Unknown time zone 'Mars/Olympus'",
    ),
    "key-twice": (
        GOOD_TRACK + "  - key: good\n    name: Again\n",
        ":5:10: tracks item 2 (good): key 'good' is used twice (items 1 and 2)",
    ),
    "not-a-seed": ("hello: world\n", ":1:1: not a Parley seed file (it starts with 'version: 1')"),
    "section-not-a-list": (
        "version: 1\ntracks: {good: Good}\n",
        ":2:9: tracks: expected a list of items, not a mapping",
    ),
    # Refused by the record while loading, after an item already written: rolled back.
    "bad-choice": (
        GOOD_TRACK + "  - key: bad\n    name: Bad\n    status: paused\n",
        ":7:13: tracks item 2 (bad), status: Status must be one of: active, dormant, closed "
        "(got 'paused').",
    ),
    "unknown-track": (
        GOOD_TRACK + "rounds:\n  - key: r\n    title: R\n    track: us-mars\n"
        "    starts_at: '2025-07-28 10:00'\n",
        ":8:12: rounds item 1 (r), track: seed refers to unknown track 'us-mars'",
    ),
}


def record_rows(db: Path) -> list[str]:
    """The rows of the record (the migrations' own bookkeeping left out)."""
    if not db.exists():
        return []
    return [
        line
        for line in snapshot(db)
        if line.startswith("INSERT INTO") and not line.startswith('INSERT INTO "alembic_version"')
    ]


@pytest.mark.parametrize("case", sorted(NOT_SEEDS))
def test_a_file_that_is_not_a_seed_is_one_line_and_writes_nothing(
    case: str, tmp_path: Path
) -> None:
    text, expected = NOT_SEEDS[case]
    good, file = tmp_path / "good.yaml", tmp_path / f"{case}.yaml"
    good.write_text(GOOD_TRACK.replace("good", "first"), encoding="utf-8")
    file.write_text(text, encoding="utf-8")
    db = tmp_path / "p.db"
    result = parley("seed", str(good), str(file), db=db, cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"parley seed: refused, nothing changed: {file}:"), lines[0]
    assert expected in lines[0], lines[0]
    assert record_rows(db) == []  # not even good.yaml's track: one transaction


def test_seed_of_a_folder_is_refused(tmp_path: Path) -> None:
    result = parley("seed", str(tmp_path), db=tmp_path / "p.db", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"parley seed: refused, nothing changed: {tmp_path}: cannot read it: Is a directory"
    ]
    assert not (tmp_path / "p.db").exists()


def test_db_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    assert ok(parley("db", "upgrade", db=db, cwd=tmp_path)).strip() == "Database is up to date."
    assert db.exists()
    connection = sqlite3.connect(db)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    finally:
        connection.close()
    assert {"track", "truce", "deadline", "event", "audit_entry", "alembic_version"} <= tables


# ---- export and import ---------------------------------------------------------------------


def test_export_is_a_checksummed_parley_document(seeded: tuple[Path, dict[str, Any]]) -> None:
    _, document = seeded
    assert document["format"] == "parley-export"
    assert document["version"] == 1
    assert document["sha256"] == checksum(document["tables"])
    tables = document["tables"]
    for name in ("track", "truce", "deadline", "event", "audit_entry", "delivery"):
        assert name in tables
    assert len(tables["track"]) == 3
    assert len(tables["event"]) == 12
    assert {entry["actor"] for entry in tables["audit_entry"]} == {"seed"}


def test_import_into_a_fresh_database_restores_the_record(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    source_db, document = seeded
    file = source_db.parent / "export.json"
    db = tmp_path / "restored.db"
    out = ok(parley("import", str(file), db=db, cwd=tmp_path))
    rows = sum(len(rows) for rows in document["tables"].values())
    assert out.strip() == f"Imported {rows} rows from {file}."
    restored = export(db, tmp_path)
    before, after = document["tables"], restored["tables"]
    assert set(after) == set(before)
    for name in before:
        if name != "audit_entry":
            assert after[name] == before[name], name
    # The audit trail as exported, plus one entry of the import's own.
    assert after["audit_entry"][:-1] == before["audit_entry"]
    entry = after["audit_entry"][-1]
    assert entry["actor"] == "cli"
    assert entry["action"] == "import"
    assert entry["id"] == max(e["id"] for e in before["audit_entry"]) + 1
    assert entry["after"]["rows"]["event"] == 12


def test_import_replace_replaces_a_non_empty_record(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    source_db, document = seeded
    db = tmp_path / "other.db"
    ok(parley("seed", db=db, cwd=tmp_path))  # same items, other created_at times
    ok(parley("import", "--replace", str(source_db.parent / "export.json"), db=db, cwd=tmp_path))
    after = export(db, tmp_path)["tables"]
    for name, rows in document["tables"].items():
        if name != "audit_entry":
            assert after[name] == rows, name
    assert after["audit_entry"][:-1] == document["tables"]["audit_entry"]
    assert after["audit_entry"][-1]["action"] == "import"


def test_import_into_a_non_empty_database_without_replace_is_refused(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    source_db, _ = seeded
    db = copy_db(source_db, tmp_path / "busy.db")
    before = snapshot(db)
    result = parley("import", str(source_db.parent / "export.json"), db=db, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "refused, nothing changed" in lines[0]
    assert "--replace" in lines[0]
    assert snapshot(db) == before


def _edited(document: dict[str, Any]) -> str:
    edited = json.loads(json.dumps(document))
    edited["tables"]["track"][0]["name"] = "Edited by hand"
    return json.dumps(edited)


def _wrong_checksum(document: dict[str, Any]) -> str:
    return json.dumps({**document, "sha256": "0" * 64})


def _truncated(document: dict[str, Any]) -> str:
    text = json.dumps(document, indent=1)
    return text[: len(text) // 2]


def _other_format(document: dict[str, Any]) -> str:
    return json.dumps({**document, "format": "something-else"})


def _bad_row(document: dict[str, Any]) -> str:
    edited = json.loads(json.dumps(document))
    edited["tables"]["track"][0]["id"] = "one"
    edited["sha256"] = checksum(edited["tables"])
    return json.dumps(edited)


MALFORMED = {
    "not-json": (lambda _: "this is not JSON\n", "not valid JSON"),
    "truncated": (_truncated, "not valid JSON"),
    "edited": (_edited, "checksum does not match"),
    "wrong-checksum": (_wrong_checksum, "checksum does not match"),
    "other-format": (_other_format, "not a Parley export"),
    "bad-row": (_bad_row, "table 'track', row 1"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_import_is_refused_with_the_reason(
    case: str, seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    make, reason = MALFORMED[case]
    source_db, document = seeded
    file = tmp_path / "bad.json"
    file.write_text(make(document), encoding="utf-8")
    db = copy_db(source_db, tmp_path / "target.db")
    before = snapshot(db)
    # With --replace: the file is checked completely before anything is deleted.
    result = parley("import", "--replace", str(file), db=db, cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("parley import: refused, nothing changed: ")
    assert reason in lines[0]
    assert snapshot(db) == before


def test_malformed_import_into_a_fresh_database_leaves_it_empty(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, document = seeded
    file = tmp_path / "truncated.json"
    file.write_text(_truncated(document), encoding="utf-8")
    db = tmp_path / "fresh.db"
    result = parley("import", str(file), db=db, cwd=tmp_path)
    assert result.returncode == 1
    assert "refused, nothing changed: not valid JSON" in result.stderr
    assert "truncated" in result.stderr
    rows = [line for line in snapshot(db) if line.startswith("INSERT INTO")]
    assert all(line.startswith('INSERT INTO "alembic_version"') for line in rows), rows


def test_import_with_a_dangling_reference_is_refused_with_the_reason(
    seeded: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    source_db, document = seeded
    edited = json.loads(json.dumps(document))
    edited["tables"]["deadline"][0]["track_id"] = 999
    edited["sha256"] = checksum(edited["tables"])
    file = tmp_path / "dangling.json"
    file.write_text(json.dumps(edited), encoding="utf-8")
    db = copy_db(source_db, tmp_path / "target.db")
    before = snapshot(db)
    result = parley("import", "--replace", str(file), db=db, cwd=tmp_path)
    assert snapshot(db) == before
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("parley import: refused, nothing changed: ")


def test_import_of_a_missing_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    result = parley("import", str(tmp_path / "missing.json"), db=db, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"parley import: cannot read {tmp_path / 'missing.json'}: No such file or directory"
    )


# ---- wrong settings ------------------------------------------------------------------------

WRONG_SETTINGS = [
    (["shell"], "PARLEY_TIMEZONE", "Mars/Olympus"),
    (["shell"], "PARLEY_COUNTDOWN_OFFSETS", "soon"),
    (["shell"], "PARLEY_DATABASE_URL", "mysql://x"),
    (["shell"], "PARLEY_DATABASE_URL", "sqlite:parley.db"),
    (["serve"], "PARLEY_DATABASE_URL", "postgresql//nobody@host/x"),
    (["shell"], "PARLEY_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/x"),
    (["db", "upgrade"], "PARLEY_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/x"),
    (["serve"], "SLACK_API_URL", "ftp://example.invalid"),
]


@pytest.mark.parametrize(
    ("command", "name", "value"),
    WRONG_SETTINGS,
    ids=[f"{' '.join(c)}-{n}={v.split(':')[0]}" for c, n, v in WRONG_SETTINGS],
)
def test_a_wrong_setting_stops_with_one_line_naming_it(
    command: list[str], name: str, value: str, tmp_path: Path
) -> None:
    db = tmp_path / "p.db"
    extra = (
        {"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-t"} if command == ["serve"] else {}
    )
    started = time.monotonic()
    result = parley(
        *command, db=db, cwd=tmp_path, stdin="/truce\n", timeout=30, **{**extra, name: value}
    )
    elapsed = time.monotonic() - started
    where = (result.stdout, result.stderr)
    assert result.returncode != 0, where
    assert result.stdout == "", where
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, where
    assert lines[0].startswith(f"parley: setting {name}: "), where
    assert elapsed < 10, elapsed
    assert not db.exists()


@pytest.mark.parametrize("value", ["soon", "abc", "3x", "-1d"])
def test_wrong_countdown_offsets_give_one_example_once(tmp_path: Path, value: str) -> None:
    result = parley("db", "upgrade", db=tmp_path / "p.db", cwd=tmp_path,
                    PARLEY_COUNTDOWN_OFFSETS=value)  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("parley: setting PARLEY_COUNTDOWN_OFFSETS: ")
    assert line.count("30d,14d,7d,3d,1d,12h,1h,0") == 1, line


def test_a_wrong_setting_in_a_dotenv_file_is_named_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PARLEY_TIMEZONE=Mars/Olympus\n", encoding="utf-8")
    result = parley("db", "upgrade", db=tmp_path / "p.db", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "parley: setting PARLEY_TIMEZONE: unknown time zone 'Mars/Olympus' (e.g. Europe/Stockholm)"
    ]


# ---- serve and run -------------------------------------------------------------------------


def test_serve_without_slack_settings_names_the_missing_one(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    no_secret, no_token = run_all(
        [
            {"args": ["serve", "--port", "1"], "db": db, "cwd": tmp_path, "timeout": 30},
            {
                "args": ["serve", "--port", "1"],
                "db": db,
                "cwd": tmp_path,
                "timeout": 30,
                "SLACK_SIGNING_SECRET": "s3cret",
            },
        ]
    )
    assert no_secret.returncode == 2
    assert no_secret.stderr.strip().splitlines() == [
        "parley: setting SLACK_SIGNING_SECRET: required by `parley serve`"
    ]
    assert no_token.returncode == 2
    assert no_token.stderr.strip().splitlines() == [
        "parley: setting SLACK_BOT_TOKEN: required by `parley serve`"
    ]
    assert not db.exists()


def test_run_without_slack_settings_is_the_shell(tmp_path: Path) -> None:
    out = ok(parley(db=tmp_path / "p.db", cwd=tmp_path, stdin="/deadline\n"))
    assert "Seeded the founding case" in out
    assert "parley> /deadline\n" in out
    reply = out.split("parley> /deadline\n", 1)[1]
    assert "deadline" in reply.lower()


def test_run_with_an_app_token_picks_socket_mode(tmp_path: Path) -> None:
    result = parley("run", db=tmp_path / "p.db", cwd=tmp_path, SLACK_APP_TOKEN="xapp-1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "parley: setting SLACK_BOT_TOKEN: required by `parley socket`"
    ]
