"""Each `parley` command imports what it needs when it runs (issue 13's start-up): what
`--version`, `--help`, `parley digest` and a piped shell must never load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUN_CLI = "import sys; from bot.cli import main; sys.argv[0] = 'parley'; main()"


def loaded(tmp_path: Path, args: list[str], stdin: str = "") -> set[str]:
    """The modules a run of `parley ARGS` imported (from `python -X importtime`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARLEY_"))}
    env["PARLEY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'parley.db'}"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", RUN_CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "cumulative" not in line
    }


SHELL = ["shell", "--as-of", "2025-07-29T09:00Z"]


@pytest.mark.parametrize(
    ("args", "never"),
    [
        (["--version"], {"sqlalchemy", "slack_bolt", "rich", "bot.settings", "dateparser"}),
        (["--help"], {"sqlalchemy", "slack_bolt", "bot.shell", "dateparser"}),
    ],
)
def test_version_and_help_load_no_database_and_no_app(
    tmp_path: Path, args: list[str], never: set[str]
) -> None:
    assert loaded(tmp_path, args) & never == set()


def test_digest_and_a_piped_shell_on_a_record_at_head_load_only_what_they_need(
    tmp_path: Path,
) -> None:
    loaded(tmp_path, SHELL)  # migrates and seeds the record; #desk is subscribed
    shell = loaded(tmp_path, SHELL, stdin="/truce\n")
    assert shell & {"alembic", "mako", "dateparser", "uvicorn", "starlette", "yaml"} == set()
    assert "sqlalchemy.dialects.postgresql" not in shell
    assert "prompt_toolkit" not in shell  # piped: plain lines
    digest = loaded(tmp_path, ["digest", "--channel", "#desk", "--dry-run"])
    assert digest & {"bot.shell", "rich", "prompt_toolkit", "alembic"} == set()


GC_PROBE = """
import gc, json, sys
from bot import cli
starting = gc.get_threshold()
cli.started(collect=False)
after = gc.get_threshold()
cli.started(serving=True)
print(json.dumps({"starting": starting, "after": after, "serving": gc.get_threshold(),
                  "frozen": gc.get_freeze_count()}))
"""


def test_start_up_collects_rarely_then_freezes_what_it_built_and_restores_the_defaults() -> None:
    """The collector's passes over start-up's long-lived objects were a tenth of a piped
    shell's start: while starting, gen-0 passes are rare; once started, the defaults."""
    defaults = subprocess.run(
        [sys.executable, "-c", "import gc, json; print(json.dumps(gc.get_threshold()))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    probe = subprocess.run(
        [sys.executable, "-c", GC_PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(probe.stdout)
    assert seen["starting"][0] >= 50 * json.loads(defaults.stdout)[0]
    assert seen["after"] == json.loads(defaults.stdout)
    # A server, once started, collects its young objects less often than the default.
    assert seen["serving"][0] >= 10 * json.loads(defaults.stdout)[0]
    assert seen["frozen"] > 10_000  # the modules and classes, out of the collector's sight
