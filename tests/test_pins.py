"""A user edit pins the fields it set against later automatic evolution (until unpinned)."""

from __future__ import annotations

import pytest

from zettelmem import Memory, Scope, Settings

ME = Scope(user_id="pins")
FIRST = "I adopted a beagle called Biscuit in Porto."
MORE = ["Biscuit the beagle chased seagulls on the beach in Porto today.",
        "Porto's riverside is where I walk Biscuit the beagle every morning.",
        "My sister Clara is a vet in Porto; she checked Biscuit the beagle."]


@pytest.fixture
def mem(tmp_path):
    with Memory(Settings(home=tmp_path, use_llm=False)) as m:
        yield m


def tag_changes(mem, note_id):
    return [c for c in mem.history(note_id, ME) if "tags" in c.after and c.kind == "evolve"]


def test_evolution_rewrites_tags_without_a_pin(mem):
    """The control: the same notes do evolve the first note's tags when nothing is pinned."""
    first = mem.add(FIRST, scope=ME).note
    mem.update(first.id, ME, tags=["pets"])
    mem.unpin(first.id, ME)
    mem.add_many(MORE, scope=ME)
    mem.evolve(scope=ME)
    assert tag_changes(mem, first.id), mem.history(first.id, ME)
    assert mem.get(first.id, ME).tags != ["pets"]


def test_user_edit_is_pinned_against_evolution(mem):
    first = mem.add(FIRST, scope=ME).note
    change = mem.update(first.id, ME, tags=["pets"])
    assert mem.get(first.id, ME).pinned == ["tags"]
    assert change.kind == "update"
    mem.add_many(MORE, scope=ME)
    mem.evolve(scope=ME)
    note = mem.get(first.id, ME)
    assert note.tags == ["pets"]  # what the user set stays
    assert not tag_changes(mem, first.id)
    refused = [c for c in mem.history(first.id, ME) if c.kind == "rejected" and "pinned" in c.rationale]
    assert refused, "the refused proposals are audited with the reason"
    # other fields still evolve, and unpinning lets evolution change the tags again
    mem.unpin(first.id, ME, ["tags"])
    assert mem.get(first.id, ME).pinned == []
    mem.add("Biscuit the beagle and I moved from Porto to a flat near the beach.", scope=ME)
    mem.evolve(scope=ME)
    assert tag_changes(mem, first.id)


def test_pins_survive_reopening(tmp_path):
    with Memory(Settings(home=tmp_path, use_llm=False)) as m:
        nid = m.add(FIRST, scope=ME).note.id
        m.update(nid, ME, tags=["pets"], context="Biscuit, my dog.")
    with Memory(Settings(home=tmp_path, use_llm=False)) as m:
        assert m.get(nid, ME).pinned == ["context", "tags"]
        m.unpin(nid, ME)
        assert m.get(nid, ME).pinned == []
