"""Notes for store items (``ZettelStore(notes=True)``): the outbox drain.

A write batch records each touched ``(namespace, key)`` in the ``outbox`` table in
the same transaction as the item, so no acknowledged write can lose its note. After
the commit, :meth:`NoteSync.drain` brings the memory graph in line with the items:

* an item with indexed text gets one note (content = the text, scope =
  :func:`~zettelmem.langgraph._codec.namespace_scope`, metadata ``langgraph`` =
  namespace and key), built by zettelmem's full loop (keywords, tags, links,
  evolution of neighbours);
* an item whose text changed gets a new note and its old note is deleted (note
  content is immutable in zettelmem); a deleted item loses its note.

A crash between building a note and recording it is repaired by the next drain
(at open, or after the next write); the note may then be built twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import get_text_at_path, tokenize_path

from zettelmem.errors import InvalidInput, NoteNotFound
from zettelmem.langgraph._codec import decode_ns, namespace_scope
from zettelmem.langgraph._sqlite import ItemDB, Row
from zettelmem.models import Provenance, Scope

if TYPE_CHECKING:
    from zettelmem.embeddings import Embedder
    from zettelmem.engine.sync import Memory

__all__ = ["NoteSync", "ZettelEmbeddings", "index_paths", "note_text"]

log = logging.getLogger(__name__)


class ZettelEmbeddings(Embeddings):
    """zettelmem's embedder (default: local int8 all-MiniLM-L6-v2) as LangChain ``Embeddings``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    @property
    def dims(self) -> int:
        return int(self.embedder.dims)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return [[float(x) for x in row] for row in self.embedder.embed(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def index_paths(idx: str | None, fields: Sequence[str]) -> list[str]:
    """The field paths an item's stored index spec names (``None``: the store's fields)."""
    if idx is None:
        return list(fields)
    if idx == "false":
        return []
    return [str(p) for p in json.loads(idx)]


def texts_at(value: Mapping[str, Any], path: str) -> list[str]:
    """LangGraph's text extraction; ``"$"`` is the whole document, also in a per-put list."""
    return get_text_at_path(value, path if path == "$" else tokenize_path(path))


def note_text(value: Mapping[str, Any], paths: Sequence[str]) -> str:
    """The content of an item's note: its indexed texts, one per line.

    For the whole-document path ``"$"`` a note holds the document's top-level string
    values (``{"content": "likes tea"}`` -> ``likes tea``), or its JSON when it has none.
    """
    parts: list[str] = []
    for path in paths:
        if path == "$":
            strings = [v.strip() for v in value.values() if isinstance(v, str) and v.strip()]
            parts += strings or [json.dumps(value, sort_keys=True, ensure_ascii=False)]
        else:
            parts += [t.strip() for t in texts_at(value, path) if t.strip()]
    return "\n".join(dict.fromkeys(parts))


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class NoteSync:
    """Drains the outbox into the memory graph; one drain at a time."""

    def __init__(self, db: ItemDB, memory: Callable[[], Memory], fields: Callable[[], Sequence[str]]) -> None:
        self.db = db
        self._memory = memory
        self._fields = fields
        self._lock = threading.Lock()

    def pending(self) -> int:
        with self.db.session(write=False, snapshot=False) as c:
            return int(c.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def enqueue_all(self) -> None:
        with self.db.session(write=True) as c:
            c.execute("INSERT INTO outbox(ns, key) SELECT ns, key FROM items")
            c.execute("INSERT INTO outbox(ns, key) SELECT ns, key FROM notes "
                      "WHERE (ns, key) NOT IN (SELECT ns, key FROM items)")

    def drain(self) -> int:
        """Build, rebuild or delete the notes of every item in the outbox; returns notes built."""
        with self._lock:
            with self.db.session(write=False) as c:
                pending = c.execute("SELECT id, ns, key FROM outbox ORDER BY id").fetchall()
                if not pending:
                    return 0
                targets = list(dict.fromkeys((ns, key) for _, ns, key in pending))
                rows = {t: ItemDB.get(c, *t) for t in targets}
                sql = "SELECT note_id, scope, text_hash FROM notes WHERE ns = ? AND key = ?"
                old = {t: c.execute(sql, t).fetchone() for t in targets}
            last_id = pending[-1][0]
            mem = self._memory()
            fields = self._fields()
            drop: dict[str, list[str]] = {}
            changed: list[tuple[str, str]] = []
            adds: list[tuple[tuple[str, str], Any, str]] = []
            for t in targets:
                text = self._text(rows[t], fields)
                prev = old[t]
                if prev is not None and text and prev[2] == _hash(text):
                    continue  # same text: the note (and its evolution) stays
                changed.append(t)
                if prev is not None:
                    drop.setdefault(prev[1], []).append(prev[0])
                if text:
                    item = self._input(mem, t, text)
                    if item is not None:
                        adds.append((t, item, _hash(text)))
            for scope_key, ids in drop.items():
                self._delete(mem, Scope.from_key(scope_key), ids)
            built = mem.add_many([a[1] for a in adds]) if adds else []
            with self.db.session(write=True) as c:
                c.executemany("DELETE FROM notes WHERE ns = ? AND key = ?", changed)
                c.executemany(
                    "INSERT INTO notes(ns, key, note_id, scope, text_hash) VALUES (?,?,?,?,?)",
                    [(*t, r.note.id, r.note.scope.key, h) for (t, _i, h), r in zip(adds, built, strict=True)],
                )
                c.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))
            return len(built)

    @staticmethod
    def _text(row: Row | None, fields: Sequence[str]) -> str:
        if row is None:
            return ""
        paths = index_paths(row.idx, fields)
        return note_text(json.loads(row.value), paths) if paths else ""

    @staticmethod
    def _input(mem: Memory, target: tuple[str, str], text: str) -> Any:
        ns, key = decode_ns(target[0]), target[1]
        limit = mem.settings.max_content_chars
        try:
            return mem.aio.to_input(
                {"content": text[:limit], "provenance": Provenance(source="langgraph-store", extra={"key": key}),
                 "metadata": {"langgraph": {"namespace": list(ns), "key": key}}},
                namespace_scope(ns),
            )
        except InvalidInput as exc:
            log.warning("no note for LangGraph item %s/%s: %s", target[0], key, exc)
            return None

    @staticmethod
    def _delete(mem: Memory, scope: Scope, ids: list[str]) -> None:
        try:
            mem.delete(ids, scope)
        except NoteNotFound:
            for note_id in ids:
                with contextlib.suppress(NoteNotFound):
                    mem.delete(note_id, scope)
