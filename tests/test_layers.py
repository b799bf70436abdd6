"""The layers hold (ARCHITECTURE.md): `make lint` runs import-linter over them, and a
backwards import planted in a copy of the tree breaks the contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("bot", "handlers", "storage")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "arrow"),
    [
        ("storage/audit.py", "import handlers.truce", "storage.audit -> handlers.truce"),
        ("bot/render/present.py", "import handlers.watch", "bot.render.present -> handlers.watch"),
        ("handlers/truce.py", "import bot.app", "handlers.truce -> bot.app"),
        ("bot/timeparse.py", "import storage.models", "bot.timeparse -> storage.models"),
    ],
)
def test_a_backwards_import_breaks_the_layers(
    tmp_path: Path, module: str, planted: str, arrow: str
) -> None:
    tree = copy_of_the_tree(tmp_path)
    with (tree / module).open("a", encoding="utf-8") as source:
        source.write(f"\n{planted}  # planted backwards\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and arrow in result.stdout, result.stdout
