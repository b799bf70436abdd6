"""Load for the HTTP benchmarks: concurrent clients, each a Slack user asking one read again
and again, each awaiting its answer before asking again.

A slash command's answer is the HTTP reply. App Home's is the `views.publish` the server
then makes to the stand-in for that user: the client waits for it (`HomeAnswers`), so its
latency runs from the request to the published view.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from bench.commands import Read, Signer, users
from bench.servers import Server
from bot.local_slack import RecordedCall
from tests.support.slack import SlackStandIn

ANSWER_LIMIT_S = 3.0  # Slack's: every answer within 3 s


class HomeAnswers:
    """Resolves a waiting client when the stand-in receives `views.publish` for its user."""

    def __init__(self, standin: SlackStandIn) -> None:
        self._waiting: dict[str, asyncio.Future[float]] = {}
        standin.on_call = self._seen

    def expect(self, user: str) -> asyncio.Future[float]:
        waiting: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[user] = waiting
        return waiting

    def forget(self, user: str) -> None:
        self._waiting.pop(user, None)

    def _seen(self, call: RecordedCall) -> None:
        """The answer came when the call reached the stand-in (`call.at`), not once the
        stand-in had checked its view's Block Kit: that check, 3-5 ms of this process's
        CPU a view, queued behind the others', is the stand-in's time, not the server's."""
        if call.method != "views.publish":
            return
        waiting = self._waiting.pop(str(call.args.get("user_id")), None)
        if waiting is not None and not waiting.done():
            arrived = time.perf_counter() - (time.monotonic() - call.at)
            waiting.set_result(arrived)


@dataclass
class Round:
    """One burst of load against one server."""

    latencies: list[float] = field(default_factory=list)  # seconds, answers that came
    errors: int = 0  # not 200, or no answer within ANSWER_LIMIT_S
    elapsed: float = 0.0
    server_cpu: float = 0.0  # seconds of CPU the server used meanwhile

    @property
    def count(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0


async def drive(
    http: aiohttp.ClientSession,
    server: Server,
    read: Read,
    *,
    requests: int,
    clients: int,
    homes: HomeAnswers,
) -> Round:
    """`requests` signed asks of `read` from `clients` concurrent clients."""
    url = f"{server.url}/slack/events"
    signer = Signer()
    tickets = iter(range(requests))
    measured = Round()

    async def client(user: str) -> None:
        for _ in tickets:
            request = signer.sign(read, user)
            answered = homes.expect(user) if read.is_event else None
            sent = time.perf_counter()
            try:
                async with http.post(url, data=request.body, headers=request.headers) as response:
                    await response.read()
                    ok = response.status == 200
                done = time.perf_counter()
                if answered is not None and ok:
                    done = await asyncio.wait_for(answered, ANSWER_LIMIT_S - (done - sent))
            except (TimeoutError, aiohttp.ClientError):
                ok = False
                homes.forget(user)
            if ok and done - sent <= ANSWER_LIMIT_S:
                measured.latencies.append(done - sent)
            else:
                measured.errors += 1

    cpu_before, started = server.cpu_seconds, time.perf_counter()
    await asyncio.gather(*(client(user) for user in users(clients)))
    measured.elapsed = time.perf_counter() - started
    measured.server_cpu = server.cpu_seconds - cpu_before
    return measured


def merged(rounds: list[Round]) -> Round:
    return Round(
        latencies=[s for r in rounds for s in r.latencies],
        errors=sum(r.errors for r in rounds),
        elapsed=sum(r.elapsed for r in rounds),
        server_cpu=sum(r.server_cpu for r in rounds),
    )
