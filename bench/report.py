"""What every benchmark hands back: its figures and its checks against SPEC §8's targets.

A benchmark module exposes ``async def run() -> Report``; ``python -m bench`` runs each in
turn, and ``python -m bench.<name>`` runs one through `main`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

Bench = Callable[[], Coroutine[Any, Any, "Report"]]


@dataclass(frozen=True)
class Check:
    """One target of SPEC §8 and whether this run met it."""

    name: str
    figure: str
    target: str
    met: bool

    def line(self) -> str:
        verdict = "PASS" if self.met else "FAIL"
        return f"  [{verdict}] {self.name}: {self.figure} (target {self.target})"


@dataclass
class Report:
    title: str
    figures: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return all(check.met for check in self.checks)

    def show(self) -> None:
        print(f"\n== {self.title}")
        for figure in self.figures:
            print(f"  {figure}")
        for check in self.checks:
            print(check.line())
        for note in self.notes:
            print(f"  note: {note}")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` 0.5 is the median, 0.99 the p99)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def main(run: Bench) -> int:
    """Runs one benchmark, prints its report; exit status 1 when a target is missed."""
    report = asyncio.run(run())
    report.show()
    return 0 if report.met else 1
