"""Storage fixtures: the seeded record's ids and a granted lead (what they are built from is
in `tests.support.record`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage import roles
from storage.access import CLI, Actor
from storage.db import Database
from tests.support.record import LEAD, NOW, Seeded, load_ids


@pytest.fixture
async def seeded(db: Database) -> Seeded:
    """The founding case's ids; `db` already holds it (see the suite's `db` fixture)."""
    return await load_ids(db)


@pytest.fixture
async def lead(db: Database) -> AsyncIterator[Actor]:
    async with db.session() as s:
        await roles.grant_lead(s, actor=CLI, now=NOW, user_id=LEAD.id)
    yield LEAD
