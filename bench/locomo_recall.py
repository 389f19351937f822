"""LLM-free retrieval quality on LoCoMo: zettelmem against BM25, dense and RRF hybrid.

Protocol (so numbers compare with other harnesses):

* one fresh memory per conversation; every turn is one memory, added in order,
  with text ``[<session date>] <Speaker>: <text>`` plus
  `` [shares a photo: <blip_caption>]`` for image turns, and the parsed session
  date as its event time;
* the query is the bare question; k counts returned items (a note covering
  several turns still counts once); evidence ids are normalised
  (see :func:`locomo_data.normalise_evidence`); questions left without
  evidence (4 open-domain ones) are not scored;
* recall@k / hit@k for k = 1, 5, 10, 20; overall = categories 1-4
  (1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop); category 5
  (adversarial) apart; conversations 0-4 are the tuning set, 5-9 held out.

Baselines in the same run: BM25 (rank-bm25 ``BM25Okapi``, lower-cased words,
English stop words removed, Snowball-stemmed), dense (the project's ONNX
all-MiniLM-L6-v2 int8, cosine) and their reciprocal-rank fusion (k = 60) over
the full rankings.

Usage::

    nice python bench/locomo_recall.py --conversations 0-4 --systems bm25,dense,hybrid
    python bench/locomo_recall.py --conversations all --json bench/results/locomo.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from zettelmem import Note, SearchHit
    from zettelmem.embeddings.onnx import OnnxEmbedder

HERE = Path(__file__).resolve().parent

from bench.locomo_data import (  # noqa: E402
    CATEGORY_NAMES,
    HELDOUT,
    KS,
    MAIN_CATEGORIES,
    TUNING,
    Conversation,
    Scores,
    default_audit_path,
    default_data_path,
    format_table,
    load_locomo,
    memory_text,
    parse_conversations,
    set_label,
)

BASELINES = ("bm25", "dense", "hybrid")
#: zettelmem (topic notes on, so multi-step search on) and its ablations: one-step search (multi-step
#: off, on the same store), no topic notes (consolidation and so multi-step off; and the same store
#: searched with multi-step forced on), no links at all, no truth maintenance (``zettelmem`` with
#: ``AgentsConfig(truth=False)``: no supersession, no merged repeats), no cross-session candidates at
#: write time (``AgentsConfig(cross_session=0)``)
VARIANTS = ("zettelmem", "zettelmem-nomultistep", "zettelmem-noconsol", "zettelmem-noconsol-multistep",
            "zettelmem-nolinks", "zettelmem-notruth", "zettelmem-nocross")
#: variants that search another variant's store with other search arguments (built once, searched twice)
SHARED_STORE: dict[str, tuple[str, dict[str, Any]]] = {
    "zettelmem-nomultistep": ("zettelmem", {"multistep": False}),
    "zettelmem-noconsol-multistep": ("zettelmem-noconsol", {"multistep": True}),
}
ALL_SYSTEMS = (*BASELINES, *VARIANTS)
KMAX = max(KS)
RRF_K = 60

Ranking = list[set[str]]  # ranked items, each the set of turn ids it covers


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------- baselines

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself me more most my myself no nor not of off on once only or other our ours ourselves
    out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves s t don ll re ve
    m d""".split()
)


def _make_tokenizer() -> Callable[[str], list[str]]:
    try:
        import snowballstemmer

        stemmer = snowballstemmer.stemmer("english")
        cache: dict[str, str] = {}

        def stem(w: str) -> str:
            s = cache.get(w)
            if s is None:
                s = cache[w] = stemmer.stemWord(w)
            return s

    except ImportError:  # pragma: no cover - snowballstemmer is a zettelmem dependency

        def stem(w: str) -> str:
            return w

    def tokenize(text: str) -> list[str]:
        out = []
        for w in _WORD.findall(text.lower()):
            if w.endswith("'s"):
                w = w[:-2]
            w = w.replace("'", "")
            if w and w not in _STOP:
                out.append(stem(w))
        return out

    return tokenize


#: BM25 tokenizer: lower-cased words, possessive 's dropped, stop words removed, Snowball-stemmed.
bm25_tokens = _make_tokenizer()


def _order(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score; ties keep conversation order."""
    return np.argsort(-scores, kind="stable")


def rrf(rankings: Sequence[np.ndarray], n: int, k: int = RRF_K) -> np.ndarray:
    """Reciprocal-rank fusion of full rankings (arrays of doc indices, best first)."""
    fused = np.zeros(n, dtype=np.float64)
    for order in rankings:
        ranks = np.empty(n, dtype=np.float64)
        ranks[order] = np.arange(1, len(order) + 1)
        fused += 1.0 / (k + ranks)
    return _order(fused)


class Embedder:
    """Lazily loaded shared ONNX embedder."""

    _inst: OnnxEmbedder | None = None

    @classmethod
    def get(cls) -> OnnxEmbedder:
        if cls._inst is None:
            from zettelmem.embeddings.onnx import OnnxEmbedder

            cls._inst = OnnxEmbedder()
        return cls._inst


def run_baselines(
    conv: Conversation, questions: Sequence[str], systems: Iterable[str], timing: dict[str, Any]
) -> dict[str, list[Ranking]]:
    """Rank the conversation's turns for each question with BM25, dense and/or hybrid."""
    systems = set(systems)
    ids = [t.dia_id for t in conv.turns]
    texts = [memory_text(t) for t in conv.turns]
    n = len(texts)
    orders: dict[str, list[np.ndarray]] = {}
    if systems & {"bm25", "hybrid"}:
        from rank_bm25 import BM25Okapi

        t0 = time.perf_counter()
        bm25 = BM25Okapi([bm25_tokens(x) for x in texts])
        t1 = time.perf_counter()
        orders["bm25"] = [_order(bm25.get_scores(bm25_tokens(q))) for q in questions]
        t2 = time.perf_counter()
        _add_time(timing, "bm25", t1 - t0, t2 - t1, len(questions))
    if systems & {"dense", "hybrid"}:
        emb = Embedder.get()
        t0 = time.perf_counter()
        docs = emb.embed(texts)
        t1 = time.perf_counter()
        qv = emb.embed(list(questions))
        sims = qv @ docs.T
        orders["dense"] = [_order(row) for row in sims]
        t2 = time.perf_counter()
        _add_time(timing, "dense", t1 - t0, t2 - t1, len(questions))
    if "hybrid" in systems:
        t0 = time.perf_counter()
        orders["hybrid"] = [rrf([b, d], n) for b, d in zip(orders["bm25"], orders["dense"], strict=True)]
        t1 = time.perf_counter()
        # hybrid reuses both indexes: its cost is theirs plus the fusion
        _add_time(timing, "hybrid", 0.0, t1 - t0, len(questions), note="plus bm25 + dense")
    return {
        name: [[{ids[i]} for i in order[:KMAX]] for order in orders[name]]
        for name in systems
        if name in orders
    }


def _add_time(timing: dict[str, Any], system: str, index_s: float, query_s: float, nq: int, note: str = "") -> None:
    t = timing.setdefault(system, {})
    for key, zero in (("index_s", 0.0), ("query_s", 0.0), ("queries", 0), ("note", note)):
        t.setdefault(key, zero)
    t["index_s"] += index_s
    t["query_s"] += query_s
    t["queries"] += nq


# --------------------------------------------------------------------- zettelmem


def hit_turn_ids_of_note(note: Note) -> set[str]:
    """The turn ids a note's provenance names.

    ``provenance.source`` holds the dia_id; a note that merges several turns may
    pack them (``"D1:2;D1:3"``) or list them in ``provenance.extra["sources"]``.
    """
    from bench.locomo_data import normalise_evidence

    prov = note.provenance
    raw = [prov.source or ""]
    extra = getattr(prov, "extra", None) or {}
    if extra.get("sources"):
        raw.append(extra["sources"])
    raw += [s.source or "" for s in getattr(note, "sources", None) or []]  # turns merged into it as mentions
    return set(normalise_evidence(raw))


def hit_turn_ids(hit: SearchHit, turns_of: dict[str, set[str]] | None = None) -> set[str]:
    """The turn ids a zettelmem SearchHit covers (one item, however many turns).

    A topic note covers the turns of the notes it gathers (``hit.members``).
    """
    out = hit_turn_ids_of_note(hit.note)
    for member in getattr(hit, "members", None) or []:
        out |= (turns_of or {}).get(member, set())
    return out


def _variant_settings(variant: str, home: str) -> Any:
    from zettelmem import Settings
    from zettelmem.config import AgentsConfig, ConsolidationConfig

    if variant == "zettelmem":
        return Settings(home=home, consolidation=ConsolidationConfig(enabled=True))
    if variant == "zettelmem-noconsol":
        return Settings(home=home)
    if variant == "zettelmem-nolinks":
        return Settings(home=home, agents=AgentsConfig(max_links=0))
    if variant == "zettelmem-notruth":
        return Settings(home=home, consolidation=ConsolidationConfig(enabled=True), agents=AgentsConfig(truth=False))
    if variant == "zettelmem-nocross":  # no full-text candidates from earlier sessions at write time
        return Settings(home=home, consolidation=ConsolidationConfig(enabled=True),
                        agents=AgentsConfig(cross_session=0))
    raise ValueError(variant)


def run_zettelmem(
    conv: Conversation, questions: Sequence[str], timing: dict[str, Any], variant: str = "zettelmem",
    also: Sequence[str] = (),
) -> list[Ranking]:
    """Add every turn to a fresh zettelmem Memory (session by session), then search each question.

    A topic note made by consolidation is one returned item covering its members' turns.
    ``also`` names variants that search the same store with their own search arguments
    (:data:`SHARED_STORE`); their rankings go to ``timing[name]["rankings"]``.
    """
    from zettelmem import Memory, Provenance, Scope

    scope = Scope(user_id=conv.sample_id)
    turns_of: dict[str, set[str]] = {}  # note id -> the turn ids it covers
    with tempfile.TemporaryDirectory(prefix="zm-locomo-") as home:
        mem = Memory(_variant_settings(variant, home))
        try:
            t0 = time.perf_counter()
            for session in conv.sessions:
                turns = [t for t in conv.turns if t.session == session]
                results = mem.add_many(
                    [
                        dict(
                            content=memory_text(t),
                            event_time=t.time,
                            provenance=Provenance(
                                source=t.dia_id, session=str(t.session), speaker=t.speaker, turn=t.turn
                            ),
                        )
                        for t in turns
                    ],
                    scope=scope,
                )
                for r in results:
                    turns_of.setdefault(r.note.id, set()).update(hit_turn_ids_of_note(r.note))
                log(
                    f"    {variant} {conv.sample_id}: session {session} added ({time.perf_counter() - t0:.0f}s)"
                )
            t1 = time.perf_counter()
            out: list[Ranking] = []
            for name, args in [(variant, {}), *((a, SHARED_STORE[a][1]) for a in also)]:
                ranked: list[Ranking] = []
                latencies = timing.setdefault(name, {}).setdefault("latencies", [])
                t2 = time.perf_counter()
                for qi, q in enumerate(questions):
                    q0 = time.perf_counter()
                    hits = mem.search(q, scope=scope, k=KMAX, **args)
                    latencies.append(time.perf_counter() - q0)
                    ranked.append([hit_turn_ids(h, turns_of) for h in hits[:KMAX]])
                    if qi and qi % 50 == 0:
                        log(f"    {name} {conv.sample_id}: {qi}/{len(questions)} questions")
                if name == variant:
                    out, t3 = ranked, time.perf_counter()
                else:
                    timing[name]["rankings"] = ranked
                    _add_time(timing, name, 0.0, time.perf_counter() - t2, len(questions),
                              note=f"searches the {variant} store")
            stats = mem.stats(scope)
        finally:
            mem.close()
    _add_time(timing, variant, t1 - t0, t3 - t1, len(questions))
    timing[variant]["notes"] = timing[variant].get("notes", 0) + int(stats.get("notes", 0))
    timing[variant]["links"] = timing[variant].get("links", 0) + int(stats.get("links", 0))
    timing[variant]["memories"] = timing[variant].get("memories", 0) + len(conv.turns)
    return out


# ----------------------------------------------------------------------- report


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nice": os.nice(0) if hasattr(os, "nice") else None,
    }


def report_tables(
    scores: Scores, systems: Sequence[str], convs: Sequence[int], label: str, timing: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    out = []
    summary: dict[str, Any] = {"label": label, "conversations": list(convs), "systems": {}}
    ks = scores.ks
    header = ["system", "n"] + [f"R@{k}" for k in ks] + [f"H@{k}" for k in ks] + ["turns/item"]
    rows = []
    for s in systems:
        m, n = scores.mean(s, MAIN_CATEGORIES, convs)
        if not n:
            continue
        rows.append(
            [s, n]
            + [m[f"recall@{k}"] for k in ks]
            + [m[f"hit@{k}"] for k in ks]
            + [f"{m['turns_per_item@10']:.2f}"]
        )
        summary["systems"].setdefault(s, {})["overall_1_4"] = {"n": n, **m}
    out.append(format_table(f"{label} — categories 1-4 (overall): recall@k, hit@k", header, rows))

    header = ["system"] + [f"{c} {CATEGORY_NAMES[c]} R@10" for c in (1, 2, 3, 4, 5)] + ["multi-hop H@20"]
    rows = []
    for s in systems:
        row: list[object] = [s]
        for c in (1, 2, 3, 4, 5):
            m, n = scores.mean(s, [c], convs)
            row.append(m.get("recall@10") if n else None)
            if n:
                summary["systems"].setdefault(s, {})[f"cat{c}"] = {"n": n, **m}
        m, n = scores.mean(s, [1], convs)
        row.append(m.get("hit@20") if n else None)
        rows.append(row)
    ns = [scores.mean(systems[0], [c], convs)[1] for c in (1, 2, 3, 4, 5)] if systems else []
    out.append(
        format_table(
            f"{label} — per category recall@10 (n = {'/'.join(map(str, ns))}), multi-hop hit@20",
            header,
            rows,
        )
    )

    header = ["system", "n"] + [f"R@{k}" for k in ks] + [f"H@{k}" for k in ks]
    rows = []
    for s in systems:
        m, n = scores.mean(s, [5], convs)
        if n:
            rows.append([s, n] + [m[f"recall@{k}"] for k in ks] + [m[f"hit@{k}"] for k in ks])
    if rows:
        out.append(
            format_table(
                f"{label} — category 5 (adversarial, unanswerable; evidence = the misleading turn), reported apart",
                header,
                rows,
            )
        )
    return "\n".join(out), summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--conversations", default="0-4", help="0-4 (tuning), 5-9 (held-out), all, or e.g. 0,3,7-8"
    )
    ap.add_argument(
        "--systems", default=None, help=f"comma list from {','.join(ALL_SYSTEMS)} (default: all available)"
    )
    ap.add_argument(
        "--max-questions",
        type=int,
        default=None,
        help="score only the first N questions of each conversation",
    )
    ap.add_argument(
        "--json", type=Path, default=None, help="write metrics, timings and per-question rankings here"
    )
    ap.add_argument("--data", type=Path, default=None, help="path of locomo10.json")
    ap.add_argument(
        "--audit",
        type=Path,
        default=None,
        help="the audit's corrections (default: locomo_audit_errors.json beside the data); every table is "
        "printed twice, against the original and against the corrected evidence",
    )
    args = ap.parse_args(argv)

    if args.systems:
        systems = [s.strip() for s in args.systems.split(",") if s.strip()]
        bad = [s for s in systems if s not in ALL_SYSTEMS]
        if bad:
            ap.error(f"unknown systems {bad}; choose from {ALL_SYSTEMS}")
    else:
        systems = list(BASELINES) + (["zettelmem", "zettelmem-nomultistep", "zettelmem-noconsol"] if zettelmem_available() else [])

    data_path = args.data or default_data_path()
    audit_path = args.audit or default_audit_path(data_path)
    convs = load_locomo(data_path, audit=audit_path if audit_path.exists() else None)
    selected = parse_conversations(args.conversations, len(convs))
    info = machine_info()
    log(f"LoCoMo recall: {data_path}; conversations {selected}; systems {systems}")

    scores = Scores(KS)
    corrected = Scores(KS)  # the same rankings, scored against the audit-corrected evidence
    n_corrected = 0
    timing: dict[str, Any] = {}
    per_question: list[dict[str, Any]] = []
    started = time.perf_counter()
    for ci in selected:
        conv = convs[ci]
        qas = [q for q in conv.qa[: args.max_questions] if q.evidence]
        skipped = len(conv.qa[: args.max_questions]) - len(qas)
        questions = [q.question for q in qas]
        log(
            f"[{ci}] {conv.sample_id}: {len(conv.turns)} turns, {len(qas)} questions ({skipped} without evidence skipped)"
        )
        rankings: dict[str, list[Ranking]] = {}
        base = [s for s in systems if s in BASELINES]
        if base:
            t0 = time.perf_counter()
            rankings.update(run_baselines(conv, questions, base, timing))
            log(f"    baselines {','.join(base)} done in {time.perf_counter() - t0:.1f}s")
        wanted = [s for s in systems if s in VARIANTS]
        builds = list(dict.fromkeys(SHARED_STORE[s][0] if s in SHARED_STORE else s for s in wanted))
        for variant in builds:
            t0 = time.perf_counter()
            also = [s for s in wanted if s in SHARED_STORE and SHARED_STORE[s][0] == variant]
            ranked = run_zettelmem(conv, questions, timing, variant, also)
            if variant in wanted:
                rankings[variant] = ranked
            for a in also:
                rankings[a] = timing[a].pop("rankings")
            log(f"    {', '.join([variant, *also])} done in {time.perf_counter() - t0:.1f}s")
        n_corrected += sum(1 for qa in qas if qa.corrected_evidence is not None)
        for s in systems:
            for qa, items in zip(qas, rankings[s], strict=True):
                fixed = qa.with_corrected_evidence()
                if fixed.evidence:
                    corrected.add(s, ci, fixed, items)
                m = scores.add(s, ci, qa, items)
                per_question.append(
                    {
                        "system": s,
                        "conv": ci,
                        "sample_id": conv.sample_id,
                        "qa": qa.index,
                        "category": qa.category,
                        "evidence": qa.evidence,
                        "top": [sorted(it) for it in items],
                        "recall@10": m["recall@10"],
                        "hit@20": m["hit@20"],
                    }
                )
    elapsed = time.perf_counter() - started

    groups = []
    tun = [c for c in selected if c in TUNING]
    held = [c for c in selected if c in HELDOUT]
    if tun:
        groups.append(tun)
    if held:
        groups.append(held)
    if tun and held:
        groups.append(sorted(selected))

    print("# LoCoMo retrieval (LLM-free), recall@k / hit@k over returned items")
    print()
    print(
        f"Data: {Path(data_path).name} (snap-research/LoCoMo, CC BY-NC 4.0); categories: 1 multi-hop, 2 temporal, "
        "3 open-domain, 4 single-hop, 5 adversarial (official eval mapping)."
    )
    if args.max_questions:
        print(
            f"NOTE: only the first {args.max_questions} questions of each conversation are scored (smoke slice)."
        )
    print()
    summaries = []
    evidence_sets = [("original", scores)]
    if n_corrected:
        evidence_sets.append(("corrected", corrected))
        print(
            f"Every table is given twice: against the original evidence, then against the audit-corrected "
            f"evidence ({audit_path.name}, dial481/locomo-audit, CC BY-NC 4.0; {n_corrected} of the scored "
            "questions have corrected evidence)."
        )
        print()
    for evidence_name, evidence_scores in evidence_sets:
        for g in groups:
            label = f"{set_label(g, convs)}, {evidence_name} evidence"
            text, summary = report_tables(evidence_scores, systems, g, label, timing)
            print(text)
            summaries.append({**summary, "evidence": evidence_name})

    header = ["system", "index s", "query ms/q", "search p50 ms", "note"]
    rows = []
    for s in systems:
        t = timing.get(s)
        if t:
            lat = t.pop("latencies", None)
            if lat:
                t["search_p50_ms"] = 1000 * statistics.median(lat)
            rows.append(
                [
                    s,
                    f"{t['index_s']:.1f}",
                    f"{1000 * t['query_s'] / max(t['queries'], 1):.1f}",
                    f"{t['search_p50_ms']:.1f}" if "search_p50_ms" in t else "",
                    t.get("note", "")
                    + (
                        f"{t['notes']} notes for {t['memories']} memories"
                        + f" (+{t['notes'] - t['memories']} topic notes)" * (t["notes"] > t["memories"])
                        if t.get("memories")
                        else ""
                    ),
                ]
            )
    print(format_table(f"timing over conversations {','.join(map(str, selected))}", header, rows))
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['platform']}, "
        f"nice {info['nice']}; run at {info['when']}, wall {elapsed:.1f}s"
    )

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "protocol": "locomo_recall v1",
                    "data": str(data_path),
                    "conversations": selected,
                    "systems": systems,
                    "max_questions": args.max_questions,
                    "machine": info,
                    "wall_s": elapsed,
                    "timing": timing,
                    "summaries": summaries,
                    "per_question": per_question,
                },
                indent=1,
            )
        )
        log(f"wrote {args.json}")
    return 0


def zettelmem_available() -> bool:
    """True once the engine exposes ``zettelmem.Memory``."""
    try:
        import zettelmem

        return hasattr(zettelmem, "Memory")
    except ImportError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
