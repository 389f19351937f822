"""check and repair: salvage of unreadable records, shared servers, interrupted migrations (items 6, 9, 10)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zettelmem import Memory, Scope, Settings, StoreCorrupt
from zettelmem.cli.app import app
from zettelmem.config import ChromaServerConfig, HashingEmbeddingConfig
from zettelmem.migrate import migrate_store
from zettelmem.stores.salvage import quarantined, salvage
from zettelmem.testing import drop_chroma_index, purge_neo4j

S = Scope(user_id="chk")


def _settings(home: Path, **kw: Any) -> Settings:
    return Settings(home=home, embedding=HashingEmbeddingConfig(dims=64), use_llm=False, **kw)


def _make(home: Path, n: int = 6, scope: Scope = S, **kw: Any) -> list[str]:
    with Memory(_settings(home, **kw)) as m:
        return [r.note.id for r in m.add_many([f"note {i} about the heron at the pond" for i in range(n)],
                                              scope=scope)]


def _cli(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--home", str(home), "--offline", "--user", S.user_id, *args])


@pytest.fixture(autouse=True)
def _hashing(monkeypatch: pytest.MonkeyPatch) -> None:  # the CLI opens the store with these settings
    monkeypatch.delenv("ZETTELMEM_HOME", raising=False)
    monkeypatch.setenv("ZETTELMEM_EMBEDDING__PROVIDER", "hashing")
    monkeypatch.setenv("ZETTELMEM_EMBEDDING__DIMS", "64")


# -- item 6: salvage ------------------------------------------------------------------------------


def test_one_unreadable_note_is_quarantined_and_the_rest_comes_back(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ids = _make(home)
    con = sqlite3.connect(home / "graph.sqlite")
    con.execute("UPDATE notes SET data = '{broken' WHERE id = ?", (ids[2],))
    con.commit()
    con.close()
    with pytest.raises(StoreCorrupt, match="unreadable record"), Memory(_settings(home)) as m:
        m.list(S)  # refused on open, or when read
    res = _cli(home, "check", "--repair", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [q["key"] for q in out["quarantined"] if q["kind"] == "note"] == [ids[2]]
    assert all(ids[2] in q["key"] or q["kind"] == "change" for q in out["quarantined"])  # its links went too
    assert out["orphan_vectors"] == [ids[2]] and out["repaired"] >= 1
    with Memory(_settings(home)) as m:
        assert sorted(n.id for n in m.list(S)) == sorted(set(ids) - {ids[2]})
        assert all(lk.source != ids[2] and lk.target != ids[2]
                   for lk in m.aio.graph.get_links(S, [i for i in ids if i != ids[2]]))
        assert m.search("heron", S, k=3)
        assert m.check().ok
    kept = quarantined(home / "graph.sqlite")  # kept, not deleted
    assert [q.key for q in kept if q.kind == "note"] == [ids[2]]


def test_a_dangling_link_row_is_quarantined(tmp_path: Path) -> None:
    home = tmp_path / "h"
    ids = _make(home, 3)
    con = sqlite3.connect(home / "graph.sqlite")
    data = json.dumps({"source": ids[0], "target": "gone", "relation": "supports", "weight": 0.5})
    con.execute("INSERT INTO links VALUES (?, 'gone', 'supports', ?, ?)", (ids[0], S.key, data))
    con.commit()
    con.close()
    report = salvage(home / "graph.sqlite")
    assert [(q.kind, q.reason.split(":")[0]) for q in report.quarantined] == [("link", "dangling")]
    assert report.notes == 3
    with Memory(_settings(home)) as m:
        assert len(m.list(S)) == 3 and m.check().ok
    assert salvage(home / "graph.sqlite").clean  # idempotent


def test_salvage_refuses_a_store_in_use(tmp_path: Path) -> None:
    from zettelmem import StoreLocked

    home = tmp_path / "h"
    _make(home, 1)
    with Memory(_settings(home)), pytest.raises(StoreLocked):
        salvage(home / "graph.sqlite")


# -- item 9: check keeps to this home's data on shared servers -------------------------------------


@pytest.mark.neo4j
def test_whole_store_check_on_a_shared_neo4j_sees_only_this_homes_scopes(
        tmp_path: Path, neo4j_store: Any, neo4j_config: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    mine, theirs = Scope(user_id=f"chk-{tag}-a"), Scope(user_id=f"chk-{tag}-b")
    try:
        _make(tmp_path / "a", 4, mine, graph=neo4j_config)
        _make(tmp_path / "b", 5, theirs, graph=neo4j_config)  # another home, same server, own vectors
        with Memory(_settings(tmp_path / "a", graph=neo4j_config)) as m:
            report = m.check()
            assert report.ok, report
            assert report.notes == 4 and report.vectors == 4
            assert m.check(repair=True).repaired == 0
            assert m.stats()["vectors"] == 4  # did not embed the other home's notes
            assert m.check(scope=theirs).missing_vectors  # asked for explicitly, it is reported
    finally:
        purge_neo4j(neo4j_store, [mine, theirs], tag)


@pytest.mark.neo4j
def test_repair_on_a_shared_chroma_server_never_deletes_another_homes_vectors(
        tmp_path: Path, chroma_server: tuple[str, int]) -> None:
    import chromadb

    host, port = chroma_server
    collection = f"zmt-{uuid.uuid4().hex[:12]}"
    shared = ChromaServerConfig(host=host, port=port, collection=collection)
    try:
        _make(tmp_path / "a", 3, Scope(user_id="home-a"), vectors=shared)
        _make(tmp_path / "b", 4, Scope(user_id="home-b"), vectors=shared)
        with Memory(_settings(tmp_path / "a", vectors=shared)) as m:
            report = m.check(repair=True)
            assert report.ok and report.repaired == 0 and report.notes == 3
        with Memory(_settings(tmp_path / "b", vectors=shared)) as m:
            assert m.check().ok and m.check().notes == 4
    finally:
        drop_chroma_index(chromadb.HttpClient(host=host, port=port), collection)


def test_cli_check_scope_checks_only_that_scope(tmp_path: Path) -> None:
    home = tmp_path / "h"
    _make(home, 2)
    _make(home, 3, Scope(user_id="other"))
    out = json.loads(_cli(home, "check", "--scope", "--json").stdout)
    assert out["scopes"] == 1 and out["notes"] == 2 and out["ok"]
    out = json.loads(_cli(home, "check", "--json").stdout)
    assert out["scopes"] == 2 and out["notes"] == 5


# -- item 10: an interrupted migrate is visible to check ------------------------------------------


class _Stop(Exception):
    pass


def test_check_sees_an_interrupted_migration(tmp_path: Path) -> None:
    _make(tmp_path / "src", 5)
    source, target = _settings(tmp_path / "src"), _settings(tmp_path / "dst")

    def stop_at_links(stage: str, done: int, total: int) -> None:
        if stage == "links":
            raise _Stop

    with pytest.raises(_Stop):
        migrate_store(source, target, progress=stop_at_links)
    with Memory(target) as m:
        report = m.check()
        assert not report.ok and report.interrupted_migration
        assert str(tmp_path / "src") in report.interrupted_migration
    res = _cli(tmp_path / "dst", "check")
    assert res.exit_code == 1 and "interrupted migrate" in res.stdout
    assert migrate_store(source, target).ok  # finishing it clears the marker
    with Memory(target) as m:
        report = m.check()
        assert report.ok and report.interrupted_migration is None and report.notes == 5
