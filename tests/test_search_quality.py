"""Search on the bundled dialogue: the demo's queries find their answers, and noise never explains a hit.

Lexical and dense lists drop matches below ``SearchConfig.lexical_min_score`` /
``dense_min_score`` before fusion, so a near-zero BM25 score on a word every
note shares is never credited as "lexical #1". Offline keyphrases are cleaned:
no function word or naming verb at either end, and the words stand together in
the text.
"""

from __future__ import annotations

import pytest

from zettelmem import Memory, Settings
from zettelmem.agents.base import MemoryInput
from zettelmem.agents.offline.builder import _NAMING, OfflineNoteBuilder, clean_phrase
from zettelmem.cli._demo import QUERIES
from zettelmem.cli.jsonl import bundled_dialogue
from zettelmem.config import SearchConfig
from zettelmem.display import reason_text
from zettelmem.text import STOPWORDS

#: Session.turn of the turns that answer each demo query (top hit must be one of them).
EXPECTED_TOP = {
    "Which neighbourhood did Maya move to?": {"2.4", "3.1"},  # the lease in Fremont / "in Fremont for a month now"
    "Who is the new baker at the bakery?": {"2.11"},  # "hiring a second baker named Priya"
    "When is Jonas visiting Seattle?": {"3.10"},  # "visiting Seattle on July 20"
}


@pytest.fixture(scope="module")
def dialogue_memory(tmp_path_factory):
    mem = Memory(Settings(home=tmp_path_factory.mktemp("dialogue"), use_llm=False))
    mem.add_many([r.item for r in bundled_dialogue(speaker_prefix=True)])
    yield mem
    mem.close()


def where(hit) -> str:
    return f"{hit.note.provenance.session}.{hit.note.provenance.turn}"


def test_demo_queries_are_the_tested_ones():
    assert set(QUERIES) == set(EXPECTED_TOP)


@pytest.mark.parametrize("query", sorted(EXPECTED_TOP))
def test_demo_query_top_hit_answers_it(dialogue_memory, query):
    hits = dialogue_memory.search(query, k=3)
    assert hits and where(hits[0]) in EXPECTED_TOP[query], [(where(h), h.explain()) for h in hits]


@pytest.mark.parametrize("query", [*sorted(EXPECTED_TOP), "Where does Maya live now?", "beagle", "the and of"])
def test_no_reason_below_the_minimum_score(dialogue_memory, query):
    cfg = SearchConfig()
    for hit in dialogue_memory.search(query, k=10):
        for r in hit.why:
            if r.kind in ("lexical", "thread"):
                assert r.score >= cfg.lexical_min_score, (query, where(hit), reason_text(r))
            if r.kind == "dense":
                assert r.score >= cfg.dense_min_score, (query, where(hit), reason_text(r))


def test_a_name_every_note_shares_is_not_a_lexical_match(dialogue_memory):
    # "Maya" is in half the turns and "live" in none: a BM25 of ~0.08 was credited as "lexical #1"
    for hit in dialogue_memory.search("Where does Maya live now?", k=5):
        assert not [r for r in hit.why if r.kind in ("lexical", "thread")], (where(hit), hit.explain())


def test_minimum_scores_are_configurable(tmp_path):
    cfg = SearchConfig(lexical_min_score=0.0, dense_min_score=-1.0)
    with Memory(Settings(home=tmp_path, use_llm=False, search=cfg)) as mem:
        mem.add_many(["Maya: the pottery class is on Thursday.", "Jonas: the bakery opens at six.",
                      "Maya: I moved to Fremont.", "Jonas: rye bread sold out."])
        loose = mem.search("Maya and the weather", k=4)
    assert any(r.kind == "dense" for h in loose for r in h.why)  # nothing filtered: dense lists every note


@pytest.mark.parametrize(("text", "bad"), [
    ("I adopted a beagle called Biscuit in Porto.", {"called biscuit", "beagle called"}),
    ("Jonas: April 27 at Nong's works for me. I'll bring a loaf of rye for the road.", {"nong works"}),
    ("Jonas: Starting in May the rye goes on the weekday menu too, and I'm hiring a second baker named Priya.",
     {"named priya", "baker named"}),
])
def test_keyphrases_read_cleanly(text, bad):
    draft = OfflineNoteBuilder().build_one(MemoryInput(content=text))
    assert not {k.lower() for k in draft.keywords} & bad, draft.keywords
    assert not any(b in draft.context.lower() for b in bad), draft.context
    assert draft.keywords


def test_every_dialogue_keyphrase_is_clean():
    builder = OfflineNoteBuilder()
    for rec in bundled_dialogue(speaker_prefix=True):
        body = rec.item["content"]
        for kw in builder.build_one(MemoryInput(content=body)).keywords:
            words = kw.lower().split()
            for edge in (words[0], words[-1]):
                assert edge not in STOPWORDS and edge not in _NAMING, (kw, body)
            assert clean_phrase(kw, body) == kw, (kw, body)  # the words stand together in the text


def test_a_scope_of_a_few_notes_keeps_every_match(tmp_path):
    """Among a handful of notes BM25 gives every word a near-zero IDF: the floors wait for min_score_notes."""
    with Memory(Settings(home=tmp_path, use_llm=False)) as mem:
        mem.add("a memory that must survive every bad call", tags=["drop table"])
        assert mem.search("DROP TABLE")  # a one-note scope: the note is still found
