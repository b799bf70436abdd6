"""Loads the seed files in `seeds/` through the service layer (actor `seed`).

Every item carries a stable `key`; an item whose key is already in the record is skipped,
so loading twice is the same as loading once. A file is checked whole before anything is
written (its YAML, every item's fields and their types); a problem is a `SeedError` naming
the file, the line and column, the item and the field. The record's own refusals while
loading (a title over its limit, an unknown track) are reported the same way, so a caller
that loads in one transaction (`Database.transaction`) writes all of it or nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import deadlines, events, rounds, sensitivities, sources, tracks, truces
from storage.access import SEED
from storage.checks import zone_name
from storage.errors import InvalidInput
from storage.models import Deadline, Event, Sensitivity, Source, TalksRound, Track, Truce

TIME_FORMAT = "%Y-%m-%d %H:%M"
TIME_EXAMPLE = "2025-08-12 00:01"

Step = str | int  # a field's name, or an item's index (from 0) in its list


class SeedError(InvalidInput):
    """A seed file refused: `FILE:LINE:COLUMN: ITEM, FIELD: PROBLEM` (the parts known)."""

    def __init__(
        self,
        problem: str,
        *,
        at: tuple[Step, ...] = (),
        where: str = "",
        at_key: bool = False,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.at = at
        self.where = where
        self.at_key = at_key  # placed at the field's name rather than its value
        self.file = file
        self.line = line
        self.column = column

    def __str__(self) -> str:
        place = self.file or ""
        if place and self.line is not None:
            place += f":{self.line}:{self.column}"
        return ": ".join(part for part in (place, self.where, self.problem) if part)

    def located(self, file: str, node: yaml.Node | None) -> SeedError:
        """The same problem, placed in `file` at the node its path leads to."""
        mark = _node_at(node, self.at, key=self.at_key).start_mark if node is not None else None
        return SeedError(
            self.problem,
            at=self.at,
            where=self.where,
            at_key=self.at_key,
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        )


def _node_at(node: yaml.Node, at: tuple[Step, ...], *, key: bool = False) -> yaml.Node:
    """The deepest node along the path `at` (the item, when a field is missing); with `key`,
    the last step's name rather than its value."""
    for number, step in enumerate(at, 1):
        inner: yaml.Node | None = None
        if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            inner = node.value[step] if step < len(node.value) else None
        elif isinstance(node, yaml.MappingNode):
            last = key and number == len(at)
            inner = next((k if last else v for k, v in node.value if k.value == step), None)
        if inner is None:
            break
        node = inner
    return node


# ---- what a seed file holds ------------------------------------------------------------------


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, datetime | date):
        return f"a YAML date (quote it: '{TIME_EXAMPLE}')"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "text" if isinstance(value, str) else type(value).__name__


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else f"expected text, not {_what(value)}"


def _key(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return None
    return "expected a non-empty key" if isinstance(value, str) else _text(value)


def _texts(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    if isinstance(value, list):
        return "expected a list of text, but an entry is " + next(
            _what(v) for v in value if not isinstance(v, str)
        )
    return f"expected a list of text, not {_what(value)}"


def _rate(value: Any) -> str | None:
    ok = isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))
    return None if ok else f"expected text or a number, not {_what(value)}"


def _time(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            datetime.strptime(value, TIME_FORMAT)
        except ValueError:
            pass
        else:
            return None
        return f"{value!r} is not a local time written YYYY-MM-DD HH:MM (e.g. {TIME_EXAMPLE})"
    return f"expected a local time written YYYY-MM-DD HH:MM, not {_what(value)}"


def _zone(value: Any) -> str | None:
    if not isinstance(value, str):
        return _text(value)
    try:
        zone_name(value)
    except InvalidInput as exc:
        return str(exc)
    return None


@dataclass(frozen=True)
class Fields:
    """A mapping's fields; each check returns the problem with a value, or None."""

    required: dict[str, Check]
    optional: dict[str, Check] = field(default_factory=dict)


@dataclass(frozen=True)
class Items:
    """A list of mappings, each with these fields and a `key` used once."""

    of: Fields


Check = Callable[[Any], "str | None"] | Fields | Items

SOURCE = Fields({}, {"name": _text, "url": _text})


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, not {_what(value)}"


def _minutes(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    return f"expected a whole number of minutes, not {_what(value)}"


SECTIONS: dict[str, Items] = {
    "tracks": Items(
        Fields({"key": _key, "name": _text}, {"parties": _texts, "status": _text}),
    ),
    "sensitivities": Items(
        Fields(
            {"key": _key, "name": _text},
            {"level": _text, "description": _text, "keywords": _texts, "visibility": _text},
        )
    ),
    "rounds": Items(
        Fields(
            {"key": _key, "title": _text, "starts_at": _time},
            {
                "ends_at": _time,
                "zone": _zone,
                "place": _text,
                "track": _text,
                "status": _text,
                "outcome": _text,
                "delegations": Items(Fields({"party": _text, "lead": _text}, {"title": _text})),
                "source": SOURCE,
            },
        )
    ),
    "truces": Items(
        Fields(
            {"key": _key, "title": _text, "expires_at": _time},
            {
                "starts_at": _time,
                "zone": _zone,
                "parties": _texts,
                "track": _text,
                "status": _text,
                "terms": Items(
                    Fields({"party": _text, "measure": _text}, {"rate": _rate, "target": _text})
                ),
                "extensions": Items(Fields({"decided_at": _time, "to": _time}, {"source": SOURCE})),
                "source": SOURCE,
            },
        )
    ),
    "deadlines": Items(
        Fields(
            {"key": _key, "title": _text, "due_at": _time},
            {
                "zone": _zone,
                "kind": _text,
                "track": _text,
                "truce": _text,
                "round": _text,
                "visibility": _text,
            },
        )
    ),
    "sources": Items(
        Fields(
            {"key": _key, "name": _text, "url": _text},
            {
                "tracks": _texts,
                "confidence": _text,
                "poll_minutes": _minutes,
                "enabled": _flag,
                "verified": _flag,
            },
        )
    ),
    "events": Items(
        Fields(
            {"key": _key, "title": _text, "occurred_at": _time},
            {
                "zone": _zone,
                "kind": _text,
                "summary": _text,
                "confidence": _text,
                "visibility": _text,
                "track": _text,
                "round": _text,
                "source": SOURCE,
            },
        )
    ),
}


def _item_name(where: str, index: int, item: Any) -> str:
    key = item.get("key") if isinstance(item, dict) else None
    name = f"{where} item {index + 1}"
    return f"{name} ({key})" if isinstance(key, str) and key.strip() else name


def _checked(value: Any, check: Check, at: tuple[Step, ...], where: str) -> Any:
    """`value` as the loader reads it (fields left empty dropped), or a SeedError."""
    if isinstance(check, Items):
        if not isinstance(value, list):
            raise SeedError(f"expected a list of items, not {_what(value)}", at=at, where=where)
        items = [
            _checked(v, check.of, (*at, i), _item_name(where, i, v)) for i, v in enumerate(value)
        ]
        _no_twice(items, at, where)
        return items
    if isinstance(check, Fields):
        return _checked_fields(value, check, at, where)
    problem = check(value)
    if problem:
        raise SeedError(problem, at=at, where=where)
    return value


def _checked_fields(value: Any, check: Fields, at: tuple[Step, ...], where: str) -> Any:
    if not isinstance(value, dict):
        raise SeedError(f"expected a mapping of fields, not {_what(value)}", at=at, where=where)
    known = check.required | check.optional
    for name in value:
        if name not in known:
            raise SeedError(
                f"unknown field {name!r} (the fields are {', '.join(known)})",
                at=(*at, name),
                where=where,
                at_key=True,
            )
    out: dict[str, Any] = {}
    for name, inner in known.items():
        if value.get(name) is None:
            if name in check.required:
                raise SeedError(f"missing field {name!r}", at=at, where=where)
            continue
        out[name] = _checked(value[name], inner, (*at, name), f"{where}, {name}")
    return out


def _no_twice(items: list[Any], at: tuple[Step, ...], where: str) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        key = item.get("key")
        if not isinstance(key, str):
            continue
        if key in seen:
            raise SeedError(
                f"key {key!r} is used twice (items {seen[key] + 1} and {index + 1})",
                at=(*at, index, "key"),
                where=_item_name(where, index, item),
            )
        seen[key] = index


def check_seed(data: Any) -> dict[str, Any]:
    """The seed as the loader reads it, or a SeedError naming the item and field at fault."""
    if not isinstance(data, dict) or "version" not in data:
        raise SeedError("not a Parley seed file (it starts with 'version: 1')")
    if data["version"] != 1:
        raise SeedError(
            f"version {data['version']!r} is not one this Parley reads (it reads version 1)",
            at=("version",),
        )
    for name in data:
        if name != "version" and name not in SECTIONS:
            raise SeedError(
                f"unknown section {name!r} (the sections are {', '.join(SECTIONS)})",
                at=(name,),
                at_key=True,
            )
    out: dict[str, Any] = {"version": 1}
    for name, check in SECTIONS.items():
        if data.get(name) is not None:
            out[name] = _checked(data[name], check, (name,), name)
    return out


@dataclass(frozen=True)
class SeedFile:
    name: str  # as given, for messages
    data: dict[str, Any]
    node: yaml.Node | None


def read_seed(path: Path) -> SeedFile:
    """The file parsed and checked whole; a SeedError (file, line, column, problem) if not."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SeedError("not UTF-8 text", file=name, line=line, column=1) from None
    except OSError as exc:
        raise SeedError(f"cannot read it: {exc.strerror or exc}", file=name) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        if exc.context and exc.problem and exc.context_mark:
            begun = exc.context_mark
            problem += f" ({exc.context} from line {begun.line + 1}, column {begun.column + 1})"
        raise SeedError(
            f"not valid YAML: {problem}",
            file=name,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise SeedError(f"not valid YAML: {exc}", file=name) from None
    finally:
        loader.dispose()
    try:
        return SeedFile(name, check_seed(data), node)
    except SeedError as exc:
        raise exc.located(name, node) from None


def default_seed_files() -> list[Path]:
    import seeds

    folder = Path(seeds.__file__).parent
    return sorted(folder.glob("*.yaml"))


_ONE = {
    "tracks": "track",
    "sensitivities": "sensitivity",
    "rounds": "round",
    "truces": "truce",
    "events": "event",
    "deadlines": "deadline",
    "sources": "source",
}


@dataclass
class SeedReport:
    added: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    def count(self, kind: str) -> None:
        self.added[kind] = self.added.get(kind, 0) + 1

    def __str__(self) -> str:
        parts = [
            f"{n} {_ONE.get(kind, kind) if n == 1 else kind}" for kind, n in self.added.items()
        ]
        return f"added {', '.join(parts) or 'nothing'}; {self.skipped} already present"


def local(text: str | None, zone: str) -> datetime | None:
    if text is None:
        return None
    wall = datetime.strptime(str(text), TIME_FORMAT)
    return wall.replace(tzinfo=ZoneInfo(zone))


def required_local(text: str, zone: str) -> datetime:
    instant = local(text, zone)
    assert instant is not None
    return instant


async def _exists(session: AsyncSession, model: type[SQLModel], key: str) -> bool:
    column = getattr(model, "seed_key")  # noqa: B009  (every seeded table has it)
    return (await session.exec(select(model).where(col(column) == key))).first() is not None


async def _id_by_key(
    session: AsyncSession, model: type[Any], key: str | None, *, field: str
) -> int | None:
    if key is None:
        return None
    row = (await session.exec(select(model).where(col(model.seed_key) == key))).first()
    if row is None:
        raise InvalidInput(f"seed refers to unknown {model.__name__} {key!r}", field=field)
    return int(row.id)


async def _track_id(session: AsyncSession, handle: str | None) -> int | None:
    if handle is None:
        return None
    row = (await session.exec(select(Track).where(col(Track.handle) == handle))).first()
    if row is None:
        raise InvalidInput(f"seed refers to unknown track {handle!r}", field="track")
    return row.id


async def _load_track(session: AsyncSession, item: dict[str, Any], now: datetime) -> bool:
    if await _exists(session, Track, item["key"]) or await tracks.is_track_handle(
        session, item["key"]
    ):
        return False
    await tracks.add_track(
        session,
        actor=SEED,
        now=now,
        handle=item["key"],
        name=item["name"],
        parties=list(item.get("parties", [])),
        status=item.get("status", "active"),
        seed_key=item["key"],
    )
    return True


async def _load_sensitivity(session: AsyncSession, item: dict[str, Any], now: datetime) -> bool:
    slug = item["key"]
    if (await session.exec(select(Sensitivity).where(col(Sensitivity.slug) == slug))).first():
        return False
    await sensitivities.add_sensitivity(
        session,
        actor=SEED,
        now=now,
        name=item["name"],
        slug=slug,
        level=item.get("level", "medium"),
        description=item.get("description", ""),
        keywords=list(item.get("keywords", [])),
        visibility=item.get("visibility", "team"),
    )
    return True


async def _load_round(session: AsyncSession, item: dict[str, Any], now: datetime) -> bool:
    if await _exists(session, TalksRound, item["key"]):
        return False
    zone = item.get("zone", "UTC")
    source = item.get("source") or {}
    await rounds.add_round(
        session,
        actor=SEED,
        now=now,
        title=item["title"],
        place=item.get("place", ""),
        starts_at=required_local(item["starts_at"], zone),
        ends_at=local(item.get("ends_at"), zone),
        zone=zone,
        track_id=await _track_id(session, item.get("track")),
        status=item.get("status", "scheduled"),
        outcome=item.get("outcome") or "",
        delegations=[
            rounds.DelegationInput(d["party"], d["lead"], d.get("title", ""))
            for d in item.get("delegations", [])
        ],
        source_name=source.get("name", ""),
        source_url=source.get("url") or "",
        seed_key=item["key"],
    )
    return True


async def _load_truce(session: AsyncSession, item: dict[str, Any], now: datetime) -> bool:
    if await _exists(session, Truce, item["key"]):
        return False
    zone = item.get("zone", "UTC")
    source = item.get("source") or {}
    truce = await truces.add_truce(
        session,
        actor=SEED,
        now=now,
        title=item["title"],
        parties=list(item.get("parties", [])),
        expires_at=required_local(item["expires_at"], zone),
        zone=zone,
        starts_at=local(item.get("starts_at"), zone),
        track_id=await _track_id(session, item.get("track")),
        status=item.get("status", "active"),
        terms=[
            truces.TermInput(t["party"], t["measure"], str(t.get("rate", "")), t.get("target", ""))
            for t in item.get("terms", [])
        ],
        source_name=source.get("name", ""),
        source_url=source.get("url") or "",
        seed_key=item["key"],
    )
    for ext in item.get("extensions", []):
        assert truce.id is not None
        await truces.extend_truce(
            session,
            actor=SEED,
            now=required_local(ext["decided_at"], zone),
            truce_id=truce.id,
            new_expiry=required_local(ext["to"], zone),
            source=(ext.get("source") or {}).get("name", ""),
        )
    # Seeded after its expiry (a replay from a later date): lapsed as history, not news.
    await truces.record_lapsed_before(session, truce, actor=SEED, now=now)
    return True


async def _load_deadline(session: AsyncSession, item: dict[str, Any], now: datetime) -> bool:
    if await _exists(session, Deadline, item["key"]):
        return False
    zone = item.get("zone", "UTC")
    await deadlines.add_deadline(
        session,
        actor=SEED,
        now=now,
        title=item["title"],
        due_at=required_local(item["due_at"], zone),
        zone=zone,
        kind=item.get("kind", "other"),
        track_id=await _track_id(session, item.get("track")),
        truce_id=await _id_by_key(session, Truce, item.get("truce"), field="truce"),
        round_id=await _id_by_key(session, TalksRound, item.get("round"), field="round"),
        visibility=item.get("visibility", "team"),
        allow_past=True,
        seed_key=item["key"],
    )
    return True


async def _load_event(session: AsyncSession, item: dict[str, Any], now: datetime) -> bool:
    if await _exists(session, Event, item["key"]):
        return False
    zone = item.get("zone", "UTC")
    source = item.get("source") or {}
    await events.add_event(
        session,
        actor=SEED,
        now=now,
        title=item["title"],
        occurred_at=required_local(item["occurred_at"], zone),
        zone=zone,
        kind=item.get("kind", "other"),
        summary=item.get("summary", ""),
        source_name=source.get("name", ""),
        source_url=source.get("url") or "",
        confidence=item.get("confidence", "reported"),
        visibility=item.get("visibility", "team"),
        track_id=await _track_id(session, item.get("track")),
        round_id=await _id_by_key(session, TalksRound, item.get("round"), field="round"),
        seed_key=item["key"],
    )
    return True


async def _load_source(session: AsyncSession, item: dict[str, Any], now: datetime) -> bool:
    """A news source; seeded ones are off and unverified unless the file says otherwise."""
    if await _exists(session, Source, item["key"]):
        return False
    url = str(item["url"]).strip()
    taken = select(Source).where(
        or_(col(Source.url) == url, func.lower(Source.name) == str(item["name"]).lower())
    )
    if (await session.exec(taken)).first() is not None:
        return False  # a lead added it already: theirs stands
    await sources.add_source(
        session,
        actor=SEED,
        now=now,
        url=url,
        name=item["name"],
        tracks=item.get("tracks"),
        confidence=item.get("confidence"),
        poll_minutes=item.get("poll_minutes", sources.DEFAULT_POLL_MINUTES),
        enabled=item.get("enabled", False),
        verified=item.get("verified", False),
        seed_key=item["key"],
    )
    return True


Loader = Callable[[AsyncSession, dict[str, Any], datetime], Awaitable[bool]]
LOADERS: tuple[tuple[str, Loader], ...] = (  # in this order: later items refer to earlier ones
    ("tracks", _load_track),
    ("sensitivities", _load_sensitivity),
    ("rounds", _load_round),
    ("truces", _load_truce),
    ("deadlines", _load_deadline),
    ("events", _load_event),
    ("sources", _load_source),
)
# The record's names for a field, where they differ from the seed file's.
SEED_FIELDS = {"handle": "key", "slug": "key", "due": "due_at", "expires": "expires_at"}


async def load_seed(session: AsyncSession, data: dict[str, Any], *, now: datetime) -> SeedReport:
    """Loads a seed (checked first); a refusal is a SeedError naming the item and field."""
    data = check_seed(data)
    report = SeedReport()
    for section, load in LOADERS:
        for index, item in enumerate(data.get(section, [])):
            try:
                added = await load(session, item, now)
            except InvalidInput as exc:
                name = SEED_FIELDS.get(exc.field or "", exc.field or "")
                at: tuple[Step, ...] = (section, index, *([name] if name in item else []))
                where = _item_name(section, index, item) + (f", {name}" if name in item else "")
                raise SeedError(str(exc), at=at, where=where) from None
            except IntegrityError as exc:
                reason = str(exc.orig).splitlines()[0] if exc.orig else "a constraint failed"
                raise SeedError(
                    f"the record refuses it ({reason})",
                    at=(section, index),
                    where=_item_name(section, index, item),
                ) from None
            if added:
                report.count(section)
            else:
                report.skipped += 1
    return report


async def load_seed_files(session: AsyncSession, paths: list[Path], *, now: datetime) -> SeedReport:
    """Loads the files in order, every one of them read and checked before the first is
    loaded. For all of them or nothing, give a session of `Database.transaction()`."""
    return await load_seeds(session, [read_seed(path) for path in paths], now=now)


async def load_seeds(session: AsyncSession, files: list[SeedFile], *, now: datetime) -> SeedReport:
    total = SeedReport()
    for seed in files:
        try:
            part = await load_seed(session, seed.data, now=now)
        except SeedError as exc:
            raise exc.located(seed.name, seed.node) from None
        for kind, n in part.added.items():
            total.added[kind] = total.added.get(kind, 0) + n
        total.skipped += part.skipped
    return total
