"""`parley digest` and `parley outbox`, run as the installed console script against a Slack
stand-in on loopback (the subprocess runs while the test's event loop serves the stand-in)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.local_slack import RecordedCall
from bot.slack_text import message_text
from storage import subscriptions
from storage.access import CLI
from storage.db import Database
from tests.support.cli import PARLEY, TIMEOUT, clean_env, ok, parley
from tests.support.people import AS_OF
from tests.support.slack import SlackStandIn


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


async def change_subscription(db: Path, channel: str, *, subscribed: bool = True) -> None:
    database = Database(f"sqlite:///{db}")
    try:
        async with database.session() as session:
            if subscribed:
                await subscriptions.subscribe(session, actor=CLI, now=AS_OF, channel_id=channel)
            else:
                await subscriptions.unsubscribe(session, actor=CLI, now=AS_OF, channel_id=channel)
    finally:
        await database.dispose()


@pytest.fixture
def seeded_db(tmp_path: Path) -> Path:
    """The founding case, with CDESK001 subscribed (at AS_OF)."""
    db = tmp_path / "parley.db"
    ok(parley("seed", db=db, cwd=tmp_path))
    asyncio.run(change_subscription(db, "CDESK001"))
    return db


@pytest.fixture
def shell_db(tmp_path: Path) -> Path:
    """A record made by `parley shell --as-of AS_OF`: seeded, its #desk subscribed."""
    db = tmp_path / "shell.db"
    ok(parley("shell", "--as-of", "2025-07-29T09:00Z", db=db, cwd=tmp_path))
    return db


def deliveries(db: Path) -> list[tuple[str, str, str, str | None]]:
    connection = sqlite3.connect(db)
    try:
        query = "SELECT key, status, due_at, sent_at FROM delivery ORDER BY id"
        return list(connection.execute(query))
    finally:
        connection.close()


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


# ---- which channel ---------------------------------------------------------------------------


async def test_a_channel_that_is_not_subscribed_is_refused_and_nothing_posted(
    seeded_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    for extra in ([], ["--dry-run"]):
        code, out, err = await run(
            "digest", "--channel", "CELSEWHERE", *extra, db=seeded_db, cwd=tmp_path, **slack
        )
        assert (code, out) == (1, ""), (code, out, err)
        assert err.strip().splitlines() == [
            "parley digest: CELSEWHERE is not a subscribed channel; nothing posted "
            "(subscribed: CDESK001)"
        ]
    assert standin.calls_to("chat.postMessage") == []
    assert deliveries(seeded_db) == []


async def test_a_channel_whose_subscription_was_removed_is_refused(
    seeded_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    await change_subscription(seeded_db, "CDESK001", subscribed=False)
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    code, out, err = await run(
        "digest", "--channel", "CDESK001", db=seeded_db, cwd=tmp_path, **slack
    )
    assert (code, out) == (1, "")
    assert err.strip().splitlines() == [
        "parley digest: CDESK001 is no longer subscribed; nothing posted "
        "(subscribed: none; /desk subscribe adds one)"
    ]
    assert standin.calls_to("chat.postMessage") == []
    assert deliveries(seeded_db) == []


def test_a_channel_name_the_shell_does_not_show_is_refused_with_a_hint(
    shell_db: Path, tmp_path: Path
) -> None:
    result = parley("digest", "--channel", "#trade", "--dry-run", db=shell_db, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "parley digest: #trade is not a subscribed channel (a channel name other than #desk is "
        "not known here: give its id, C…); nothing posted (subscribed: #desk (CLOCALDESK))"
    ]


async def test_the_shells_desk_is_taken_by_the_name_it_shows(
    shell_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    code, out, err = await run(
        "digest", "--channel", "#desk", "--dry-run", db=shell_db, cwd=tmp_path
    )
    assert code == 0, (out, err)
    assert "DESK DIGEST" in out
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    code, out, err = await run("digest", "--channel", "#desk", db=shell_db, cwd=tmp_path, **slack)
    assert code == 0, (out, err)
    assert out.strip() == "Posted the digest to CLOCALDESK."
    [post] = standin.calls_to("chat.postMessage")
    assert post.args["channel"] == "CLOCALDESK"


# ---- as of ----------------------------------------------------------------------------------


def test_digest_as_of_renders_it_at_that_instant(seeded_db: Path, tmp_path: Path) -> None:
    out = ok(
        parley(
            "digest",
            "--channel",
            "CDESK001",
            "--dry-run",
            "--as-of",
            "2025-08-01T08:00Z",
            db=seeded_db,
            cwd=tmp_path,
        )
    )
    assert out.startswith("DESK DIGEST · FRI 1 AUG 2025 08:00 UTC\n"), out
    assert "10 days 20 hours left" in out  # to the truce's expiry, 12 Aug 04:01 UTC


async def test_digest_as_of_posts_it_at_that_instant(
    seeded_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    code, out, err = await run(
        "digest",
        "--channel",
        "CDESK001",
        "--as-of",
        "2025-08-01T08:00Z",
        db=seeded_db,
        cwd=tmp_path,
        **slack,
    )
    assert code == 0, (out, err)
    [post] = standin.calls_to("chat.postMessage")
    assert message_text(post.args).startswith("DESK DIGEST · FRI 1 AUG 2025 08:00 UTC")
    [(key, status, due_at, sent_at)] = deliveries(seeded_db)
    assert key.startswith("digest:CDESK001:manual:20250801T0800")
    assert status == "sent"
    assert datetime.fromisoformat(due_at).strftime("%Y-%m-%d %H:%M") == "2025-08-01 08:00"
    assert sent_at is not None and sent_at.startswith("2025-08-01")


async def test_a_digest_posted_as_of_a_past_instant_holds_its_claim_by_the_wall_clock(
    seeded_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    # Else a scheduler on the wall clock would take the claim over while the post is made.
    leases: list[tuple[str, datetime]] = []

    def while_posting(call: RecordedCall) -> None:
        if call.method == "chat.postMessage":
            connection = sqlite3.connect(seeded_db)
            try:
                [(status, lease)] = connection.execute("SELECT status, lease_until FROM delivery")
            finally:
                connection.close()
            leases.append((status, datetime.fromisoformat(lease)))

    standin.on_call = while_posting
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    code, out, err = await run(
        "digest",
        "--channel",
        "CDESK001",
        "--as-of",
        "2025-08-01T08:00Z",
        db=seeded_db,
        cwd=tmp_path,
        **slack,
    )
    assert code == 0, (out, err)
    [(status, lease)] = leases
    assert status == "claimed"
    assert lease.replace(tzinfo=lease.tzinfo or UTC) > datetime.now(UTC)


def test_digest_as_of_garbage_is_one_line(seeded_db: Path, tmp_path: Path) -> None:
    result = parley(
        "digest",
        "--channel",
        "CDESK001",
        "--dry-run",
        "--as-of",
        "soon",
        db=seeded_db,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "parley: --as-of 'soon' is not an ISO 8601 time (e.g. 2025-07-29T09:00Z)"
    ]


# ---- what is next ---------------------------------------------------------------------------


def test_upcoming_lists_the_next_countdowns_and_digests(shell_db: Path, tmp_path: Path) -> None:
    args = ["outbox", "--upcoming", "--as-of", "2025-08-04T09:00Z", "--limit", "4"]
    out = ok(parley(*args, db=shell_db, cwd=tmp_path))
    assert out.splitlines() == [
        "Next 4 posts after Mon 4 Aug 2025 09:00 UTC:",
        # owed since 08:00, not planned yet (no scheduler ran): the next tick posts it
        "2025-08-04 08:00Z  due      digest    CLOCALDESK   digest:CLOCALDESK:2025-08-04",
        "2025-08-05 04:01Z  planned  countdown CLOCALDESK   "
        "countdown:1:20250812T040100Z:604800:CLOCALDESK",
        "2025-08-05 08:00Z  planned  digest    CLOCALDESK   digest:CLOCALDESK:2025-08-05",
        "2025-08-06 08:00Z  planned  digest    CLOCALDESK   digest:CLOCALDESK:2025-08-06",
        "(the next 4 are listed; --limit N for more)",
    ]
    args = ["outbox", "--upcoming", "--as-of", "2025-08-12T03:30Z"]
    later = ok(parley(*args, db=shell_db, cwd=tmp_path)).splitlines()
    assert later[:4] == [
        "Next 20 posts after Tue 12 Aug 2025 03:30 UTC:",
        # missed by under a day: the next tick posts each once, marked late
        "2025-08-11 08:00Z  due      digest    CLOCALDESK   digest:CLOCALDESK:2025-08-11",
        "2025-08-12 03:01Z  due      countdown CLOCALDESK   "
        "countdown:1:20250812T040100Z:3600:CLOCALDESK",
        "2025-08-12 04:01Z  planned  countdown CLOCALDESK   "
        "countdown:1:20250812T040100Z:0:CLOCALDESK",
    ]
    assert len(later) == 22 and later[-1] == "(the next 20 are listed; --limit N for more)"
    assert deliveries(shell_db) == []  # looking ahead plans nothing


def test_upcoming_leaves_out_posts_a_seed_made_later_never_owed(
    seeded_db: Path, tmp_path: Path
) -> None:
    # `parley seed` ran at the wall clock: the truce's countdowns before that are history.
    args = ["outbox", "--upcoming", "--as-of", "2025-08-04T09:00Z", "--limit", "30"]
    out = ok(parley(*args, db=seeded_db, cwd=tmp_path))
    assert "digest:CDESK001:2025-08-05" in out
    assert "countdown" not in out


def test_upcoming_leaves_out_what_a_replay_posted_already(shell_db: Path, tmp_path: Path) -> None:
    replay = ["shell", "--as-of", "2025-07-29T09:00Z"]
    ok(parley(*replay, db=shell_db, cwd=tmp_path, stdin=":wait 3d\n"))  # 30, 31 Jul, 1 Aug
    args = ["outbox", "--upcoming", "--as-of", "2025-07-29T09:00Z", "--limit", "2"]
    assert ok(parley(*args, db=shell_db, cwd=tmp_path)).splitlines()[1:3] == [
        "2025-08-02 08:00Z  planned  digest    CLOCALDESK   digest:CLOCALDESK:2025-08-02",
        "2025-08-03 08:00Z  planned  digest    CLOCALDESK   digest:CLOCALDESK:2025-08-03",
    ]


async def test_upcoming_shows_a_failed_post_at_its_retry(
    seeded_db: Path, tmp_path: Path, standin: SlackStandIn
) -> None:
    standin.fail_with_error("chat.postMessage", "internal_error")
    slack = {"SLACK_BOT_TOKEN": "xoxb-cli-test", "SLACK_API_URL": standin.api_url}
    code, _, _ = await run("digest", "--channel", "CDESK001", db=seeded_db, cwd=tmp_path, **slack)
    assert code == 1
    [(key, status, _, _)] = deliveries(seeded_db)
    assert status == "failed"
    code, out, err = await run("outbox", "--upcoming", db=seeded_db, cwd=tmp_path)
    assert code == 0, err
    [line] = [line for line in out.splitlines() if key in line]
    assert "  retry    digest    CDESK001     digest:CDESK001:manual:" in line


def test_upcoming_with_no_subscription_says_nothing_is_planned(tmp_path: Path) -> None:
    db = tmp_path / "parley.db"
    ok(parley("seed", db=db, cwd=tmp_path))
    out = ok(parley("outbox", "--upcoming", "--as-of", "2025-07-29T09:00Z", db=db, cwd=tmp_path))
    assert out.strip() == (
        "Nothing is planned after Tue 29 Jul 2025 09:00 UTC: no subscribed channel has a "
        "countdown or a digest to come."
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--upcoming", "--limit", "0"], "Invalid value for '--limit'"),
        (["--upcoming", "--limit", "many"], "Invalid value for '--limit'"),
        (["--upcoming", "--as-of", "soon"], "parley: --as-of 'soon' is not an ISO 8601 time"),
        (["--as-of", "2025-07-29T09:00Z"], "parley outbox: --as-of goes with --upcoming"),
    ],
    ids=["limit-0", "limit-word", "as-of-garbage", "as-of-alone"],
)
def test_bad_outbox_options_are_refused(args: list[str], says: str, tmp_path: Path) -> None:
    result = parley("outbox", *args, db=tmp_path / "p.db", cwd=tmp_path)
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "p.db").exists()


def test_the_parley_executable_is_installed() -> None:
    assert shutil.which(str(PARLEY))
