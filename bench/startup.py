"""Issue 13's benchmark: `parley --version` and `--help` ≤ 0.5 s, a piped one-command
`parley shell` ≤ 1.2 s, each the median of 5 runs (SPEC §8).

    python -m bench.startup

Runs the installed `parley` console script as a person would, in a temporary folder (no
`.env`), with no SLACK_* or PARLEY_* settings inherited but the database: a SQLite file
there, created and seeded by one warm-up shell run that is not counted (so the timed runs
start on a record at its head revision, as every start but the first does). Bytecode
caching is on, as in any normal Python environment (PYTHONDONTWRITEBYTECODE is dropped for
the children: without it every start would compile Parley's own modules again).

Wall-clock time is what the targets are about; CPU time (user + system) is printed beside
it because on a shared 2-core machine the wall clock also measures the neighbours.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.report import Check, Report, main

RUNS = 5
TARGETS = {"version": 0.5, "help": 0.5, "shell": 1.2}
SHELL_INPUT = b"/truce\n"
AS_OF = "2025-07-29T09:00Z"


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]

    def line(self, name: str) -> str:
        return (
            f"{name}: median {median(self.wall):.2f} s wall ({min(self.wall):.2f}–"
            f"{max(self.wall):.2f}), {median(self.cpu):.2f} s CPU, over {len(self.wall)} runs"
        )


def parley() -> Path:
    return Path(sys.executable).parent / "parley"


def child_env(folder: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "PARLEY_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["PARLEY_DATABASE_URL"] = f"sqlite:///{folder / 'parley.db'}"
    env["PARLEY_SHELL_HISTORY"] = str(folder / "history")
    return env


def timed(args: list[str], *, folder: Path, stdin: bytes | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) for one run, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        args,
        input=stdin,
        capture_output=True,
        cwd=folder,
        env=child_env(folder),
        timeout=60,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-500:]!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(args: list[str], *, folder: Path, stdin: bytes | None = None) -> Timing:
    timing = Timing([], [])
    for _ in range(RUNS):
        wall, cpu = timed(args, folder=folder, stdin=stdin)
        timing.wall.append(wall)
        timing.cpu.append(cpu)
    return timing


async def run() -> Report:
    report = Report("Start-up: parley --version, --help, a piped one-command shell (SPEC §8)")
    exe = str(parley())
    shell = [exe, "shell", "--as-of", AS_OF]
    with tempfile.TemporaryDirectory(prefix="parley-startup-") as name:
        folder = Path(name)
        first, _ = timed(shell, folder=folder, stdin=SHELL_INPUT)  # migrates and seeds
        timed([exe, "--version"], folder=folder)
        timings = {
            "version": measure([exe, "--version"], folder=folder),
            "help": measure([exe, "--help"], folder=folder),
            "shell": measure(shell, folder=folder, stdin=SHELL_INPUT),
        }
    load = os.getloadavg()[0]
    names = {
        "version": "parley --version",
        "help": "parley --help",
        "shell": "printf '/truce\\n' | parley shell",
    }
    for key, timing in timings.items():
        report.figures.append(timing.line(names[key]))
        figure = f"{median(timing.wall):.2f} s"
        target = TARGETS[key]
        report.checks.append(
            Check(names[key], figure, f"≤ {target} s median", median(timing.wall) <= target)
        )
    report.notes.append(
        f"the first shell start (migrations and the seed) took {first:.2f} s, not counted"
    )
    report.notes.append(f"load average at the end: {load:.1f} on {os.cpu_count()} cores")
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
