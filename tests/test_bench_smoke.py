"""The LoCoMo benchmark helpers: evidence normalisation, metrics, and a tiny smoke run."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench import locomo_data as ld

ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------- normalisation


def test_normalise_splits_packed_ids() -> None:
    assert ld.normalise_evidence(["D8:6; D9:17"]) == ["D8:6", "D9:17"]
    assert ld.normalise_evidence(["D9:1 D4:4 D4:6"]) == ["D9:1", "D4:4", "D4:6"]
    assert ld.normalise_evidence(["D21:18 D21:22 D11:15 D11:19"]) == ["D21:18", "D21:22", "D11:15", "D11:19"]


def test_normalise_fixes_misformatted_ids() -> None:
    assert ld.normalise_evidence(["D:11:26"]) == ["D11:26"]
    assert ld.normalise_evidence(["D30:05"]) == ["D30:5"]


def test_normalise_drops_ids_naming_no_turn_and_duplicates() -> None:
    valid = {"D1:18", "D1:20", "D11:26"}
    assert ld.normalise_evidence(["D1:18", "D", "D1:20"], valid) == ["D1:18", "D1:20"]
    assert ld.normalise_evidence(["D10:19", "D:11:26", "D11:26"], valid) == ["D11:26"]
    assert ld.normalise_evidence(["D"]) == []
    assert ld.normalise_evidence([]) == []


def test_parse_session_date() -> None:
    assert ld.parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56)
    assert ld.parse_session_date(" 12:04 am on 19 December,  2023") == datetime(2023, 12, 19, 0, 4)
    with pytest.raises(ValueError):
        ld.parse_session_date("yesterday")


def test_memory_text_and_selectors() -> None:
    t = ld.Turn(
        "D1:3",
        1,
        3,
        "Caroline",
        "Look!",
        "a photo of a dog",
        "1:56 pm on 8 May, 2023",
        datetime(2023, 5, 8),
        2,
    )
    assert ld.memory_text(t) == "[1:56 pm on 8 May, 2023] Caroline: Look! [shares a photo: a photo of a dog]"
    assert ld.parse_conversations("0-4") == [0, 1, 2, 3, 4]
    assert ld.parse_conversations("all") == list(range(10))
    assert ld.parse_conversations("0,7-8") == [0, 7, 8]
    with pytest.raises(ValueError):
        ld.parse_conversations("12")
    assert ld.set_label([0, 1, 2, 3, 4]).startswith("TUNING")
    assert ld.set_label([5, 6, 7, 8, 9]).startswith("HELD-OUT")
    assert ld.set_label([0]).startswith("subset of TUNING")
    assert ld.set_label([4, 5]).startswith("MIXED")


# ----------------------------------------------------------------------- metrics


def test_score_question_recall_and_hit() -> None:
    items = [{"D1:1"}, {"D2:2"}, {"D3:3"}, {"D1:2"}]
    m = ld.score_question(["D1:2", "D2:2"], items, ks=(1, 2, 4, 20))
    assert m["recall@1"] == 0.0 and m["hit@1"] == 0.0
    assert m["recall@2"] == 0.5 and m["hit@2"] == 0.0
    assert m["recall@4"] == 1.0 and m["hit@4"] == 1.0
    # fewer items than k: the list simply ends
    assert m["recall@20"] == 1.0 and m["hit@20"] == 1.0


def test_score_question_counts_items_not_turns() -> None:
    # one note covering three turns is one item: it fills k=1 on its own
    items = [{"D1:1", "D1:2", "D1:3"}, {"D5:5"}]
    m = ld.score_question(["D1:2", "D5:5"], items, ks=(1, 2))
    assert m["recall@1"] == 0.5 and m["recall@2"] == 1.0 and m["hit@2"] == 1.0
    # a repeated turn does not count twice
    m = ld.score_question(["D1:1", "D1:2"], [{"D1:1"}, {"D1:1"}], ks=(2,))
    assert m["recall@2"] == 0.5


def test_score_question_edge_cases() -> None:
    assert ld.score_question(["D1:1"], [], ks=(1, 5))["recall@5"] == 0.0
    with pytest.raises(ValueError):
        ld.score_question([], [{"D1:1"}])


def test_scores_mean_by_category() -> None:
    sc = ld.Scores(ks=(1,))
    q1 = ld.QA(0, "q", 1, ["D1:1"], ["D1:1"], "a")
    q5 = ld.QA(1, "q", 5, ["D1:2"], ["D1:2"], "a")
    sc.add("s", 0, q1, [{"D1:1"}])
    sc.add("s", 0, q5, [{"D9:9"}])
    assert sc.mean("s", [1, 2, 3, 4]) == ({"recall@1": 1.0, "hit@1": 1.0, "turns_per_item@10": 1.0}, 1)
    sc.add("multi", 0, q1, [{"D1:1", "D1:2", "D1:3"}, {"D2:1"}])
    assert sc.mean("multi", [1])[0]["turns_per_item@10"] == 2.0
    assert sc.mean("s", [5])[0]["recall@1"] == 0.0
    assert sc.mean("s", [2]) == ({}, 0)


def test_format_table() -> None:
    text = ld.format_table("T", ["system", "R@1"], [["bm25", 0.5], ["dense", None]])
    assert "### T" in text and "| bm25" in text and "0.500" in text


# ------------------------------------------------------------------ on the data

DATA = ld.default_data_path()
needs_data = pytest.mark.skipif(  # the data sits beside the project; CI must never skip it
    not DATA.exists() and os.environ.get("ZETTELMEM_REQUIRE_SERVERS") != "1",
    reason=f"LoCoMo data not found at {DATA} (set LOCOMO_DATA)",
)


@needs_data
def test_load_locomo_matches_readme_counts() -> None:
    convs = ld.load_locomo(DATA)
    assert len(convs) == 10
    assert sum(len(c.turns) for c in convs) == 5882
    assert sum(len(c.qa) for c in convs) == 1986
    assert convs[0].sessions == list(range(1, 20))  # conv-26 has dates for 20-35 but no turns
    for c in convs:
        for q in c.qa:
            assert all(e in c.by_id for e in q.evidence)
    assert sum(1 for c in convs for q in c.qa if not q.evidence) == 4  # 4 open-domain without evidence


def test_audit_corrections_attach_to_the_right_questions() -> None:
    convs = ld.load_locomo(DATA, audit=ld.default_audit_path(DATA))
    audited = [(c.index, q) for c in convs for q in c.qa if q.corrected_evidence is not None]
    assert len(audited) == 156  # every entry of the audit names an existing question
    first = convs[0].qa[1]  # locomo_0_qa1 "When did Melanie paint a sunrise?": D1:12 -> D1:14
    assert first.question == "When did Melanie paint a sunrise?"
    assert first.evidence == ["D1:12"] and first.corrected_evidence == ["D1:14"]
    assert first.with_corrected_evidence().evidence == ["D1:14"]
    plain = convs[0].qa[0]
    assert plain.corrected_evidence is None and plain.with_corrected_evidence() is plain
    assert all(q.category in (1, 2, 3, 4) for _, q in audited)


def _engine_available() -> bool:
    if importlib.util.find_spec("zettelmem") is None:
        return False
    import zettelmem

    return hasattr(zettelmem, "Memory")


def _embedder_available() -> bool:
    try:
        from zettelmem.config import OnnxEmbeddingConfig
        from zettelmem.embeddings.onnx import locate_model

        locate_model(OnnxEmbeddingConfig())
        return True
    except Exception:
        return False


@needs_data
def test_locomo_recall_smoke(tmp_path: Path) -> None:
    systems = ["bm25"]
    if _embedder_available():
        systems += ["dense", "hybrid"]
    if _engine_available():
        systems.append("zettelmem")
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.locomo_recall",
            "--conversations",
            "0",
            "--max-questions",
            "20",
            "--systems",
            ",".join(systems),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "subset of TUNING set" in proc.stdout
    assert "| system " in proc.stdout and "R@10" in proc.stdout and "H@20" in proc.stdout
    for s in systems:
        assert f"| {s}" in proc.stdout
    result = json.loads(out.read_text())
    assert "original evidence" in proc.stdout and "corrected evidence" in proc.stdout
    assert [x["evidence"] for x in result["summaries"]] == ["original", "corrected"]
    overall = result["summaries"][0]["systems"]
    for s in systems:
        r = overall[s]["overall_1_4"]
        assert r["n"] == 20
        assert 0.0 <= r["recall@1"] <= r["recall@5"] <= r["recall@10"] <= r["recall@20"] <= 1.0
    # BM25 finds something on this slice (0.588 R@20 when written); guards a broken pipeline
    assert overall["bm25"]["overall_1_4"]["recall@20"] > 0.3


class _FakeMemory:
    """Stands in for zettelmem.Memory with the planned API: word-overlap search."""

    instances: ClassVar[list[_FakeMemory]] = []

    def __init__(self, settings: object) -> None:
        self.settings = settings
        self.items: list[dict[str, Any]] = []
        self.search_args: list[dict[str, object]] = []
        self.closed = False
        _FakeMemory.instances.append(self)

    def add_many(self, items: list[dict[str, Any]], scope: object) -> list[object]:
        assert all(isinstance(it["event_time"], datetime) for it in items)
        from types import SimpleNamespace

        start = len(self.items)
        self.items += [dict(it, scope=scope) for it in items]
        return [SimpleNamespace(note=SimpleNamespace(id=f"n{start + i}", provenance=it["provenance"]))
                for i, it in enumerate(items)]

    def stats(self, scope: object) -> dict[str, int]:
        return {"notes": len(self.items)}

    def search(self, query: str, scope: object, k: int = 10, **kwargs: object) -> list[object]:
        from types import SimpleNamespace

        self.search_args.append(kwargs)

        words = set(query.lower().split())
        scored = sorted(self.items, key=lambda it: -len(words & set(it["content"].lower().split())))
        return [
            SimpleNamespace(note=SimpleNamespace(provenance=it["provenance"]), score=0.0, why="")
            for it in scored[:k]
            if it["scope"] == scope
        ]

    def close(self) -> None:
        self.closed = True


@needs_data
def test_zettelmem_runner_against_fake_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import zettelmem
    from bench import locomo_recall as lr
    from zettelmem.config import Settings
    from zettelmem.models import Provenance, Scope

    monkeypatch.setattr(zettelmem, "Memory", _FakeMemory, raising=False)
    monkeypatch.setattr(zettelmem, "Settings", Settings, raising=False)
    monkeypatch.setattr(zettelmem, "Scope", Scope, raising=False)
    monkeypatch.setattr(zettelmem, "Provenance", Provenance, raising=False)
    conv = ld.load_locomo(DATA)[1]
    qas = [q for q in conv.qa[:10] if q.evidence]
    timing: dict[str, Any] = {}
    ranked = lr.run_zettelmem(conv, [q.question for q in qas], timing)
    mem = _FakeMemory.instances[-1]
    assert mem.closed and len(mem.items) == len(conv.turns)
    first = mem.items[0]
    assert first["content"] == ld.memory_text(conv.turns[0])
    assert first["provenance"].source == "D1:1" and first["provenance"].session == "1"
    assert first["provenance"].turn == 1 and first["scope"].user_id == conv.sample_id
    assert len(ranked) == len(qas) and all(len(r) == 20 for r in ranked)
    assert all(len(item) == 1 and next(iter(item)) in conv.by_id for r in ranked for item in r)
    assert timing["zettelmem"]["queries"] == len(qas)


@needs_data
def test_a_shared_store_variant_searches_the_same_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """zettelmem-nomultistep is built once with zettelmem and searched with multistep=False."""
    import zettelmem
    from bench import locomo_recall as lr
    from zettelmem.config import Settings
    from zettelmem.models import Provenance, Scope

    monkeypatch.setattr(zettelmem, "Memory", _FakeMemory, raising=False)
    monkeypatch.setattr(zettelmem, "Settings", Settings, raising=False)
    monkeypatch.setattr(zettelmem, "Scope", Scope, raising=False)
    monkeypatch.setattr(zettelmem, "Provenance", Provenance, raising=False)
    conv = ld.load_locomo(DATA)[1]
    questions = [q.question for q in conv.qa[:6] if q.evidence]
    timing: dict[str, Any] = {}
    before = len(_FakeMemory.instances)
    ranked = lr.run_zettelmem(conv, questions, timing, "zettelmem", also=["zettelmem-nomultistep"])
    assert len(_FakeMemory.instances) == before + 1  # one store
    mem = _FakeMemory.instances[-1]
    assert mem.search_args == [{}] * len(questions) + [{"multistep": False}] * len(questions)
    assert len(ranked) == len(timing["zettelmem-nomultistep"]["rankings"]) == len(questions)
    assert len(timing["zettelmem"]["latencies"]) == len(timing["zettelmem-nomultistep"]["latencies"]) == len(questions)
    assert timing["zettelmem-nomultistep"]["index_s"] == 0.0 and timing["zettelmem"]["index_s"] > 0.0


def test_whatif_applies_multistep_overrides_and_refuses_heldout() -> None:
    from bench import locomo_whatif as wi
    from zettelmem.config import SearchConfig

    cfg = wi.search_config(SearchConfig(), {"ms_decay": 0.3, "ms_steps": 2, "rrf_k": 7})
    assert (cfg.multistep.decay, cfg.multistep.steps, cfg.rrf_k) == (0.3, 2, 7)
    assert cfg.multistep.relevance == SearchConfig().multistep.relevance
    with pytest.raises(SystemExit):
        wi.main(["--conversations", "5"])  # held out: never tuned on
