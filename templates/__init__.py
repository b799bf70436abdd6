"""The wording: jinja2 mrkdwn fragments rendered with every value escaped for Slack.

Values pass through `escape_mrkdwn` on output (`&`, `<`, `>`), so no typed text can become
a mention, a special ping or a disguised link. Markup the bot makes itself (`<!date^…>`,
`<@U…>`) is wrapped in `SlackMarkup` to pass unchanged.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from jinja2.utils import concat


class SlackMarkup(str):
    """Text that is already valid mrkdwn made by the bot; never escaped again."""


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _finalize(value: Any) -> str:
    if isinstance(value, SlackMarkup):
        return value
    return escape_mrkdwn("" if value is None else str(value))


# The templates ship with the code: no `auto_reload`, which stat()s each template file on
# every render (two system calls for each of the 48 lines of a long `/deadline`).
ENV = Environment(
    loader=PackageLoader("templates", "."),
    auto_reload=False,
    undefined=StrictUndefined,
    finalize=_finalize,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


#: Renders remembered: an answer renders the same lines for every reader (a history page is
#: sixty renders), and a render is a function of its values alone.
RENDERS_KEPT = 2048


def render(template: str, /, **values: Any) -> str:
    """Renders `templates/<name>.j2`; the result is mrkdwn, stripped of outer blank lines.

    Remembered by the template and its values, each with its type (`SlackMarkup` is not
    escaped, a `str` is); values that cannot be a key (a dict) are rendered every time."""
    try:
        return _remembered(template, _key(values))
    except TypeError:  # a value that cannot be a key: rendered afresh (and a render's own
        return _render(ENV, template, values).strip()  # TypeError raised again, uncaught)


def _key(values: dict[str, Any]) -> tuple[Any, ...]:
    """The values by name, and the type of each (and of a list's items): `1` and `True`,
    or a `SlackMarkup` and the `str` of the same text, are equal keys to Python."""
    types = tuple(map(type, values.values()))
    if list not in types and tuple not in types:
        return (tuple(values.items()), types)
    items = tuple(
        (name, tuple(value)) if type(value) in (list, tuple) else (name, value)
        for name, value in values.items()
    )
    kinds = tuple(
        (kind, tuple(map(type, value))) if kind in (list, tuple) else kind
        for kind, value in zip(types, values.values(), strict=True)
    )
    return (items, kinds)


@lru_cache(maxsize=RENDERS_KEPT)
def _remembered(template: str, key: tuple[Any, ...]) -> str:
    return _render(ENV, template, dict(key[0])).strip()


@cache
def _template(env: Environment, name: str) -> Template:
    return env.get_template(f"{name}.j2")


def _render(env: Environment, name: str, values: dict[str, Any]) -> str:
    """`Template.render`, but the values are the whole context: the environment's globals
    (`range`, `dict`, `cycler` …, which no template uses: tests/handlers/test_templates.py)
    are not copied into each render's, which was half the cost of a short template, paid
    once for each block of a long answer."""
    template = _template(env, name)
    try:
        return concat(template.root_render_func(template.new_context(values, shared=True)))
    except Exception:
        env.handle_exception()


# For `plain_text` objects (button labels): Slack shows them as written and never parses
# them for mentions or links, so values go in as typed, not mrkdwn-escaped.
PLAIN_ENV = Environment(
    loader=PackageLoader("templates", "."),
    auto_reload=False,
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_plain(template: str, /, **values: Any) -> str:
    """Renders `templates/<name>.j2` as plain text on one line (runs of spaces collapsed)."""
    return " ".join(_render(PLAIN_ENV, template, values).split())


def user_mention(user_id: str) -> SlackMarkup:
    safe = "".join(ch for ch in user_id if ch.isalnum())
    return SlackMarkup(f"<@{safe}>")
