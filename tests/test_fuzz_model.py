"""Model-based fuzzing: random operation sequences against a plain in-memory reference model.

A Hypothesis ``RuleBasedStateMachine`` drives add / add_many / update / link /
unlink / delete / revert / evolve / search / reopen (and calls with bad
arguments) on a real ``Memory``, on NetworkX and on Neo4j, in two look-alike
scopes (``...foo`` and ``...foobar``). The model records what each call
acknowledged (the notes, links and changes it returned); after every step the
store's reads must agree with the model field by field, no read may cross a
scope, and ``check`` must pass. Agents are the offline ones, so the same
sequence replays exactly when Hypothesis shrinks a failure.

Size: ``ZETTELMEM_FUZZ_EXAMPLES`` (default 20 on NetworkX, 5 on Neo4j) sequences
of up to ``ZETTELMEM_FUZZ_STEPS`` (default 20) steps. The number of steps run is
printed at the end of the module.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from zettelmem import Memory, Scope, Settings
from zettelmem.config import AgentsConfig, HashingEmbeddingConfig
from zettelmem.errors import InvalidInput, LinkNotFound, NoteNotFound
from zettelmem.models import Change, Note, Relation

EXAMPLES = int(os.environ.get("ZETTELMEM_FUZZ_EXAMPLES", "0"))
STEPS = int(os.environ.get("ZETTELMEM_FUZZ_STEPS", "20"))
STATS: dict[str, int] = {"networkx steps": 0, "neo4j steps": 0, "networkx sequences": 0, "neo4j sequences": 0,
                         "changes applied": 0, "reverts": 0, "links made": 0, "deletes": 0}

WORDS = ["heron", "pond", "Lisbon", "tram", "yellow", "violin", "lesson", "Maya", "Jonas", "bakery",
         "sourdough", "river", "bridge", "morning", "rain", "garden", "tomato", "seed", "kayak", "harbour"]
CONTENT = st.lists(st.sampled_from(WORDS), min_size=3, max_size=9).map(" ".join) | st.sampled_from(
    ["café in Zürich ☕ with Maya", "x" * 70 + " a long token beside words", "Jonas: the tram was late again"])
TAGS = st.lists(st.sampled_from(["pets", "travel", "music", "food", "rain"]), max_size=3, unique=True)
FIELDS = ("content", "tags", "keywords", "context", "memory_type", "version", "metadata", "scope")


def _fields(note: Note) -> dict[str, Any]:
    dumped = note.model_dump(mode="json")
    return {f: dumped[f] for f in FIELDS}


class Model:
    """What the store must hold: every acknowledged note, link and applied change, per scope."""

    def __init__(self, scopes: list[Scope]) -> None:
        self.notes: dict[Scope, dict[str, dict[str, Any]]] = {s: {} for s in scopes}
        self.links: dict[Scope, dict[tuple[str, str, str], float]] = {s: {} for s in scopes}
        self.changes: dict[str, tuple[Scope, str]] = {}  # applied change id -> (scope, note id)

    def apply(self, scope: Scope, change: Change) -> None:
        if not change.after or change.kind == "rejected":
            return
        note = self.notes[scope][change.note_id]
        assert note["version"] == change.version_before, (note, change)
        note.update(change.after)
        note["version"] = change.version_after
        self.changes[change.id] = (scope, change.note_id)
        STATS["changes applied"] += 1

    def added(self, scope: Scope, results: list[Any], batch_size: int = 1) -> None:
        """Results of one add_many, chunk by chunk: each ``r.note`` is the note as its chunk committed it."""
        for start in range(0, len(results), batch_size):
            self._chunk(scope, results[start : start + batch_size])

    def _chunk(self, scope: Scope, results: list[Any]) -> None:
        new = {r.note.id for r in results}
        for r in results:
            self.notes[scope][r.note.id] = _fields(r.note)  # the final state of the chunk
        for r in results:
            for lk in r.links:
                self.links[scope][lk.key] = lk.weight
                STATS["links made"] += 1
            for c in r.changes:
                if c.note_id in new:
                    self.changes[c.id] = (scope, c.note_id)
                    STATS["changes applied"] += 1
                else:
                    self.apply(scope, c)

    def deleted(self, scope: Scope, ids: list[str]) -> None:
        for i in ids:
            del self.notes[scope][i]
        self.links[scope] = {k: w for k, w in self.links[scope].items() if k[0] not in ids and k[1] not in ids}
        self.changes = {c: v for c, v in self.changes.items() if v[1] not in ids}


class MemoryMachine(RuleBasedStateMachine):
    """One store, two look-alike scopes, a reference model."""

    backend = "networkx"
    neo4j: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(prefix="zm-fuzz-"))
        run = uuid.uuid4().hex[:8]
        self.scopes = [Scope(user_id=f"fz{run}", namespace="foo"), Scope(user_id=f"fz{run}", namespace="foobar")]
        self.model = Model(self.scopes)
        self.mem = self._open()
        STATS[f"{self.backend} sequences"] += 1

    def _open(self) -> Memory:
        extra: dict[str, Any] = {"graph": self.neo4j} if self.neo4j is not None else {}
        # the plain model stores every memory it is given: truth maintenance (repeats become
        # mentions, supersessions close notes) has its own tests (zettelmem/testing/truth.py, test_truth_engine.py)
        return Memory(Settings(home=self.home, embedding=HashingEmbeddingConfig(dims=64), use_llm=False,
                               agents=AgentsConfig(truth=False), **extra))

    def teardown(self) -> None:
        try:
            if self.neo4j is not None:
                for scope in self.scopes:
                    ids = [n.id for n in self.mem.list(scope)]
                    if ids:
                        self.mem.delete(ids, scope)
            self.mem.close()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def _step(self) -> None:
        STATS[f"{self.backend} steps"] += 1

    def _ids(self, scope: Scope) -> list[str]:
        return list(self.model.notes[scope])  # in the order added: ids are random, a replay must pick the same

    def _has_notes(self) -> bool:
        return any(self.model.notes[s] for s in self.scopes)

    def _pick(self, data: st.DataObject, n: int = 1) -> tuple[Scope, list[str]]:
        scope = data.draw(st.sampled_from([s for s in self.scopes if len(self.model.notes[s]) >= n]))
        ids = data.draw(st.lists(st.sampled_from(self._ids(scope)), min_size=n, max_size=n, unique=True))
        return scope, ids

    # -- writes ---------------------------------------------------------------------------------
    @rule(data=st.data(), content=CONTENT, tags=TAGS, evolve=st.booleans())
    def add(self, data: st.DataObject, content: str, tags: list[str], evolve: bool) -> None:
        scope = data.draw(st.sampled_from(self.scopes))
        result = self.mem.add(content, scope=scope, tags=tags, evolve=evolve)
        assert result.note.scope == scope and result.note.content == content
        self.model.added(scope, [result])
        self._step()

    @rule(data=st.data(), contents=st.lists(CONTENT, min_size=1, max_size=6), size=st.integers(1, 4))
    def add_many(self, data: st.DataObject, contents: list[str], size: int) -> None:
        scope = data.draw(st.sampled_from(self.scopes))
        results = self.mem.add_many(contents, scope=scope, batch_size=size)
        assert [r.note.content for r in results] == contents
        self.model.added(scope, results, size)
        self._step()

    @precondition(lambda self: self._has_notes())
    @rule(data=st.data(), tags=TAGS)
    def update(self, data: st.DataObject, tags: list[str]) -> None:
        scope, (note_id,) = self._pick(data)
        change = self.mem.update(note_id, scope, tags=tags)
        self.model.apply(scope, change)
        self._step()

    @precondition(lambda self: any(len(self.model.notes[s]) >= 2 for s in self.scopes))
    @rule(data=st.data(), relation=st.sampled_from(list(Relation)), weight=st.floats(0, 1))
    def link(self, data: st.DataObject, relation: Relation, weight: float) -> None:
        scope, (a, b) = self._pick(data, 2)
        lk = self.mem.link(a, b, scope, relation=relation, weight=weight)
        self.model.links[scope][lk.key] = weight
        self._step()

    @precondition(lambda self: any(len(self.model.notes[s]) >= 2 for s in self.scopes))
    @rule(data=st.data())
    def unlink(self, data: st.DataObject) -> None:
        scope, (a, b) = self._pick(data, 2)
        if any(len(self.model.links[s]) for s in self.scopes) and data.draw(st.booleans()):
            s2 = data.draw(st.sampled_from([s for s in self.scopes if self.model.links[s]]))
            scope, (a, b, _) = s2, data.draw(st.sampled_from(list(self.model.links[s2])))
        expected = [k for k in self.model.links[scope] if k[:2] == (a, b)]
        if expected:
            assert self.mem.unlink(a, b, scope) == len(expected)
            for k in expected:
                del self.model.links[scope][k]
        else:
            with pytest.raises(LinkNotFound):
                self.mem.unlink(a, b, scope)
        self._step()

    @precondition(lambda self: self._has_notes())
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        scope, (note_id,) = self._pick(data)
        assert self.mem.delete([note_id], scope) == 1
        self.model.deleted(scope, [note_id])
        STATS["deletes"] += 1
        other = next(s for s in self.scopes if s != scope)
        with pytest.raises(NoteNotFound):  # never across scopes
            self.mem.delete([note_id], other)
        self._step()

    @precondition(lambda self: bool(self.model.changes))
    @rule(data=st.data())
    def revert(self, data: st.DataObject) -> None:
        change_id = data.draw(st.sampled_from(list(self.model.changes)))
        scope, _ = self.model.changes[change_id]
        change = self.mem.revert(change_id, scope)
        assert change.kind == "revert" and change.reverts == change_id
        STATS["reverts"] += 1
        self.model.apply(scope, change)
        self._step()

    @precondition(lambda self: self._has_notes())
    @rule(data=st.data())
    def evolve(self, data: st.DataObject) -> None:
        scope = data.draw(st.sampled_from([s for s in self.scopes if self.model.notes[s]]))
        for r in self.mem.evolve(None, scope):
            for c in r.changes:
                self.model.apply(scope, c)
        self._step()

    @rule()
    def reopen(self) -> None:
        self.mem.close()
        self.mem = self._open()
        self._step()

    @precondition(lambda self: self._has_notes())
    @rule(data=st.data(), which=st.integers(0, 9))
    def bad_call(self, data: st.DataObject, which: int) -> None:
        scope, (note_id,) = self._pick(data)
        calls = [
            lambda: self.mem.search("query", scope, k="5"),  # type: ignore[arg-type]
            lambda: self.mem.update(note_id, scope, tags="pets"),
            lambda: self.mem.update(note_id, scope, memory_type="bogus"),
            lambda: self.mem.link(note_id, note_id, scope),
            lambda: self.mem.link(note_id, note_id, scope, weight=math.nan),
            lambda: self.mem.delete(None, scope),  # type: ignore[arg-type]
            lambda: self.mem.revert(None, scope),  # type: ignore[arg-type]
            lambda: self.mem.add_many(["never stored"], scope, batch_size=-1),
            lambda: self.mem.add("bad metadata", scope, metadata={"x": object()}),
            lambda: self.mem.list(scope, limit=-1),
        ]
        with pytest.raises(InvalidInput):
            calls[which]()
        self._step()

    # -- reads ----------------------------------------------------------------------------------
    @precondition(lambda self: self._has_notes())
    @rule(data=st.data())
    def search(self, data: st.DataObject) -> None:
        scope, (note_id,) = self._pick(data)
        query = self.model.notes[scope][note_id]["content"]
        hits = self.mem.search(query, scope, k=5)
        assert hits, "a stored note's own text finds nothing"
        for h in hits:
            assert h.note.scope == scope
            assert _fields(h.note) == self.model.notes[scope][h.note.id]
        self._step()

    @invariant()
    def reads_agree_with_the_model(self) -> None:
        for scope in self.scopes:
            notes = self.mem.list(scope)
            assert {n.id for n in notes} == set(self.model.notes[scope])
            for n in notes:
                assert n.scope == scope
                assert _fields(n) == self.model.notes[scope][n.id], n.id
            links = self.mem.aio.graph.get_links(scope, [n.id for n in notes])
            assert {lk.key: lk.weight for lk in links} == pytest.approx(self.model.links[scope])
        report = self.mem.check()
        assert report.ok, report


def _run(machine: type[MemoryMachine], examples: int) -> None:
    run_state_machine_as_test(machine, settings=settings(
        max_examples=EXAMPLES or examples, stateful_step_count=STEPS, deadline=None, derandomize=True,
        database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                              HealthCheck.data_too_large]))


def test_model_networkx() -> None:
    _run(MemoryMachine, 20)


def test_model_neo4j(neo4j_store: Any, neo4j_config: Any) -> None:
    class Neo4jMachine(MemoryMachine):
        backend = "neo4j"
        neo4j = neo4j_config

    _run(Neo4jMachine, 5)
