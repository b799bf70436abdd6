"""`parley shell` on a terminal: prompt_toolkit with a history file and Tab completion.

Imported only when stdin and stdout are a terminal (a piped shell never loads
prompt_toolkit)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

from bot.shell_input import Interrupted, without_controls


class WordCompleter(Completer):
    """Completes the word at the cursor from `tree`, following the words typed before it."""

    def __init__(self, tree: Mapping[str, Any], people: Iterable[str] = ()) -> None:
        self.tree = tree
        self.people = [f"@{name}" for name in people]

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        words = text.split()
        if not text or text[-1].isspace():
            words.append("")
        typed = words[-1]
        if typed.startswith("@") and len(words) > 1:  # a person, wherever one is named
            for person in self.people:
                if person.startswith(typed.lower()) and person != typed:
                    yield Completion(person, start_position=-len(typed))
            return
        node: Any = self.tree
        for word in words[:-1]:
            node = node.get(word) if isinstance(node, Mapping) else None
            if node is None:
                return
        if not isinstance(node, Mapping):
            return
        for option in node:
            if option.lower().startswith(typed.lower()) and option != typed:
                yield Completion(option, start_position=-len(typed))


class TerminalReader:
    interactive = True

    """prompt_toolkit on a terminal; `input`/`output` for tests (create_pipe_input)."""

    def __init__(
        self,
        *,
        history: Path | None = None,
        completer: Completer | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        command_history: FileHistory | InMemoryHistory = InMemoryHistory()
        if history is not None:
            try:
                history.parent.mkdir(parents=True, exist_ok=True)
                history.touch(exist_ok=True)
                command_history = FileHistory(str(history))
            except OSError:
                pass  # an unwritable data dir: history for this session only
        self.commands: PromptSession[str] = PromptSession(
            history=command_history,
            completer=completer,
            complete_while_typing=False,
            input=input,
            output=output,
        )
        self.fields: PromptSession[str] = PromptSession(
            history=InMemoryHistory(), input=input, output=output
        )

    async def read(self, prompt: str, *, field: bool = False, default: str = "") -> str | None:
        session = self.fields if field else self.commands
        try:
            return without_controls(await session.prompt_async(prompt, default=default))
        except KeyboardInterrupt:
            raise Interrupted from None
        except EOFError:
            return None

    def close(self) -> None:
        pass
