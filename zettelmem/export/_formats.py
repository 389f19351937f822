"""Renderers: one memory graph, seven formats.

XML formats (GraphML, GEXF) carry only scalars, so values are flattened
honestly: a list becomes a ``"; "``-joined string *and* a ``<name>_json``
attribute with the exact list; a dict becomes ``<name>_json`` only; a string
holding characters XML 1.0 cannot carry (control characters, CR) has them
replaced by U+FFFD, with the exact string kept in ``<name>_json``.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections import Counter
from importlib import resources
from typing import Any

import networkx as nx

from zettelmem._cards import OTHER_COLOR, TYPE_COLORS
from zettelmem.export._graph import RELATION_COLORS

__all__ = [
    "cytoscape_data",
    "flatten_for_xml",
    "node_link_data",
    "render_dot",
    "render_gexf",
    "render_graphml",
    "render_html",
    "render_mermaid",
]

# Characters XML 1.0 cannot hold, plus CR (parsers turn it into LF).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff]")


def _flat_value(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, list | tuple) and any(isinstance(v, dict | list) for v in value):
        return {f"{name}_json": json.dumps(list(value), ensure_ascii=False, sort_keys=True, default=str)}
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
        return {name: _xml_safe("; ".join(items)), f"{name}_json": json.dumps(items, ensure_ascii=False)}
    if isinstance(value, dict):
        return {f"{name}_json": json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)}
    if isinstance(value, str):
        safe = _xml_safe(value)
        if safe != value:
            # JSON escapes the control characters, so the exact value survives XML.
            return {name: safe, f"{name}_json": json.dumps(value)}
        return {name: value}
    if value is None:
        return {}
    return {name: value}


def _xml_safe(text: str) -> str:
    return _XML_BAD.sub("\ufffd", text)


def flatten_for_xml(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of ``graph`` whose attribute values are all XML-safe scalars."""
    out = nx.MultiDiGraph()
    for k, v in graph.graph.items():
        out.graph.update(_flat_value(k, v))
    for node, data in graph.nodes(data=True):
        flat: dict[str, Any] = {}
        for k, v in data.items():
            flat.update(_flat_value(k, v))
        out.add_node(_xml_safe(str(node)), **flat)
    for u, v, key, data in graph.edges(keys=True, data=True):
        flat = {}
        for k, val in data.items():
            flat.update(_flat_value(k, val))
        out.add_edge(_xml_safe(str(u)), _xml_safe(str(v)), key=key, **flat)
    return out


def render_graphml(graph: nx.MultiDiGraph) -> bytes:
    buf = io.BytesIO()
    nx.write_graphml_xml(flatten_for_xml(graph), buf)
    return buf.getvalue()


def render_gexf(graph: nx.MultiDiGraph) -> bytes:
    flat = flatten_for_xml(graph)
    for _u, _v, _k, data in flat.edges(keys=True, data=True):
        data.pop("id", None)  # GEXF numbers edges itself; the relation is kept as networkx_key
    buf = io.BytesIO()
    nx.write_gexf(flat, buf)
    return buf.getvalue()


def node_link_data(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """NetworkX node-link data (``edges`` key); read back with ``nx.node_link_graph(d, edges="edges")``."""
    return dict(nx.node_link_data(graph, edges="edges"))


def cytoscape_data(graph: nx.MultiDiGraph) -> dict[str, Any]:
    """Cytoscape.js elements JSON (``cy.json()`` shape); ``nx.cytoscape_graph`` reads it back.

    Nodes carry ``name`` = the short label; edges carry an ``id`` of
    ``source|relation|target`` and ``key`` = the relation.
    """
    data = nx.cytoscape_data(graph, name="label")
    data["data"] = dict(graph.graph)
    for edge in data["elements"]["edges"]:
        d = edge["data"]
        d.setdefault("id", f"{d['source']}|{d.get('key', d.get('relation', ''))}|{d['target']}")
    return dict(data)


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n"


# -- Mermaid ------------------------------------------------------------------------------

_MERMAID_ESC = {'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;", "`": "#96;", "&": "#amp;",
                "|": "#124;", "\n": " ", "\r": " ", "\t": " "}


def _mermaid_text(text: str, width: int = 60) -> str:
    text = " ".join(str(text).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return "".join(_MERMAID_ESC.get(c, c) for c in _XML_BAD.sub(" ", text))


def render_mermaid(graph: nx.MultiDiGraph, direction: str = "LR") -> str:
    """A Mermaid flowchart: one box per note (coloured by type), labelled links."""
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = [f"flowchart {direction}"]
    for mtype, color in TYPE_COLORS.items():
        lines.append(f"  classDef {mtype} fill:{color},stroke:#333,color:#fff")
    lines.append(f"  classDef other fill:{OTHER_COLOR},stroke:#333,color:#fff")
    for node, data in graph.nodes(data=True):
        label = _mermaid_text(data.get("label", node))
        mtype = data.get("memory_type")
        cls = mtype if mtype in TYPE_COLORS else "other"
        lines.append(f'  {ids[node]}["{label}"]:::{cls}')
    for u, v, key, data in graph.edges(keys=True, data=True):
        rel = _mermaid_text(data.get("relation", key), 30)
        weight = data.get("weight")
        text = f"{rel} {weight:.2f}" if isinstance(weight, int | float) else rel
        lines.append(f'  {ids[u]} -->|"{text}"| {ids[v]}')
    return "\n".join(lines) + "\n"


# -- Graphviz DOT ---------------------------------------------------------------------------


def _dot_str(text: Any) -> str:
    s = _XML_BAD.sub(" ", str(text)).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s.replace("\n", "\\n") + '"'


def render_dot(graph: nx.MultiDiGraph) -> str:
    """Graphviz DOT: rounded boxes filled by memory type, edges labelled by relation."""
    lines = [
        f"digraph {_dot_str(graph.graph.get('name', 'zettelmem'))} {{",
        "  graph [rankdir=LR, overlap=false];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontcolor="white"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for node, data in graph.nodes(data=True):
        color = TYPE_COLORS.get(data.get("memory_type", ""), OTHER_COLOR)
        tooltip = data.get("content", "")
        lines.append(f"  {_dot_str(node)} [label={_dot_str(data.get('label', node))}, "
                     f"fillcolor={_dot_str(color)}, tooltip={_dot_str(tooltip)}];")
    for u, v, key, data in graph.edges(keys=True, data=True):
        weight = data.get("weight", 0.5)
        color = RELATION_COLORS.get(str(data.get("relation", key)), OTHER_COLOR)
        lines.append(f"  {_dot_str(u)} -> {_dot_str(v)} [label={_dot_str(data.get('relation', key))}, "
                     f"color={_dot_str(color)}, fontcolor={_dot_str(color)}, "
                     f"penwidth={0.5 + 2.5 * float(weight):.2f}, tooltip={_dot_str(data.get('rationale', ''))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- standalone HTML viewer ----------------------------------------------------------------

_PLACEHOLDER = re.compile(r"__ZETTELMEM_(DATA|TITLE)__")
_JS_ESC = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _script_json(obj: Any) -> str:
    """JSON safe to embed in ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    return "".join(_JS_ESC.get(c, c) for c in text)


def clusters_of(graph: nx.MultiDiGraph) -> tuple[dict[Any, int], list[dict[str, Any]]]:
    """Communities for the viewer's layout: label propagation over the links (seeded, O(links)).

    Notes in a community of fewer than 3 join their strongest neighbour's; unlinked
    ones share one cluster. Each cluster is named by its commonest keywords.
    """
    und = nx.Graph()
    und.add_nodes_from(graph.nodes)
    for u, v, d in graph.edges(data=True):
        w = float(d.get("weight", 0.5) or 0.5)
        if u != v and (not und.has_edge(u, v) or und[u][v]["weight"] < w):
            und.add_edge(u, v, weight=w)
    comms = sorted((sorted(c, key=str) for c in nx.community.asyn_lpa_communities(und, weight="weight", seed=0)),
                   key=lambda c: (-len(c), str(c[0])))
    of: dict[Any, int] = {}
    for i, members in enumerate(comms):
        for n in members:
            of[n] = i
    sizes = Counter(of.values())
    lonely = len(comms)
    for n in sorted(und.nodes, key=str):
        if sizes[of[n]] >= 3:
            continue
        nbrs = sorted(((d["weight"], str(m)) for m, d in und[n].items() if sizes[of[m]] >= 3), reverse=True)
        of[n] = of[next(m for m in und[n] if str(m) == nbrs[0][1])] if nbrs else lonely
    final = Counter(of.values())
    ids = {c: i for i, c in enumerate(sorted(final, key=lambda c: (-final[c], c)))}
    of = {n: ids[c] for n, c in of.items()}
    words: dict[int, Counter[str]] = {}
    for n, data in graph.nodes(data=True):
        words.setdefault(of[n], Counter()).update({str(k).lower() for k in data.get("keywords") or []})
    words = {c: words.get(ids[c], Counter()) for c in final}
    groups = _groups(und, of, len(final))
    info = [{"id": ids[c], "size": final[c], "group": groups[ids[c]],
             "label": _top_words(words.get(c, Counter()))}
            for c in sorted(final, key=lambda c: ids[c])]
    return of, info


def _top_words(counts: Counter[str], n: int = 3) -> str:
    return ", ".join(w for w, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:n])


def _groups(und: nx.Graph, of: dict[Any, int], n_clusters: int) -> dict[int, int]:
    """Clusters grouped into at most a few dozen regions (Louvain over the cluster graph) for the overview."""
    if n_clusters <= 12:
        return {c: c for c in range(n_clusters)}
    cg = nx.Graph()
    cg.add_nodes_from(range(n_clusters))
    for u, v in und.edges:
        a, b = of[u], of[v]
        if a != b:
            cg.add_edge(a, b, weight=cg[a][b]["weight"] + 1 if cg.has_edge(a, b) else 1)
    parts = nx.community.louvain_communities(cg, weight="weight", seed=0, resolution=0.5)
    ordered = sorted((sorted(p) for p in parts), key=lambda p: (-len(p), p[0]))
    return {c: g for g, part in enumerate(ordered) for c in part}


def viewer_payload(graph: nx.MultiDiGraph, title: str) -> dict[str, Any]:
    of, clusters = clusters_of(graph)
    nodes = [{"id": str(n), **d, "cluster": of[n]} for n, d in graph.nodes(data=True)]
    words: dict[int, Counter[str]] = {}
    group_of = {c["id"]: c["group"] for c in clusters}
    for n in nodes:
        words.setdefault(group_of[n["cluster"]], Counter()).update({str(k).lower() for k in n.get("keywords") or []})
    groups = [{"id": g, "label": _top_words(w)} for g, w in sorted(words.items())]
    edges = [{"source": str(u), "target": str(v), "key": str(k), **d}
             for u, v, k, d in graph.edges(keys=True, data=True)]
    return {"title": title, "graph": dict(graph.graph), "nodes": nodes, "edges": edges, "clusters": clusters,
            "groups": groups,
            "colors": {**TYPE_COLORS, "other": OTHER_COLOR}, "relation_colors": RELATION_COLORS}


def render_html(graph: nx.MultiDiGraph, title: str | None = None) -> str:
    """A single self-contained HTML file (no network) with an interactive graph viewer."""
    template = resources.files("zettelmem.export").joinpath("viewer.html").read_text(encoding="utf-8")
    title = title or f"zettelmem — {graph.graph.get('scope', graph.graph.get('name', 'memory'))}"
    values = {"DATA": _script_json(viewer_payload(graph, title)), "TITLE": html.escape(title)}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def dumps_json(obj: Any) -> str:
    return _json(obj)
