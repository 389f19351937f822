"""The HTML viewer in a real headless browser (Debian's ``chromium``), at 40 and 5,000 notes.

Each page is loaded offline from a file with ``--virtual-time-budget`` so its
layout finishes, then checked two ways: the DOM after the layout (``--dump-dom``:
the status the viewer writes, the legend, the selected note's evolution
timeline) and a screenshot (pixels: not empty, edges in several relation
colours, the details panel drawn). ``scripts/test.sh`` installs chromium when it
is missing; set ``ZETTELMEM_CHROMIUM`` to use another binary.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from PIL import Image  # Pillow comes with matplotlib (the notebook extra, in the test install)

from zettelmem import Memory, Settings
from zettelmem.cli.jsonl import bundled_dialogue
from zettelmem.export import to_html, to_networkx
from zettelmem.export._graph import RELATION_COLORS, graph_from
from zettelmem.models import BuiltBy, Change, Link, MemoryType, Note, Provenance, Relation

WIDTH, HEIGHT = 1400, 900


def chromium() -> str:
    found = os.environ.get("ZETTELMEM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium: `apt-get install chromium` (scripts/test.sh does) or set ZETTELMEM_CHROMIUM")
    return found


def browse(page: Path, out: Path, fragment: str = "", budget_ms: int = 60000,
           size: tuple[int, int] = (WIDTH, HEIGHT)) -> tuple[str, Path]:
    """(DOM after the layout, screenshot path) of ``page`` in headless chromium."""
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
            "--no-first-run", f"--user-data-dir={out.parent / 'chromium-profile'}", f"--window-size={size[0]},{size[1]}",
            f"--virtual-time-budget={budget_ms}", "--force-device-scale-factor=1"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=300, check=True).stdout
    subprocess.run([*base, f"--screenshot={out}", url], capture_output=True, text=True, timeout=300, check=True)
    return dom, out


class _Text(HTMLParser):
    """Text of the element with a given id (and its descendants)."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted, self.depth = wanted, 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.wanted:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(dom: str, element_id: str) -> str:
    p = _Text(element_id)
    p.feed(dom)
    return "".join(p.parts)


def viewer_status(dom: str) -> dict[str, Any]:
    assert 'data-ready="1"' in dom, "the layout never finished"
    status: dict[str, Any] = json.loads(text_of(dom, "zm-status"))
    return status


def saturated_hues(png: Path, box: tuple[int, int, int, int]) -> dict[int, int]:
    """Pixels per 30-degree hue bucket among the clearly coloured pixels of ``box``."""
    img = Image.open(png).convert("RGB").crop(box).convert("HSV")
    buckets: dict[int, int] = {}
    pixels: list[tuple[int, int, int]] = list(img.getdata())
    for h, s, v in pixels:
        if s > 90 and v > 60:
            buckets[h * 360 // 256 // 30] = buckets.get(h * 360 // 256 // 30, 0) + 1
    return buckets


def non_background(png: Path, box: tuple[int, int, int, int]) -> float:
    img = Image.open(png).convert("L").crop(box)
    px = list(img.getdata())
    return sum(1 for p in px if p < 235) / len(px)


# -- the pages ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The bundled dialogue (39 turns) plus one more: 40 notes with real links and evolution."""
    folder = tmp_path_factory.mktemp("viewer-small")
    with Memory(Settings(home=folder / "home", use_llm=False)) as mem:
        mem.add_many([r.item for r in bundled_dialogue(speaker_prefix=True)])
        mem.add("Maya: The Ballard studio is friendlier than Clay Collective, and Sam loves it too.")
        graph = to_networkx(mem)
    to_html(graph, folder / "small.html", title="zettelmem viewer — 40 notes")
    return folder, graph


def synthetic_graph(n: int, seed: int = 7) -> nx.MultiDiGraph:
    """``n`` notes in sessions of 12 turns, with the linker's kinds of links and some evolution."""
    rnd = random.Random(seed)
    topics = ["pottery", "bakery", "hospital", "seattle", "portland", "garden", "cycling", "music", "chess",
              "hiking", "coffee", "books", "travel", "cooking", "football", "sailing"]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    notes, links, histories = [], [], {}
    for i in range(n):
        session, turn = i // 12, i % 12
        topic = topics[(session * 5 + turn // 4) % len(topics)]
        other = topics[(session * 3 + 1) % len(topics)]
        note = Note(content=f"Turn {turn} of session {session}: talking about {topic} and a little {other}.",
                    keywords=[topic, f"{topic} {other}", f"session {session}"], tags=[topic, other],
                    context=f"Speaker {turn % 2} on {topic}.", memory_type=rnd.choice(list(MemoryType)),
                    provenance=Provenance(session=str(session), turn=turn + 1, speaker=f"P{turn % 2}"),
                    event_time=t0 + timedelta(hours=i), built_by=BuiltBy(kind="offline", agent="synthetic"))
        notes.append(note)
        if turn:
            prev = notes[i - 1]
            links.append(Link(source=note.id, target=prev.id, relation=Relation.FOLLOWS, weight=0.8,
                              rationale="next turn of the session"))
            if turn % 2:
                links.append(Link(source=note.id, target=prev.id, relation=Relation.ANSWERS, weight=0.75,
                                  rationale="answers the question before it"))
        if i > 12 and rnd.random() < 0.5:
            target = notes[rnd.randrange(max(0, i - 60), i - 1)]
            rel = rnd.choice([Relation.RELATES_TO, Relation.SAME_ENTITY, Relation.ELABORATES, Relation.SUPPORTS])
            links.append(Link(source=note.id, target=target.id, relation=rel, weight=round(rnd.uniform(0.3, 0.9), 2),
                              rationale=f"shares {topic}"))
            if rnd.random() < 0.3:
                histories[target.id] = [Change(note_id=target.id, version_before=1, version_after=2,
                                               before={"keywords": target.keywords},
                                               after={"keywords": [*target.keywords, other]},
                                               rationale=f"linked to {note.id[:8]}; '{other}' is salient",
                                               trigger=note.id)]
    return graph_from(notes, links, histories=histories)


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer-large")
    graph = synthetic_graph(5000)
    to_html(graph, folder / "large.html", title="zettelmem viewer — 5,000 notes")
    return folder, graph


# -- the checks -----------------------------------------------------------------------------------


def test_small_graph_in_a_real_browser(small):
    folder, graph = small
    evolved = max(graph.nodes, key=lambda n: (graph.nodes[n]["changes"], str(n)))
    assert graph.nodes[evolved]["changes"] >= 1
    dom, png = browse(folder / "small.html", folder / "small.png", f"select={evolved}")
    status = viewer_status(dom)
    assert status["nodes"] == 40 and status["edges"] == graph.number_of_edges()
    assert status["nodes_drawn"] == 40 and status["edges_drawn"] > 0
    assert status["selected"] == evolved
    assert 0 < status["labels_drawn"] <= 120
    # edges coloured by relation, and a legend to filter each relation, type and time
    rels = {d["relation"] for _, _, d in graph.edges(data=True)}
    assert set(status["relations"]) == rels and len(rels) >= 3
    legend = text_of(dom, "relations")
    assert all(r in legend for r in rels)
    assert all(t in text_of(dom, "types") for t in {d["memory_type"] for _, d in graph.nodes(data=True)})
    assert 'id="time"' in dom
    # the panel: the note's evolution timeline, before/after per change
    timeline = text_of(dom, "timeline")
    change = next(c for c in graph.nodes[evolved]["history"] if c["kind"] == "evolve")
    assert f"v{change['version_before']} → v{change['version_after']}" in timeline
    added = [x for x in change["after"].get("keywords", []) + change["after"].get("tags", [])
             if x not in change["before"].get("keywords", []) + change["before"].get("tags", [])]
    assert added and any(f"+ {x}" in timeline for x in added)
    assert change["rationale"] in timeline and "triggered by" in timeline
    assert text_of(dom, "panel").count("Evolution (") == 1
    # pixels: the graph is drawn, in several relation colours, and the panel is there
    graph_box = (0, 80, WIDTH - 400, HEIGHT)
    assert non_background(png, graph_box) > 0.01
    hues = {h: c for h, c in saturated_hues(png, graph_box).items() if c > 40}
    assert len(hues) >= 3, hues
    assert non_background(png, (WIDTH - 380, 80, WIDTH, HEIGHT)) > 0.02


def test_large_graph_in_a_real_browser(large):
    folder, graph = large
    hub = max(graph.nodes, key=lambda n: (graph.degree(n), str(n)))
    dom, png = browse(folder / "large.html", folder / "large.png")
    status = viewer_status(dom)
    assert status["nodes"] == 5000 and status["edges"] == graph.number_of_edges()
    assert status["nodes_drawn"] > 4000  # the whole graph fits the first view
    assert status["clusters"] > 10  # laid out by community
    assert status["labels_drawn"] <= 120  # level of detail: never every label
    assert 1 <= status["cluster_labels_drawn"] <= 40  # zoomed out: clusters are named instead
    assert non_background(png, (0, 80, WIDTH, HEIGHT)) > 0.05
    assert len({h for h, c in saturated_hues(png, (0, 80, WIDTH - 400, HEIGHT)).items() if c > 200}) >= 3
    # zoomed in on one note: its labels and its timeline, still far from every label
    dom, png = browse(folder / "large.html", folder / "large-zoom.png", f"select={hub}&zoom=6")
    status = viewer_status(dom)
    assert status["selected"] == hub and 5 <= status["labels_drawn"] <= 120
    assert status["nodes_drawn"] < 1000
    assert "v1 · built" in text_of(dom, "timeline")


def test_viewer_is_offline_and_colours_match(small):
    folder, _graph = small
    page = (folder / "small.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    data = json.loads(page.split('id="zm-data" type="application/json">')[1].split("</script>")[0])
    assert data["relation_colors"] == RELATION_COLORS
    assert {n["cluster"] for n in data["nodes"]} == {c["id"] for c in data["clusters"]}


def test_notebook_graph_view_is_not_clipped(tmp_path):
    """The committed notebook's interactive view shows every note inside its iframe."""
    import html as html_lib

    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb", as_version=4)
    frames = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "<iframe" in o.get("data", {}).get("text/html", "")]
    assert frames, "run the notebook and commit it with its outputs"
    frame = frames[0]
    size = re.search(r'style="width:100%;height:(\d+)px', frame)
    src = re.search(r'srcdoc="([^"]*)"', frame)
    assert size and src
    height = int(size.group(1))
    assert height >= 560, "tall enough for the header, the graph and the panel"
    doc = html_lib.unescape(src.group(1))
    page = tmp_path / "frame.html"
    page.write_text(doc, encoding="utf-8")
    dom, png = browse(page, tmp_path / "frame.png", size=(900, height))  # a notebook column, the iframe's height
    status = viewer_status(dom)
    assert status["nodes"] >= 2 and status["nodes_drawn"] == status["nodes"]
    img = Image.open(png)
    assert img.size == (900, height)
    assert non_background(png, (0, height // 3, 520, height)) > 0.005  # the graph reaches below the header
