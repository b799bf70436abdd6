"""The people, channel, secrets and instant the tests speak as."""

from __future__ import annotations

from datetime import UTC, datetime

AS_OF = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)  # the founding morning
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
ADMIN = "UADMIN01"  # in PARLEY_ADMINS
LEAD = "ULEAD001"  # granted lead by the `bot` fixture
MEMBER = "UMEMBER1"
CHANNEL = "CDESK001"
