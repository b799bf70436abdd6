"""The record the HTTP benchmarks ask about, and slash commands signed as Slack signs them."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from storage import deadlines
from storage.access import SEED
from storage.db import Database
from storage.seed import default_seed_files, load_seed_files

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
COMMANDS = ("/truce", "/deadline")
CHANNEL = "CBENCH001"
UPCOMING_DEADLINES = 6  # the seeded deadlines are past by now; `/deadline` should list some
UNREACHABLE_RESPONSE_URL = "http://127.0.0.1:9/response/{id}"  # answers go in the HTTP reply


@dataclass(frozen=True)
class SignedCommand:
    command: str
    body: bytes
    headers: dict[str, str]


async def prepare_record(path: Path, now: datetime) -> None:
    """The seeded founding case in a SQLite file, plus a few deadlines still ahead of `now`."""
    db = Database(f"sqlite:///{path}")
    try:
        await db.upgrade()
        async with db.session() as session:
            await load_seed_files(session, default_seed_files(), now=now)
            for n in range(1, UPCOMING_DEADLINES + 1):
                await deadlines.add_deadline(
                    session,
                    actor=SEED,
                    now=now,
                    title=f"Bench deadline {n}",
                    due_at=now + timedelta(days=3 * n, hours=n),
                    zone="America/New_York",
                )
    finally:
        await db.dispose()


def command_forms(users: list[str]) -> list[tuple[str, str]]:
    """(command, form body) as Slack posts them: each user asks `/truce` and `/deadline`."""
    forms = []
    for user, command in itertools.product(users, COMMANDS):
        form = {
            "token": "deprecated",
            "team_id": "T0LOCAL",
            "team_domain": "parley-local",
            "channel_id": CHANNEL,
            "channel_name": "desk",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": "",
            "api_app_id": "A0PARLEY",
            "is_enterprise_install": "false",
            "response_url": UNREACHABLE_RESPONSE_URL.format(id=uuid.uuid4().hex),
            "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}",
        }
        forms.append((command, urlencode(form)))
    return forms


def sign_all(forms: list[tuple[str, str]]) -> list[SignedCommand]:
    """Signed now: Bolt refuses a timestamp over five minutes old."""
    verifier = SignatureVerifier(SIGNING_SECRET)
    timestamp = str(int(time.time()))
    signed = []
    for command, body in forms:
        signature = verifier.generate_signature(timestamp=timestamp, body=body)
        assert signature is not None
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature,
        }
        signed.append(SignedCommand(command, body.encode(), headers))
    return signed
