"""Issue 3's benchmark: `/truce` and `/deadline` over HTTP, signed as Slack signs them, from
50 concurrent clients, against `parley serve` and a bare Bolt app side by side (SPEC §8).

    python -m bench.http

Both servers run as subprocesses on loopback; the Slack Web API stand-in and the load run
here. Rounds alternate between the two so that drift on a noisy machine hits both alike.
When parley's throughput misses its target, `bench.request_costs` says where its CPU goes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import aiohttp

from bench.commands import (
    BOT_TOKEN,
    COMMANDS,
    SIGNING_SECRET,
    command_forms,
    prepare_record,
    sign_all,
)
from bench.report import Check, Report, main, percentile
from bench.servers import LOOPBACK, Server, free_port, spawn
from tests.support.slack import SlackStandIn

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 50
WARMUP_REQUESTS = 200
ROUNDS = 3
REQUESTS_PER_ROUND = 500

THROUGHPUT_RATIO = 0.8
P99_CEILING_MS = 50.0
P99_RATIO = 1.25
IDLE_RSS_MB = 120.0
START_TO_HEALTHY_S = 3.0
REQUEST_LOG = "parley.requests"


@dataclass
class Round:
    """One burst of load against one server."""

    latencies: dict[str, list[float]]  # seconds, by command
    errors: int
    elapsed: float
    server_cpu: float = 0.0  # seconds of CPU the server used meanwhile

    @property
    def count(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed


@dataclass
class Figures:
    """Everything measured about one server in this run."""

    server: Server
    rounds: list[Round] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # command -> what it answered
    idle_rss_mb: float = 0.0
    loaded_rss_mb: float = 0.0
    server_ms: list[float] = field(default_factory=list)  # from its request log, if any

    def latencies_ms(self, command: str | None = None) -> list[float]:
        return [
            seconds * 1000
            for one in self.rounds
            for name, values in one.latencies.items()
            if command in (None, name)
            for seconds in values
        ]

    @property
    def throughput(self) -> float:
        """Requests per second over all measured rounds."""
        return sum(r.count for r in self.rounds) / sum(r.elapsed for r in self.rounds)

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * sum(r.server_cpu for r in self.rounds) / sum(r.count for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rounds)


async def drive(
    http: aiohttp.ClientSession, server: Server, forms: list[tuple[str, str]], requests: int
) -> Round:
    """`requests` signed commands from CLIENTS concurrent clients, each awaiting its answer."""
    url = f"{server.url}/slack/events"
    signed = sign_all(forms)
    tickets = iter(range(requests))
    latencies: dict[str, list[float]] = {command: [] for command in COMMANDS}
    errors = 0

    async def client() -> None:
        nonlocal errors
        for ticket in tickets:
            request = signed[ticket % len(signed)]
            sent = time.perf_counter()
            async with http.post(url, data=request.body, headers=request.headers) as response:
                await response.read()
                ok = response.status == 200
            if ok:
                latencies[request.command].append(time.perf_counter() - sent)
            else:
                errors += 1

    cpu_before, started = server.cpu_seconds, time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return Round(latencies, errors, elapsed, server.cpu_seconds - cpu_before)


async def describe_answers(
    http: aiohttp.ClientSession, server: Server, forms: list[tuple[str, str]]
) -> dict[str, str]:
    """What each command answers, so a reader sees the figures are for real replies."""
    described = {}
    for request in sign_all(forms[: len(COMMANDS)]):
        async with http.post(
            f"{server.url}/slack/events", data=request.body, headers=request.headers
        ) as response:
            raw = await response.read()
        answer = json.loads(raw) if raw.startswith(b"{") else {}
        blocks = answer.get("blocks") or []
        first = (blocks[0].get("text") or {}).get("text", "") if blocks else answer.get("text", "")
        described[request.command] = (
            f"HTTP {response.status}, {len(raw)} bytes, {len(blocks)} blocks, {first[:32]!r}"
        )
    return described


def server_latencies_ms(log: str) -> list[float]:
    """`latency_ms` of each JSON line that `parley.requests` logged for a Slack request."""
    found = []
    for line in log.splitlines():
        start = line.find("{")
        if REQUEST_LOG not in line or start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.get("path", "/slack/events") != "/slack/events":
            continue
        latency = record.get("latency_ms")
        if isinstance(latency, int | float):
            found.append(float(latency))
    return found


async def start_servers(
    workdir: Path, standin: SlackStandIn, database: Path
) -> tuple[Server, Server]:
    """Parley first, then the bare app: one at a time, so neither start is contended."""
    env = {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": standin.api_url,
        "PARLEY_DATABASE_URL": f"sqlite:///{database}",
        "PARLEY_SCHEDULER": "off",
    }
    parley_port, bare_port = free_port(), free_port()
    parley_cli = str(Path(sys.executable).with_name("parley"))
    parley = await spawn(
        "parley serve",
        [parley_cli, "serve", "--host", LOOPBACK, "--port", str(parley_port)],
        port=parley_port,
        env=env,
        cwd=workdir,  # away from the repository: no stray .env is read
        log_path=workdir / "parley.log",
    )
    try:
        bare = await spawn(
            "bare Bolt app",
            [sys.executable, "-m", "bench.bare_app", "--host", LOOPBACK, "--port", str(bare_port)],
            port=bare_port,
            env=env,
            cwd=REPO,
            log_path=workdir / "bare.log",
        )
    except BaseException:
        parley.stop()
        raise
    return parley, bare


async def measure(workdir: Path, standin: SlackStandIn, database: Path) -> tuple[Figures, Figures]:
    parley_server, bare_server = await start_servers(workdir, standin, database)
    parley, bare = Figures(parley_server), Figures(bare_server)
    try:
        await asyncio.sleep(0.5)  # let both settle before reading idle memory
        for figures in (parley, bare):
            figures.idle_rss_mb = figures.server.rss_mb
        forms = command_forms([f"UBENCH{n:03d}" for n in range(CLIENTS)])
        connector = aiohttp.TCPConnector(limit=CLIENTS)
        async with aiohttp.ClientSession(connector=connector) as http:
            for figures in (parley, bare):
                figures.answers = await describe_answers(http, figures.server, forms)
                await drive(http, figures.server, forms, WARMUP_REQUESTS)
            await asyncio.sleep(0.2)
            log_start = parley.server.log_size()
            for n in range(ROUNDS):
                for figures in (bare, parley) if n % 2 == 0 else (parley, bare):
                    figures.rounds.append(
                        await drive(http, figures.server, forms, REQUESTS_PER_ROUND)
                    )
            await asyncio.sleep(0.2)
        for figures in (parley, bare):
            figures.loaded_rss_mb = figures.server.rss_mb
        parley.server_ms = server_latencies_ms(parley.server.log_text(log_start))
    finally:
        parley_server.stop()
        bare_server.stop()
    return parley, bare


def app_lines(name: str, figures: Figures) -> list[str]:
    everything = figures.latencies_ms()
    lines = [
        f"{name}: {figures.throughput:.0f} req/s "
        f"(rounds {', '.join(f'{r.throughput:.0f}' for r in figures.rounds)}); "
        f"client-observed p50 {percentile(everything, 0.5):.1f} ms, "
        f"p99 {percentile(everything, 0.99):.1f} ms; "
        f"server CPU {figures.cpu_ms_per_request:.2f} ms/request; errors {figures.errors}"
    ]
    for command in COMMANDS:
        values = figures.latencies_ms(command)
        lines.append(
            f"  {command:<9} client p50 {percentile(values, 0.5):6.1f} ms, "
            f"p99 {percentile(values, 0.99):6.1f} ms; answer: {figures.answers.get(command, '?')}"
        )
    if figures.server_ms:
        lines.append(
            f"  server-side ({REQUEST_LOG} latency_ms, {len(figures.server_ms)} lines): "
            f"p50 {percentile(figures.server_ms, 0.5):.1f} ms, "
            f"p99 {percentile(figures.server_ms, 0.99):.1f} ms"
        )
    lines.append(
        f"  RSS idle {figures.idle_rss_mb:.1f} MB, after load {figures.loaded_rss_mb:.1f} MB; "
        f"start to healthy {figures.server.start_to_healthy:.2f} s"
    )
    return lines


def judge(parley: Figures, bare: Figures) -> Report:
    report = Report(
        f"HTTP: /truce and /deadline, {CLIENTS} concurrent clients, {ROUNDS} alternating rounds "
        f"x {REQUESTS_PER_ROUND} requests per app (after {WARMUP_REQUESTS} warm-up)"
    )
    report.figures += app_lines("parley serve", parley) + app_lines("bare Bolt", bare)
    ratio = parley.throughput / bare.throughput
    parley_p99 = percentile(parley.latencies_ms(), 0.99)
    bare_p99 = percentile(bare.latencies_ms(), 0.99)
    per_round = [
        p.throughput / b.throughput for p, b in zip(parley.rounds, bare.rounds, strict=True)
    ]
    report.figures.append(
        f"parley/bare: throughput {ratio:.2f} (rounds {', '.join(f'{r:.2f}' for r in per_round)},"
        f" median {median(per_round):.2f}); p99 {parley_p99 / bare_p99:.2f}; "
        f"server CPU per request {parley.cpu_ms_per_request / bare.cpu_ms_per_request:.1f}; "
        f"idle RSS {parley.idle_rss_mb / bare.idle_rss_mb:.2f}"
    )
    p99_allowed = max(P99_CEILING_MS, P99_RATIO * bare_p99)
    report.checks += [
        Check(
            "throughput parley/bare",
            f"{ratio:.2f}",
            f">= {THROUGHPUT_RATIO}",
            ratio >= THROUGHPUT_RATIO,
        ),
        Check(
            "p99, client-observed",
            f"{parley_p99:.1f} ms (bare {bare_p99:.1f} ms)",
            f"<= {P99_CEILING_MS:.0f} ms or <= {P99_RATIO} x bare, i.e. {p99_allowed:.1f} ms",
            parley_p99 <= p99_allowed,
        ),
        Check(
            "every signed command answered 200", f"{parley.errors} errors", "0", parley.errors == 0
        ),
        Check(
            "idle RSS of parley serve",
            f"{parley.idle_rss_mb:.1f} MB",
            f"<= {IDLE_RSS_MB:.0f} MB",
            parley.idle_rss_mb <= IDLE_RSS_MB,
        ),
        Check(
            "parley serve: spawn to first 200 from /healthz",
            f"{parley.server.start_to_healthy:.2f} s",
            f"<= {START_TO_HEALTHY_S:.0f} s",
            parley.server.start_to_healthy <= START_TO_HEALTHY_S,
        ),
    ]
    if not parley.server_ms:
        report.notes.append(
            f"parley logs no `{REQUEST_LOG}` lines with latency_ms yet: the latencies above are "
            "client-observed (they include the load client's own time on this machine)"
        )
    return report


async def run() -> Report:
    with tempfile.TemporaryDirectory(prefix="parley-bench-http-") as tmp:
        workdir = Path(tmp)
        database = workdir / "parley.db"
        await prepare_record(database, datetime.now(UTC))
        async with SlackStandIn(strict=True) as standin:
            parley, bare = await measure(workdir, standin, database)
            report = judge(parley, bare)
            if parley.throughput < THROUGHPUT_RATIO * bare.throughput:
                from bench.request_costs import cost_lines, measure_costs

                report.figures.append("throughput below target; where parley's CPU goes:")
                report.figures += cost_lines(await measure_costs(database, standin))
    return report


if __name__ == "__main__":
    raise SystemExit(main(run))
