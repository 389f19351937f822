"""A refused ingest stores nothing, and a rerun adds only what is missing (issue 8, items 2-4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zettelmem import Memory, Note, Scope, Settings
from zettelmem.cli.app import app


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    monkeypatch.delenv("ZETTELMEM_HOME", raising=False)
    return CliRunner()


def run(runner: CliRunner, home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), "--offline", *args])


def lines(n: int, **bad: dict[str, object]) -> str:
    rows = [{"content": f"memory {i}: the heron fishes at pond number {i}", "session": "s", "turn": i}
            for i in range(1, n + 1)]
    for where, fields in bad.items():
        rows[int(where[1:]) - 1].update(fields)
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def notes(home: Path, scope: Scope | None = None) -> list[Note]:
    with Memory(Settings(home=home)) as m:
        return m.list(scope or Scope())


def test_cli_add_with_an_empty_tag_stores_nothing(runner, tmp_path):
    home = tmp_path / "h"
    res = run(runner, home, "add", "--tag", "", "text with an empty tag")
    assert res.exit_code == 2, res.output
    assert "empty tag" in res.stderr
    assert notes(home) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tags": ["t" * 100]}, "longer than 64"),
        ({"tags": [""]}, "empty tag"),
        ({"metadata": {"k": "\\ud800"}}, "metadata"),
        ({"content": "x" * 30_000}, "limit is"),
        ({"time": "2024-13-40"}, "ISO 8601"),
        ({"memory_type": "bogus"}, "memory_type"),
    ],
)
def test_ingest_with_one_bad_line_stores_nothing(runner, tmp_path, fields, message):
    home, src = tmp_path / "h", tmp_path / "in.jsonl"
    text = lines(60, l46=fields)
    src.write_text(text.replace("\\\\ud800", "\\ud800"), encoding="utf-8")
    res = run(runner, home, "ingest", str(src))
    assert res.exit_code == 2, res.output
    assert "line 46" in res.stderr and message in res.stderr
    assert "Traceback" not in res.output
    assert notes(home) == []
    with Memory(Settings(home=home)) as m:
        assert m.stats()["vectors"] == 0 and m.check().ok


def test_rerun_adds_only_what_is_missing(runner, tmp_path):
    home, src = tmp_path / "h", tmp_path / "in.jsonl"
    src.write_text(lines(30), encoding="utf-8")
    first = json.loads(run(runner, home, "ingest", str(src), "--json").stdout)
    assert first["notes"] == 30 and first["skipped"] == 0
    again = json.loads(run(runner, home, "ingest", str(src), "--json").stdout)
    assert again["notes"] == 0 and again["skipped"] == 30
    assert len(notes(home)) == 30


def test_resume_after_a_partial_run_reports_what_it_skipped(runner, tmp_path):
    home, src = tmp_path / "h", tmp_path / "in.jsonl"
    text = lines(30)
    # an interrupted run: only the first 12 lines (the file name is the same) made it
    src.write_text("".join(text.splitlines(keepends=True)[:12]), encoding="utf-8")
    assert run(runner, home, "ingest", str(src), "--batch-size", "4").exit_code == 0
    src.write_text(text, encoding="utf-8")
    res = run(runner, home, "ingest", str(src), "--resume", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["notes"] == 18 and summary["skipped"] == 12
    assert sorted(int(n) for n in summary["skipped_lines"]) == list(range(1, 13))
    human = run(runner, home, "ingest", str(src), "--resume")
    assert "Skipped 30 lines stored by an earlier run: lines 1-30" in human.stdout
    stored = notes(home)
    assert len(stored) == 30
    assert len({n.content for n in stored}) == 30


def test_ids_are_the_keys_and_other_scopes_do_not_count(runner, tmp_path):
    home, src = tmp_path / "h", tmp_path / "in.jsonl"
    rows = [{"id": f"msg-{i}", "content": f"message {i} about otters"} for i in range(5)]
    src.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert json.loads(run(runner, home, "ingest", str(src), "--json").stdout)["notes"] == 5
    # the same ids with edited text and another file name are still the same records
    rows[0]["content"] = "message 0 about otters, edited"
    other = tmp_path / "renamed.jsonl"
    other.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert json.loads(run(runner, home, "ingest", str(other), "--json").stdout)["skipped"] == 5
    # another scope has none of them
    res = run(runner, home, "--user", "bob", "ingest", str(other), "--json")
    assert json.loads(res.stdout)["notes"] == 5
    stored = notes(home)
    assert {n.provenance.extra["ingest_key"] for n in stored} == {f"id:msg-{i}" for i in range(5)}
    assert len(notes(home, Scope(user_id="bob"))) == 5


def test_repeated_ids_are_refused_and_identical_lines_are_kept(runner, tmp_path):
    home, src = tmp_path / "h", tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "content": "a"}) + "\n" + json.dumps({"id": 1, "content": "b"}) + "\n")
    res = run(runner, home, "ingest", str(src))
    assert res.exit_code == 2 and "line 2" in res.stderr and "already used on line 1" in res.stderr
    same = json.dumps({"content": "ok"})
    src.write_text(f"{same}\n{same}\n", encoding="utf-8")
    assert json.loads(run(runner, home, "ingest", str(src), "--json").stdout)["notes"] == 2
    assert json.loads(run(runner, home, "ingest", str(src), "--json").stdout)["skipped"] == 2


def test_a_deleted_note_is_ingested_again(runner, tmp_path):
    home, src = tmp_path / "h", tmp_path / "in.jsonl"
    src.write_text(lines(3), encoding="utf-8")
    ids = json.loads(run(runner, home, "ingest", str(src), "--json").stdout)["ids"]
    assert run(runner, home, "delete", ids[0], "--yes").exit_code == 0
    again = json.loads(run(runner, home, "ingest", str(src), "--json").stdout)
    assert again["notes"] == 1 and again["skipped"] == 2


@pytest.mark.neo4j
def test_rerun_on_neo4j_adds_only_what_is_missing(tmp_path, neo4j_store, neo4j_config):
    import uuid

    from zettelmem.cli._ingest import ingest_records
    from zettelmem.cli.jsonl import parse_jsonl
    from zettelmem.config import HashingEmbeddingConfig
    from zettelmem.testing.conformance import purge_neo4j

    tag = uuid.uuid4().hex[:8]
    scope = Scope(user_id=f"ing-{tag}")
    records = parse_jsonl(lines(10), "in.jsonl")
    settings = Settings(home=tmp_path / "h", graph=neo4j_config, embedding=HashingEmbeddingConfig(dims=32))
    try:
        with Memory(settings) as m:
            first = ingest_records(m, records[:4], scope, show_progress=False)
            assert len(first.results) == 4 and not first.skipped
        with Memory(settings) as m:
            again = ingest_records(m, records, scope, show_progress=False)
            assert len(again.results) == 6 and sorted(again.skipped) == [1, 2, 3, 4]
            assert len(m.list(scope)) == 10
    finally:
        purge_neo4j(neo4j_store, [scope], tag)


def test_a_failure_part_way_names_the_lines_stored_and_a_rerun_finishes(runner, tmp_path, monkeypatch):
    from zettelmem.errors import StoreError
    from zettelmem.stores.networkx_store import NetworkXGraphStore

    home, src = tmp_path / "h", tmp_path / "in.jsonl"
    src.write_text(lines(10), encoding="utf-8")
    real = NetworkXGraphStore.abatch
    writes = {"n": 0}

    async def failing(self, ops):
        if any(type(op).__name__ == "PutNotes" for op in ops):
            writes["n"] += 1
            if writes["n"] == 3:
                raise StoreError("disk full (simulated)")
        return await real(self, ops)

    monkeypatch.setattr(NetworkXGraphStore, "abatch", failing)
    res = run(runner, home, "ingest", str(src), "--batch-size", "4", "--no-evolve")
    assert res.exit_code == 1, res.output
    assert "stored lines 1-8 before the failure" in res.stderr
    monkeypatch.setattr(NetworkXGraphStore, "abatch", real)
    assert len(notes(home)) == 8
    again = json.loads(run(runner, home, "ingest", str(src), "--json").stdout)
    assert again["notes"] == 2 and again["skipped"] == 8
