"""deploy/parley.service: a unit for one VM, hardened, parsed and (where systemd is) verified."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.files import BIN, DEPLOY

UNIT = DEPLOY / "parley.service"


def parse() -> configparser.RawConfigParser:
    # strict=False: systemd allows a key more than once (SystemCallFilter=…).
    unit = configparser.RawConfigParser(strict=False, delimiters=("=",), interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text(encoding="utf-8"))
    return unit


def test_runs_parley_serve_as_parley_with_its_env_file() -> None:
    service = parse()["Service"]
    assert service["User"] == "parley"
    assert service["EnvironmentFile"] == "/etc/parley/parley.env"
    assert service["ExecStart"].split()[:2] == ["/opt/parley/.venv/bin/parley", "serve"]
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"  # a wrong setting: do not loop
    assert parse()["Install"]["WantedBy"] == "multi-user.target"


def test_is_hardened_and_writes_only_its_state_directory() -> None:
    service = parse()["Service"]
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/parley"
    assert service["WorkingDirectory"] == "/var/lib/parley"
    assert service["StateDirectory"] == "parley"
    assert service["PrivateTmp"] == "yes"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    # verify checks the ExecStart binary exists: point it at this venv's parley.
    text = UNIT.read_text(encoding="utf-8")
    unit = tmp_path / "parley.service"
    unit.write_text(text.replace("/opt/parley/.venv/bin/parley", str(BIN / "parley")))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys are only warned about
