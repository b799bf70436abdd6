"""How `parley shell` reads what is typed.

On a terminal: prompt_toolkit (bot/shell_prompt.py: line editing, a history file under the
user's data dir, Tab completion of commands and their words). Piped: plain lines, each
echoed after its prompt so the output reads as a transcript. Either way `read` returns the
line, None at end of input (Ctrl-D), or raises `Interrupted` for Ctrl-C, which the shell
turns into "cancel this line or form". Imported only by the shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO

# The words Tab completes after each command (a nested dict: a word → the words after it).
COMMAND_WORDS: dict[str, dict[str, Any] | None] = {
    "/truce": {"extend": None, "edit": None, "public": None},
    "/deadline": {
        "add": None,
        "new": None,
        "edit": None,
        "met": None,
        "missed": None,
        "cancel": None,
        "reopen": None,
        "public": None,
    },
    "/talks": {"new": None, "edit": None, "public": None},
    "/watch": {"new": None, "edit": None, "public": None},
    "/desk": {
        "help": None,
        "event": None,
        "subscribe": None,
        "unsubscribe": None,
        "digest": None,
        "lead": {"add": None, "remove": None, "list": None},
        "history": None,
        "search": None,
    },
    ":wait": {"1h": None, "12h": None, "1d": None, "7d": None},
    ":now": None,
    ":help": None,
    ":as": None,
    "quit": None,
}


# C0 controls but tab, DEL, C1 controls: a pasted escape sequence or ^H is not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# A terminal escape sequence (colour, cursor keys, a title): dropped whole, not only its ESC.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])?")


def without_controls(text: str) -> str:
    """`text` without control characters (a pasted escape sequence, ^H, a NUL)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


class Interrupted(Exception):
    """Ctrl-C at a prompt: the line (or the form it belongs to) is given up."""


class LineReader(Protocol):
    interactive: bool  # a person at a terminal

    async def read(self, prompt: str, *, field: bool = False, default: str = "") -> str | None:
        """A line (without its newline), None at end of input; raises Interrupted."""
        ...

    def close(self) -> None: ...


def history_path() -> Path:
    """``$XDG_DATA_HOME/parley/shell-history`` (platformdirs' user data dir), or
    PARLEY_SHELL_HISTORY when set."""
    given = os.environ.get("PARLEY_SHELL_HISTORY")
    if given:
        return Path(given)
    from platformdirs import user_data_dir

    return Path(user_data_dir("parley", appauthor=False)) / "shell-history"


def command_tree(
    tracks: Iterable[str] = (), topics: Iterable[str] = (), people: Iterable[str] = ()
) -> dict[str, Any]:
    """COMMAND_WORDS with the track handles after every command (and topics after /watch),
    and the people (as @name) after `:as`. (An @name anywhere else is completed too: see
    `bot.shell_prompt.WordCompleter`.)"""
    tree: dict[str, Any] = {}
    handles = {handle: None for handle in tracks}
    for command, words in COMMAND_WORDS.items():
        if command.startswith("/"):
            node: dict[str, Any] = dict(words or {})
            node.update(handles)
            if command == "/watch":
                node.update({topic: None for topic in topics})
            tree[command] = node
        else:
            tree[command] = words
    tree[":as"] = {f"@{name}": None for name in people}
    return tree


NOT_UTF8 = "  (this line is not valid UTF-8: what could not be read shows as \ufffd)"


def _decoded(raw: bytes) -> tuple[str, bool]:
    """The line as text, and whether bytes had to be replaced (invalid UTF-8)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


class PipeReader:
    interactive = False

    """Lines from a pipe or file, read by a daemon thread (so Ctrl-C or the end of the
    shell never waits on a blocked read); invalid UTF-8 is replaced, not fatal. Each line
    is echoed after its prompt. SIGINT fails the pending read with Interrupted."""

    def __init__(self, stream: BinaryIO | None = None, echo: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.echo = echo if echo is not None else sys.stdout
        self._queue: asyncio.Queue[tuple[str, bool] | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._interrupted = False
        self._ended = False  # end of input seen: every later read is None too
        self._waiting: asyncio.Future[Any] | None = None

    def _start(self) -> asyncio.Queue[tuple[str, bool] | None]:
        if self._queue is None:
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue()
            threading.Thread(target=self._pump, name="parley-stdin", daemon=True).start()
            # Off the main thread (tests) or on a platform without signals there is no
            # handler to add: Ctrl-C keeps Python's default (KeyboardInterrupt).
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(signal.SIGINT, self.interrupt)
        return self._queue

    def _pump(self) -> None:
        assert self._loop is not None and self._queue is not None
        queue, loop = self._queue, self._loop
        while True:
            try:
                raw = self.stream.readline()
            except (OSError, ValueError):
                raw = b""
            line = _decoded(raw) if raw else None
            try:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            except RuntimeError:  # the loop is closed: the shell has ended
                return
            if line is None:
                return

    def interrupt(self) -> None:
        """Ctrl-C: the pending read (or the next one) raises Interrupted."""
        self._interrupted = True
        if self._waiting is not None and not self._waiting.done():
            self._waiting.set_result(None)

    async def read(self, prompt: str, *, field: bool = False, default: str = "") -> str | None:
        queue = self._start()
        if self._ended:
            return None
        if self._interrupted:  # Ctrl-C came while no line was asked for
            self._interrupted = False
            self.echo.write(prompt + "^C\n")
            self.echo.flush()
            raise Interrupted
        if queue.empty():
            assert self._loop is not None
            waiting: asyncio.Future[Any] = self._loop.create_future()
            self._waiting = waiting
            getter: asyncio.Future[Any] = asyncio.ensure_future(queue.get())
            await asyncio.wait([getter, waiting], return_when=asyncio.FIRST_COMPLETED)
            self._waiting = None
            if not getter.done():
                getter.cancel()
                self._interrupted = False
                self.echo.write(prompt + "^C\n")
                self.echo.flush()
                raise Interrupted
            item: tuple[str, bool] | None = getter.result()
        else:
            item = queue.get_nowait()
        if item is None:
            self._ended = True
            return None
        line, garbled = item
        text = without_controls(line.removesuffix("\n").removesuffix("\r"))
        self.echo.write(prompt + text + "\n" + (NOT_UTF8 + "\n" if garbled else ""))
        self.echo.flush()
        return text

    def close(self) -> None:
        if self._loop is not None:
            # None was added when `_start` could not add it (see there).
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.remove_signal_handler(signal.SIGINT)


def default_reader(tree: Mapping[str, Any], people: Iterable[str] = ()) -> LineReader:
    """prompt_toolkit when stdin and stdout are a terminal (Tab completing from `tree`, and
    @names of `people` anywhere), else plain lines; prompt_toolkit is imported only in the
    first case."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from bot.shell_prompt import TerminalReader, WordCompleter

        return TerminalReader(history=history_path(), completer=WordCompleter(tree, people=people))
    return PipeReader()
