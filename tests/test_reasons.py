"""One reason renderer: the CLI, notebooks, ``SearchHit.explain`` and the LangGraph tools word reasons alike."""

from __future__ import annotations

from datetime import UTC, datetime

from zettelmem import Note, Reason, Relation, SearchHit
from zettelmem._cards import hit_html, reason_text
from zettelmem.display import reason_text as display_reason_text
from zettelmem.langgraph._runtime import hit_record, render_hits

REASONS = [
    Reason(kind="dense", rank=1, score=0.8123),
    Reason(kind="lexical", rank=2, score=4.5),
    Reason(kind="thread", rank=3, score=2.25),
    Reason(kind="entity", score=0.15, via="Alice"),
    Reason(kind="graph", rank=1, score=0.01, via="0123456789abcdef", relation=Relation.ANSWERS, weight=0.7),
]


def test_each_kind_in_words():
    assert [reason_text(r) for r in REASONS] == [
        "dense #1 (cosine 0.812)",
        "lexical #2 (BM25 4.500)",
        "thread #3 (BM25 with the turn it answers or follows 2.250)",
        "entity: names Alice",
        "graph: linked from 01234567 (answers, weight 0.70)",
    ]
    assert reason_text(REASONS[-1], {"0123456789abcdef": "Bob 1.2"}).startswith("graph: linked from Bob 1.2 ")


def test_every_surface_uses_the_same_words():
    note = Note(content="Alice <b>moved</b> to Lisbon.", event_time=datetime(2024, 1, 1, tzinfo=UTC))
    hit = SearchHit(note=note, score=0.5, why=REASONS)
    words = [reason_text(r) for r in REASONS]
    assert display_reason_text is reason_text
    assert [str(r) for r in REASONS] == words
    assert hit.explain() == "; ".join(words)
    assert hit_record(hit)["why"] == hit.explain()
    assert hit.explain() in render_hits([hit])
    card = hit_html(hit)
    assert all(w in card for w in words)
    assert "&lt;b&gt;moved&lt;/b&gt;" in card and "<b>moved</b>" not in card
