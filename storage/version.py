"""The record's version: a value that moves whenever a commit changes the record, so reads
can be memoised and answers reused until it moves (`storage.lookups`, `bot.answers`).

    version = db.version.current()   # None: changes cannot be seen now, so cache nothing

Every session a `Database` opens is a `RecordSession`. It notes writes to the record (the
rows it flushes and the INSERT/UPDATE/DELETE statements it runs) and, after a commit that
made any, bumps this process's counter at once, so this process sees its own writes with no
wait. Writes it cannot see that way (raw SQL, Core statements, other processes) move the
version through the database: the trigger's NOTIFY on PostgreSQL, `data_version` on SQLite.

Other processes:

* PostgreSQL: a trigger on every table of the record (migration 0004_record_changes)
  sends `NOTIFY parley_record` from the database itself, for any writer — Parley's sessions,
  a Core statement, `psql`, a migration — delivered when its transaction commits; each
  process listens on one connection of its own (`storage.changes`) and bumps its counter
  when told. While that connection is down, `current()` is None: every read goes to the
  database. Staleness is bounded by the notification's delivery, milliseconds.
* SQLite (one server process by design, but `parley import` or `parley seed` may run
  beside it): `PRAGMA data_version`, asked on a connection of our own, moves with every
  commit made by any other connection, in this process or another. It is polled on each
  `current()` (microseconds, no thread hop), so there is no staleness window at all.

Bookkeeping tables (the outbox's deliveries, handled request ids) do not count: no answer
reads them, and the scheduler writes them all the time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from itertools import chain
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlmodel import Session

CHANNEL = "parley_record"
BOOKKEEPING = frozenset({"delivery", "handled_request"})
VERSION_KEY = "parley.record_version"
CHANGED_KEY = "parley.record_changed"

Version = tuple[int, int]


class RecordVersion:
    """This process's view of the record's version, one per `Database`.

    `sqlite_path` names the database file to poll (None for PostgreSQL and in-memory
    SQLite); `listening` starts False when another process's changes arrive by NOTIFY,
    and `wake` is then called on each `current()` to (re)start that listener.
    """

    def __init__(
        self,
        *,
        sqlite_path: str | None = None,
        listening: bool = True,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._count = 0
        self._sqlite_path = sqlite_path
        self._watcher: sqlite3.Connection | None = None
        self._listening = listening
        self.wake = wake

    def bump(self) -> None:
        self._count += 1

    def set_listening(self, listening: bool) -> None:
        """The NOTIFY listener went up or down: notifications may have been missed."""
        self._listening = listening
        self.bump()

    @property
    def listening(self) -> bool:
        return self._listening

    def current(self) -> Version | None:
        """A value equal to an earlier one only if no change was committed in between."""
        if not self._listening:
            if self.wake is not None:
                self.wake()
            return None
        if self._sqlite_path is None:
            return (self._count, 0)
        stamp = self._data_version()
        return None if stamp is None else (self._count, stamp)

    def _data_version(self) -> int | None:
        try:
            if self._watcher is None:
                uri = f"file:{self._sqlite_path}?mode=rw"
                # timeout=0: never block the event loop; a busy moment means "do not cache".
                self._watcher = sqlite3.connect(
                    uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False
                )
            row = self._watcher.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            self.close()
            return None
        return int(row[0])

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None


class RecordSession(Session):
    """sqlmodel's Session, telling the `RecordVersion` in its `info` about committed changes."""


def _is_record(row: object) -> bool:
    return getattr(type(row), "__tablename__", None) not in BOOKKEEPING


def _pending_change(session: Session) -> bool:
    return any(_is_record(row) for row in chain(session.new, session.dirty, session.deleted))


@event.listens_for(RecordSession, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    # After a flush the lists still show what it wrote.
    if not session.info.get(CHANGED_KEY) and _pending_change(session):
        session.info[CHANGED_KEY] = True


@event.listens_for(RecordSession, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) not in BOOKKEEPING:
            state.session.info[CHANGED_KEY] = True


@event.listens_for(RecordSession, "before_commit")
def _note_pending(session: Session) -> None:
    """Rows still unflushed at commit count too (other processes hear of it by the trigger)."""
    if _pending_change(session):
        session.info[CHANGED_KEY] = True


@event.listens_for(RecordSession, "after_commit")
def _bump(session: Session) -> None:
    version = session.info.get(VERSION_KEY)
    if session.info.pop(CHANGED_KEY, False) and isinstance(version, RecordVersion):
        version.bump()


@event.listens_for(RecordSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # a rolled-back or closed unit of work changed nothing
        session.info.pop(CHANGED_KEY, None)
