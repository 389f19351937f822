"""Offline truth maintenance: does a new note update, contradict or repeat an older one?

A fact is read as *(subject, slot, value)*. The algorithm, for the new note and
each offered candidate (vector neighbours and same-entity notes):

1. **Subject.** The first person named near the start of the text, after
   discourse markers ("Correction:", "Actually,"): a first-person pronoun means
   the speaker, ``Name's sister`` / ``my sister`` a relative of that person, a
   capitalised name that person. Unresolved when nothing is found and there is
   no speaker. Different subjects are never in conflict.
2. **Slots.** Pattern families over the text read attribute slots and their
   values: residence, employer, partner, birthplace, a favourite of a kind,
   the count of a kind of thing, the date of an event (single-valued), and
   hobbies, languages and named pets (multi-valued). A value inside a negated
   clause ("I don't live in Lisbon anymore", "quit Acme") is recorded as
   *retracted* instead.
3. **Verdicts**, for a candidate about the same subject that is not newer:

   * ``supersedes`` when a single-valued slot they share holds a different
     value now, or when the new note *retracts* something the candidate states
     (a cessation cue -- "no longer", "anymore", "stopped", "quit", "gave up",
     "used to", "broke up" -- over a distinctive term of the candidate);
   * ``duplicates`` when they share a slot with the same value (or are nearly
     the same text, cosine >= ``NEAR``) and nothing is retracted or changed;
   * ``contradicts`` -- the conservative answer -- when slot values differ
     but the subject cannot be resolved on one side, or a plain negation
     ("not", "don't") without a cessation cue meets the candidate's terms.

   A wrong supersession hides a true fact, so everything short of a resolved
   subject, a shared single-valued slot or an explicit cessation is at most
   ``contradicts``. Multi-valued slots (hobbies, languages, pets) never
   supersede: "also enjoys chess" adds a fact.

Every verdict carries a rationale naming its evidence and ``built_by`` offline.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from zettelmem.agents.offline.builder import split_speaker
from zettelmem.agents.verdicts import TruthVerdict
from zettelmem.models import BuiltBy, Note
from zettelmem.text import STOPWORDS, stem, terms

__all__ = ["AGENT", "Fact", "OfflineTruthJudge", "body_of", "names_in", "normalise", "read_fact", "speaker_of"]

AGENT = BuiltBy(kind="offline", agent="offline-truth", version="1")

#: Cosine at or above which two notes about the same subject with no conflicting slot are duplicates.
NEAR = 0.93
#: Cosine a duplicate sharing a slot value must still reach (guards against "two cats" vs "two cats, one sick").
DUP_FLOOR = 0.6
#: Cosine at or above which an unresolved-subject slot conflict is reported as ``contradicts``.
CONTRA = 0.6
#: Notes longer than this (words) hold several facts: they are never superseded or merged, only contradicted.
SHORT_WORDS = 30

_MONTHS = "january february march april may june july august september october november december".split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_NOT_NAMES = set(_MONTHS) | set(_DAYS) | {d + "s" for d in _DAYS} | {
    "correction", "actually", "sorry", "wait", "no", "yes", "well", "oh", "lately", "so", "also", "update",
    "btw", "fyi", "okay", "ok", "hey", "hi", "anyway", "unfortunately", "finally", "sadly", "good", "news",
    "great", "guess", "today", "yesterday", "tomorrow", "these", "days", "nowadays", "recently", "now", "just",
    "the", "a", "an", "on", "in", "at", "to", "for", "after", "before", "since", "last", "this", "next",
}
_FIRST = {"i", "i'm", "i've", "i'd", "i'll", "my", "me", "we", "we're", "we've", "our", "us", "mine"}
_RELATIVES = {
    "sister", "brother", "cousin", "mother", "mom", "mum", "father", "dad", "aunt", "uncle", "roommate",
    "son", "daughter", "wife", "husband", "partner", "girlfriend", "boyfriend", "friend", "boss", "neighbour",
    "neighbor", "grandma", "grandpa", "grandmother", "grandfather", "niece", "nephew", "colleague", "kid", "kids",
}
_NUM = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_NUMBER = r"(?P<v>" + "|".join(_NUM) + r"|\d{1,3})"
_CAP = r"(?P<v>[A-Z][\w-]+)"
_PHRASE = r"(?P<v>[a-z][a-z-]*(?: [a-z][a-z-]*)?)"
_EVENTS = (r"wedding|graduation|appointment|interview|surgery|recital|birthday|anniversary|name day|exam|party|"
           r"meeting|flight|concert|trip|ceremony|operation|move|deadline|match|game")
_DATE = (r"(?P<v>(?:(?:" + "|".join(_DAYS) + r"),? )?(?:" + "|".join(_MONTHS) + r") \d{1,2}(?:st|nd|rd|th)?"
         r"|(?:" + "|".join(_DAYS) + r"))")
_FAV_NOUN = {"dish": "food", "meal": "food", "cuisine": "food", "beverage": "drink", "genre": "music",
             "music genre": "music", "band": "music", "colour": "color"}

#: (slot family, single-valued, case-sensitive text?, pattern with a ``v`` group and maybe a ``q`` qualifier)
_SLOTS: list[tuple[str, bool, bool, re.Pattern[str]]] = [
    (fam, single, cased, re.compile(p, 0 if cased else re.I))
    for fam, single, cased, p in [
        ("residence", True, True, r"\b(?:live|lives|living|reside|resides|residing|based)\s+in\s+" + _CAP),
        ("residence", True, True, r"\b(?:moved|relocated|relocating|moving|move)\s+(?:back\s+)?to\s+" + _CAP),
        ("residence", True, True, r"\b(?:home|apartment|flat|house|place)\s+is\s+(?:now\s+)?in\s+" + _CAP),
        ("employer", True, True, r"\b(?:work|works|working|worked)\s+(?:as\s+an?\s+[a-z]+\s+)?(?:at|for)\s+" + _CAP),
        ("employer", True, True, r"\b(?:employed|hired|recruited)\s+(?:at|by)\s+" + _CAP),
        ("employer", True, True, r"\b(?:job|position|role)\s+(?:is\s+)?(?:at|with)\s+" + _CAP),
        ("employer", True, True, r"\b(?:employer|company)\s+is\s+(?:now\s+)?" + _CAP),
        ("employer", True, True, r"\bjoined\s+" + _CAP),
        ("employer", True, True, r"\b(?:is|am|'m|are)\s+an?\s+[a-z]+\s+at\s+" + _CAP),
        ("employer", True, True, r"\b(?:is|am|'m)\s+at\s+" + _CAP + r"\s+now\b"),
        ("partner", True, True, r"\b(?:dating|seeing|married\s+to|engaged\s+to|relationship\s+with|together\s+with)\s+" + _CAP),
        ("partner", True, True, r"\b(?:partner|girlfriend|boyfriend|wife|husband|fianc[ée]e?|spouse)\s+is\s+(?:now\s+)?" + _CAP),
        ("birthplace", True, True, r"\b(?:born|grew\s+up|raised)\s+in\s+" + _CAP),
        ("favourite", True, False, r"\bfavou?rite\s+(?P<q>music genre|[a-z]+)\s+(?:is|was|are)\s+(?:now\s+|actually\s+)?" + _PHRASE),
        ("favourite", True, False, r"\b(?:now\s+)?" + _PHRASE + r"\s+is\s+(?:my|his|her|their|our|[a-z]+'s|the)\s+"
         r"(?:new\s+)?favou?rite(?:\s+(?P<q>music genre|[a-z]+))?"),
        ("favourite", True, False, r"\bprefers?\s+" + _PHRASE + r"(?=\s+(?:over|to|now|these)\b|\s*[.,;!]|\s*$)"
         r"(?:\s+(?:over|to)\s+(?:any\s+other|every\s+other|all\s+other)\s+(?P<q>music genre|[a-z]+))?"),
        ("favourite", True, False, r"\blikes?\s+" + _PHRASE + r"\s+best\b"),
        ("favourite", True, False, r"\bloves?\s+" + _PHRASE + r"\s+more\s+than\s+any\s+other\s+(?P<q>music genre|[a-z]+)"),
        ("count", True, False, r"\b" + _NUMBER + r"\s+(?P<q>[a-z]+)"),
        ("count", True, False, r"\bmore\s+(?P<q>[a-z]+)\b[^.]{0,30}?\b" + _NUMBER + r"\b"),
        ("date", True, False, r"\b(?P<q>" + _EVENTS + r")\b[^.;]{0,60}?\b" + _DATE + r"\b"),
        ("hobby", False, False, r"\b(?:enjoy|enjoys|enjoying|taken\s+up|took\s+up|hobby\s+is)\s+" + _PHRASE),
        ("language", False, True, r"\b(?:speak|speaks|speaking)\s+(?:fluent\s+)?" + _CAP),
        ("language", False, True, r"\bfluent\s+in\s+" + _CAP),
        ("learning", False, True, r"\blearning\s+" + _CAP),
        ("pet_name", False, True, r"\b(?P<q>[a-z]+)\s+(?:named|called)\s+" + _CAP),
    ]
]
_NOT_VALUES = set(_NOT_NAMES) | {"new", "now", "it", "that", "this", "being", "to", "be"}
#: Clauses that retract something the subject did or was.
_CESSATION = re.compile(
    r"(\bno longer|\bnot\b[^.;]{0,40}\b(?:anymore|any more)|n't\b[^.;]{0,40}\b(?:anymore|any more)|\bstopped|\bquit|"
    r"gave up|given up|give up|used to|broke up|split up|divorced|separated|left|gone off|went off|"
    r"moved out of|moved away from|ended)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:not|no|never)\b|n't\b", re.I)
_CHANGE = re.compile(
    r"\b(now|no longer|anymore|any more|moved|relocated|switched|changed|new|quit|left|stopped|started|joined|"
    r"used to|these days|lately|nowadays|rescheduled|postponed|correction|actually|instead|gave up|"
    r"broke up|split up|hired|misspoke|wrong|to correct)\b",
    re.I,
)
#: Terms too generic to say two facts are the same fact.
_GENERIC = {stem(w) for w in "be is am are was were have has own keep play like love live work go get got do "
            "week weekend year month day time team every twice anymore longer also really favourite favorite "
            "prefer new now".split()}
_CLAUSE = re.compile(r"[.;:,!?]|\b(?:but|and|so|while|whereas)\b")
_WORDS = re.compile(r"[A-Za-z][\w'-]*")


def normalise(text: str) -> str:
    """Content compared for exact repeats: case-folded, spaces collapsed, end punctuation dropped."""
    return re.sub(r"\s+", " ", text.casefold()).strip().strip(".!?;,: ").strip()


@dataclass
class Fact:
    """What one note says, as far as the patterns can read it."""

    subject: str | None
    text: str = ""
    slots: dict[tuple[str, str | None], set[str]] = field(default_factory=dict)  # (family, qualifier) -> values
    single: set[str] = field(default_factory=set)  # single-valued families present
    retracted: set[str] = field(default_factory=set)  # stems of terms in cessation clauses
    retracted_values: set[str] = field(default_factory=set)  # slot values inside negated clauses
    negated: set[str] = field(default_factory=set)  # stems in plain negations (no cessation cue)
    cessation: bool = False
    change: bool = False
    names: set[str] = field(default_factory=set)


def names_in(text: str) -> set[str]:
    """Capitalised words that are not function words, days, months or discourse markers."""
    return {w.removesuffix("'s") for w in _WORDS.findall(text)
            if w[0].isupper() and w.lower().removesuffix("'s") not in _NOT_NAMES and w.lower() not in STOPWORDS}


_GREETINGS = {"thanks", "thank", "hi", "hey", "hello", "wow", "yeah", "yes", "congrats", "congratulations", "oh",
              "sorry", "great", "awesome", "ok", "okay", "fantastic", "dear", "well", "no", "aw", "haha", "cool"}


def _vocatives(text: str) -> set[int]:
    """Indexes of words that address someone ("Thanks, Mel!", "Wow, Caroline, ...") rather than name a subject."""
    out: set[int] = set()
    spans = list(_WORDS.finditer(text))
    for i, m in enumerate(spans):
        if not m.group(0)[0].isupper():
            continue
        after = text[m.end() : m.end() + 1]
        before = text[: m.start()].rstrip()
        prev = spans[i - 1].group(0).lower() if i else ""
        if after in {",", "!", "?"} and (i == 0 or before.endswith(",") or prev in _GREETINGS):
            out.add(i)
    return out


def _subject(text: str, speaker: str | None) -> str | None:
    words = _WORDS.findall(text)
    addressed = _vocatives(text)
    for i, w in enumerate(words[:8]):
        if i in addressed:
            continue
        low = w.lower()
        nxt = words[i + 1].lower() if i + 1 < len(words) else ""
        # "my sister lives in X" is about the sister; "my partner is Ana" is about me
        names_relative = nxt in _RELATIVES and not re.match(
            r"(?:is|was)\s+(?:now\s+)?[A-Z]", " ".join(words[i + 2 : i + 4]))
        if low in _FIRST:
            who = speaker or "__user__"
            return f"{who}/{nxt}" if low in {"my", "our"} and names_relative else who
        after_preposition = i > 0 and words[i - 1].lower() in {"in", "to", "at", "for", "from", "with", "of", "by"}
        if w[0].isupper() and low.removesuffix("'s") not in _NOT_NAMES and low not in STOPWORDS \
                and not after_preposition:
            name = w.removesuffix("'s")
            return f"{name}/{nxt}" if w.endswith("'s") and names_relative else name
    return speaker


def _qualifier(family: str, q: str | None) -> str | None:
    if q is None:
        return None
    q = q.lower().strip()
    if family == "favourite":
        return _FAV_NOUN.get(q, q)
    if family == "count":
        return q.rstrip("s") or q
    if family == "date":
        return {"appointment": "appointment", "name day": "name day"}.get(q, q)
    return q


def _clean_value(v: str) -> str | None:
    words = [w for w in v.lower().split() if w not in _NOT_VALUES]
    return " ".join(words) or None


def read_fact(text: str, speaker: str | None) -> Fact:
    """Subject, slots and cues of one note's text."""
    fact = Fact(subject=_subject(text, speaker), text=text)
    fact.change = bool(_CHANGE.search(text))
    bounds = [0, *[m.end() for m in _CLAUSE.finditer(text)], len(text)]
    clauses = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    subject_terms = set(terms(fact.subject.replace("/", " "))) if fact.subject else set()
    if speaker:
        subject_terms |= set(terms(speaker))
    for start, end in clauses:
        clause = text[start:end]
        ceased = _CESSATION.search(clause)
        negated = ceased or _NEGATION.search(clause)
        if not negated:
            continue
        words = set(terms(clause)) - subject_terms - _GENERIC
        if ceased:
            fact.cessation = True
            fact.retracted |= words
        else:
            fact.negated |= words
    for family, single, _cased, pattern in _SLOTS:
        for m in pattern.finditer(text):
            value = _clean_value(m.group("v"))
            if value is None or (family in ("residence", "employer", "partner", "birthplace")
                                 and value in _NOT_NAMES):
                continue
            q = m.groupdict().get("q")
            if family == "count" and (q is None or q in STOPWORDS or q in _MONTHS):
                continue
            key = (family, _qualifier(family, q))
            start = max((s for s, _e in clauses if s <= m.start("v")), default=0)
            before = text[start : m.start("v")]
            if _CESSATION.search(text[start : m.end()]) or _NEGATION.search(before):
                fact.retracted_values.add(value)
                continue
            fact.slots.setdefault(key, set()).add(value)
            if single:
                fact.single.add(family)
    return fact


def speaker_of(note: Note) -> str | None:
    """Who said a note: its provenance, else a ``Speaker:`` prefix of its content."""
    return note.provenance.speaker or split_speaker(note.content)[0]


def body_of(note: Note) -> str:
    """A note's content without a ``[date] Speaker:`` prefix."""
    return split_speaker(note.content)[1]


_SINGLE = {"residence", "employer", "partner", "birthplace", "favourite", "count", "date"}


def _shared(a: Fact, b: Fact) -> list[tuple[tuple[str, str | None], set[str], set[str]]]:
    """Slots both facts fill: (key, values of a, values of b); a missing qualifier matches any."""
    out = []
    for (fam, q), va in a.slots.items():
        for (fam2, q2), vb in b.slots.items():
            if fam == fam2 and (q == q2 or q is None or q2 is None):
                out.append(((fam, q or q2), va, vb))
    return out


class OfflineTruthJudge:
    """Supersedes / contradicts / duplicates from subjects, slots and cues (see the module docstring)."""

    def __init__(self, near: float = NEAR, contra: float = CONTRA) -> None:
        self.near = near
        self.contra = contra

    def judge(self, note: Note, candidates: Sequence[tuple[Note, float]]) -> list[TruthVerdict]:
        new = read_fact(body_of(note), speaker_of(note))
        out: list[TruthVerdict] = []
        for other, sim in candidates:
            if other.id == note.id or other.valid_to is not None:
                continue
            if (other.event_time or other.created_at) > (note.event_time or note.created_at):
                continue  # an older memory arriving late never closes a newer one
            verdict = self._pair(new, read_fact(body_of(other), speaker_of(other)), other, sim)
            if verdict is not None:
                out.append(verdict)
        return out

    def _pair(self, new: Fact, old: Fact, other: Note, sim: float) -> TruthVerdict | None:
        same = new.subject is not None and old.subject is not None and new.subject == old.subject
        known = new.subject is not None and old.subject is not None
        if known and not same:
            return None
        shared = _shared(new, old)
        changed = [(k, vn, vo) for k, vn, vo in shared if k[0] in _SINGLE and not (vn & vo)]
        agreeing = [(k, vn, vo) for k, vn, vo in shared if vn & vo]
        old_terms = set(terms(body_of(other))) - _GENERIC
        retracted = sorted((new.retracted & old_terms) | {
            v for vals in old.slots.values() for v in vals if v in new.retracted_values
        })
        # a long note says several things: one changed fact does not retire all of it
        single = len(_WORDS.findall(body_of(other))) <= SHORT_WORDS
        if same and retracted and (new.cessation or new.retracted_values) and not old.cessation:
            why = f"same subject ({new.subject}); the new memory retracts {', '.join(repr(t) for t in retracted[:3])}"
            if single:
                return self._verdict(other, "supersedes", 0.8, why)
            return self._verdict(other, "contradicts", 0.5, f"{why}; the older note says more, kept open")
        if changed:
            (fam, q), vn, vo = changed[0]
            slot = f"{fam}:{q}" if q else fam
            what = f"{slot} changed from {', '.join(sorted(vo))!r} to {', '.join(sorted(vn))!r}"
            if same and single:
                return self._verdict(other, "supersedes", 0.75 if new.change else 0.65,
                                     f"same subject ({new.subject}) and slot; {what}")
            if same:
                return self._verdict(other, "contradicts", 0.5,
                                     f"same subject ({new.subject}) and slot; {what}; the older note says more")
            if sim >= self.contra:
                return self._verdict(other, "contradicts", 0.5, f"subject unresolved; {what} (cosine {sim:.2f})")
            return None
        if new.negated & old_terms and sim >= self.contra and not old.negated:
            words = sorted(new.negated & old_terms)[:3]
            return self._verdict(other, "contradicts", 0.5,
                                 f"the new memory negates {', '.join(repr(w) for w in words)} (cosine {sim:.2f})")
        brief = single and len(_WORDS.findall(new.text)) <= SHORT_WORDS
        if same and brief and not retracted and not new.cessation and not new.negated and not old.negated:
            if agreeing and sim >= DUP_FLOOR:
                (fam, q), vn, vo = agreeing[0]
                slot = f"{fam}:{q}" if q else fam
                return self._verdict(other, "duplicates", min(1.0, sim),
                                     f"same subject ({new.subject}), same {slot} {sorted(vn & vo)[0]!r} "
                                     f"(cosine {sim:.2f})")
            if not shared and sim >= self.near:
                return self._verdict(other, "duplicates", min(1.0, sim),
                                     f"same subject ({new.subject}), nearly the same text (cosine {sim:.2f})")
        return None

    @staticmethod
    def _verdict(other: Note, kind: str, confidence: float, why: str) -> TruthVerdict:
        return TruthVerdict(target_id=other.id, verdict=kind, confidence=confidence,  # type: ignore[arg-type]
                            rationale=why, agent=AGENT)
