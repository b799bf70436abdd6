"""The wording's templates (templates/*.j2), as `templates.render` runs them: with the values
passed as the whole context, so no template may lean on the environment's globals."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import meta
from jinja2.exceptions import UndefinedError

import templates
from templates import ENV, PLAIN_ENV, SlackMarkup, render, render_plain

NAMES = sorted(p.stem for p in Path(templates.__file__).parent.glob("*.j2"))


def test_there_are_templates() -> None:
    assert len(NAMES) > 30


@pytest.mark.parametrize("name", NAMES)
def test_no_template_uses_an_environment_global(name: str) -> None:
    source = Path(templates.__file__).with_name(f"{name}.j2").read_text(encoding="utf-8")
    used = meta.find_undeclared_variables(ENV.parse(source))
    assert not used & set(ENV.globals), (name, used & set(ENV.globals))
    assert not used & set(PLAIN_ENV.globals)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Taiwan", "*Taiwan*"),
        ("<!channel> & co", "*&lt;!channel&gt; &amp; co*"),
        (None, "**"),
    ],
)
def test_values_are_escaped_and_a_missing_one_is_an_error(typed: str | None, shown: str) -> None:
    line = render(
        "deadline_line", title=typed, track="", restricted=False, due_local="d",
        due_reader=SlackMarkup("<!date^1|x>"), left="l", kind="k", ref=None,
    )  # fmt: skip
    assert line.startswith(shown)
    assert "<!date^1|x>" in line  # the bot's own markup passes unchanged
    with pytest.raises(UndefinedError):
        render("deadline_line", title="t")


def test_plain_text_is_as_typed_on_one_line() -> None:
    assert render_plain("item_button", verb="edit", item="<Taiwan> & co") == "Edit <Taiwan> & co"


def _afresh(template: str, **values: object) -> str:
    return templates._render(ENV, template, values).strip()  # noqa: SLF001


def test_a_remembered_render_reads_as_rendered_afresh_whatever_came_before() -> None:
    """`render` remembers renders by their values with their types: the same text as
    markup and as typed renders differently however often and in whatever order; a list of
    markup is not a list of text; a value that cannot be a key is rendered every time."""
    token = "<!date^1754971260^{date_short_pretty}|Tue 12 Aug 2025 04:01 UTC>"
    for _ in range(3):
        for value in (token, SlackMarkup(token)):
            shown = render("truce_expiry_closed", status=value)
            assert shown == _afresh("truce_expiry_closed", status=value)
        as_text = render("truce_expiry_closed", status=token)
        assert "&lt;!date" in as_text and "<!date" not in as_text
        assert "<!date" in render("truce_expiry_closed", status=SlackMarkup(token))
    lines = ["a <b>", "c & d"]
    for items in (lines, [SlackMarkup(x) for x in lines], tuple(lines)):
        for _ in range(2):
            got = render("leads", leads=items, admins=[])
            assert got == _afresh("leads", leads=items, admins=[])
    assert render("leads", leads=lines, admins=[]) != render(
        "leads", leads=[SlackMarkup(x) for x in lines], admins=[]
    )
    unhashable = [{"not": "a key"}]
    assert render("leads", leads=unhashable, admins=[]) == _afresh(
        "leads", leads=unhashable, admins=[]
    )
