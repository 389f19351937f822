"""The Memory API end to end on the embedded default (NetworkX + local Chroma + ONNX)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zettelmem import Filter, Memory, MemoryType, NoteNotFound, Provenance, Relation, Scope, Settings
from zettelmem.errors import ChangeNotFound, ConflictError, LinkNotFound

ALICE = Scope(user_id="alice")


@pytest.fixture
def mem(tmp_path):
    m = Memory(Settings(home=tmp_path / "home"))
    yield m
    m.close()


def turns():
    t0 = datetime(2024, 3, 2, 18, 0, tzinfo=UTC)
    lines = [
        ("Alice", "I just adopted a beagle puppy named Biscuit from the shelter in Porto."),
        ("Bob", "Congratulations! How is Biscuit settling in?"),
        ("Alice", "Biscuit chewed my running shoes, but the beagle loves long walks by the river."),
        ("Bob", "My sister Clara is a vet in Porto, she could check Biscuit."),
    ]
    return [
        dict(content=text, event_time=t0 + timedelta(minutes=i),
             provenance=Provenance(session="1", turn=i + 1, speaker=who))
        for i, (who, text) in enumerate(lines)
    ]


def test_add_builds_links_and_evolves(mem):
    results = mem.add_many(turns(), scope=ALICE)
    assert len(results) == 4
    first = results[0].note
    assert first.keywords and first.tags and first.context
    assert first.built_by.kind == "offline"
    assert first.provenance.speaker == "Alice"
    assert first.event_time == datetime(2024, 3, 2, 18, 0, tzinfo=UTC)
    # the reply to Bob's question is linked as an answer to it
    rels = {(lk.relation, lk.target) for lk in results[2].links}
    assert (Relation.ANSWERS, results[1].note.id) in rels
    # every link has a weight and a rationale
    assert all(lk.rationale and 0 < lk.weight <= 1 for r in results for lk in r.links)
    # evolution rewrote at least one earlier note, versioned and explained
    changes = [c for r in results for c in r.changes]
    assert changes, "expected an evolution step"
    c = changes[0]
    note = mem.get(c.note_id, ALICE)
    assert note.version >= 2 and c.version_after == c.version_before + 1
    assert c.trigger and c.rationale and set(c.after) <= {"keywords", "tags", "context", "memory_type"}
    assert mem.history(c.note_id, ALICE)[0].id == c.id


def test_search_explains_every_hit(mem):
    mem.add_many(turns(), scope=ALICE)
    hits = mem.search("Which vet could check the puppy?", scope=ALICE, k=4)
    assert hits and all(h.why for h in hits)
    assert any("vet" in h.note.content for h in hits[:2])
    kinds = {r.kind for h in hits for r in h.why}
    assert {"dense", "lexical"} <= kinds
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_graph_expansion_reaches_linked_note(mem):
    res = mem.add_many(turns(), scope=ALICE)
    hits = mem.search("How is the puppy settling in?", scope=ALICE, k=4)
    graph_hits = [h for h in hits if any(r.kind == "graph" for r in h.why)]
    assert graph_hits
    r = next(r for h in graph_hits for r in h.why if r.kind == "graph")
    assert r.via in {x.note.id for x in res} and r.relation is not None


def test_scopes_never_leak(mem):
    mem.add("the launch code is 1234", scope=Scope(user_id="foo"))
    mem.add("grocery list: apples", scope=Scope(user_id="foobar"))
    hits = mem.search("launch code", scope=Scope(user_id="foobar"), k=10)
    assert all(h.note.scope.user_id == "foobar" for h in hits)
    assert not any("1234" in h.note.content for h in hits)
    foo_note = mem.list(Scope(user_id="foo"))[0]
    with pytest.raises(NoteNotFound):
        mem.get(foo_note.id, Scope(user_id="foobar"))
    with pytest.raises(NoteNotFound):
        mem.delete(foo_note.id, Scope(user_id="foobar"))
    assert mem.get(foo_note.id, Scope(user_id="foo")).content == "the launch code is 1234"


def test_update_history_revert_and_as_of(mem):
    note = mem.add("Bob works as a baker in Lyon.", scope=ALICE).note
    before = datetime.now(UTC)
    change = mem.update(note.id, ALICE, tags=["job", "bakery"], context="Bob's job.")
    assert change.version_after == 2 and change.after["tags"] == ["job", "bakery"]
    assert mem.get(note.id, ALICE).tags == ["job", "bakery"]
    old = mem.get(note.id, ALICE, as_of=before)
    assert old.version == 1 and old.tags == note.tags and old.context == note.context
    rev = mem.revert(change.id, ALICE)
    now = mem.get(note.id, ALICE)
    assert rev.kind == "revert" and rev.reverts == change.id
    assert now.version == 3 and now.tags == note.tags and now.context == note.context
    assert [c.kind for c in mem.history(note.id, ALICE)] == ["update", "revert"]
    with pytest.raises(ConflictError):
        mem.update(note.id, ALICE, expected_version=1, tags=["x"])
    with pytest.raises(ChangeNotFound):
        mem.revert("nope", ALICE)
    with pytest.raises(NoteNotFound):
        mem.get(note.id, ALICE, as_of=before - timedelta(days=1))
    assert mem.check().ok  # the vector followed every version


def test_delete_cleans_both_stores_and_links(mem):
    res = mem.add_many(turns(), scope=ALICE)
    victim = res[1].note.id
    assert mem.links(victim, ALICE)
    assert mem.delete(victim, ALICE) == 1
    with pytest.raises(NoteNotFound):
        mem.get(victim, ALICE)
    for r in res:
        if r.note.id != victim:
            assert all(victim not in (lk.source, lk.target) for lk in mem.links(r.note.id, ALICE))
    assert all(h.note.id != victim for h in mem.search("How is Biscuit settling in?", scope=ALICE))
    report = mem.check()
    assert report.ok and report.notes == report.vectors == 3


def test_manual_link_unlink(mem):
    a = mem.add("Paris trip in May", scope=ALICE).note
    b = mem.add("Booked the Louvre tickets", scope=ALICE).note
    lk = mem.link(a.id, b.id, ALICE, relation="supports", weight=0.9)
    assert lk.relation == Relation.SUPPORTS
    assert any(x.relation == Relation.SUPPORTS for x in mem.links(a.id, ALICE))
    assert mem.unlink(a.id, b.id, ALICE, relation="supports") == 1
    with pytest.raises(LinkNotFound):
        mem.unlink(a.id, b.id, ALICE, relation="supports")
    with pytest.raises(NoteNotFound):
        mem.link(a.id, "missing", ALICE)


def test_filters_in_search(mem):
    mem.add("How to make bread: first, mix flour and water.", scope=ALICE)
    mem.add("Yesterday I baked bread with my daughter.", scope=ALICE,
            event_time=datetime(2023, 5, 1, tzinfo=UTC))
    proc = mem.search("bread", scope=ALICE, where=Filter(memory_types=(MemoryType.PROCEDURAL,)))
    assert proc and all(h.note.memory_type == MemoryType.PROCEDURAL for h in proc)
    old = mem.search("bread", scope=ALICE, where=Filter(until=datetime(2023, 12, 31, tzinfo=UTC)))
    assert [h.note.content[:9] for h in old] == ["Yesterday"]


def test_explicit_evolve_pass(mem):
    a = mem.add("Alice plays the cello in the city orchestra.", scope=ALICE).note
    b = mem.add("Orchestra rehearsal moved to Thursday, cello section first.", scope=ALICE, evolve=False).note
    results = mem.evolve([b.id], ALICE)
    assert all(c.trigger == b.id for r in results for c in r.changes)
    with pytest.raises(NoteNotFound):
        mem.evolve(["missing"], ALICE)
    assert mem.get(a.id, ALICE).version >= 1


def test_reopen_keeps_everything(tmp_path):
    home = tmp_path / "h"
    with Memory(Settings(home=home)) as m:
        ids = [r.note.id for r in m.add_many(turns(), scope=ALICE)]
        links = {lk.key for i in ids for lk in m.links(i, ALICE)}
    with Memory(Settings(home=home)) as m:
        assert {n.id for n in m.list(ALICE)} == set(ids)
        assert {lk.key for i in ids for lk in m.links(i, ALICE)} == links
        assert m.check().ok
        assert m.stats()["notes"] == 4


def test_two_writers_at_once_lose_nothing(mem):
    import threading

    errors = []

    def writer(tag: str) -> None:
        try:
            for i in range(15):
                mem.add(f"{tag} note {i} about topic {i % 4}", scope=ALICE)
        except Exception as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    contents = {n.content for n in mem.list(ALICE)}
    assert len(contents) == 30
    assert mem.check().ok


def test_check_one_scope(mem):
    mem.add("alpha note", scope=Scope(user_id="a"))
    mem.add("beta note", scope=Scope(user_id="b"))
    report = mem.check(scope=Scope(user_id="a"))
    assert report.ok and report.notes == report.vectors == 1
    assert mem.check().notes == 2
