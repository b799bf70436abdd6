"""What `parley shell` reads: prompt_toolkit on a terminal (driven here through its own pipe
input, in-process), plain lines from a pipe."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from bot.shell_input import Interrupted, PipeReader, command_tree, history_path, without_controls
from bot.shell_prompt import TerminalReader, WordCompleter

TREE = command_tree(tracks=["us-china", "us-eu"], topics=["Taiwan"])


def completions(text: str) -> list[str]:
    found = WordCompleter(TREE).get_completions(Document(text), CompleteEvent())
    return [c.text for c in found]


def test_completion_of_commands_subcommands_and_handles() -> None:
    assert completions("/tr") == ["/truce"]
    assert completions("/deadline m") == ["met", "missed"]
    assert completions("/desk lead r") == ["remove"]
    assert completions("/truce us-") == ["us-china", "us-eu"]
    assert "Taiwan" in completions("/watch ")
    assert completions(":w") == [":wait"]
    assert {"/truce", "/deadline", "/talks", "/watch", "/desk", "quit"} <= set(completions(""))
    assert completions("/bogus x") == []


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe_input:
        yield pipe_input


def reader(pipe: PipeInput, history: Path | None = None) -> TerminalReader:
    return TerminalReader(
        history=history, completer=WordCompleter(TREE), input=pipe, output=DummyOutput()
    )


async def read(
    terminal: TerminalReader, pipe: PipeInput, keys: str, *, field: bool = False, default: str = ""
) -> str | None:
    pipe.send_text(keys)
    return await terminal.read("parley> ", field=field, default=default)


async def test_line_editing_and_history_in_a_file(pipe: PipeInput, tmp_path: Path) -> None:
    history = tmp_path / "data" / "shell-history"
    terminal = reader(pipe, history)
    assert await read(terminal, pipe, "/deadlne\x1b[D\x1b[Di\r") == "/deadline"  # ← ← i
    assert await read(terminal, pipe, "/truce\r") == "/truce"
    assert await read(terminal, pipe, "\x1b[A\x1b[A\r") == "/deadline"  # ↑ ↑: two back
    assert "+/truce" in history.read_text()
    again = reader(pipe, history)  # a new session reads the file
    assert await read(again, pipe, "\x1b[A\r") == "/deadline"


async def test_tab_completes_the_word_at_the_cursor(pipe: PipeInput) -> None:
    terminal = reader(pipe)
    line = asyncio.ensure_future(terminal.read("parley> "))
    pipe.send_text("/desk lead r\t")
    buffer = None
    for _ in range(500):  # the completion runs as a task: wait for it, not for a time
        await asyncio.sleep(0.01)
        if terminal.commands.app.is_running:
            buffer = terminal.commands.app.current_buffer.text
            if buffer == "/desk lead remove":
                break
    assert buffer == "/desk lead remove"
    pipe.send_text("\r")
    assert await line == "/desk lead remove"


async def test_ctrl_c_interrupts_and_ctrl_d_ends(pipe: PipeInput) -> None:
    terminal = reader(pipe)
    with pytest.raises(Interrupted):
        await read(terminal, pipe, "half a line\x03")
    assert await read(terminal, pipe, "\x04") is None
    with pytest.raises(Interrupted):
        await read(terminal, pipe, "a field\x03", field=True)


async def test_a_field_starts_from_its_default_and_keeps_no_command_history(
    pipe: PipeInput,
) -> None:
    terminal = reader(pipe)
    assert await read(terminal, pipe, "\r", field=True, default="whenever") == "whenever"
    assert await read(terminal, pipe, "\x7f" * 8 + "+5d\r", field=True, default="whenever") == (
        "+5d"
    )
    assert await read(terminal, pipe, "/truce\r") == "/truce"
    assert await read(terminal, pipe, "\x1b[A\r", field=True) == "+5d"  # fields' own history
    assert await read(terminal, pipe, "\x1b[A\r") == "/truce"


def test_history_under_the_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PARLEY_SHELL_HISTORY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_path() == tmp_path / "parley" / "shell-history"
    monkeypatch.setenv("PARLEY_SHELL_HISTORY", str(tmp_path / "h"))
    assert history_path() == tmp_path / "h"


async def test_pipe_reader_echoes_replaces_bad_utf8_and_stays_ended() -> None:
    echo = io.StringIO()
    pipe_reader = PipeReader(io.BytesIO(b"/truce\n\xff bad\r\nlast"), echo)
    assert await pipe_reader.read("parley> ") == "/truce"
    assert await pipe_reader.read("parley> ") == "\ufffd bad"
    assert await pipe_reader.read("Title: ", field=True) == "last"
    assert await pipe_reader.read("parley> ") is None
    assert await pipe_reader.read("parley> ") is None
    assert echo.getvalue() == (
        "parley> /truce\n"
        "parley> \ufffd bad\n"
        "  (this line is not valid UTF-8: what could not be read shows as \ufffd)\n"
        "Title: last\n"
    )


async def test_pipe_reader_drops_control_characters() -> None:
    pipe_reader = PipeReader(io.BytesIO(b"/tru\x08ce\x1b\x00\t x\n"), io.StringIO())
    assert await pipe_reader.read("parley> ") == "/truce\t x"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("/truce \x1b[31mpublic\x1b[0m", "/truce public"),  # a pasted colour sequence, whole
        ("/talks\x1b[A", "/talks"),  # a cursor key that came through as text
        ("a\x1b]0;a title\x07b", "ab"),  # a terminal title (OSC)
        ("x\x00y\x08z\x7f", "xyz"),  # NUL, backspace, DEL
        ("\x9b31m", "31m"),  # a C1 control
        ("tab\tkept", "tab\tkept"),
        ("esc at the end\x1b", "esc at the end"),
        ("π, 芬太尼, emoji 🎉", "π, 芬太尼, emoji 🎉"),
    ],
)
def test_control_characters_and_escape_sequences_are_dropped(typed: str, kept: str) -> None:
    assert without_controls(typed) == kept


async def test_pipe_reader_interrupt_fails_the_pending_read() -> None:
    echo = io.StringIO()
    read_end, write_end = _os_pipe()
    pipe_reader = PipeReader(read_end, echo)
    pending = asyncio.ensure_future(pipe_reader.read("Title: ", field=True))
    await asyncio.sleep(0)
    pipe_reader.interrupt()
    with pytest.raises(Interrupted):
        await pending
    assert echo.getvalue() == "Title: ^C\n"
    write_end.write(b"/deadline\n")
    write_end.close()
    assert await pipe_reader.read("parley> ") == "/deadline"  # nothing typed is lost
    assert await pipe_reader.read("parley> ") is None
    read_end.close()


def _os_pipe() -> tuple[io.BufferedReader, io.BufferedWriter]:
    import os

    r, w = os.pipe()
    return os.fdopen(r, "rb"), os.fdopen(w, "wb", buffering=0)  # type: ignore[return-value]


def test_a_choice_is_picked_by_number_name_or_unique_prefix() -> None:
    from bot.shell_forms import pick_option

    options = [
        {"text": {"type": "plain_text", "text": name}, "value": value}
        for name, value in [
            ("rumour", "rumour"),
            ("reported", "reported"),
            ("report", "report"),
            ("us-china — US–China trade", "3"),
        ]
    ]
    assert pick_option(options, "2") is options[1]
    assert pick_option(options, "Report") is options[2]  # a whole name beats a longer one
    assert pick_option(options, "reporte") is options[1]
    assert pick_option(options, "US-C") is options[3]
    assert pick_option(options, "r") == (
        "'r' could be rumour, reported, report: type more of the name, or its number."
    )
    assert pick_option(options, "9") == "Type a number from 1 to 4, or a name."
    assert pick_option(options, "zz") == (
        "No choice is named 'zz': type a number from 1 to 4, or a name."
    )


PEOPLE = ["you", "lena", "alice", "bob"]


@pytest.mark.parametrize(
    ("typed", "offered"),
    [
        (":as ", ["@you", "@lena", "@alice", "@bob"]),
        (":as @a", ["@alice"]),
        (":as @A", ["@alice"]),
        ("/desk lead add @", ["@you", "@lena", "@alice", "@bob"]),
        ("/desk lead add @b", ["@bob"]),
        ("/desk lead remove @le", ["@lena"]),
        ("/desk search about @al", ["@alice"]),  # a person wherever one is named
        ("/desk lead add @bob", []),  # already whole
        ("/desk lead add @zed", []),
        ("@", []),  # a first word is a command, not a person
        (":a", [":as"]),
    ],
)
def test_tab_completes_people_as_at_names(typed: str, offered: list[str]) -> None:
    completer = WordCompleter(command_tree(people=PEOPLE), people=PEOPLE)
    found = [c.text for c in completer.get_completions(Document(typed), CompleteEvent())]
    assert found == offered
