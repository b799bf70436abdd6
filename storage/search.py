"""Full-text search over the record: events, deadlines, rounds, sensitivities, truce terms.

    found = await search(session, text='"export controls" -nvidia kind:event', ...)

What is typed is read by `read_query` (never an error: quotes, `*`, brackets, `AND OR`
are text): words, "quoted phrases", -excluded words, and the filters `track:<handle>` and
`kind:<event|deadline|round|sensitivity|term>`. Plain words go to the database's full-text
index, ranked; a term with CJK characters (which neither index splits into words) or with
punctuation (`50%`, `rate_limit`) is matched as a substring instead.

* SQLite: one FTS5 table per source table, external content, kept in step by triggers
  (migration 0003_search); `bm25()` ranks, `snippet()` marks the matches.
* PostgreSQL: a generated, weighted `tsvector` column with a GIN index on each source
  table; `websearch_to_tsquery` (which never raises on odd input) with `ts_rank_cd`, and
  `ts_headline` for the marks.

Restricted items are found only when `include_restricted` (storage.access's rule, applied
by the caller); events dated later than `until` are not found yet, as in `/watch`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, column, text
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import tracks
from storage.direct import ReadSource, reading
from storage.errors import InvalidInput
from storage.events import latest_by_sensitivity
from storage.models import SEARCH_FILTER_INDEX
from storage.sensitivities import all_sensitivities
from storage.types import UTCDateTime

KINDS = ("event", "deadline", "round", "sensitivity", "term")
KIND_WORDS = {
    "event": "event",
    "events": "event",
    "deadline": "deadline",
    "deadlines": "deadline",
    "round": "round",
    "rounds": "round",
    "talks": "round",
    "sensitivity": "sensitivity",
    "sensitivities": "sensitivity",
    "topic": "sensitivity",
    "term": "term",
    "terms": "term",
    "truce": "term",
}
MARK_START, MARK_END = "\x02", "\x03"  # around each match in a snippet; never typed
OPERATORS = frozenset({"and", "or", "not"})  # words that would be operators: left out
TERM_LIMIT = 100  # characters of one term; longer input is cut, never refused
TERMS_LIMIT = 12  # terms used from one query
LIKE_ESCAPE = "\\"
_TOKEN = re.compile(r'(-?)(\w+:)?"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Query:
    """What a search asks, read from what was typed."""

    words: list[str] = field(default_factory=list)  # for the full-text index
    phrases: list[str] = field(default_factory=list)  # several words, in order
    either: list[tuple[str, ...]] = field(default_factory=list)  # `a OR "b c"`: any one
    literals: list[str] = field(default_factory=list)  # substring matches (CJK, punctuation)
    excluded_words: list[str] = field(default_factory=list)
    excluded_literals: list[str] = field(default_factory=list)
    track: str | None = None
    kinds: tuple[str, ...] = KINDS

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases or self.either or self.literals)

    @property
    def uses_index(self) -> bool:
        return bool(self.words or self.phrases or self.either)


@dataclass(frozen=True)
class Hit:
    kind: str
    item_id: int
    title: str
    snippet: str  # plain text with MARK_START/MARK_END around matches ("" when none)
    when: datetime | None
    zone: str | None
    track_id: int | None
    rank: float  # higher is better


def is_cjk(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC"))


def _is_word(term: str) -> bool:
    """A term the full-text index can take: letters and digits only, no CJK."""
    return all((c.isalnum() and not is_cjk(c)) for c in term)


def _bare(term: str) -> str:
    return term.strip()[:TERM_LIMIT]


#: Quotation marks typed for a phrase: Slack's clients and phones type curly ones.
DOUBLE_QUOTES = str.maketrans(dict.fromkeys("“”„‟«»〝〞＂", '"'))
_SINGLE_QUOTED = re.compile(r"(?<!\w)['‘’]([^'‘’\"]+)['‘’](?!\w)")  # not China's


def _straight_quotes(typed: str) -> str:
    """“export controls”, 'export controls' and ‘SEEKING’ read as "…"; an apostrophe
    inside a word (China's) stays what it is."""
    return _SINGLE_QUOTED.sub(r'"\1"', typed.translate(DOUBLE_QUOTES))


def read_query(typed: str) -> Query:
    """Words, phrases, -words, `a OR b` and filters; anything else is text to find."""
    typed = _straight_quotes(typed)
    words: list[str] = []
    phrases: list[str] = []
    literals: list[str] = []
    excluded_words: list[str] = []
    excluded_literals: list[str] = []
    track: str | None = None
    kinds: list[str] = []
    chain: list[list[str]] = []  # the index terms in order, `a OR b` in one group
    joining = False  # an OR just followed an index term: the next one joins its group
    last_indexed = False  # the last token was an index term (a word or a phrase)

    def add_indexed(term: str) -> None:
        nonlocal joining, last_indexed
        if joining and chain:
            chain[-1].append(term)
        else:
            chain.append([term])
        joining, last_indexed = False, True

    for match in _TOKEN.finditer(typed):
        minus, prefix, quoted, plain = match.groups()
        if plain is not None and plain.lower() == "or":
            joining = last_indexed  # `a OR b`; an OR anywhere else is left out
            last_indexed = False
            continue
        indexed_before = len(chain), sum(map(len, chain))
        if quoted is not None:
            if prefix:  # kind:"deadline" reads as kind:deadline
                plain = prefix + quoted
            else:
                parts = [p for p in (_bare(w) for w in quoted.split()) if p]
                if not parts:
                    continue
                if minus:
                    target = excluded_words if all(map(_is_word, parts)) else excluded_literals
                    target.append(" ".join(parts))
                elif all(map(_is_word, parts)):
                    add_indexed(" ".join(parts))
                else:
                    literals.append(" ".join(parts))
                if (len(chain), sum(map(len, chain))) == indexed_before:
                    joining = last_indexed = False
                continue
        assert plain is not None
        lowered = plain.lower()
        if lowered.startswith("track:") and len(plain) > 6:
            track = plain[6:]
            continue
        if lowered.startswith("kind:") and len(plain) > 5:
            kind = KIND_WORDS.get(lowered[5:])
            if kind is None:
                raise InvalidInput(
                    f"`kind:` takes {', '.join(KINDS)}, not {plain[5:]!r}: "
                    "e.g. `/desk search tariff kind:deadline`."
                )
            kinds.append(kind)
            continue
        excluded = plain.startswith("-") and len(plain) > 1
        term = _bare(plain[1:] if excluded else plain)
        if lowered in OPERATORS or not term:
            continue
        if excluded:
            (excluded_words if _is_word(term) else excluded_literals).append(term)
        elif _is_word(term):
            add_indexed(term)
            continue
        else:
            literals.append(term)
        joining = last_indexed = False
    either: list[tuple[str, ...]] = []
    for group in chain:
        alternatives = tuple(dict.fromkeys(group))
        if len(alternatives) > 1:
            either.append(alternatives)
        else:
            (phrases if " " in alternatives[0] else words).append(alternatives[0])
    budget = TERMS_LIMIT
    kept: list[list[str]] = []
    for terms in (words, phrases, literals, excluded_words, excluded_literals):
        kept.append(terms[:budget])
        budget = max(0, budget - len(kept[-1]))
    kept_either: list[tuple[str, ...]] = []
    for alternatives in either:
        if len(alternatives) <= budget:
            kept_either.append(alternatives)
            budget -= len(alternatives)
    return Query(
        words=kept[0],
        phrases=kept[1],
        either=kept_either,
        literals=kept[2],
        excluded_words=kept[3],
        excluded_literals=kept[4],
        track=track,
        kinds=tuple(dict.fromkeys(kinds)) or KINDS,
    )


# ---------------------------------------------------------------------------- the documents


@dataclass(frozen=True)
class Source:
    """How one kind of item is searched: its table, FTS5 table, columns and scope."""

    kind: str
    table: str
    fts: str
    title: str  # SQL for the title shown
    text: str  # SQL for everything searched, for substring matches and headlines
    when: str  # SQL, or NULL
    zone: str
    track: str  # SQL, or NULL
    visibility: str | None  # SQL column, or None: visible to all
    joins: str = ""
    dated: bool = False  # an event: not found before its time
    snippet_column: int = -1  # FTS5's: the best column (-1), or the one to show
    sqlite_index: str = ""  # SQLite: the index the filter reads each match's row from


SOURCES = {
    "event": Source(
        "event",
        "event",
        "event_fts",
        "s.title",
        "s.title || ' ' || s.summary || ' ' || s.source_name",
        "s.occurred_at",
        "s.zone",
        "s.track_id",
        "s.visibility",
        dated=True,
        sqlite_index=SEARCH_FILTER_INDEX,
    ),
    "deadline": Source(
        "deadline",
        "deadline",
        "deadline_fts",
        "s.title",
        "s.title",  # its kind is indexed as words (truce expiry), not as `truce_expiry`
        "s.due_at",
        "s.zone",
        "s.track_id",
        "s.visibility",
    ),
    "round": Source(
        "round",
        "talks_round",
        "talks_round_fts",
        "s.title",
        "s.title || ' ' || s.place || ' ' || s.outcome",
        "s.starts_at",
        "s.zone",
        "s.track_id",
        None,
    ),
    "sensitivity": Source(
        "sensitivity",
        "sensitivity",
        "sensitivity_fts",
        "s.name",
        "s.name || ' ' || s.description",  # keywords are JSON: found, not shown
        "NULL",
        "NULL",
        "NULL",
        "s.visibility",
        snippet_column=1,
    ),
    "term": Source(
        "term",
        "truce_term",
        "truce_term_fts",
        "u.title",
        "s.party || ' ' || s.measure || ' ' || s.rate || ' ' || s.target",
        "NULL",
        "NULL",
        "u.track_id",
        None,
        joins="JOIN truce u ON u.id = s.truce_id",
    ),
}


def like_pattern(term: str) -> str:
    for special in (LIKE_ESCAPE, "%", "_"):
        term = term.replace(special, LIKE_ESCAPE + special)
    return f"%{term}%"


def _fts5_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts5_expression(query: Query) -> str:
    """An FTS5 MATCH expression in which every typed term is a quoted string (inert)."""
    terms = [_fts5_string(t) for t in [*query.words, *query.phrases]]
    terms += ["(" + " OR ".join(map(_fts5_string, group)) + ")" for group in query.either]
    positive = " AND ".join(terms)
    for word in query.excluded_words:
        positive += f" NOT {_fts5_string(word)}"
    return positive


def websearch_text(query: Query) -> str:
    """What `websearch_to_tsquery` reads: words, "phrases", -words (all made of \\w); each
    group of `query.either` is a tsquery of its own (`_tsquery`), since websearch's OR
    binds looser than its AND."""
    parts = [*query.words, *(f'"{p}"' for p in query.phrases)]
    parts += [f'-"{w}"' if " " in w else f"-{w}" for w in query.excluded_words]
    return " ".join(parts)


def _websearch_term(term: str) -> str:
    return f'"{term}"' if " " in term else term


def either_params(query: Query) -> dict[str, str]:
    """Each alternative of each `a OR b` group, as a websearch text bound by name."""
    return {
        f"either{g}_{n}": _websearch_term(term)
        for g, group in enumerate(query.either)
        for n, term in enumerate(group)
    }


def _tsquery(query: Query) -> str:
    """The PostgreSQL tsquery of `query`, as SQL: its words AND each group's alternatives."""
    parts = ["websearch_to_tsquery('english', :websearch)"] if websearch_text(query) else []
    for g, group in enumerate(query.either):
        alternatives = " || ".join(
            f"websearch_to_tsquery('english', :either{g}_{n})" for n in range(len(group))
        )
        parts.append(f"({alternatives})")
    return "(" + " && ".join(parts) + ")"


def _arm(
    source: Source,
    query: Query,
    dialect: str,
    params: dict[str, Any],
    *,
    include_restricted: bool,
    track_ids: list[int] | None,
) -> str:
    where: list[str] = []
    select_rank = "0.0"
    frm = f"{source.table} s {source.joins}"
    if query.uses_index:
        if dialect == "sqlite":
            # Each match is filtered (visibility, date, track) before it is ranked: read
            # off a narrow index, not the wide rows (migration 0007_search_filter).
            indexed = f" INDEXED BY {source.sqlite_index}" if source.sqlite_index else ""
            frm = (
                f"{source.fts} JOIN {source.table} s{indexed} ON s.id = {source.fts}.rowid "
                f"{source.joins}"
            )
            where.append(f"{source.fts} MATCH :fts")
            columns = len(FTS5_TABLES[source.fts][1])
            weights = ", ".join(["4.0", *["1.0"] * (columns - 1)])  # the title counts most
            select_rank = f"-bm25({source.fts}, {weights})"
        else:
            where.append(f"s.search @@ {_tsquery(query)}")
            select_rank = f"ts_rank_cd(s.search, {_tsquery(query)})"
    like = "ILIKE" if dialect == "postgresql" else "LIKE"
    for n, literal in enumerate(query.literals):
        params[f"lit{n}"] = like_pattern(literal)
        where.append(f"({source.text}) {like} :lit{n} ESCAPE '\\'")
    for n, literal in enumerate(query.excluded_literals):
        params[f"nolit{n}"] = like_pattern(literal)
        where.append(f"({source.text}) NOT {like} :nolit{n} ESCAPE '\\'")
    if query.excluded_words and not query.uses_index:
        # Only substring terms were typed: leave the -words out by substring as well.
        for n, word in enumerate(query.excluded_words):
            params[f"noword{n}"] = like_pattern(word)
            where.append(f"({source.text}) NOT {like} :noword{n} ESCAPE '\\'")
    if source.visibility and not include_restricted:
        where.append(f"{source.visibility} = 'team'")
    if track_ids is not None and source.track != "NULL":
        params["track_ids"] = track_ids
        where.append(f"({source.track} IS NULL OR {source.track} IN :track_ids)")
    if source.dated and "until" in params:
        where.append(f"{source.when} <= :until")
    postgres = dialect == "postgresql"
    when = (
        "CAST(NULL AS TIMESTAMP WITH TIME ZONE)"
        if postgres and source.when == "NULL"
        else source.when
    )
    zone = "CAST(NULL AS VARCHAR)" if source.zone == "NULL" else source.zone
    track = "CAST(NULL AS INTEGER)" if source.track == "NULL" else source.track
    return (
        f"SELECT CAST('{source.kind}' AS VARCHAR) AS kind, s.id AS item_id, "
        f"{source.title} AS title, {when} AS at, "
        f"{zone} AS zone, {track} AS track_id, CAST({select_rank} AS REAL) AS rank "
        f"FROM {frm} WHERE {' AND '.join(where) or '1 = 1'}"
    )


def _snippet(source: Source, dialect: str, query: Query) -> str:
    """The marked snippet of the hit `top` (a row of that kind), as a scalar subquery."""
    if dialect == "sqlite":
        return (
            f"SELECT snippet({source.fts}, {source.snippet_column}, :mark_start, :mark_end, "
            f"'…', 16) FROM {source.fts} WHERE {source.fts} MATCH :fts "
            f"AND {source.fts}.rowid = top.item_id"
        )
    return (
        f"SELECT ts_headline('english', {source.text}, {_tsquery(query)}, :headline) "
        f"FROM {source.table} s {source.joins} WHERE s.id = top.item_id"
    )


async def search(
    source: ReadSource,
    *,
    query: Query,
    include_restricted: bool,
    track_ids: list[int] | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> list[Hit]:
    """Hits for `query`, best first (rank, then the latest), at most `limit`."""
    if not query.has_text:
        return []
    reads = reading(source)
    dialect = reads.dialect
    params: dict[str, Any] = {
        "fts": fts5_expression(query),
        "websearch": websearch_text(query),
        **either_params(query),
        "mark_start": MARK_START,
        "mark_end": MARK_END,
        "headline": (
            f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=24, MinWords=10, "
            "MaxFragments=1, FragmentDelimiter=…"
        ),
        "limit": limit,
        **({"until": until} if until is not None else {}),
    }
    arms = [
        _arm(
            SOURCES[kind],
            query,
            dialect,
            params,
            include_restricted=include_restricted,
            track_ids=track_ids,
        )
        for kind in query.kinds
    ]
    order = "ORDER BY rank DESC, at DESC, item_id DESC"
    sql = " UNION ALL ".join(f"SELECT * FROM ({arm}) AS k{n}" for n, arm in enumerate(arms))
    # Snippets for the hits shown only: made for every match, they cost more than the search.
    snippets = " ".join(
        f"WHEN '{kind}' THEN ({_snippet(SOURCES[kind], dialect, query)})" for kind in query.kinds
    )
    snippet = f"CASE top.kind {snippets} END" if query.uses_index else "''"
    sql = (
        f"SELECT top.*, CAST({snippet} AS VARCHAR) AS snippet FROM "
        f"(SELECT * FROM ({sql}) AS hits {order} LIMIT :limit) AS top {order}"
    )
    used = tuple(sorted(name for name in params if f":{name}" in sql))
    statement = _statement(sql, used)
    rows = await reads.all(statement, {k: params[k] for k in used})
    return [
        Hit(
            kind=kind,
            item_id=int(item_id),
            title=str(title),
            snippet=str(snippet or ""),
            when=at,
            zone=zone,
            track_id=track_id,
            rank=float(rank or 0.0),
        )
        for kind, item_id, title, at, zone, track_id, rank, snippet in rows
    ]


@lru_cache(maxsize=256)
def _statement(sql: str, used: tuple[str, ...]) -> Any:
    """The search's SQL as a statement, one per shape of search (its words are bound, not
    in the SQL): built and compiled once, not on every search."""
    clause = text(sql).bindparams(
        *(
            bindparam("until", type_=UTCDateTime()) if name == "until" else bindparam(name)
            for name in used
            if name != "track_ids"
        ),
        *([bindparam("track_ids", expanding=True)] if "track_ids" in used else []),
    )
    return clause.columns(*_HIT_COLUMNS)


#: The columns of a search's rows, in order (`top.*`, then the snippet).
_HIT_COLUMNS: tuple[Any, ...] = (
    column("kind"),
    column("item_id"),
    column("title"),
    column("at", UTCDateTime()),
    column("zone"),
    column("track_id"),
    column("rank"),
    column("snippet"),
)


#: The FTS5 tables and what each indexes (migration 0003_search makes them and their
#: triggers); on PostgreSQL the generated `search` columns need no rebuilding.
FTS5_TABLES = {
    "event_fts": ("event", ("title", "summary", "source_name")),
    "deadline_fts": ("deadline", ("title", "kind")),
    "talks_round_fts": ("talks_round", ("title", "place", "outcome")),
    "sensitivity_fts": ("sensitivity", ("name", "description", "keywords")),
    "truce_term_fts": ("truce_term", ("party", "measure", "rate", "target")),
}


async def rebuild_index(session: AsyncSession) -> None:
    """Rebuilds the FTS5 tables from their tables (after an import); a no-op on PostgreSQL,
    whose generated columns are always in step."""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = await session.connection()
    for fts in FTS5_TABLES:
        await connection.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"))


def belongs_to_the_index(name: str | None, type_: str) -> bool:
    """The schema objects the migration makes for search and the models do not declare
    (FTS5 tables and their shadow tables, the `search` columns and their GIN indexes)."""
    if not name:
        return False
    if type_ == "table":
        return name.split("_fts")[0] + "_fts" in FTS5_TABLES and "_fts" in name
    if type_ == "column":
        return name == "search"
    if type_ == "index":
        return name.startswith("ix_") and name.endswith("_search")
    return False


async def search_record(
    source: ReadSource,
    *,
    typed: str,
    include_restricted: bool,
    until: datetime | None = None,
    limit: int = 20,
) -> tuple[Query, list[Hit]]:
    """Reads what was typed and searches; `track:` names a track by its handle."""
    query = read_query(typed)
    track_ids = None
    if query.track is not None:
        known = await tracks.all_tracks(source)
        found = tracks.find_track(known, query.track)
        if found is None or found.id is None:
            handles = ", ".join(f"`{t.handle}`" for t in known) or "none yet"
            raise InvalidInput(f"No track has the handle {query.track!r}; the tracks: {handles}.")
        track_ids = [found.id]
    if not query.has_text:
        left_out = query.excluded_words or query.excluded_literals
        narrowed = query.kinds != KINDS or query.track is not None
        raise InvalidInput(
            "Say what to search for"
            + (", not only what to leave out" if left_out else "")
            + (", not only where: `kind:` and `track:` narrow a search" if narrowed else "")
            + ': `/desk search rare earths`, `/desk search "export controls" -nvidia '
            "kind:event`, `/desk search taiwan OR 台湾`."
        )
    hits = await search(
        source,
        query=query,
        include_restricted=include_restricted,
        track_ids=track_ids,
        until=until,
        limit=limit,
    )
    hits += await _topic_hits(
        source, query, hits, include_restricted=include_restricted, until=until, limit=limit
    )
    return query, hits[:limit]


async def _topic_hits(
    source: ReadSource,
    query: Query,
    hits: list[Hit],
    *,
    include_restricted: bool,
    until: datetime | None,
    limit: int,
) -> list[Hit]:
    """Words that are a topic's name or one of its keywords (稀土, export controls) also find
    that topic and the events tagged with it, whatever language those events are in."""
    if query.excluded_words or query.excluded_literals or query.track is not None:
        return []
    wanted = " ".join([*query.words, *query.phrases, *query.literals]).lower()
    found = {(h.kind, h.item_id) for h in hits}
    topics = [
        t
        for t in await all_sensitivities(source, include_restricted=include_restricted)
        if t.id is not None and wanted in (t.name.lower(), t.slug, *(k.lower() for k in t.keywords))
    ]
    more: list[Hit] = []
    if "sensitivity" in query.kinds:
        more += [
            Hit("sensitivity", t.id, t.name, "", None, None, None, 0.0)
            for t in topics
            if t.id is not None and ("sensitivity", t.id) not in found
        ]
    room = limit - len(hits) - len(more)  # ranked hits come first: fill what they leave
    if "event" not in query.kinds or not topics or room <= 0:
        return more
    tagged = await latest_by_sensitivity(
        source,
        sensitivity_ids=[t.id for t in topics if t.id is not None],
        include_restricted=include_restricted,
        until=until,
        per_topic=room,
    )
    for latest in tagged.values():
        for event in latest:
            if event.id is not None and ("event", event.id) not in found:
                found.add(("event", event.id))
                more.append(
                    Hit(
                        "event",
                        event.id,
                        event.title,
                        "",
                        event.occurred_at,
                        event.zone,
                        event.track_id,
                        0.0,
                    )
                )
    return more
