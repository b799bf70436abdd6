"""`parley shell` on a terminal, in-process: the real Shell, its app and a seeded SQLite
record, with prompt_toolkit reading keys from its own pipe input (one key string typed at
each prompt, as a person types after seeing it), so editing keys, Ctrl-C and multi-line
fields go through the same line editor as at a real terminal."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from bot.clock import ManualClock
from bot.local_desk import PEOPLE
from bot.settings import Settings
from bot.shell import Shell
from bot.shell_input import command_tree
from bot.shell_prompt import TerminalReader, WordCompleter
from storage.db import Database

AS_OF = datetime(2025, 7, 29, 9, 0, tzinfo=UTC)
CTRL_C = "\x03"
CTRL_U = "\x15"


class TypedKeys:
    """A terminal reader that types the next key string when a prompt is shown, and ends
    the input (Ctrl-D) when none is left; `prompts` records every prompt shown."""

    interactive = True

    def __init__(self, pipe: PipeInput, keys: list[str]) -> None:
        names = [p.name for p in PEOPLE]
        self.pipe = pipe
        self.keys = list(keys)
        self.prompts: list[str] = []
        self.terminal = TerminalReader(
            completer=WordCompleter(command_tree(people=names), people=names),
            input=pipe,
            output=DummyOutput(),
        )

    async def read(self, prompt: str, *, field: bool = False, default: str = "") -> str | None:
        self.prompts.append(prompt if not default else f"{prompt}[{default}]")
        if not self.keys:
            return None
        self.pipe.send_text(self.keys.pop(0))
        return await self.terminal.read(prompt, field=field, default=default)

    def close(self) -> None:
        pass


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe_input:
        yield pipe_input


@pytest.fixture
def record(seeded_sqlite_db: Database) -> Database:
    return seeded_sqlite_db


async def run_shell(db: Database, pipe: PipeInput, keys: list[str]) -> tuple[str, Shell, Any]:
    """Runs the shell over `keys` to their end; (what it printed, the shell, the reader)."""
    out = io.StringIO()
    reader = TypedKeys(pipe, keys)
    settings = Settings.load(environ={"PARLEY_SCHEDULER": "off"})
    console = Shell(
        settings=settings, db=db, clock=ManualClock(AS_OF), out=out, reader=reader, colour=False
    )
    await console.start(tick_every=None)
    try:
        await console.run()
    finally:
        await console.stop()
    return out.getvalue(), console, reader


async def test_a_multi_line_field_takes_lines_until_an_empty_one(
    record: Database, pipe: PipeInput
) -> None:
    out, console, reader = await run_shell(
        record,
        pipe,
        [
            "/talks new\r",
            "Madrid round\r",
            "Madrid\r",
            "Sep 14 10:0\x1b[D\x1b[D\x1b[C\x1b[C0 Europe/Madrid\r",  # ← ← → → edits the line
            "\r",  # Ends: none
            "\r",  # Status: keep scheduled
            "United States | Scott Bessent | Treasury Secretary\r",
            "China | He Lifeng | Vice Premier\r",
            "\r",  # the empty line ends the field
            "\r",  # Outcome: none
            "us-c\r",  # Track by the start of its name
            "/talks\r",
        ],
    )
    assert "  → read as Sun 14 Sep 2025 10:00 CEST\n" in out
    assert "Delegations (optional), one per line; an empty line ends:\n" in out
    assert [p for p in reader.prompts if p.endswith("> ") and p[2].isdigit()][:3] == [
        "  1> ",
        "  2> ",
        "  3> ",
    ]
    talks = out[out.rindex("Next talks") :]
    assert "Madrid round  ·  us-china" in talks
    assert "• United States: Scott Bessent, Treasury Secretary\n" in talks
    assert "• China: He Lifeng, Vice Premier\n" in talks
    assert console.failures == 0


async def test_two_parties_on_one_line_are_refused_and_the_lines_kept(
    record: Database, pipe: PipeInput
) -> None:
    both = "United States | Scott Bessent | Treasury Secretary; China | He Lifeng | Vice Premier"
    out, console, _ = await run_shell(
        record,
        pipe,
        [
            "/talks new\r",
            "Madrid round\r",
            "\r",
            "Sep 14 10:00 Europe/Madrid\r",
            "\r",
            "\r",
            both + "\r",
            "\r",
            "\r",
            "2\r",
            # asked again, with the line kept above the prompt: typed as two lines now
            "United States | Scott Bessent | Treasury Secretary\r",
            "China | He Lifeng | Vice Premier\r",
            "\r",
            "/talks\r",
        ],
    )
    errors = out[out.index("The form has errors:") :]
    assert f"  ! Delegations: “{both}” has more parts than a delegation" in errors
    kept = "Delegations (optional), one per line; an empty line ends (an empty first line keeps"
    assert f"{kept} these, '-' clears them):\n  | {both}\n" in errors
    talks = out[out.rindex("Next talks") :]
    assert "• United States: Scott Bessent, Treasury Secretary\n" in talks
    assert "• China: He Lifeng, Vice Premier\n" in talks
    assert console.failures == 0  # the form was put right and saved


async def test_as_someone_else_the_prompt_says_so_and_refusals_are_theirs(
    record: Database, pipe: PipeInput
) -> None:
    out, console, reader = await run_shell(
        record,
        pipe,
        [
            ":as @bob\r",
            "/truce extend +30d\r",
            ":as @you\r",
            "/truce\r",
        ],
    )
    as_bob = "parley (as @bob)> "
    assert reader.prompts[:4] == ["parley> ", as_bob, as_bob, "parley> "]
    assert "You now act as @bob (Bob Okafor, member).\n" in out
    refusal = out[out.index("── only @bob can see this ──") :]
    assert refusal.startswith(
        "── only @bob can see this ──\n"
        "Only a desk lead can change the record. Ask an admin to make you a lead.\n"
    )
    assert "Active truce" in out[out.index("You now act as @you") :]
    assert console.failures == 1  # the refusal


async def test_ctrl_c_in_a_form_and_buttons_numbered_across_posts(
    record: Database, pipe: PipeInput
) -> None:
    out, console, reader = await run_shell(
        record,
        pipe,
        [
            "/truce\r",  # (1) Edit / extend
            "/deadline\r",  # (2) … on: the numbers run on
            "1\r",  # the truce's button, still on screen: its form
            "+30d" + CTRL_C,  # Ctrl-C in the form
            "/truce\r",
        ],
    )
    assert "  (1) Edit / extend" in out
    deadlines = out[out.index("Upcoming deadlines") :]
    assert "  (2) " in deadlines and "  (1) " not in deadlines
    assert "── Truce terms & expiry ──" in out
    assert "Form cancelled; nothing was saved." in out
    again = out[out.rindex("Active truce") :]
    assert "No extension recorded." in again  # nothing was saved
    assert console.failures == 0  # a form given up is not a failure
    assert any(p.startswith("New expiry") for p in reader.prompts)


@pytest.mark.parametrize(
    ("expiry", "first_line", "terms_after"),
    [
        # the expiry moved, the terms kept by an empty first line
        ("+30d\r", "\r", ["United States → China: additional tariff on Chinese goods, 30%"]),
        ("\r", "-\r", []),  # the terms cleared
    ],
)
async def test_a_multi_line_field_with_lines_is_kept_or_cleared(
    record: Database, pipe: PipeInput, expiry: str, first_line: str, terms_after: list[str]
) -> None:
    out, console, _ = await run_shell(
        record,
        pipe,
        [
            "/truce edit\r",
            expiry,  # New expiry
            first_line,  # Terms: the seeded two shown above the prompt
            "\r",  # Source
            "\r",  # Note
            "/truce\r",
        ],
    )
    assert "  | United States | additional tariff on Chinese goods | 30% | China\n" in out
    assert "The form has errors" not in out
    answer = out[out.rindex("Active truce") :]
    for term in terms_after:
        assert term in answer
    if not terms_after:
        assert "additional tariff" not in answer
    assert console.failures == 0
