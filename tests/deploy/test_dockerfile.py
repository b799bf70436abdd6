"""deploy/Dockerfile: hadolint-clean, multi-stage, non-root, healthy, no secrets baked in."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.files import BIN, DEPLOY, IMAGE_UID, ROOT

DOCKERFILE = DEPLOY / "Dockerfile"
HADOLINT = BIN / "hadolint"
SERVE = ["parley", "serve", "--host", "0.0.0.0", "--port", "3000"]


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(line.removesuffix("\\").strip())
        if not line.endswith("\\"):
            keyword, _, args = " ".join(pending).partition(" ")
            found.append(Instruction(keyword.upper(), args.strip(), start))
            pending = []
    assert not pending, "a continuation line runs off the end"
    return found


def stages(found: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for item in found:
        if item.keyword == "FROM":
            result.append([])
        assert result, f"{item.keyword} before the first FROM"
        result[-1].append(item)
    return result


def hadolint(
    path: str, tmp_path: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # An explicit empty config: no .hadolint.yaml anywhere can ignore a rule for us.
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n", encoding="utf-8")
    return subprocess.run(
        [
            str(HADOLINT),
            "--no-color",
            "--format",
            "json",
            "--failure-threshold",
            "style",
            "--config",
            str(config),
            path,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def dockerfile() -> list[list[Instruction]]:
    return stages(instructions(DOCKERFILE.read_text(encoding="utf-8")))


def test_hadolint_finds_nothing(tmp_path: Path) -> None:
    result = hadolint(str(DOCKERFILE), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []


def test_hadolint_is_really_linting(tmp_path: Path) -> None:
    # The control for the test above: an unpinned pip install is reported.
    result = hadolint("-", tmp_path, stdin="FROM python:3.11-slim\nRUN pip install requests\n")
    assert result.returncode != 0
    assert "DL3013" in {finding["code"] for finding in json.loads(result.stdout)}


def test_every_hadolint_ignore_says_why() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"\s*#\s*hadolint\s+ignore=", line):
            before = lines[number - 1].strip() if number else ""
            assert before.startswith("#") and "hadolint" not in before, (
                f"line {number + 1}: put the reason for the ignore in a comment just above"
            )


def test_two_slim_stages_the_wheel_built_from_the_projects_metadata(
    dockerfile: list[list[Instruction]],
) -> None:
    builder, runtime = dockerfile
    assert re.fullmatch(r"python:3\.1[12]-slim AS builder", builder[0].args, re.IGNORECASE)
    assert re.fullmatch(r"python:3\.1[12]-slim", runtime[0].args)
    copied = {
        Path(source).as_posix()
        for item in builder
        if item.keyword == "COPY"
        for source in shlex.split(item.args)[:-1]
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {name.split(".")[0] for name in project["tool"]["setuptools"]["packages"]}
    assert {"pyproject.toml", project["project"]["readme"], *packages} <= copied
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert {f"!{source}" for source in copied} <= set(ignore)  # in the build context
    runs = " ".join(item.args for item in builder if item.keyword == "RUN")
    assert "pip wheel" in runs and "pip install /dist/parley-" in runs
    runtime_copies = [item.args for item in runtime if item.keyword == "COPY"]
    assert runtime_copies and all(args.startswith("--from=builder ") for args in runtime_copies)


def test_runs_parley_serve_as_a_non_root_user(dockerfile: list[list[Instruction]]) -> None:
    runtime = dockerfile[-1]
    keywords = [item.keyword for item in runtime]
    user = runtime[keywords.index("USER")].args
    assert user.split(":")[0] == str(IMAGE_UID)
    assert keywords.index("USER") < keywords.index("CMD")
    assert json.loads(runtime[keywords.index("CMD")].args) == SERVE
    assert "ENTRYPOINT" not in keywords
    assert runtime[keywords.index("EXPOSE")].args == "3000"


def test_healthcheck_asks_healthz_without_curl(dockerfile: list[list[Instruction]]) -> None:
    (check,) = [item.args for item in dockerfile[-1] if item.keyword == "HEALTHCHECK"]
    command = json.loads(check.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"]
    assert "http://127.0.0.1:3000/healthz" in command[2]
    compile(command[2], "healthcheck", "exec")
    assert "curl" not in check and "wget" not in check


def test_no_secret_is_baked_in(dockerfile: list[list[Instruction]]) -> None:
    for stage in dockerfile:
        for item in stage:
            if item.keyword in ("ENV", "ARG", "LABEL"):
                assert not re.search(r"TOKEN|SECRET|PASSWORD|xox[a-z]-|xapp-", item.args), item
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    last_include = max(n for n, line in enumerate(ignore) if line.startswith("!"))
    # The last matching rule wins: these come after every re-include.
    for pattern in ("**/.env", "**/*.db"):
        assert ignore.index(pattern) > last_include, pattern
