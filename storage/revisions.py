"""The migrations' head revision, read from the version files without importing Alembic.

`Database.upgrade` compares it with the revision the database records; when they agree
(every start but the first after an upgrade) Alembic, Mako and Alembic's dialect modules are
never imported, which is a tenth of a second off `parley shell`'s start.
"""

from __future__ import annotations

import re
from pathlib import Path

VERSIONS = Path(__file__).parent / "migrations" / "versions"

_ASSIGNMENT = re.compile(
    r"^(?P<name>revision|down_revision)\s*(?::[^=]+)?=\s*(?P<value>[^#\n]+?)\s*(?:#.*)?$",
    re.MULTILINE,
)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def read_revisions(folder: Path = VERSIONS) -> dict[str, tuple[str, ...]]:
    """Each revision id → the ids it revises, from the `revision = …` and
    `down_revision = …` lines of the files in `folder`."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(folder.glob("*.py")):
        values: dict[str, str] = {}
        for match in _ASSIGNMENT.finditer(path.read_text(encoding="utf-8")):
            values.setdefault(match["name"], match["value"])
        if "revision" not in values:
            continue
        ids = _QUOTED.findall(values["revision"])
        if len(ids) != 1:
            continue
        found[ids[0]] = tuple(_QUOTED.findall(values.get("down_revision", "None")))
    return found


def single_head(folder: Path = VERSIONS) -> str | None:
    """The one revision no other revises; None when there is none or several (then
    Alembic itself decides)."""
    revisions = read_revisions(folder)
    revised = {parent for parents in revisions.values() for parent in parents}
    heads = [revision for revision in revisions if revision not in revised]
    return heads[0] if len(heads) == 1 else None
