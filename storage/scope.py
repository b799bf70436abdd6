"""The WHERE clauses that put a listing in scope, for statements built once with their
values bound per call: the tracks asked for (`track_ids`) and who may see restricted items."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, or_

from storage.models import Visibility


def in_bound_tracks(model: Any) -> Any:
    """Desk-wide items (no track) always; the others in the tracks bound as `track_ids`."""
    ids: Any = bindparam("track_ids", expanding=True)
    return or_(col(model.track_id).is_(None), col(model.track_id).in_(ids))


def bound_scope(model: Any, *, scoped: bool, include_restricted: bool) -> list[Any]:
    """`in_bound_tracks` when `scoped`; team-visible only unless restricted items may show."""
    clauses: list[Any] = [in_bound_tracks(model)] if scoped else []
    if not include_restricted:
        clauses.append(col(model.visibility) == Visibility.team)
    return clauses
