"""Servers under test as subprocesses on loopback: spawn, wait for `/healthz`, read RSS, stop.

The load runs in the bench process and each server in its own, so the two never share a
core's worth of Python; on a machine with two CPUs or more, `pin_load` keeps the load on the
first and `spawn` puts the server on the last.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

LOOPBACK = "127.0.0.1"
NOT_HEALTHY = "{name} did not answer 200 on /healthz within {timeout:.0f} s; its log: {log}"
EXITED = "{name} exited with status {code} before it was healthy; its log: {log}"


#: The CPUs this process may use, read once before `pin_load` narrows them.
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def pin_load() -> str:
    """Pins this (the load's) process to the first CPU; says where each side runs."""
    if len(CPUS) < 2:
        return "not pinned (fewer than two CPUs)"
    os.sched_setaffinity(0, {CPUS[0]})
    return f"load client on CPU {CPUS[0]}, servers on CPU {CPUS[-1]}"


def _pin_server(pid: int) -> None:
    if len(CPUS) >= 2:
        os.sched_setaffinity(pid, {CPUS[-1]})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident set size in MB (psutil when installed, else /proc/PID/status)."""
    try:
        import psutil
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {pid}") from None
    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (all its threads)."""
    try:
        import psutil
    except ImportError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@dataclass
class Server:
    """A server process, its base URL and its log (stdout and stderr together)."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    log_file: IO[bytes]
    start_to_healthy: float = 0.0  # seconds from spawn to the first 200 from /healthz

    @property
    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)

    @property
    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def log_size(self) -> int:
        self.log_file.flush()
        return self.log_path.stat().st_size

    def log_text(self, start: int = 0, end: int | None = None) -> str:
        with self.log_path.open("rb") as log:
            log.seek(start)
            data = log.read() if end is None else log.read(max(0, end - start))
        return data.decode("utf-8", errors="replace")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGINT first, as uvicorn shuts down cleanly on it (a profiler then writes out)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


async def spawn(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    timeout: float = 15.0,
) -> Server:
    """Starts `argv` and returns once GET /healthz answers 200, timing spawn to healthy."""
    log_file = log_path.open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv), cwd=cwd, env={**os.environ, **env}, stdout=log_file, stderr=subprocess.STDOUT
    )
    _pin_server(process.pid)
    server = Server(name, process, f"http://{LOOPBACK}:{port}", log_path, log_file)
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                server.stop()
                raise RuntimeError(
                    EXITED.format(name=name, code=process.returncode, log=server.log_text())
                )
            try:
                async with http.get(f"{server.url}/healthz") as response:
                    if response.status == 200:
                        server.start_to_healthy = time.perf_counter() - started
                        return server
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.01)
    server.stop()
    raise RuntimeError(NOT_HEALTHY.format(name=name, timeout=timeout, log=server.log_text()))
