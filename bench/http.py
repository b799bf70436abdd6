"""SPEC §8's first benchmark: every read command over HTTP, signed as Slack signs them, from 50
concurrent clients, against `parley serve` and a bare Bolt app side by side, on SQLite and on
PostgreSQL; each answer made from the record (Parley keeps no answer cache).

    python -m bench http
    PARLEY_BENCH_DATABASES=sqlite PARLEY_BENCH_READS=/watch,/talks python -m bench http

Both servers run as subprocesses on loopback, pinned to one CPU, the load and the Slack Web
API stand-in here on the other. For each read, rounds alternate between the two servers so
that drift on a noisy machine hits both alike; the figures are over all rounds, with the
per-round ratios and their median beside them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import aiohttp

from bench.commands import (
    BOT_TOKEN,
    READS,
    SIGNING_SECRET,
    Read,
    Signer,
    prepare_record,
)
from bench.databases import bench_database, chosen_kinds
from bench.load import HomeAnswers, Round, drive, merged
from bench.report import Check, Report, main, percentile
from bench.servers import LOOPBACK, Server, free_port, pin_load, spawn
from tests.support.slack import SlackStandIn

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 50
WARMUP_REQUESTS = 100
ROUNDS = 3
REQUESTS_PER_ROUND = 300

THROUGHPUT_RATIO = 0.5
P99_CEILING_MS = 50.0
P99_RATIO = 1.25
IDLE_RSS_MB = 120.0
START_TO_HEALTHY_S = 3.0


def chosen_reads() -> list[Read]:
    wanted = os.environ.get("PARLEY_BENCH_READS")
    if not wanted:
        return list(READS)
    names = {w.strip() for w in wanted.split(",")}
    return [r for r in READS if r.name in names]


@dataclass
class Figures:
    """Everything measured about one server in this run."""

    server: Server
    rounds: dict[str, list[Round]] = field(default_factory=dict)  # by read
    answers: dict[str, str] = field(default_factory=dict)  # read -> what it answered
    idle_rss_mb: float = 0.0
    loaded_rss_mb: float = 0.0

    def of(self, read: str) -> Round:
        return merged(self.rounds.get(read, []))


async def start_servers(workdir: Path, standin: SlackStandIn, url: str) -> tuple[Server, Server]:
    """Parley first, then the bare app: one at a time, so neither start is contended."""
    env = {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": standin.api_url,
        "PARLEY_DATABASE_URL": url,
        "PARLEY_SCHEDULER": "off",
        "PARLEY_ANSWER_CACHE": "off",  # SPEC §8: every answer made from the record
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


async def describe(
    http: aiohttp.ClientSession, server: Server, read: Read, standin: SlackStandIn
) -> str:
    """What one answer is, so a reader sees the figures are for real replies."""
    request = Signer().sign(read, "UBENCHX01")
    mark = standin.mark()
    async with http.post(
        f"{server.url}/slack/events", data=request.body, headers=request.headers
    ) as response:
        raw = await response.read()
    if read.is_event:
        try:
            call = await standin.next_call("views.publish", after=mark, timeout=5)
        except TimeoutError:
            return f"HTTP {response.status}, no views.publish within 5 s"
        blocks = call.args.get("view", {}).get("blocks") or []
        return f"HTTP {response.status}, views.publish of {len(blocks)} blocks"
    answer = json.loads(raw) if raw.startswith(b"{") else {}
    blocks = answer.get("blocks") or []
    first = (blocks[0].get("text") or {}).get("text", "") if blocks else answer.get("text", "")
    return f"HTTP {response.status}, {len(raw)} bytes, {len(blocks)} blocks, {first[:40]!r}"


async def measure(
    workdir: Path, standin: SlackStandIn, url: str, reads: list[Read]
) -> tuple[Figures, Figures]:
    parley_server, bare_server = await start_servers(workdir, standin, url)
    parley, bare = Figures(parley_server), Figures(bare_server)
    homes = HomeAnswers(standin)
    try:
        await asyncio.sleep(0.5)  # let both settle before reading idle memory
        for figures in (parley, bare):
            figures.idle_rss_mb = figures.server.rss_mb
        connector = aiohttp.TCPConnector(limit=CLIENTS)
        async with aiohttp.ClientSession(connector=connector) as http:
            for read in reads:
                for figures in (parley, bare):
                    figures.answers[read.name] = await describe(http, figures.server, read, standin)
                    await drive(
                        http,
                        figures.server,
                        read,
                        requests=WARMUP_REQUESTS,
                        clients=CLIENTS,
                        homes=homes,
                    )
                for n in range(ROUNDS):
                    for figures in (bare, parley) if n % 2 == 0 else (parley, bare):
                        measured = await drive(
                            http,
                            figures.server,
                            read,
                            requests=REQUESTS_PER_ROUND,
                            clients=CLIENTS,
                            homes=homes,
                        )
                        figures.rounds.setdefault(read.name, []).append(measured)
                standin.reset()  # the stand-in keeps every call: free them between reads
                homes = HomeAnswers(standin)
        for figures in (parley, bare):
            figures.loaded_rss_mb = figures.server.rss_mb
    finally:
        parley_server.stop()
        bare_server.stop()
    return parley, bare


def judge(kind: str, parley: Figures, bare: Figures, reads: list[Read]) -> Report:
    report = Report(
        f"HTTP on {kind}: every read, {CLIENTS} concurrent clients, {ROUNDS} alternating rounds "
        f"x {REQUESTS_PER_ROUND} requests per app and read (after {WARMUP_REQUESTS} warm-up)"
    )
    report.figures.append(
        f"{'read':<20} {'parley r/s':>10} {'bare r/s':>9} {'ratio':>5} (median/round) "
        f"{'p50':>6} {'p99':>7} {'bare p99':>8}  CPU ms/req parley, bare"
    )
    for read in reads:
        p, b = parley.of(read.name), bare.of(read.name)
        ratio = p.throughput / b.throughput if b.throughput else 0.0
        per_round = [
            x.throughput / y.throughput if y.throughput else 0.0
            for x, y in zip(
                parley.rounds.get(read.name, []), bare.rounds.get(read.name, []), strict=False
            )
        ]
        p99 = percentile(p.latencies, 0.99) * 1000
        bare_p99 = percentile(b.latencies, 0.99) * 1000
        allowed = max(P99_CEILING_MS, P99_RATIO * bare_p99)
        cpu_p = 1000 * p.server_cpu / p.count if p.count else 0.0
        cpu_b = 1000 * b.server_cpu / b.count if b.count else 0.0
        report.figures.append(
            f"{read.name:<20} {p.throughput:>10.0f} {b.throughput:>9.0f} {ratio:>5.2f} "
            f"({median(per_round) if per_round else 0:.2f})      "
            f"{percentile(p.latencies, 0.5) * 1000:>6.1f} {p99:>7.1f} {bare_p99:>8.1f}  "
            f"{cpu_p:.2f}, {cpu_b:.2f}; errors {p.errors}"
        )
        report.checks.append(
            Check(
                f"{kind} {read.name}",
                f"throughput x{ratio:.2f} of bare, p99 {p99:.1f} ms (bare {bare_p99:.1f}), "
                f"{p.errors} not 200 within 3 s",
                f">= x{THROUGHPUT_RATIO}, <= {allowed:.1f} ms, 0",
                ratio >= THROUGHPUT_RATIO and p99 <= allowed and p.errors == 0,
            )
        )
    report.figures.append("answers:")
    report.figures += [
        f"  {read.name:<20} parley {parley.answers.get(read.name, '?')}" for read in reads
    ]
    for name, figures in (("parley serve", parley), ("bare Bolt", bare)):
        report.figures.append(
            f"{name}: RSS idle {figures.idle_rss_mb:.1f} MB, after load "
            f"{figures.loaded_rss_mb:.1f} MB; start to healthy "
            f"{figures.server.start_to_healthy:.2f} s"
        )
    report.checks += [
        Check(
            f"{kind} idle RSS of parley serve",
            f"{parley.idle_rss_mb:.1f} MB",
            f"<= {IDLE_RSS_MB:.0f} MB",
            parley.idle_rss_mb <= IDLE_RSS_MB,
        ),
        Check(
            f"{kind} parley serve: spawn to first 200 from /healthz",
            f"{parley.server.start_to_healthy:.2f} s",
            f"<= {START_TO_HEALTHY_S:.0f} s",
            parley.server.start_to_healthy <= START_TO_HEALTHY_S,
        ),
    ]
    return report


async def run() -> Report:
    pinned = pin_load()
    reads = chosen_reads()
    combined = Report("HTTP: every read command against a bare Bolt app, side by side")
    combined.figures.append(pinned)
    for kind in chosen_kinds():
        with tempfile.TemporaryDirectory(prefix="parley-bench-http-") as tmp:
            workdir = Path(tmp)
            async with bench_database(kind, workdir) as url:
                await prepare_record(url, datetime.now(UTC))
                async with SlackStandIn(strict=True) as standin:
                    parley, bare = await measure(workdir, standin, url, reads)
        one = judge(kind, parley, bare, reads)
        combined.figures += [f"== {one.title}", *one.figures]
        combined.checks += one.checks
    return combined


if __name__ == "__main__":
    raise SystemExit(main(run))
