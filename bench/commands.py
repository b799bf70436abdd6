"""The read commands the HTTP benchmarks ask, the record they ask about, and requests signed
as Slack signs them.

Each client of a benchmark is one Slack user; a read is a slash command (a form body) or,
for App Home, an `app_home_opened` event (a JSON body with an `event_id` of its own, as
Parley claims each event id once), answered by a `views.publish` to that user.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import slack_requests as slack
from storage import deadlines
from storage.access import SEED
from storage.db import Database
from storage.seed import default_seed_files, load_seed_files

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
CHANNEL = "CBENCH001"
UPCOMING_DEADLINES = 6  # the seeded deadlines are past by now; `/deadline` should list some
UNREACHABLE_RESPONSE_URL = "http://127.0.0.1:9/response/{id}"  # answers go in the HTTP reply
APP_HOME = "App Home"


@dataclass(frozen=True)
class Read:
    """One read command as a desk member types it; `command` None is App Home."""

    name: str
    command: str | None
    text: str = ""

    @property
    def is_event(self) -> bool:
        return self.command is None


READS = (
    Read("/truce", "/truce"),
    Read("/deadline", "/deadline"),
    Read("/talks", "/talks"),
    Read("/watch", "/watch"),
    Read("/watch taiwan", "/watch", "taiwan"),
    Read("/desk search tariff", "/desk", "search tariff"),
    Read("/desk history", "/desk", "history"),
    Read(APP_HOME, None),
)
SLASH_COMMANDS = sorted({r.command for r in READS if r.command})


@dataclass(frozen=True)
class SignedRequest:
    read: str  # the Read's name
    user: str
    body: bytes
    headers: dict[str, str]


async def prepare_record(url: str, now: datetime) -> None:
    """The seeded founding case, plus a few deadlines still ahead of `now`."""
    db = Database(url)
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


def users(count: int) -> list[str]:
    return [f"UBENCH{n:03d}" for n in range(count)]


def command_form(read: Read, user: str) -> str:
    """A slash command's body as Slack posts it."""
    assert read.command is not None
    form = slack.slash_command(
        read.command,
        read.text,
        user=user,
        channel=CHANNEL,
        response_url=UNREACHABLE_RESPONSE_URL.format(id=uuid.uuid4().hex),
    )
    return slack.form_body(form)


def home_opened(user: str) -> str:
    """An `app_home_opened` event callback with an event id never sent before."""
    return json.dumps(slack.app_home_opened(user, event_id=f"Ev{uuid.uuid4().hex[:16].upper()}"))


class Signer:
    """Signs bodies now: Bolt refuses a timestamp over five minutes old."""

    def sign(self, read: Read, user: str) -> SignedRequest:
        body = home_opened(user) if read.is_event else command_form(read, user)
        kind = slack.JSON if read.is_event else slack.FORM
        headers = slack.signed_headers(body, SIGNING_SECRET, content_type=kind)
        return SignedRequest(read.name, user, body.encode(), headers)


def signed_commands(reads: list[Read], who: list[str]) -> list[SignedRequest]:
    """Every user asks every (slash command) read once, signed now."""
    signer = Signer()
    return [signer.sign(read, user) for user, read in itertools.product(who, reads)]
