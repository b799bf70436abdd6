"""Helpers shared by the end-to-end tests and the web and Socket Mode tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families


def sample(exposition: bytes | str, metric: str, /, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    text = exposition.decode() if isinstance(exposition, bytes) else exposition
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == metric and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Waits until `check()` holds (work that finishes just after Slack got its answer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition still false after waiting")
        await asyncio.sleep(0.02)
