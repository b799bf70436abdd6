"""Runs every benchmark of SPEC §8 and prints its figures: `make bench`, or

    python -m bench [NAME …]     # e.g. `python -m bench digest`; all when none is named

A benchmark is a module `bench.<name>` with `async def run() -> Report`; adding one is one
line in BENCHMARKS. The exit status is 1 when any target is missed.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time

from bench.report import Bench, Report

BENCHMARKS = (
    "http",
    "scale",
    "digest",
    "fanout",
    "profile",
    "intake",
    "startup",
)


def load(name: str) -> Bench:
    run: Bench = importlib.import_module(f"bench.{name}").run
    return run


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    started = time.perf_counter()
    reports: list[Report] = []
    for name in names or BENCHMARKS:
        report = asyncio.run(load(name)())
        report.show()
        reports.append(report)
    print(f"\n== Summary ({time.perf_counter() - started:.0f} s)")
    for report in reports:
        for check in report.checks:
            print(check.line())
    return 0 if all(report.met for report in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
