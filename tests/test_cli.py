"""The ``zettelmem`` CLI through typer's CliRunner, plus one real ``python -m zettelmem demo`` run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from typer.testing import CliRunner

from zettelmem import Memory, Settings
from zettelmem.cli.app import app

ROOT = Path(__file__).resolve().parents[1]

LINES = [
    {"content": "I adopted a beagle puppy named Biscuit from the shelter in Porto.", "speaker": "Ana",
     "session": "1", "turn": 1, "time": "2024-03-02T18:00:00", "tags": ["pets"]},
    {"content": "How is Biscuit settling in?", "speaker": "Ben", "session": "1", "turn": 2,
     "time": "2024-03-02T18:01:00"},
    {"content": "Biscuit the beagle chewed my running shoes but loves long walks by the river in Porto.",
     "speaker": "Ana", "session": "1", "turn": 3, "time": "2024-03-02T18:02:00", "metadata": {"mood": "amused"}},
    {"content": "My sister Clara is a vet in Porto; she could check Biscuit and the puppy's shoes habit.",
     "speaker": "Ben", "session": "1", "turn": 4, "time": "2024-03-02T18:03:00"},
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def home(tmp_path: Path, runner, monkeypatch) -> Path:
    """A home with the four lines ingested."""
    monkeypatch.delenv("ZETTELMEM_HOME", raising=False)
    home = tmp_path / "home"
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in LINES) + "\n", encoding="utf-8")
    res = runner.invoke(app, ["--home", str(home), "--offline", "ingest", str(src), "--speaker-prefix"])
    assert res.exit_code == 0, res.output
    return home


def run(runner: CliRunner, home: Path, *args: str, input: str | None = None):
    return runner.invoke(app, ["--home", str(home), "--offline", *args], input=input)


def ok_json(runner: CliRunner, home: Path, *args: str):
    res = run(runner, home, *args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def assert_refused(res, code: int, needle: str) -> None:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), res.stderr
    assert needle in err[0], err[0]


# -- help and ingest ---------------------------------------------------------------------------


def test_help_lists_every_command(runner):
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("add", "ingest", "search", "show", "history", "revert", "evolve", "link", "unlink",
                "export", "stats", "check", "demo", "delete"):
        assert re.search(rf"\b{cmd}\b", res.output), cmd
    for opt in ("--home", "--user", "--agent", "--namespace", "--json"):
        assert opt in res.output


def test_ingest_reports_and_stores(runner, home):
    stats = ok_json(runner, home, "stats")
    assert stats["notes"] == 4 and stats["links"] >= 3
    assert stats["llm"].get("calls", 0) == 0  # offline agents
    hits = ok_json(runner, home, "search", "beagle Biscuit", "-k", "4")
    first = next(h for h in hits if h["note"]["provenance"]["turn"] == 1)
    assert "pets" in first["note"]["tags"]  # tags given in the file were added
    assert first["note"]["content"].startswith("Ana: ")  # --speaker-prefix
    third = next(h for h in hits if h["note"]["provenance"]["turn"] == 3)
    assert third["note"]["metadata"] == {"mood": "amused"}


def test_ingest_json_summary_and_progress(runner, tmp_path):
    src = tmp_path / "x.jsonl"
    src.write_text("# a comment\n\n" + json.dumps({"content": "Lisbon trams are yellow."}) + "\n")
    res = runner.invoke(app, ["--home", str(tmp_path / "h"), "--offline", "ingest", str(src), "--json",
                              "--batch-size", "1"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["notes"] == 1 and len(summary["ids"]) == 1
    assert "ingesting x.jsonl" in res.stderr  # the progress bar goes to stderr


def test_bad_jsonl_is_refused_before_any_write(runner, tmp_path):
    home = tmp_path / "h"
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps({"content": "fine"}) + "\n" + json.dumps({"content": "ok", "turn": 2}) + "\n"
                   + "{not json\n", encoding="utf-8")
    assert_refused(run(runner, home, "ingest", str(src)), 2, "line 3")
    src.write_text(json.dumps({"content": "x", "contnet": "typo"}) + "\n")
    assert_refused(run(runner, home, "ingest", str(src)), 2, "unknown key(s) contnet")
    src.write_text(json.dumps({"content": "x", "time": "yesterday"}) + "\n")
    assert_refused(run(runner, home, "ingest", str(src)), 2, "ISO 8601")
    src.write_text(json.dumps({"content": "   "}) + "\n")
    assert_refused(run(runner, home, "ingest", str(src)), 2, "content")
    assert_refused(run(runner, home, "ingest", str(tmp_path / "missing.jsonl")), 2, "no such file")
    assert not (home / "graph.sqlite").exists()  # nothing written, not even an empty store
    assert_refused(run(runner, home, "stats"), 2, "no memory at")


# -- add, search, show -----------------------------------------------------------------------------


def test_add_shows_note_links_and_evolution(runner, home):
    res = run(runner, home, "add", "Clara the vet says Biscuit the beagle is healthy.", "--speaker", "Ben",
              "--tag", "health", "--time", "2024-03-03T09:00")
    assert res.exit_code == 0, res.output
    assert "Clara the vet" in res.stdout and "links made" in res.stdout and "health" in res.stdout
    data = ok_json(runner, home, "add", "Porto has a river walk.")
    assert data["note"]["content"] == "Porto has a river walk." and "links" in data and "changes" in data


def test_rich_markup_in_content_is_printed_literally(runner, home):
    res = run(runner, home, "add", "[bold red]not markup[/] and [link=x]y[/link]")
    assert res.exit_code == 0, res.output
    assert "[bold red]not markup[/]" in res.stdout


def test_search_table_explains_hits(runner, home):
    res = run(runner, home, "search", "Who is the vet?")
    assert res.exit_code == 0, res.output
    assert "Clara" in res.stdout and "dense #" in res.stdout and "score" in res.stdout
    hits = ok_json(runner, home, "search", "Who is the vet?", "--type", "episodic", "--type", "semantic",
                   "--type", "core")
    assert hits and all(h["why"] and h["explain"] for h in hits)
    assert ok_json(runner, home, "search", "beagle", "--tag", "no-such-tag") == []
    assert_refused(run(runner, home, "search", "beagle", "--since", "last week"), 2, "ISO 8601")
    assert_refused(run(runner, home, "search", "   "), 2, "query is empty")


def test_show_by_prefix_and_unknown_ids(runner, home):
    hits = ok_json(runner, home, "search", "running shoes", "-k", "1")
    nid = hits[0]["note"]["id"]
    res = run(runner, home, "show", nid[:8])
    assert res.exit_code == 0, res.output
    assert "running shoes" in res.stdout and "links (" in res.stdout and "versions:" in res.stdout
    shown = ok_json(runner, home, "show", nid)
    assert shown["note"]["id"] == nid and isinstance(shown["links"], list) and isinstance(shown["history"], list)
    assert_refused(run(runner, home, "show", "0000000000"), 2, "no note")
    assert_refused(run(runner, home, "--user", "someone-else", "show", nid), 2, "no note")


# -- history, revert, evolve ---------------------------------------------------------------------


def _evolved_note(runner, home) -> tuple[str, list[dict[str, Any]]]:
    for hit in ok_json(runner, home, "search", "Biscuit beagle Porto shoes vet", "-k", "10"):
        changes = ok_json(runner, home, "history", hit["note"]["id"])
        if any(c["kind"] == "evolve" for c in changes):
            return hit["note"]["id"], changes
    pytest.fail("the ingest evolved no note")


def test_history_diff_and_revert(runner, home):
    nid, changes = _evolved_note(runner, home)
    res = run(runner, home, "history", nid)
    assert res.exit_code == 0, res.output
    assert "v1 → v2" in res.stdout and "+ " in res.stdout and "trigger:" in res.stdout
    change = next(c for c in changes if c["kind"] == "evolve")
    before = ok_json(runner, home, "show", nid)["note"]
    reverted = ok_json(runner, home, "revert", change["id"])
    assert reverted["kind"] == "revert" and reverted["reverts"] == change["id"]
    after = ok_json(runner, home, "show", nid)["note"]
    assert after["version"] == before["version"] + 1
    for field, value in change["before"].items():
        assert after[field] == value
    assert_refused(run(runner, home, "revert", "no-such-change"), 2, "no change")


def test_evolve_pass(runner, home):
    res = run(runner, home, "evolve")
    assert res.exit_code == 0, res.output
    assert "notes evolved" in res.stdout
    assert isinstance(ok_json(runner, home, "evolve"), list)
    assert_refused(run(runner, home, "evolve", "ffffffffffff"), 2, "no note")


def test_consolidate_pass(runner, home):
    first = ok_json(runner, home, "consolidate")
    assert set(first) == {"created", "extended", "grouped", "changes", "demoted"}
    again = ok_json(runner, home, "consolidate")  # idempotent: every note already placed or alone
    assert again["created"] == [] and again["grouped"] == 0
    res = run(runner, home, "consolidate")
    assert res.exit_code == 0 and "topic notes created" in res.stdout
    assert_refused(run(runner, home, "consolidate", "ffffffffffff"), 2, "no note")


# -- links, delete ----------------------------------------------------------------------------------


def test_link_and_unlink(runner, home):
    hits = ok_json(runner, home, "search", "Biscuit", "-k", "4")
    a, b = hits[0]["note"]["id"], hits[-1]["note"]["id"]
    res = run(runner, home, "link", a[:8], b[:8], "--relation", "supports", "--weight", "0.9",
              "--rationale", "user says so")
    assert res.exit_code == 0, res.output
    assert "supports 0.90" in res.stdout
    links = ok_json(runner, home, "show", a)["links"]
    assert any(lk["relation"] == "supports" and lk["target"] == b and lk["rationale"] == "user says so"
               for lk in links)
    assert ok_json(runner, home, "unlink", a, b, "--relation", "supports") == {"removed": 1}
    assert_refused(run(runner, home, "unlink", a, b, "--relation", "supports"), 2, "no link")
    res = run(runner, home, "link", a, b, "--relation", "bogus")
    assert res.exit_code == 2  # click's own usage error
    assert_refused(run(runner, home, "link", a, a), 2, "itself")


def test_delete_asks_first(runner, home):
    nid = ok_json(runner, home, "search", "river", "-k", "1")[0]["note"]["id"]
    res = run(runner, home, "delete", nid, input="n\n")
    assert res.exit_code == 1 and "nothing deleted" in res.stderr
    assert ok_json(runner, home, "stats")["notes"] == 4
    assert ok_json(runner, home, "delete", nid, "--yes") == {"deleted": 1, "ids": [nid]}
    assert ok_json(runner, home, "stats")["notes"] == 3
    assert_refused(run(runner, home, "delete", nid, "--yes"), 2, "no note")


# -- export, stats, check ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,suffix", [("graphml", "graphml"), ("gexf", "gexf"), ("json", "json"),
                                         ("cytoscape", "cyjs"), ("mermaid", "mmd"), ("dot", "dot"),
                                         ("html", "html")])
def test_export_every_format(runner, home, tmp_path, fmt, suffix):
    out = tmp_path / f"m.{suffix}"
    info = ok_json(runner, home, "export", "--format", fmt, "--out", str(out))
    assert info == {"format": fmt, "path": str(out.resolve()), "nodes": 4, "edges": info["edges"]}
    assert out.stat().st_size > 0
    if fmt == "graphml":
        assert nx.read_graphml(out).number_of_nodes() == 4
    if fmt == "json":
        assert nx.node_link_graph(json.loads(out.read_text()), edges="edges").number_of_edges() == info["edges"]


def test_export_infers_format_and_takes_a_subgraph(runner, home, tmp_path):
    nid = ok_json(runner, home, "search", "vet", "-k", "1")[0]["note"]["id"]
    out = tmp_path / "sub.graphml"
    res = run(runner, home, "export", "--out", str(out), "--note", nid[:8], "--depth", "0")
    assert res.exit_code == 0, res.output
    assert "Wrote graphml (1 notes, 0 links)" in res.stdout
    assert list(nx.read_graphml(out).nodes) == [nid]
    assert_refused(run(runner, home, "export", "--out", str(tmp_path / "m.pdf")), 2, "choose --format")
    assert_refused(run(runner, home, "export", "--out", str(tmp_path / "no" / "m.html")), 1, "does not exist")


def test_stats_show_llm_usage(runner, home):
    res = run(runner, home, "stats")
    assert res.exit_code == 0, res.output
    assert "llm calls" in res.stdout and "llm tokens" in res.stdout and "notes" in res.stdout
    data = ok_json(runner, home, "stats")
    assert "llm" in data and data["agents"] == "offline" and data["scope"] == "default/default/default"


def test_check_and_repair(runner, home):
    assert ok_json(runner, home, "check")["ok"] is True
    res = run(runner, home, "check", "--repair")
    assert res.exit_code == 0 and "ok" in res.stdout


def test_scope_options_isolate(runner, home):
    assert ok_json(runner, home, "--user", "alice", "stats")["notes"] == 0
    assert ok_json(runner, home, "--user", "alice", "add", "Alice likes tea.")["note"]["scope"]["user_id"] == "alice"
    assert ok_json(runner, home, "--user", "alice", "--namespace", "work", "search", "tea") == []
    assert ok_json(runner, home, "--user", "alice", "stats")["notes"] == 1
    assert ok_json(runner, home, "stats")["notes"] == 4


def test_home_from_environment(runner, home, monkeypatch):
    monkeypatch.setenv("ZETTELMEM_HOME", str(home))
    res = runner.invoke(app, ["--offline", "stats", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["notes"] == 4


def test_locked_store_is_one_red_line(runner, home):
    with Memory(Settings(home=home, use_llm=False)):
        assert_refused(run(runner, home, "add", "one more"), 1, "StoreLocked")
        assert_refused(run(runner, home, "add", "one more"), 1, f"pid {os.getpid()}")  # names the writer
        assert ok_json(runner, home, "stats")["notes"] == 4  # reads open read-only beside the writer


def test_demo_refuses_a_folder_in_use(runner, home):
    assert_refused(runner.invoke(app, ["demo", "--home", str(home)]), 2, "not empty")


# -- the bundled dialogue ------------------------------------------------------------------------


def test_bundled_dialogue_shape():
    from importlib.resources import files

    lines = [json.loads(x) for x in files("zettelmem.data").joinpath("dialogue.jsonl").read_text().splitlines()]
    assert 30 <= len(lines) <= 45
    assert {x["session"] for x in lines} == {"1", "2", "3"} and {x["speaker"] for x in lines} == {"Maya", "Jonas"}
    for x in lines:
        assert set(x) <= {"content", "speaker", "session", "turn", "time", "metadata"}
        assert datetime.fromisoformat(x["time"]).year == 2024
        assert isinstance(x["turn"], int) and x["content"].strip()
    text = " ".join(x["content"] for x in lines)
    assert "Portland" in text and "Seattle" in text and "?" in text  # a move, and questions


def test_bundled_dialogue_evolves_offline(tmp_path):
    """Later turns evolve earlier, linked turns; at least one adds words the older turn's own text holds."""
    from zettelmem.cli.jsonl import bundled_dialogue
    from zettelmem.text import terms

    def when(note):
        return int(note.provenance.session or 0), note.provenance.turn or 0

    with Memory(Settings(home=tmp_path / "h", use_llm=False)) as mem:
        results = mem.add_many([r.item for r in bundled_dialogue()])
        notes = {n.id: n for n in mem.list()}
        changes = [c for r in results for c in r.changes]
        assert changes
        own_text = []
        for c in changes:
            target, trigger = notes[c.note_id], notes[c.trigger or ""]
            assert when(trigger) > when(target)
            assert any(lk.target == target.id for lk in mem.links(trigger.id)), "evolves only linked notes"
            added = [x for f in c.after for x in set(c.after[f]) - set(c.before[f])]
            mine, theirs = set(terms(target.content)), set(terms(trigger.content))
            assert all(set(terms(x)) <= mine | theirs for x in added)  # grounded in the two texts
            if all(set(terms(x)) <= mine for x in added):
                own_text.append(c)
        assert own_text, "no evolution surfaced words of the older turn's own text"
        assert any(when(notes[c.trigger or ""])[0] > when(notes[c.note_id])[0] for c in own_text), \
            "no such evolution crosses sessions"


# -- the real thing --------------------------------------------------------------------------------


def test_python_m_zettelmem_demo(tmp_path):
    home = tmp_path / "demo-home"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "HOME": str(tmp_path), "ZETTELMEM_HOME": str(tmp_path / "must-not-be-used"), "COLUMNS": "140"}
    for key in [k for k in env if k.startswith("ZETTELMEM_LLM")]:
        del env[key]
    proc = subprocess.run([sys.executable, "-m", "zettelmem", "demo", "--home", str(home)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    assert "notes built" in out and "links made" in out and "offline-builder" in out
    # the evolution, with its diff and rationale
    assert re.search(r"\d+ evolutions applied", out) and "one evolution" in out
    assert "evolution diff, before → after" in out and re.search(r"v\d+ → v\d+", out)
    assert re.search(r"(keywords|tags): \+ \S", out) and "rationale" in out
    # searches with their explanations
    for q in ("Which neighbourhood did Maya move to?", "Who is the new baker", "When is Jonas visiting Seattle?"):
        assert q in out
    assert "dense #" in out and "lexical #" in out and "graph: linked from" in out
    # the exports, where they were written
    export = home / "export"
    for name in ("memory.html", "memory.graphml", "memory.json"):
        assert str(export / name) in out
        assert (export / name).stat().st_size > 0
    g = nx.read_graphml(export / "memory.graphml", force_multigraph=True)
    assert g.number_of_nodes() == 39
    data = nx.node_link_graph(json.loads((export / "memory.json").read_text(encoding="utf-8")), edges="edges")
    assert data.number_of_nodes() == 39 and data.number_of_edges() == g.number_of_edges() > 39
    page = (export / "memory.html").read_text(encoding="utf-8")
    assert "Maya" in page and 'id="zm-data"' in page
    assert not (tmp_path / "must-not-be-used").exists()
    # the folder is a working memory afterwards
    res = subprocess.run([sys.executable, "-m", "zettelmem", "--home", str(home), "search", "pottery", "--json"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert any("pottery" in h["note"]["content"] for h in json.loads(res.stdout))
