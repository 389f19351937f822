"""Pure compilation of GraphStore ops to Cypher, and of records back to results.

Nothing here talks to a server: :func:`compile_op` turns one op into a list of
:class:`Statement` (a ``(query, params)`` pair) and :func:`decode` turns the
records those statements returned into the op's result, raising the typed error
the contract asks for (a missing link end, a note id taken by another scope).
The executor runs every statement of a ``batch`` and every ``decode`` inside one
transaction, so a raise rolls the whole batch back.

Query texts are constants; every value (ids, scope keys, relation names, filter
bounds) travels as a parameter. Graph layout::

    (:Note {id, scope, seq, data, content, context, keywords, tags, entities,
            memory_type, version, built_by_kind, t_event, t_created,
            valid_from, valid_to, created_at, event_time, ...,
            text_keywords, text_tags, text_entities, text_thread, text_scope})
    (:Note)-[:LINK {key, scope, relation, weight, rationale, created_by,
                    created_by_kind, created_at, data}]->(:Note)
    (:Change {id, note_id, scope, seq, kind, ..., data})-[:OF]->(:Note)
    (:ZmMeta {key, value})   (:ZmCounter {name, value})   (:ZmMigration {id, checksum, applied_at})

``data`` holds the model's JSON so reads round-trip exactly; the other
properties are for filters, indexes and people browsing the graph. ``seq`` comes
from one counter and gives notes and changes their insertion order (the
contract's "oldest first"). Links carry a single relationship type, ``LINK``,
with ``relation`` as a property, so a new relation needs no schema change.

Full-text search runs on the Lucene index ``zm_note_text`` (migration 0003) over
``content``, ``context`` and the ``text_*`` properties: lists joined into
strings, the thread (contents of the notes a note answers or follows, kept up
to date by every write that changes them) and ``text_scope``, one token per
scope that each query requires, so Lucene only scores the scope's notes. The
query text is built from :func:`~zettelmem.stores.lexical.query_words`, each
word quoted and escaped: user text is never parsed as Lucene syntax.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from zettelmem.errors import NoteNotFound, StoreError
from zettelmem.filters import cypher_where
from zettelmem.models import Change, Link, Note, Scope
from zettelmem.stores.base import (
    CountAll,
    DeleteLinks,
    DeleteNotes,
    GetChanges,
    GetLinks,
    GetMeta,
    GetNotes,
    ListNotes,
    ListScopes,
    Op,
    PutChanges,
    PutLinks,
    PutMeta,
    PutNotes,
    SearchText,
)
from zettelmem.stores.lexical import FIELDS, THREAD_RELATIONS, query_words, scope_token

__all__ = [
    "WRITE_OPS",
    "Statement",
    "change_props",
    "compile_op",
    "decode",
    "is_write",
    "link_key",
    "link_props",
    "lucene_query",
    "note_props",
    "scope_token",
    "text_props",
]

#: Ops that write; a batch holding any of them runs in a write transaction.
WRITE_OPS = (PutNotes, DeleteNotes, PutLinks, DeleteLinks, PutChanges, PutMeta)

Records = list[dict[str, Any]]


class Statement(NamedTuple):
    """One parameterised Cypher statement."""

    query: str
    params: dict[str, Any]


def is_write(op: Op) -> bool:
    return isinstance(op, WRITE_OPS)


def _chunks(rows: Sequence[Any], size: int) -> list[Sequence[Any]]:
    size = max(1, size)
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _ts(value: Any) -> float | None:
    return None if value is None else float(value.timestamp())


# -- properties ---------------------------------------------------------------------
#: The full-text index and the node property of each indexed field.
TEXT_INDEX = "zm_note_text"
TEXT_PROPS = dict(zip(FIELDS, ("content", "context", "text_keywords", "text_tags", "text_entities",
                               "text_thread"), strict=True))
#: Lucene boosts of the fields in a "note" and a "thread" search (0: not searched).
NOTE_BOOSTS = {"content": 1.0, "context": 1.0, "keywords": 1.0, "tags": 1.0, "entities": 1.0, "thread": 0.0}
THREAD_BOOSTS = {**NOTE_BOOSTS, "thread": 1.0}


def text_props(note: Note) -> dict[str, Any]:
    """The full-text properties of a note, except its thread (set by the thread statements)."""
    return {
        "text_keywords": " ".join(note.keywords),
        "text_tags": " ".join(note.tags),
        "text_entities": " ".join(note.entities),
        "text_scope": scope_token(note.scope.key),
    }


_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')


def _quote(word: str) -> str:
    return '"' + _LUCENE_SPECIAL.sub(r"\\\1", word) + '"'


def lucene_query(query: str, scope_key: str, field: str) -> str | None:
    """A Lucene query for the words of ``query`` in one scope, or None if it has no words."""
    words = query_words(query)
    if not words:
        return None
    boosts = NOTE_BOOSTS if field == "note" else THREAD_BOOSTS
    terms = " OR ".join(_quote(w) for w in words)
    clauses = " OR ".join(f"{TEXT_PROPS[f]}:({terms})^{b:g}" for f, b in boosts.items() if b > 0)
    return f'+text_scope:"{scope_token(scope_key)}" +({clauses})'


def note_props(note: Note) -> dict[str, Any]:
    """Node properties of a note (``None`` removes a property on upsert)."""
    when = note.event_time or note.created_at
    return {
        "id": note.id,
        "scope": note.scope.key,
        "user_id": note.scope.user_id,
        "agent_id": note.scope.agent_id,
        "namespace": note.scope.namespace,
        "content": note.content,
        "context": note.context,
        "keywords": list(note.keywords),
        "tags": list(note.tags),
        "entities": list(note.entities),
        "memory_type": note.memory_type.value,
        "version": note.version,
        "built_by_kind": note.built_by.kind,
        "built_by": note.built_by.model_dump_json(),
        "provenance": note.provenance.model_dump_json(),
        "metadata": json.dumps(note.metadata, sort_keys=True, default=str),
        "created_at": note.created_at,
        "updated_at": note.updated_at,
        "event_time": note.event_time,
        "last_accessed": note.last_accessed,
        "access_count": note.access_count,
        "t_event": when.timestamp(),
        "t_created": note.created_at.timestamp(),
        "valid_from": _ts(note.valid_from),
        "valid_to": _ts(note.valid_to),
        "data": note.model_dump_json(),
        **text_props(note),
    }


def link_key(source: str, target: str, relation: str) -> str:
    """The unique key of a link: its (source, target, relation) as JSON, unambiguous for any ids."""
    return json.dumps([source, target, relation], ensure_ascii=False)


def link_props(scope: Scope, link: Link) -> dict[str, Any]:
    return {
        "key": link_key(*link.key),
        "scope": scope.key,
        "relation": link.relation.value,
        "weight": link.weight,
        "rationale": link.rationale,
        "created_by_kind": link.created_by.kind,
        "created_by": link.created_by.model_dump_json(),
        "created_at": link.created_at,
        "data": link.model_dump_json(),
    }


def change_props(change: Change) -> dict[str, Any]:
    return {
        "id": change.id,
        "note_id": change.note_id,
        "scope": change.scope.key,
        "kind": change.kind,
        "version_before": change.version_before,
        "version_after": change.version_after,
        "fields": change.fields,
        "rationale": change.rationale,
        "trigger": change.trigger,
        "reverts": change.reverts,
        "agent_kind": change.agent.kind,
        "created_at": change.created_at,
        "t_created": change.created_at.timestamp(),
        "data": change.model_dump_json(),
    }


# -- queries ------------------------------------------------------------------------
# Reserve ``size($rows)`` numbers of the one sequence, then upsert each row.
_NEXT_SEQ = """
MERGE (counter:ZmCounter {name: 'seq'})
SET counter.value = coalesce(counter.value, 0) + size($rows)
WITH counter.value - size($rows) AS base
UNWIND range(0, size($rows) - 1) AS i
WITH base + i + 1 AS seq, $rows[i] AS row
"""

Q_NOTE_CONFLICTS = """
UNWIND $rows AS row
MATCH (n:Note {id: row.id}) WHERE n.scope <> row.scope
RETURN n.id AS conflict, n.scope AS held_by LIMIT 1
"""

Q_PUT_NOTES = _NEXT_SEQ + """
MERGE (n:Note {id: row.id})
ON CREATE SET n.seq = seq
SET n += row
"""

Q_GET_NOTES = """
UNWIND $ids AS id
MATCH (n:Note {id: id}) WHERE n.scope = $scope
RETURN n.id AS id, n.data AS data
"""

Q_LIST_NOTES = """
MATCH (n:Note) WHERE n.scope = $scope AND ({where})
RETURN n.data AS data ORDER BY n.seq SKIP $offset{limit}
"""

Q_DELETE_CHANGES_OF = """
MATCH (n:Note) WHERE n.id IN $ids AND n.scope = $scope
MATCH (c:Change) WHERE c.note_id = n.id
DETACH DELETE c
"""

Q_DELETE_NOTES = """
MATCH (n:Note) WHERE n.id IN $ids AND n.scope = $scope
DETACH DELETE n
RETURN count(*) AS deleted
"""

Q_MISSING_ENDS = """
UNWIND $ids AS id
OPTIONAL MATCH (n:Note {id: id}) WHERE n.scope = $scope
WITH id, n WHERE n IS NULL
RETURN id AS missing LIMIT 1
"""

Q_PUT_LINKS = """
UNWIND $rows AS row
MATCH (a:Note {id: row.source}) WHERE a.scope = $scope
MATCH (b:Note {id: row.target}) WHERE b.scope = $scope
MERGE (a)-[r:LINK {key: row.props.key}]->(b)
SET r += row.props
"""

Q_DELETE_LINKS = """
UNWIND $keys AS k
MATCH (a:Note {id: k.source})-[r:LINK]->(b:Note {id: k.target})
WHERE a.scope = $scope AND b.scope = $scope AND (k.relation IS NULL OR r.relation = k.relation)
WITH DISTINCT r
DELETE r
RETURN count(*) AS deleted
"""

_LINK_PATTERNS = {
    "out": "(n:Note)-[r:LINK]->(m:Note)",
    "in": "(n:Note)<-[r:LINK]-(m:Note)",
    "both": "(n:Note)-[r:LINK]-(m:Note)",
}
Q_GET_LINKS = """
MATCH {pattern}
WHERE n.id IN $ids AND n.scope = $scope AND m.scope = $scope
RETURN DISTINCT r.key AS key, r.data AS data ORDER BY key
"""

Q_PUT_CHANGES = _NEXT_SEQ + """
MERGE (c:Change {id: row.id})
ON CREATE SET c.seq = seq
SET c += row
WITH c, row
OPTIONAL MATCH (n:Note {id: row.note_id}) WHERE n.scope = row.scope
FOREACH (_ IN CASE WHEN n IS NULL THEN [] ELSE [1] END | MERGE (c)-[:OF]->(n))
"""

Q_CHANGE_BY_ID = """
MATCH (c:Change {id: $id}) WHERE c.scope = $scope
RETURN c.data AS data
"""

Q_CHANGES_OF_NOTE = """
MATCH (c:Change) WHERE c.note_id = $note_id AND c.scope = $scope
RETURN c.data AS data ORDER BY c.seq
"""

Q_CHANGES_IN_SCOPE = """
MATCH (c:Change) WHERE c.scope = $scope
RETURN c.data AS data ORDER BY c.seq
"""

Q_COUNT_SCOPE = """
CALL { MATCH (n:Note) WHERE n.scope = $scope RETURN count(n) AS notes }
CALL { MATCH (n:Note)-[r:LINK]->() WHERE n.scope = $scope RETURN count(r) AS links }
CALL { MATCH (c:Change) WHERE c.scope = $scope RETURN count(c) AS changes }
RETURN notes, links, changes
"""

Q_COUNT_ALL = """
CALL { MATCH (n:Note) RETURN count(n) AS notes }
CALL { MATCH (:Note)-[r:LINK]->(:Note) RETURN count(r) AS links }
CALL { MATCH (c:Change) RETURN count(c) AS changes }
RETURN notes, links, changes
"""

Q_LIST_SCOPES = "MATCH (n:Note) RETURN DISTINCT n.scope AS scope"

# Rewrite ``n.text_thread`` from the notes ``n`` answers or follows ({skip}: targets going away).
_SET_THREAD = """
OPTIONAL MATCH (n)-[t:LINK]->(m:Note) WHERE t.relation IN $rels AND m.scope = n.scope{skip}
WITH DISTINCT n, m ORDER BY m.id
WITH n, collect(m.content) AS texts
SET n.text_thread = CASE size(texts) WHEN 0 THEN null
    ELSE reduce(acc = head(texts), x IN tail(texts) | acc + '\n' + x) END
"""

Q_THREAD_OF = """
UNWIND $ids AS id
MATCH (n:Note {id: id}) WHERE n.scope = $scope
WITH DISTINCT n
""" + _SET_THREAD.format(skip="")

# After notes are put: their own thread and the threads that quote them.
Q_THREAD_AFTER_PUT = """
UNWIND $ids AS id
MATCH (x:Note {id: id})
OPTIONAL MATCH (s:Note)-[r:LINK]->(x) WHERE r.relation IN $rels AND s.scope = x.scope
WITH collect(DISTINCT x) + collect(DISTINCT s) AS touched
UNWIND touched AS n
WITH DISTINCT n
""" + _SET_THREAD.format(skip="")

# Before notes are deleted: the threads that quote them, without them.
Q_THREAD_BEFORE_DELETE = """
MATCH (n:Note)-[r:LINK]->(x:Note)
WHERE x.id IN $ids AND x.scope = $scope AND n.scope = $scope AND r.relation IN $rels AND NOT n.id IN $ids
WITH DISTINCT n
""" + _SET_THREAD.format(skip=" AND NOT m.id IN $ids")

# What ``check`` compares: each note's indexed properties and the thread it should have.
Q_TEXT_STATE = """
MATCH (n:Note) WHERE $scope IS NULL OR n.scope = $scope
OPTIONAL MATCH (n)-[t:LINK]->(m:Note) WHERE t.relation IN $rels AND m.scope = n.scope
WITH DISTINCT n, m ORDER BY m.id
WITH n, collect(m.content) AS texts
RETURN n.data AS data, n.content AS content, n.context AS context, n.text_keywords AS text_keywords,
       n.text_tags AS text_tags, n.text_entities AS text_entities, n.text_scope AS text_scope,
       n.text_thread AS text_thread, texts
"""

Q_SEARCH_TEXT = """
CALL db.index.fulltext.queryNodes($index, $query, $options) YIELD node, score
WHERE node.scope = $scope AND ({where})
RETURN node.id AS id, score ORDER BY score DESC, id LIMIT $k
"""

Q_GET_META = "MATCH (m:ZmMeta {key: $key}) RETURN m.value AS value"

Q_PUT_META = "MERGE (m:ZmMeta {key: $key}) SET m.value = $value"


# -- compile ------------------------------------------------------------------------
def _put_notes(op: PutNotes, size: int) -> list[Statement]:
    rows = [note_props(n) for n in op.notes]
    out: list[Statement] = []
    for chunk in _chunks(rows, size):
        ids = [{"id": r["id"], "scope": r["scope"]} for r in chunk]
        out += [Statement(Q_NOTE_CONFLICTS, {"rows": ids}), Statement(Q_PUT_NOTES, {"rows": list(chunk)}),
                Statement(Q_THREAD_AFTER_PUT, {"ids": [r["id"] for r in ids], "rels": list(THREAD_RELATIONS)})]
    return out


def _get_notes(op: GetNotes, size: int) -> list[Statement]:
    ids = list(dict.fromkeys(op.ids))
    return [Statement(Q_GET_NOTES, {"ids": list(c), "scope": op.scope.key}) for c in _chunks(ids, size * 10)]


def _list_notes(op: ListNotes, size: int) -> list[Statement]:
    where, params = cypher_where(op.where, "n", "f_")
    limit = "" if op.limit is None else " LIMIT $limit"
    params = {**params, "scope": op.scope.key, "offset": max(0, op.offset)}
    if op.limit is not None:
        params["limit"] = max(0, op.limit)
    return [Statement(Q_LIST_NOTES.format(where=where, limit=limit), params)]


def _delete_notes(op: DeleteNotes, size: int) -> list[Statement]:
    ids = list(dict.fromkeys(op.ids))
    out: list[Statement] = []
    for chunk in _chunks(ids, size):
        params = {"ids": list(chunk), "scope": op.scope.key}
        out += [Statement(Q_THREAD_BEFORE_DELETE, {**params, "rels": list(THREAD_RELATIONS)}),
                Statement(Q_DELETE_CHANGES_OF, params), Statement(Q_DELETE_NOTES, params)]
    return out


def _put_links(op: PutLinks, size: int) -> list[Statement]:
    out: list[Statement] = []
    for chunk in _chunks(list(op.links), size):
        ends = list(dict.fromkeys(e for lk in chunk for e in (lk.source, lk.target)))
        rows = [{"source": lk.source, "target": lk.target, "props": link_props(op.scope, lk)} for lk in chunk]
        out += [
            Statement(Q_MISSING_ENDS, {"ids": ends, "scope": op.scope.key}),
            Statement(Q_PUT_LINKS, {"rows": rows, "scope": op.scope.key}),
        ]
        sources = list(dict.fromkeys(lk.source for lk in chunk if lk.relation.value in THREAD_RELATIONS))
        if sources:
            out.append(Statement(Q_THREAD_OF, {"ids": sources, "scope": op.scope.key,
                                               "rels": list(THREAD_RELATIONS)}))
    return out


def _delete_links(op: DeleteLinks, size: int) -> list[Statement]:
    keys = [{"source": s, "target": t, "relation": r} for s, t, r in dict.fromkeys(op.keys)]
    out = [Statement(Q_DELETE_LINKS, {"keys": list(c), "scope": op.scope.key}) for c in _chunks(keys, size)]
    sources = list(dict.fromkeys(k["source"] for k in keys if k["relation"] in (None, *THREAD_RELATIONS)))
    if sources:
        out.append(Statement(Q_THREAD_OF, {"ids": sources, "scope": op.scope.key, "rels": list(THREAD_RELATIONS)}))
    return out


def _get_links(op: GetLinks, size: int) -> list[Statement]:
    if op.direction not in _LINK_PATTERNS:
        raise ValueError(f"direction must be one of {sorted(_LINK_PATTERNS)}, not {op.direction!r}")
    query = Q_GET_LINKS.format(pattern=_LINK_PATTERNS[op.direction])
    return [Statement(query, {"ids": list(dict.fromkeys(op.note_ids)), "scope": op.scope.key})]


def _put_changes(op: PutChanges, size: int) -> list[Statement]:
    rows = [change_props(c) for c in op.changes]
    return [Statement(Q_PUT_CHANGES, {"rows": list(c)}) for c in _chunks(rows, size)]


def _get_changes(op: GetChanges, size: int) -> list[Statement]:
    scope = op.scope.key
    if op.change_id is not None:
        return [Statement(Q_CHANGE_BY_ID, {"id": op.change_id, "scope": scope})]
    if op.note_id is not None:
        return [Statement(Q_CHANGES_OF_NOTE, {"note_id": op.note_id, "scope": scope})]
    return [Statement(Q_CHANGES_IN_SCOPE, {"scope": scope})]


def _count(op: CountAll, size: int) -> list[Statement]:
    if op.scope is None:
        return [Statement(Q_COUNT_ALL, {})]
    return [Statement(Q_COUNT_SCOPE, {"scope": op.scope.key})]


def _search_text(op: SearchText, size: int) -> list[Statement]:
    if op.field not in ("note", "thread"):
        raise ValueError(f"field must be 'note' or 'thread', not {op.field!r}")
    query = lucene_query(op.query, op.scope.key, op.field)
    if query is None or op.k <= 0:
        return []
    where, params = cypher_where(op.where, "node", "f_")
    options = {} if op.where is not None else {"limit": op.k}  # a filter may drop some of Lucene's top k
    return [Statement(Q_SEARCH_TEXT.format(where=where), {
        **params, "index": TEXT_INDEX, "query": query, "options": options, "scope": op.scope.key, "k": op.k})]


_COMPILERS: dict[type, Callable[[Any, int], list[Statement]]] = {
    PutNotes: _put_notes,
    GetNotes: _get_notes,
    ListNotes: _list_notes,
    DeleteNotes: _delete_notes,
    PutLinks: _put_links,
    DeleteLinks: _delete_links,
    GetLinks: _get_links,
    PutChanges: _put_changes,
    GetChanges: _get_changes,
    CountAll: _count,
    ListScopes: lambda op, size: [Statement(Q_LIST_SCOPES, {})],
    GetMeta: lambda op, size: [Statement(Q_GET_META, {"key": op.key})],
    PutMeta: lambda op, size: [Statement(Q_PUT_META, {"key": op.key, "value": op.value})],
    SearchText: _search_text,
}


def compile_op(op: Op, batch_size: int = 500) -> list[Statement]:
    """The statements that carry out ``op`` (rows are sent ``batch_size`` per UNWIND)."""
    try:
        compiler = _COMPILERS[type(op)]
    except KeyError:
        raise TypeError(f"unknown op {op!r}") from None
    return compiler(op, batch_size)


# -- decode -------------------------------------------------------------------------
def _rows(results: Sequence[Records]) -> Records:
    return [row for records in results for row in records]


def decode(op: Op, results: Sequence[Records]) -> Any:
    """The op's result from the records of its statements (may raise a typed error)."""
    rows = _rows(results)
    if isinstance(op, PutNotes):
        for row in rows:
            if "conflict" in row:
                raise StoreError(f"note id {row['conflict']} already exists in another scope")
        return None
    if isinstance(op, PutLinks):
        for row in rows:
            if "missing" in row:
                raise NoteNotFound(f"cannot link: no note {row['missing']!r} in scope {op.scope}")
        return None
    if isinstance(op, PutChanges | PutMeta):
        return None
    if isinstance(op, GetNotes):
        found = {row["id"]: Note.model_validate_json(row["data"]) for row in rows}
        return [found.get(i) for i in op.ids]
    if isinstance(op, ListNotes):
        return [Note.model_validate_json(row["data"]) for row in rows]
    if isinstance(op, DeleteNotes | DeleteLinks):
        return sum(int(row["deleted"]) for row in rows)
    if isinstance(op, GetLinks):
        return [Link.model_validate_json(data) for data in dict(
            (row["key"], row["data"]) for row in rows).values()]
    if isinstance(op, GetChanges):
        return [Change.model_validate_json(row["data"]) for row in rows]
    if isinstance(op, CountAll):
        row = rows[0] if rows else {}
        return {k: int(row.get(k, 0)) for k in ("notes", "links", "changes")}
    if isinstance(op, ListScopes):
        return sorted((Scope.from_key(row["scope"]) for row in rows), key=lambda s: s.key)
    if isinstance(op, GetMeta):
        return rows[0]["value"] if rows else None
    if isinstance(op, SearchText):
        return [(str(row["id"]), float(row["score"])) for row in rows if row["score"] > 0]
    raise TypeError(f"unknown op {op!r}")
