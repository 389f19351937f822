"""Graph exports: round trips through NetworkX, hostile strings, atomic writes."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from zettelmem import Memory, NoteNotFound, Provenance, Scope, Settings
from zettelmem.errors import ExportError, InvalidInput
from zettelmem.export import (
    FORMATS,
    export,
    to_cytoscape,
    to_dot,
    to_gexf,
    to_graphml,
    to_html,
    to_mermaid,
    to_networkx,
    to_node_link,
)

SCOPE = Scope(user_id="exporter")
HOSTILE = 'She said "hi" & <script>alert(1)</script></script><!-- \n second line\ttab — ünïcødé 🦫 \\ back'
CONTROL = "bell\x07 vertical\x0b formfeed\x0c carriage\r return"
HOSTILE_TAGS = ['quote"s', "<b>bold</b>", "a; b", "émoji 🦫", "x' OR 1=1 --"]


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    m = Memory(Settings(home=tmp_path_factory.mktemp("export-home"), use_llm=False))
    t0 = datetime(2024, 3, 2, 18, 0, tzinfo=UTC)
    lines = [
        ("Ana", "I moved to Lisbon in May and started a pottery class in Alfama."),
        ("Ben", "How is the pottery class in Lisbon going?"),
        ("Ana", "The pottery class is great; my teacher Rita glazes bowls in blue."),
        ("Ben", HOSTILE),
        ("Ana", CONTROL),
    ]
    results = m.add_many(
        [dict(content=text, event_time=t0 + timedelta(minutes=i),
              provenance=Provenance(session="1", turn=i + 1, speaker=who), metadata={"n": i})
         for i, (who, text) in enumerate(lines)],
        scope=SCOPE,
    )
    hostile = results[3].note
    m.update(hostile.id, SCOPE, tags=[*hostile.tags, *HOSTILE_TAGS])
    m.ids = [r.note.id for r in results]  # type: ignore[attr-defined]
    yield m
    m.close()


@pytest.fixture(scope="module")
def graph(memory):
    return to_networkx(memory, SCOPE)


def _same_node_data(original: nx.MultiDiGraph, other: nx.MultiDiGraph, *fields: str) -> None:
    assert set(other.nodes) == set(original.nodes)
    for n in original.nodes:
        for f in fields:
            assert other.nodes[n][f] == original.nodes[n][f], (n, f)


# -- the graph ---------------------------------------------------------------------------------


def test_graph_of_scope_has_every_note_and_link(memory, graph):
    assert isinstance(graph, nx.MultiDiGraph)
    assert graph.number_of_nodes() == len(memory.list(SCOPE)) == 5
    links = {lk.key for n in memory.ids for lk in memory.links(n, SCOPE)}
    assert {(u, v, k) for u, v, k in graph.edges(keys=True)} == links
    node = graph.nodes[memory.ids[3]]
    assert node["content"] == HOSTILE
    assert isinstance(node["keywords"], list) and set(HOSTILE_TAGS) <= set(node["tags"])
    assert node["speaker"] == "Ben" and node["session"] == "1" and node["turn"] == 4
    assert node["version"] == 2 and node["memory_type"] in {"episodic", "semantic", "core", "procedural", "resource"}
    assert node["metadata"] == {"n": 3}
    for _u, _v, key, data in graph.edges(keys=True, data=True):
        assert data["relation"] == key and 0.0 <= data["weight"] <= 1.0 and data["rationale"]


def test_subgraph_by_depth(memory):
    first = memory.ids[0]
    alone = to_networkx(memory, SCOPE, note_ids=[first], depth=0)
    assert list(alone.nodes) == [first] and alone.number_of_edges() == 0
    ring = to_networkx(memory, SCOPE, note_ids=[first], depth=1)
    neighbours = {lk.other(first) for lk in memory.links(first, SCOPE)}
    assert set(ring.nodes) == {first} | neighbours
    assert all(u in ring and v in ring for u, v in ring.edges())
    assert set(to_networkx(memory, SCOPE, note_ids=[first], depth=10).nodes) <= set(memory.ids)


def test_subgraph_errors(memory):
    with pytest.raises(NoteNotFound):
        to_networkx(memory, SCOPE, note_ids=["nope"])
    with pytest.raises(NoteNotFound):  # scopes never leak
        to_networkx(memory, Scope(user_id="exporte"), note_ids=[memory.ids[0]])
    with pytest.raises(InvalidInput):
        to_networkx(memory, SCOPE, note_ids=[memory.ids[0]], depth=-1)


def test_empty_scope_exports(memory, tmp_path):
    empty = to_networkx(memory, Scope(user_id="nobody"))
    assert empty.number_of_nodes() == 0
    for fmt in FORMATS:
        export(empty, fmt, tmp_path / f"empty.{fmt}")
    assert nx.read_graphml(tmp_path / "empty.graphml").number_of_nodes() == 0


# -- round trips -----------------------------------------------------------------------------


def test_graphml_round_trip(graph, tmp_path):
    path = tmp_path / "m.graphml"
    to_graphml(graph, path)
    back = nx.read_graphml(path, force_multigraph=True)
    assert isinstance(back, nx.MultiDiGraph)
    _same_node_data(graph, back, "label", "memory_type", "version", "speaker", "turn", "context")
    assert set(back.edges(keys=True)) == set(graph.edges(keys=True))
    for n, data in graph.nodes(data=True):
        b = back.nodes[n]
        assert json.loads(b["keywords_json"]) == data["keywords"]
        assert json.loads(b["tags_json"]) == data["tags"]
        assert b["tags"] == "; ".join(data["tags"])
        assert json.loads(b["metadata_json"]) == data["metadata"]
        exact = json.loads(b["content_json"]) if "content_json" in b else b["content"]
        assert exact == data["content"]
    hostile = next(n for n, d in graph.nodes(data=True) if d["content"] == HOSTILE)
    assert back.nodes[hostile]["content"] == HOSTILE  # quotes, markup, newline, tab, unicode as is
    ctrl = next(n for n, d in graph.nodes(data=True) if d["content"] == CONTROL)
    assert "\x07" not in back.nodes[ctrl]["content"] and "\ufffd" in back.nodes[ctrl]["content"]
    for u, v, k, d in graph.edges(keys=True, data=True):
        assert back.edges[u, v, k]["weight"] == pytest.approx(d["weight"])
        assert back.edges[u, v, k]["rationale"] == d["rationale"]


def test_gexf_round_trip(graph, tmp_path):
    path = tmp_path / "m.gexf"
    to_gexf(graph, path)
    back = nx.read_gexf(path)
    assert back.is_directed()  # a MultiDiGraph only when two notes share several relations
    _same_node_data(graph, back, "label", "memory_type", "version", "context")
    for n, data in graph.nodes(data=True):
        assert json.loads(back.nodes[n]["tags_json"]) == data["tags"]
        b = back.nodes[n]
        assert (json.loads(b["content_json"]) if "content_json" in b else b["content"]) == data["content"]
    got = sorted((u, v, d["relation"], round(d["weight"], 6)) for u, v, d in back.edges(data=True))
    want = sorted((u, v, k, round(d["weight"], 6)) for u, v, k, d in graph.edges(keys=True, data=True))
    assert got == want


def test_node_link_round_trip_is_exact(graph, tmp_path):
    path = tmp_path / "m.json"
    to_node_link(graph, path)
    back = nx.node_link_graph(json.loads(path.read_text(encoding="utf-8")), edges="edges")
    assert isinstance(back, nx.MultiDiGraph)
    assert dict(back.nodes(data=True)) == dict(graph.nodes(data=True))
    assert sorted(back.edges(keys=True, data=True), key=str) == sorted(graph.edges(keys=True, data=True), key=str)
    assert back.graph == graph.graph


def test_cytoscape_json(graph, tmp_path):
    path = tmp_path / "m.cyjs"
    to_cytoscape(graph, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data["data"], dict) and data["directed"] and data["multigraph"]
    nodes, edges = data["elements"]["nodes"], data["elements"]["edges"]
    assert {n["data"]["id"] for n in nodes} == set(graph.nodes)
    assert len({e["data"]["id"] for e in edges}) == len(edges) == graph.number_of_edges()
    back = nx.cytoscape_graph(data, name="label")
    assert set(back.nodes) == set(graph.nodes)
    assert {(u, v, k) for u, v, k in back.edges(keys=True)} == set(graph.edges(keys=True))
    hostile = next(n for n in nodes if n["data"]["content"] == HOSTILE)
    assert set(HOSTILE_TAGS) <= set(hostile["data"]["tags"])


# -- text formats and hostile strings --------------------------------------------------------


def test_mermaid_escapes_labels(graph, tmp_path):
    path = tmp_path / "m.mmd"
    to_mermaid(graph, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("flowchart LR\n")
    node_lines = [ln for ln in text.splitlines() if re.match(r"\s+n\d+\[", ln)]
    assert len(node_lines) == graph.number_of_nodes()
    for ln in node_lines:  # exactly one quoted label per node, nothing raw inside
        label = re.fullmatch(r'\s+n\d+\["(.*)"\]:::\w+', ln)
        assert label, ln
        assert not set('"<>`\n') & set(label.group(1))
    assert "<script" not in text
    assert text.count(" -->|") == graph.number_of_edges()


def _dot_strings_balanced(text: str) -> bool:
    i, inside = 0, False
    while i < len(text):
        c = text[i]
        if inside and c == "\\":
            i += 2
            continue
        if c == '"':
            inside = not inside
        elif inside and c == "\n":
            return False
        i += 1
    return not inside


def test_dot_quotes_everything(graph, tmp_path):
    path = tmp_path / "m.dot"
    to_dot(graph, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert _dot_strings_balanced(text)
    assert text.count(" -> ") == graph.number_of_edges()
    for n in graph.nodes:
        assert f'"{n}" [label=' in text


def _embedded_data(page: str) -> dict[str, Any]:
    m = re.search(r'<script id="zm-data" type="application/json">(.*?)</script>', page, re.S)
    assert m
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def test_html_is_standalone_and_escapes_hostile_strings(graph, tmp_path):
    path = tmp_path / "m.html"
    to_html(graph, path, title='Title <img src=x onerror=alert(1)> "q"')
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    # one file, no network: no external scripts, styles, images, fonts or fetches
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert not re.search(r"<link\b|@import|fetch\(|XMLHttpRequest|url\(\s*['\"]?http", page, re.I)
    assert {u for u in re.findall(r"https?://[^\s\"'<>]+", page)} <= {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in page
    # hostile strings cannot break out of the data block or the title
    assert "<script>alert(1)" not in page and "<!--" not in page.split('id="zm-data"')[1]
    assert page.count("</script>") == 2 and page.count("<script") == 2
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    data = _embedded_data(page)
    assert data["title"].startswith("Title <img")
    by_id = {n["id"]: n for n in data["nodes"]}
    assert {n["content"] for n in data["nodes"]} >= {HOSTILE, CONTROL}
    hostile = next(n for n in by_id.values() if n["content"] == HOSTILE)
    assert set(HOSTILE_TAGS) <= set(hostile["tags"]) and hostile["version"] == 2
    assert len(data["edges"]) == graph.number_of_edges()
    assert {"episodic", "semantic"} <= set(data["colors"])
    # the viewer only writes text into the page: no innerHTML / document.write / eval
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", page)


def test_html_viewer_has_the_promised_controls(graph):
    from zettelmem.export._formats import render_html

    page = render_html(graph)
    for needle in ('id="search"', 'id="types"', 'id="relations"', 'id="time"', '"timeline"', "memory_type",
                   "relation", "keywords", "tags", "context", "version", "history", "mousemove", "click"):
        assert needle in page


def test_exports_carry_evolution_and_link_details(memory, graph, tmp_path):
    """Each note's change history and each link's relation, weight, rationale survive every format."""
    from zettelmem.export._graph import RELATION_COLORS

    hostile = memory.ids[3]
    hist = graph.nodes[hostile]["history"]
    assert graph.nodes[hostile]["changes"] == sum(c["kind"] != "rejected" for c in hist) >= 1
    update = next(c for c in hist if c["kind"] == "update")
    assert set(HOSTILE_TAGS) <= set(update["after"]["tags"]) and "tags" in update["fields"]
    assert update["version_after"] == update["version_before"] + 1
    assert "tags" in graph.nodes[hostile]["history_summary"]
    for _u, _v, d in graph.edges(data=True):
        assert d["color"] == RELATION_COLORS[d["relation"]] and 0 <= d["weight"] <= 1 and d["rationale"]
    to_graphml(graph, tmp_path / "m.graphml")
    back = nx.read_graphml(tmp_path / "m.graphml", force_multigraph=True)
    assert json.loads(back.nodes[hostile]["history_json"]) == hist
    assert back.nodes[hostile]["history_summary"] == graph.nodes[hostile]["history_summary"]
    assert back.nodes[hostile]["changes"] == graph.nodes[hostile]["changes"]
    to_gexf(graph, tmp_path / "m.gexf")
    assert json.loads(nx.read_gexf(tmp_path / "m.gexf").nodes[hostile]["history_json"]) == hist
    to_cytoscape(graph, tmp_path / "m.cyjs")
    cy = json.loads((tmp_path / "m.cyjs").read_text(encoding="utf-8"))
    node = next(n for n in cy["elements"]["nodes"] if n["data"]["id"] == hostile)
    assert node["data"]["history"] == hist
    assert all({"relation", "weight", "rationale", "color"} <= set(e["data"]) for e in cy["elements"]["edges"])
    to_node_link(graph, tmp_path / "m.json")
    nl = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert next(n for n in nl["nodes"] if n["id"] == hostile)["history"] == hist
    to_dot(graph, tmp_path / "m.dot")
    assert any(c in (tmp_path / "m.dot").read_text(encoding="utf-8") for c in RELATION_COLORS.values())


# -- destinations and atomic writes ------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_file_objects_text_and_binary(graph, fmt, tmp_path):
    export(graph, fmt, tmp_path / "out")
    on_disk = (tmp_path / "out").read_bytes()
    text, raw = io.StringIO(), io.BytesIO()
    export(graph, fmt, text)
    export(graph, fmt, raw)
    if fmt == "gexf":  # GEXF stamps the date; compare the rest
        on_disk = re.sub(rb'lastmodifieddate="[^"]*"', b"", on_disk)
        got_raw = re.sub(rb'lastmodifieddate="[^"]*"', b"", raw.getvalue())
        got_text = re.sub(r'lastmodifieddate="[^"]*"', "", text.getvalue()).encode()
    else:
        got_raw, got_text = raw.getvalue(), text.getvalue().encode()
    assert got_raw == on_disk == got_text
    with open(tmp_path / "out2", "w", encoding="utf-8") as f:  # a real text file
        export(graph, fmt, f)
    assert (tmp_path / "out2").stat().st_size > 0


def test_writes_from_memory_directly(memory, tmp_path):
    to_html(memory, tmp_path / "sub.html", scope=SCOPE, note_ids=[memory.ids[0]], depth=1)
    data = _embedded_data((tmp_path / "sub.html").read_text(encoding="utf-8"))
    assert memory.ids[0] in {n["id"] for n in data["nodes"]}
    to_graphml(memory.aio, tmp_path / "all.graphml", scope=SCOPE)  # AsyncMemory too
    assert nx.read_graphml(tmp_path / "all.graphml").number_of_nodes() == 5


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_render_failure_leaves_old_file_untouched(graph, tmp_path, monkeypatch):
    import zettelmem.export as ex

    target = tmp_path / "m.graphml"
    target.write_text("old export")

    def boom(_g):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(ex, "render_graphml", boom)
    with pytest.raises(ExportError, match="renderer exploded") as info:
        to_graphml(graph, target)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert target.read_text() == "old export"
    assert _leftovers(tmp_path) == []


def test_write_failure_leaves_no_partial_file(graph, tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    target.write_text("old export")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ExportError, match="No space left"):
        to_node_link(graph, target)
    monkeypatch.undo()
    assert target.read_text() == "old export"
    assert _leftovers(tmp_path) == []
    fresh = tmp_path / "new.json"
    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ExportError):
        to_node_link(graph, fresh)
    monkeypatch.undo()
    assert not fresh.exists() and _leftovers(tmp_path) == []


def test_written_file_has_ordinary_permissions(graph, tmp_path):
    umask = os.umask(0o022)
    try:
        to_dot(graph, tmp_path / "m.dot")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.dot").stat().st_mode & 0o777 == 0o644


def test_bad_destinations_and_sources(graph, tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        to_graphml(graph, tmp_path / "missing" / "m.graphml")
    with pytest.raises(ExportError, match="directory"):
        to_graphml(graph, tmp_path)
    closed = io.StringIO()
    closed.close()
    with pytest.raises(ExportError):
        to_mermaid(graph, closed)
    with pytest.raises(ExportError):
        to_mermaid(graph, 42)  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="unknown export format"):
        export(graph, "pdf", tmp_path / "x.pdf")
    with pytest.raises(ExportError, match="MultiDiGraph"):
        to_graphml(nx.Graph(), tmp_path / "g.graphml")
    with pytest.raises(ExportError, match="Memory"):
        to_graphml(object(), tmp_path / "g.graphml")
    assert _leftovers(tmp_path) == []
