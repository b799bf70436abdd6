"""`parley serve`, `parley socket` and `parley run` as the operator runs them: real processes
against the stand-in (SLACK_API_URL), stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot import slack_requests as slack
from bot.local_slack import RecordedCall
from tests.support.bots import sign
from tests.support.people import ADMIN, BOT_TOKEN, CHANNEL, MEMBER, SIGNING_SECRET
from tests.support.slack import SlackStandIn

PARLEY = Path(sys.executable).parent / "parley"
APP_TOKEN = "xapp-1-process-test"
CALENDAR_TOKEN = "e2e-calendar-token-0123456789"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(tmp_path: Path, standin: SlackStandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARLEY_"))}
    env.update(
        PARLEY_DATABASE_URL=f"sqlite:///{tmp_path / 'parley.db'}",
        PARLEY_ADMINS=ADMIN,
        PARLEY_SCHEDULER="off",
        SLACK_API_URL=standin.api_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
    )
    env.update(extra)
    return env


async def start(tmp_path: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(PARLEY),
        *args,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_healthy(
    http: httpx.AsyncClient, url: str, process: asyncio.subprocess.Process
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while loop.time() < deadline:
        if process.returncode is not None:
            _, err = await process.communicate()
            raise AssertionError(f"parley exited {process.returncode}: {err.decode()}")
        try:
            if (await http.get(f"{url}/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("parley did not become healthy")


async def stop(process: asyncio.subprocess.Process) -> str:
    """SIGTERM, then the exit code must be 0; returns stderr (the JSON log)."""
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    log = err.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log, log
    return log


def request_lines(log: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "parley.requests"]


def command_form(standin: SlackStandIn, command: str, user: str) -> dict[str, str]:
    return slack.slash_command(
        command, user=user, channel=CHANNEL, response_url=standin.response_url(channel=CHANNEL)
    )


async def test_serve_finishes_a_request_in_flight_on_sigterm_and_exits_0(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(
        tmp_path,
        standin,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        PARLEY_CALENDAR_TOKEN=CALENDAR_TOKEN,
    )
    process = await start(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port))
    in_flight = asyncio.Event()

    async def slow_users_info(call: RecordedCall) -> None:
        if call.method == "users.info":  # /truce asks for the reader's zone before answering
            in_flight.set()
            await asyncio.sleep(1.0)

    standin.on_call = slow_users_info
    async with httpx.AsyncClient(timeout=20) as http:
        await wait_healthy(http, url, process)
        feed = await http.get(f"{url}/calendar.ics", params={"token": CALENDAR_TOKEN})
        assert feed.status_code == 200 and feed.text.startswith("BEGIN:VCALENDAR")
        body = urlencode(command_form(standin, "/truce", MEMBER))
        request = asyncio.create_task(
            http.post(f"{url}/slack/events", content=body, headers=sign(body))
        )
        await asyncio.wait_for(in_flight.wait(), timeout=10)
        log = await stop(process)
        response = await request
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    (line,) = request_lines(log)
    assert (line["kind"], line["request_name"], line["outcome"]) == ("command", "/truce", "ok")


async def test_run_with_an_app_token_is_socket_mode_end_to_end(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, standin, SLACK_APP_TOKEN=APP_TOKEN)
    process = await start(tmp_path, env, "run", "--host", "127.0.0.1", "--port", str(port))
    async with httpx.AsyncClient(timeout=20) as http:
        await wait_healthy(http, url, process)
        await standin.wait_for("socket_connect", timeout=START_TIMEOUT)
        (opened,) = standin.calls_to("apps.connections.open")
        assert opened.token == APP_TOKEN

        envelope_id = await standin.send_envelope(
            "slash_commands", command_form(standin, "/desk", MEMBER)
        )
        ack = await standin.socket_ack(envelope_id)
        assert "/deadline add" in json.dumps(ack["payload"])

        metrics = (await http.get(f"{url}/metrics")).text
        assert 'parley_requests_total{kind="command",name="/desk",outcome="ok"} 1.0' in metrics
        assert (await http.post(f"{url}/slack/events", content="x")).status_code == 404
        await stop(process)


async def test_socket_with_a_refused_app_token_names_the_setting(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    standin.fail_with_error("apps.connections.open", "invalid_auth")
    env = environment(tmp_path, standin, SLACK_APP_TOKEN=APP_TOKEN)
    process = await start(tmp_path, env, "socket", "--port", str(free_port()))
    _, err = await asyncio.wait_for(process.communicate(), timeout=START_TIMEOUT)
    assert process.returncode == 2
    lines = [line for line in err.decode().splitlines() if not line.startswith("{")]
    assert lines == [
        "parley: setting SLACK_APP_TOKEN: Slack refused it (invalid_auth); "
        "it needs the connections:write scope"
    ]


async def test_socket_without_a_bot_token_names_it(tmp_path: Path, standin: SlackStandIn) -> None:
    env = environment(tmp_path, standin, SLACK_APP_TOKEN=APP_TOKEN)
    del env["SLACK_BOT_TOKEN"]
    process = await start(tmp_path, env, "socket")
    _, err = await asyncio.wait_for(process.communicate(), timeout=START_TIMEOUT)
    assert process.returncode == 2
    assert err.decode().strip().splitlines() == [
        "parley: setting SLACK_BOT_TOKEN: required by `parley socket`"
    ]
    assert not (tmp_path / "parley.db").exists()


async def test_serve_runs_the_scheduler_and_reports_it(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, standin, SLACK_SIGNING_SECRET=SIGNING_SECRET, PARLEY_SCHEDULER="on")
    process = await start(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port))
    async with httpx.AsyncClient(timeout=20) as http:
        await wait_healthy(http, url, process)
        for text in ("subscribe digest off", "add Flash vote | in 3 seconds"):
            command = "/desk" if text.startswith("subscribe") else "/deadline"
            form = {**command_form(standin, command, ADMIN), "text": text}
            body = urlencode(form)
            answered = await http.post(f"{url}/slack/events", content=body, headers=sign(body))
            assert answered.status_code == 200, answered.text
        await standin.next_call(
            "chat.postMessage",
            after=0,
            where=lambda c: "Deadline reached: Flash vote" in str(c.args.get("text")),
            timeout=15,
        )
        posts = standin.calls_to("chat.postMessage")
        health = (await http.get(f"{url}/healthz")).json()
        metrics = (await http.get(f"{url}/metrics")).text
        log = await stop(process)
    [reached] = [c for c in posts if "Deadline reached: Flash vote" in str(c.args.get("text"))]
    assert reached.args["metadata"]["event_payload"]["key"].startswith("countdown:")
    assert health["scheduler"] == "running"
    assert health["deliveries"] == {"pending": 0, "failed": 0}
    assert 'parley_deliveries{status="failed"} 0.0' in metrics
    post_lines = [json.loads(line) for line in log.splitlines() if '"parley.scheduler"' in line]
    assert any(line.get("outcome") == "sent" for line in post_lines)


async def test_serve_makes_its_web_api_calls_over_one_kept_connection(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    """slack_sdk opens a connection for each call unless given a session (to Slack: a TLS
    handshake each); `parley serve`'s listeners share one (bot.app.kept_alive)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, standin, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    process = await start(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port))
    mark = standin.mark()
    async with httpx.AsyncClient(timeout=20) as http:
        await wait_healthy(http, url, process)
        for n in range(4):
            body = json.dumps(slack.app_home_opened(MEMBER, event_id=f"EvKEPT{n}"))
            response = await http.post(f"{url}/slack/events", content=body, headers=sign(body))
            assert response.status_code == 200
            await standin.next_call("views.publish", after=mark)
            mark = standin.mark()
        await stop(process)
    published = standin.calls_to("views.publish")
    assert len(published) == 4
    assert all(call.peer for call in published)
    assert len({call.peer for call in published}) == 1, [call.peer for call in published]


async def test_serve_refuses_what_slack_did_not_sign_and_answers_what_it_did(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    """`parley serve` checks each signature once, before Bolt (bot.web), with Bolt's own
    check off: what is unsigned, wrongly signed or replayed stays refused."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, standin, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    process = await start(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port))
    body = urlencode(command_form(standin, "/truce", MEMBER))
    refused = {
        "unsigned": {"content-type": "application/x-www-form-urlencoded"},
        "wrong secret": sign(body, secret="not-the-signing-secret"),
        "replayed": sign(body, timestamp=int(time.time()) - 5 * 60 - 30),
    }
    async with httpx.AsyncClient(timeout=20) as http:
        await wait_healthy(http, url, process)
        statuses = {
            how: (await http.post(f"{url}/slack/events", content=body, headers=headers)).status_code
            for how, headers in refused.items()
        }
        signed = await http.post(f"{url}/slack/events", content=body, headers=sign(body))
        await stop(process)
    assert statuses == dict.fromkeys(refused, 401)
    assert signed.status_code == 200
    assert signed.json()["text"] == "No active truce is on record.", signed.text
