"""Neo4j full-text search: notes written before migration 0003 are backfilled by ``migrate()``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from zettelmem.models import Link, Relation, Scope
from zettelmem.stores.neo4j import cypher
from zettelmem.testing import make_note, purge_neo4j

pytestmark = pytest.mark.neo4j


def test_notes_written_before_the_fulltext_index_are_backfilled(neo4j_store: Any) -> None:
    tag = uuid.uuid4().hex[:10]
    scope = Scope(user_id=f"zmt-{tag}")
    question = make_note(scope, "Did you see the aurora borealis?", i=0, tags=["sky"])
    answer = make_note(scope, "Yes, on Friday night!", i=1)
    try:
        # as zettelmem wrote them before 0003: no text_* properties, no thread
        for note in (question, answer):
            old = {k: v for k, v in cypher.note_props(note).items() if not k.startswith("text_")}
            neo4j_store.run_cypher("CREATE (n:Note) SET n = $props, n.seq = 0", {"props": old})
        link = Link(source=answer.id, target=question.id, relation=Relation.ANSWERS)
        neo4j_store.run_cypher(
            "MATCH (a:Note {id: $s}), (b:Note {id: $t}) CREATE (a)-[r:LINK]->(b) SET r = $props",
            {"s": answer.id, "t": question.id, "props": cypher.link_props(scope, link)})
        assert neo4j_store.search_text(scope, "aurora", 5) == []  # not searchable yet
        assert neo4j_store.migrate() == []  # every migration is applied; the backfill still runs
        assert [i for i, _ in neo4j_store.search_text(scope, "aurora", 5)] == [question.id]
        assert [i for i, _ in neo4j_store.search_text(scope, "sky", 5)] == [question.id]
        thread = {i for i, _ in neo4j_store.search_text(scope, "aurora", 5, "thread")}
        assert thread == {question.id, answer.id}
        assert neo4j_store.migrate() == []  # idempotent
        assert neo4j_store.check_text_index(scope) == {"missing": [], "stale": [], "orphan": []}

        # check finds what disagrees with the notes, and repair rewrites it
        neo4j_store.run_cypher("MATCH (n:Note {id: $id}) SET n.text_thread = 'stale', n.text_tags = null",
                               {"id": answer.id})
        neo4j_store.run_cypher("MATCH (n:Note {id: $id}) REMOVE n.text_scope", {"id": question.id})
        found = neo4j_store.check_text_index(scope)
        assert found == {"missing": [question.id], "stale": [answer.id], "orphan": []}
        assert neo4j_store.check_text_index(scope, repair=True) == found
        assert neo4j_store.check_text_index(scope) == {"missing": [], "stale": [], "orphan": []}
        assert {i for i, _ in neo4j_store.search_text(scope, "aurora", 5, "thread")} == {question.id, answer.id}
    finally:
        purge_neo4j(neo4j_store, [scope], tag)
