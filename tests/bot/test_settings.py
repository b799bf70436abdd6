"""Settings checked at start: Slack tokens by their prefix, admin ids, calendar tokens.

`tests/test_cli.py` covers the zone, offsets, database URL and API URL; these are the
checks added with the operations work, in process and through `parley serve` itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import SettingError, Settings

PARLEY = Path(sys.executable).parent / "parley"
TEAM = "team-calendar-token-0123456789"
RESTRICTED = "restricted-calendar-token-98765"
GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-abcdefghijkl",
    "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
    "SLACK_APP_TOKEN": "xapp-1-A0PARLEY-1-abcdef",
    "PARLEY_ADMINS": "U024BE7LH, W0123ABCD",
    "PARLEY_CALENDAR_TOKEN": TEAM,
    "PARLEY_CALENDAR_RESTRICTED_TOKEN": RESTRICTED,
}
# (setting, wrong value, other settings it needs): each stops `parley serve`.
WRONG = {
    "bot-token-prefix": ("SLACK_BOT_TOKEN", "xoxp-1111-2222-user-token", {}),
    "bot-token-app-token": ("SLACK_BOT_TOKEN", "xapp-1-A0PARLEY-1-abcdef", {}),
    "app-token-prefix": ("SLACK_APP_TOKEN", "xoxb-1111-2222-abcdefghijkl", {}),
    "admins-name": ("PARLEY_ADMINS", "U024BE7LH,@alice", {}),
    "admins-lower-case": ("PARLEY_ADMINS", "u024be7lh", {}),
    "admins-channel": ("PARLEY_ADMINS", "C024BE7LH", {}),
    "calendar-short": ("PARLEY_CALENDAR_TOKEN", "short-token", {}),
    "calendar-not-url-safe": ("PARLEY_CALENDAR_TOKEN", "calendar token & more!", {}),
    "restricted-short": (
        "PARLEY_CALENDAR_RESTRICTED_TOKEN",
        "tiny",
        {"PARLEY_CALENDAR_TOKEN": TEAM},
    ),
    "restricted-alone": ("PARLEY_CALENDAR_RESTRICTED_TOKEN", RESTRICTED, {}),
    "restricted-same": ("PARLEY_CALENDAR_RESTRICTED_TOKEN", TEAM, {"PARLEY_CALENDAR_TOKEN": TEAM}),
    "scheduler": ("PARLEY_SCHEDULER", "sometimes", {}),
    "intake": ("PARLEY_INTAKE", "maybe", {}),
    "intake-private": ("PARLEY_INTAKE_ALLOW_PRIVATE", "yes", {}),
    "date-order": ("PARLEY_DATE_ORDER", "YMD", {}),
    "db-pool-zero": ("PARLEY_DB_POOL", "0", {}),
    "db-pool-word": ("PARLEY_DB_POOL", "many", {}),
    "db-pool-negative": ("PARLEY_DB_POOL", "-5", {}),
    "db-pool-huge": ("PARLEY_DB_POOL", "5000", {}),
}
SECRET_SETTINGS = ("TOKEN", "SECRET")
# One process per setting (about a second of CPU each); the variants run in process above.
SERVED = [
    "bot-token-prefix",
    "app-token-prefix",
    "admins-name",
    "calendar-short",
    "restricted-same",
    "scheduler",
    "date-order",
    "db-pool-word",
]


# ---- in process ------------------------------------------------------------------------------


def test_good_values_are_read() -> None:
    settings = Settings.load(GOOD)
    assert settings.bot_token == GOOD["SLACK_BOT_TOKEN"]
    assert settings.app_token == GOOD["SLACK_APP_TOKEN"]
    assert settings.admins == frozenset({"U024BE7LH", "W0123ABCD"})
    assert settings.calendar_token == TEAM
    assert settings.calendar_restricted_token == RESTRICTED


def test_unset_and_blank_values_are_none() -> None:
    settings = Settings.load({"PARLEY_CALENDAR_RESTRICTED_TOKEN": "  ", "SLACK_BOT_TOKEN": ""})
    assert settings.bot_token is None
    assert settings.calendar_token is None
    assert settings.calendar_restricted_token is None
    assert settings.countdown_offsets[-1] == timedelta(0)


@pytest.mark.parametrize(("typed", "order"), [("DMY", "DMY"), ("mdy", "MDY"), ("", None)])
def test_date_order_is_read(typed: str, order: str | None) -> None:
    assert Settings.load({"PARLEY_DATE_ORDER": typed}).date_order == order


@pytest.mark.parametrize("case", sorted(WRONG))
def test_a_wrong_value_names_its_setting_and_never_quotes_a_secret(case: str) -> None:
    name, value, needs = WRONG[case]
    with pytest.raises(SettingError) as wrong:
        Settings.load({**needs, name: value})
    assert wrong.value.name == name
    assert str(wrong.value).startswith(f"{name}: ")
    if name.endswith(SECRET_SETTINGS):
        assert value not in str(wrong.value)


# ---- through `parley serve` ------------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    listened: bool
    db: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
    except OSError:
        return False
    return True


def serve(folder: Path, settings: dict[str, str], *, until_listening: bool = False) -> Run:
    """`parley serve` with only `settings` (no inherited SLACK_/PARLEY_, no `.env`); watches
    its port the whole time it runs."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "p.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PARLEY_"))}
    env.update(PARLEY_DATABASE_URL=f"sqlite:///{db}", **settings)
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(PARLEY), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    listened = threading.Event()

    def watch() -> None:
        while process.poll() is None and not listened.is_set():
            if accepts(port):
                listened.set()
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        if until_listening:
            listened.wait(timeout=20)
            process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        watcher.join()
    seconds = time.monotonic() - started
    return Run(process.returncode, stdout, stderr, seconds, listened.is_set(), db)


@pytest.fixture(scope="module")
def wrong_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every wrong-setting run at once (each is a separate process): quicker than in turn."""
    root = tmp_path_factory.mktemp("wrong-settings")
    base = {k: GOOD[k] for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")}

    def run(case: str) -> Run:
        name, value, needs = WRONG[case]
        return serve(root / case, {**base, **needs, name: value})

    with ThreadPoolExecutor(max_workers=len(SERVED)) as pool:
        return dict(zip(SERVED, pool.map(run, SERVED), strict=True))


@pytest.mark.parametrize("case", SERVED)
def test_serve_stops_before_listening_with_one_line_naming_the_setting(
    case: str, wrong_runs: dict[str, Run]
) -> None:
    name, value, _ = WRONG[case]
    run = wrong_runs[case]
    where = (run.returncode, run.stdout, run.stderr)
    assert run.returncode == 2, where
    assert run.stdout == "", where
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, where
    assert lines[0].startswith(f"parley: setting {name}: "), where
    if name.endswith(SECRET_SETTINGS):
        assert value not in run.stderr
    assert run.seconds < 10, run.seconds
    assert not run.listened
    assert not run.db.exists()  # stopped before it opened the database


def test_serve_with_every_new_setting_right_does_listen(tmp_path: Path) -> None:
    # The control for the test above: the port watch does see a server that starts.
    run = serve(tmp_path, GOOD, until_listening=True)
    assert run.listened, (run.returncode, run.stderr)
    assert run.db.exists()
    assert "Traceback" not in run.stderr


def test_intake_polls_by_default_and_private_addresses_are_refused_by_default() -> None:
    settings = Settings.load({})
    assert (settings.intake, settings.intake_allow_private) == (True, False)
    switched = Settings.load({"PARLEY_INTAKE": "OFF", "PARLEY_INTAKE_ALLOW_PRIVATE": "on"})
    assert (switched.intake, switched.intake_allow_private) == (False, True)
