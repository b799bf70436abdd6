"""Where each surface's `register(app)` puts its listeners, and in which order Bolt tries
them.

Bolt tries every listener's matcher in registration order until one matches, and each try
builds the matcher's arguments (about 8 µs). Registered surface by surface, `/watch` was
the 17th listener: 16 tries before its own, a tenth of its answer. `ListenerOrder` takes
the registrations and makes them on the app kind by kind: the slash commands first (in the
order of the surfaces), then events, then the forms' actions, submissions and shortcuts.
No two listeners match the same request, so the order changes nothing else.

    order = ListenerOrder()
    for surface in (truce, deadline, …):
        surface.register(order)
    order.register_on(app)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp

Register = Callable[[Callable[..., Any]], Any]
#: Bolt's registration methods, in the order their listeners are tried.
KINDS = ("command", "event", "action", "view", "shortcut")


class Listeners(Protocol):
    """What a surface registers its listeners with: an `AsyncApp`, or a `ListenerOrder`."""

    def command(self, command: str) -> Register: ...

    def event(self, event: str) -> Register: ...

    def action(self, constraints: str) -> Register: ...

    def view(self, constraints: str) -> Register: ...

    def shortcut(self, constraints: str) -> Register: ...


class ListenerOrder:
    """Registrations taken in any order, made on an app kind by kind (`KINDS`)."""

    def __init__(self) -> None:
        self._taken: dict[str, list[tuple[str, Callable[..., Any]]]] = {k: [] for k in KINDS}

    def _take(self, kind: str, key: str) -> Register:
        def take(listener: Callable[..., Any]) -> Callable[..., Any]:
            self._taken[kind].append((key, listener))
            return listener

        return take

    def command(self, command: str) -> Register:
        return self._take("command", command)

    def event(self, event: str) -> Register:
        return self._take("event", event)

    def action(self, constraints: str) -> Register:
        return self._take("action", constraints)

    def view(self, constraints: str) -> Register:
        return self._take("view", constraints)

    def shortcut(self, constraints: str) -> Register:
        return self._take("shortcut", constraints)

    def register_on(self, app: AsyncApp) -> None:
        for kind in KINDS:
            register = getattr(app, kind)
            for key, listener in self._taken[kind]:
                register(key)(listener)
