"""`parley digest` and `parley outbox`, run as the installed console script against a Slack
stand-in on loopback (the subprocess runs while the test's event loop serves the stand-in)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.standin import SlackStandIn, message_text
from tests.test_cli import PARLEY, TIMEOUT, clean_env, ok, parley


async def run(*args: str, db: Path, cwd: Path, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(PARLEY),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(db, **env),
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def seeded_db(tmp_path: Path) -> Path:
    db = tmp_path / "parley.db"
    ok(parley("seed", db=db, cwd=tmp_path))
    return db


def test_digest_dry_run_prints_it_and_posts_nothing(seeded_db: Path, tmp_path: Path) -> None:
    out = ok(parley("digest", "--channel", "CDESK001", "--dry-run", db=seeded_db, cwd=tmp_path))
    assert "DESK DIGEST" in out
    assert "Outbox: 0 pending, 0 claimed, 0 failed, 0 sent." in ok(
        parley("outbox", db=seeded_db, cwd=tmp_path)
    )


def test_digest_without_a_bot_token_names_the_setting(seeded_db: Path, tmp_path: Path) -> None:
    result = parley("digest", "--channel", "CDESK001", db=seeded_db, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "parley: setting SLACK_BOT_TOKEN: required to post (or use --dry-run)"
    ]


async def test_digest_posts_once_and_the_outbox_records_it(
    seeded_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    code, out, err = await run(
        "digest", "--channel", "CDESK001", db=seeded_db, cwd=tmp_path, **slack
    )
    assert code == 0, (out, err)
    assert "Posted the digest to CDESK001." in out
    [post] = [c for c in standin.calls_to("chat.postMessage")]
    assert "DESK DIGEST" in message_text(post.args)
    assert post.args["metadata"]["event_payload"]["key"].startswith("digest:CDESK001:manual:")
    code, out, _ = await run("outbox", db=seeded_db, cwd=tmp_path)
    assert code == 0 and "0 failed, 1 sent." in out


async def test_a_failed_post_stays_in_the_outbox_with_its_error(
    seeded_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    standin.fail_with_error("chat.postMessage", "internal_error")
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    code, out, _ = await run("digest", "--channel", "CDESK001", db=seeded_db, cwd=tmp_path, **slack)
    assert code == 1 and "not posted to CDESK001: failed" in out
    code, out, _ = await run("outbox", db=seeded_db, cwd=tmp_path)
    assert code == 0
    assert "1 failed, 0 sent." in out
    [row] = [line for line in out.splitlines() if "digest:CDESK001:manual:" in line]
    assert " failed " in row and "internal_error" in row


def test_the_parley_executable_is_installed() -> None:
    assert shutil.which(str(PARLEY))
