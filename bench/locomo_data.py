"""LoCoMo evaluation helpers shared by the benchmarks in ``bench/``.

Loading (``load_locomo``), the memory text of a turn (``memory_text``), the
session-date parser, evidence normalisation, retrieval metrics (recall@k and
hit@k over returned *items*, each item covering one or more turns) and the
plain-text tables the benchmarks print.

Data: ``locomo10.json`` from snap-research/LoCoMo (CC BY-NC 4.0, research use
only), found through ``$LOCOMO_DATA``, ``<repo>/../shared/data/locomo/`` or
``/work/shared/data/locomo/``. QA categories follow the official evaluation
code: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial.
Conversations 0-4 are the tuning set, 5-9 the held-out set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORY_NAMES",
    "HELDOUT",
    "KS",
    "MAIN_CATEGORIES",
    "QA",
    "TUNING",
    "Conversation",
    "Scores",
    "Turn",
    "default_audit_path",
    "default_data_path",
    "format_table",
    "load_audit",
    "load_locomo",
    "memory_text",
    "normalise_evidence",
    "parse_conversations",
    "parse_session_date",
    "score_question",
    "set_label",
]

CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
MAIN_CATEGORIES = (1, 2, 3, 4)
KS = (1, 5, 10, 20)
TUNING = tuple(range(0, 5))
HELDOUT = tuple(range(5, 10))

_REPO = Path(__file__).resolve().parent.parent


def default_data_path() -> Path:
    """Where ``locomo10.json`` is: ``$LOCOMO_DATA`` or the shared data folder."""
    env = os.environ.get("LOCOMO_DATA")
    if env:
        return Path(env)
    candidates = [
        _REPO.parent / "shared" / "data" / "locomo" / "locomo10.json",
        Path("/work/shared/data/locomo/locomo10.json"),
    ]
    for cand in candidates:
        if cand.exists():
            return cand
    return candidates[-1]


def default_audit_path(data_path: str | Path | None = None) -> Path:
    """The audit's ``locomo_audit_errors.json`` beside ``locomo10.json``."""
    return Path(data_path or default_data_path()).with_name("locomo_audit_errors.json")


def load_audit(path: str | Path) -> dict[tuple[int, int], list[str]]:
    """``(conversation index, qa index) -> correct_evidence`` from the audit's errors file."""
    out: dict[tuple[int, int], list[str]] = {}
    for item in json.loads(Path(path).read_text(encoding="utf-8")):
        m = re.fullmatch(r"locomo_(\d+)_qa(\d+)", item["question_id"])
        if m is None:
            raise ValueError(f"unexpected audit question_id {item['question_id']!r}")
        out[(int(m.group(1)), int(m.group(2)))] = list(item.get("correct_evidence") or [])
    return out


# --------------------------------------------------------------------------- data

_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%I:%M %p on %B %d, %Y")


def parse_session_date(text: str) -> datetime:
    """Parse a LoCoMo session date such as ``"1:56 pm on 8 May, 2023"`` (naive)."""
    cleaned = re.sub(r"\s+", " ", text.strip())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
    raise ValueError(f"unrecognised LoCoMo session date: {text!r}")


@dataclass(frozen=True)
class Turn:
    """One dialogue turn."""

    dia_id: str  # "D<session>:<turn>"
    session: int
    turn: int  # 1-based inside the session
    speaker: str
    text: str
    caption: str | None  # BLIP caption of a shared photo
    date_text: str  # the session's free-text date
    time: datetime  # parsed session date
    index: int  # 0-based position in the whole conversation


@dataclass
class QA:
    """One question with normalised evidence."""

    index: int  # position in the sample's qa list
    question: str
    category: int
    evidence: list[str]  # normalised, existing turn ids, de-duplicated
    raw_evidence: list[str]
    answer: str | None
    corrected_evidence: list[str] | None = None  # the audit's correct_evidence, normalised (None: not audited)

    def with_corrected_evidence(self) -> QA:
        """This question scored against the audit-corrected evidence (unchanged where not audited)."""
        if self.corrected_evidence is None:
            return self
        return QA(self.index, self.question, self.category, self.corrected_evidence, self.raw_evidence,
                  self.answer, self.corrected_evidence)


@dataclass
class Conversation:
    """One LoCoMo sample."""

    index: int  # 0-9, position in the file
    sample_id: str
    speakers: tuple[str, str]
    turns: list[Turn]
    qa: list[QA]
    by_id: dict[str, Turn] = field(default_factory=dict)

    @property
    def sessions(self) -> list[int]:
        return sorted({t.session for t in self.turns})


def memory_text(turn: Turn) -> str:
    """The protocol's memory text: ``[<date>] <Speaker>: <text>[ [shares a photo: ...]]``."""
    text = f"[{turn.date_text}] {turn.speaker}: {turn.text}"
    if turn.caption:
        text += f" [shares a photo: {turn.caption}]"
    return text


_ID = re.compile(r"D:?(\d+):(\d+)")


def normalise_evidence(raw: Iterable[str], valid: Iterable[str] | None = None) -> list[str]:
    """Split packed ids, fix misformatted ones and drop ids naming no turn.

    ``"D8:6; D9:17"`` -> ``D8:6, D9:17``; ``"D:11:26"`` -> ``D11:26``;
    ``"D30:05"`` -> ``D30:5``; ``"D"`` is dropped, and so is any id not in
    ``valid`` when it is given. Order is kept, duplicates removed.
    """
    valid_set = set(valid) if valid is not None else None
    out: list[str] = []
    for item in raw:
        for m in _ID.finditer(str(item)):
            ident = f"D{int(m.group(1))}:{int(m.group(2))}"
            if valid_set is not None and ident not in valid_set:
                continue
            if ident not in out:
                out.append(ident)
    return out


def load_locomo(path: str | Path | None = None, audit: str | Path | None = None) -> list[Conversation]:
    """Load all samples; sessions are enumerated from ``session_<n>`` keys.

    With ``audit`` (the audit's errors file), each audited question also carries its
    corrected evidence (``QA.corrected_evidence``), normalised like the original.
    """
    data = json.loads(Path(path or default_data_path()).read_text(encoding="utf-8"))
    corrections = load_audit(audit) if audit is not None else {}
    convs: list[Conversation] = []
    for ci, sample in enumerate(data):
        c = sample["conversation"]
        nums = sorted(int(k.split("_")[1]) for k in c if re.fullmatch(r"session_\d+", k))
        turns: list[Turn] = []
        for n in nums:
            date_text = re.sub(r"\s+", " ", c[f"session_{n}_date_time"].strip())
            when = parse_session_date(date_text)
            for ti, t in enumerate(c[f"session_{n}"], 1):
                dia = normalise_evidence([t["dia_id"]])
                turns.append(
                    Turn(
                        dia_id=dia[0] if dia else f"D{n}:{ti}",
                        session=n,
                        turn=ti,
                        speaker=t["speaker"],
                        text=t["text"],
                        caption=(t.get("blip_caption") or None),
                        date_text=date_text,
                        time=when,
                        index=len(turns),
                    )
                )
        by_id = {t.dia_id: t for t in turns}
        qas = []
        for qi, q in enumerate(sample["qa"]):
            answer = q.get("answer", q.get("adversarial_answer"))
            qas.append(
                QA(
                    index=qi,
                    question=q["question"],
                    category=int(q["category"]),
                    evidence=normalise_evidence(q.get("evidence", []), by_id),
                    raw_evidence=list(q.get("evidence", [])),
                    answer=None if answer is None else str(answer),
                    corrected_evidence=(
                        normalise_evidence(corrections[(ci, qi)], by_id) if (ci, qi) in corrections else None
                    ),
                )
            )
        convs.append(
            Conversation(
                index=ci,
                sample_id=sample["sample_id"],
                speakers=(c["speaker_a"], c["speaker_b"]),
                turns=turns,
                qa=qas,
                by_id=by_id,
            )
        )
    return convs


def parse_conversations(spec: str, total: int = 10) -> list[int]:
    """``"0-4"``, ``"5-9"``, ``"all"``, ``"tuning"``, ``"heldout"`` or ``"0,3,7-8"``."""
    spec = spec.strip().lower()
    if spec in ("all", "*"):
        return list(range(total))
    if spec in ("tuning", "tune"):
        return list(TUNING)
    if spec in ("heldout", "held-out", "test"):
        return list(HELDOUT)
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
            rng = range(lo, hi + 1)
        else:
            rng = range(int(part), int(part) + 1)
        for i in rng:
            if not 0 <= i < total:
                raise ValueError(f"conversation index {i} out of range 0-{total - 1}")
            if i not in out:
                out.append(i)
    if not out:
        raise ValueError(f"no conversations in {spec!r}")
    return out


def set_label(indices: Sequence[int], convs: Sequence[Conversation] | None = None) -> str:
    """Name a set of conversations honestly: tuning, held-out, all or a subset."""
    idx = sorted(indices)
    names = ""
    if convs is not None:
        names = " (" + ", ".join(convs[i].sample_id for i in idx) + ")"
    rng = (
        f"{idx[0]}-{idx[-1]}"
        if idx == list(range(idx[0], idx[-1] + 1)) and len(idx) > 1
        else ",".join(map(str, idx))
    )
    if tuple(idx) == TUNING:
        return f"TUNING set: conversations 0-4{names}"
    if tuple(idx) == HELDOUT:
        return f"HELD-OUT set: conversations 5-9{names}"
    if tuple(idx) == TUNING + HELDOUT:
        return f"ALL conversations 0-9 (tuning + held-out){names}"
    if set(idx) <= set(TUNING):
        return f"subset of TUNING set: conversations {rng}{names}"
    if set(idx) <= set(HELDOUT):
        return f"subset of HELD-OUT set: conversations {rng}{names}"
    return f"MIXED tuning/held-out conversations {rng}{names}"


# ------------------------------------------------------------------------ metrics


def score_question(
    evidence: Sequence[str], items: Sequence[Iterable[str]], ks: Sequence[int] = KS
) -> dict[str, float]:
    """recall@k and hit@k for one question.

    ``items`` is the ranked list of returned items; each item is the set of turn
    ids it covers (a note covering several turns still counts as one item).
    recall@k is the fraction of the evidence found in the first k items; hit@k
    is 1.0 when all of it is found. Evidence must be non-empty.
    """
    ev = set(evidence)
    if not ev:
        raise ValueError("score_question needs non-empty evidence")
    out: dict[str, float] = {}
    kmax = max(ks)
    found: set[str] = set()
    found_at: list[int] = []  # |found ∩ ev| after each item
    for item in list(items)[:kmax]:
        found.update(x for x in item if x in ev)
        found_at.append(len(found))
    for k in ks:
        n = found_at[min(k, len(found_at)) - 1] if found_at else 0
        out[f"recall@{k}"] = n / len(ev)
        out[f"hit@{k}"] = 1.0 if n == len(ev) else 0.0
    return out


class Scores:
    """Accumulates per-question metrics by system and category."""

    def __init__(self, ks: Sequence[int] = KS) -> None:
        self.ks = tuple(ks)
        self.rows: list[dict[str, Any]] = []  # one per (system, question)

    def add(self, system: str, conv: int, qa: QA, items: Sequence[Iterable[str]]) -> dict[str, float]:
        m = score_question(qa.evidence, items, self.ks)
        top = [set(it) for it in list(items)[:10]]
        # how many turns an item covers: keeps multi-turn notes honest (1.0 for turn retrieval)
        m["turns_per_item@10"] = sum(len(it) for it in top) / len(top) if top else 0.0
        self.rows.append({"system": system, "conv": conv, "qa": qa.index, "category": qa.category, **m})
        return m

    def mean(
        self, system: str, categories: Iterable[int], convs: Iterable[int] | None = None
    ) -> tuple[dict[str, float], int]:
        cats = set(categories)
        cv = None if convs is None else set(convs)
        rows = [
            r
            for r in self.rows
            if r["system"] == system and r["category"] in cats and (cv is None or r["conv"] in cv)
        ]
        if not rows:
            return {}, 0
        keys = [f"recall@{k}" for k in self.ks] + [f"hit@{k}" for k in self.ks] + ["turns_per_item@10"]
        return {k: sum(r[k] for r in rows) / len(rows) for k in keys}, len(rows)


def format_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table with a bold title line; floats printed with 3 decimals."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3f}"
        return "" if v is None else str(v)

    body = [[cell(v) for v in r] for r in rows]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in body)) if body else len(str(h)) for i, h in enumerate(header)
    ]
    lines = [f"### {title}", ""]
    lines.append("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in body:
        lines.append(
            "| "
            + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
            + " |"
        )
    return "\n".join(lines) + "\n"
