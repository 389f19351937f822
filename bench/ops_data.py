"""Generator of the labelled operation set for ``bench.operations`` (zettelmem-free).

Each case is a tiny conversation in its own scope: an old fact, unrelated
distractors about other people, and a last memory that updates, repeats,
look-alikes or is forgotten. Labels say which memory is current, which is
stale, which must stay untouched, and which pairs are duplicates.

Templates and entity pools are split in two halves: the *tune* split (seed 1)
uses the even-indexed phrasings and names, the *test* split (seed 2, held
back) the odd-indexed ones, so the held-back cases share no phrasing and no
name with the cases the detector was tuned on.

    python -m bench.ops_data            # (re)writes bench/data/operations_{tune,test}.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["SPLITS", "generate", "load_cases"]

DATA = Path(__file__).resolve().parent / "data"
SPLITS = {"tune": 1, "test": 2}

# -- entity pools (split by parity: tune takes even indexes, test odd) ----------------------
NAMES = """Ana Marco Priya Tomasz Leila Jonas Sofia Kenji Amara Diego Freya Omar Ingrid Rafael Mei Lucas Nadia
Emil Zara Hugo Yara Felix Chloe Arjun Greta Mateo Aisha Oskar Lena Tariq Elif Bruno Hana Pavel Nora Idris
Clara Viktor Asha Julian Selma Theo Rosa Kwame Lina Anton Maren Ravi Ilse Samir Dana Pietro Esme Yusuf Vera
Milo Ines Bastian Kira""".split()
CITIES = """Lisbon Porto Valencia Bilbao Ghent Utrecht Leipzig Dresden Krakow Gdansk Brno Graz Turin Bologna
Lyon Nantes Bergen Aarhus Tampere Uppsala Cork Galway Edinburgh Bristol Leeds Glasgow Montreal Calgary
Portland Austin Denver Boise Tucson Oaxaca Cusco Quito Osaka Sapporo Busan Taipei Hanoi Penang""".split()
COMPANIES = """Acme Globex Initech Umbrella Hooli Vandelay Stark Wayne Cyberdyne Soylent Tyrell Aperture
Massive Dynamic Oscorp Pied Piper Wonka Gringotts Monarch Nakatomi Zorg Virtucon Gekko Prestige
Duff Sterling Vance Bluth Dunder""".split()
ROLES = """nurse engineer teacher designer chef accountant pharmacist architect journalist librarian
electrician translator paramedic developer baker lawyer dentist photographer""".split()
FOODS = """sushi ramen tacos lasagna paella curry pho dumplings falafel risotto pierogi burritos
gnocchi bibimbap couscous moussaka""".split()
DRINKS = ["espresso", "green tea", "matcha", "lemonade", "kombucha", "chai", "mint tea", "cold brew", "rooibos",
          "hot chocolate"]
SPORTS = """tennis squash badminton volleyball rowing fencing climbing cycling swimming judo""".split()
GENRES = """jazz techno folk reggae opera punk blues salsa""".split()
HOBBIES = """knitting pottery chess gardening birdwatching baking origami woodworking sketching
calligraphy fishing astronomy""".split()
PETS = ["cats", "dogs", "rabbits", "hamsters", "parrots", "goldfish", "tortoises", "guinea pigs"]
RELATIVES = """sister brother cousin mother father aunt uncle roommate""".split()
LANGS = """Spanish German Japanese Korean Arabic Italian Polish Swahili Dutch Greek""".split()
MONTHS = """January February March April May June July August September October November December""".split()
DAYS = """Monday Tuesday Wednesday Thursday Friday Saturday Sunday""".split()
NUMBERS = ["one", "two", "three", "four", "five", "six"]
CHAT = [
    "The weather was lovely at the beach today.", "I finally finished that long novel.",
    "The train was delayed again this morning.", "We watched a documentary about octopuses.",
    "The new bakery downtown sells great croissants.", "My laptop battery barely lasts two hours.",
    "The concert last night was way too loud.", "I need to renew my library card.",
    "Traffic on the ring road was terrible.", "The museum has a new exhibit on maps.",
]


def _half(pool: list[str], split: str) -> list[str]:
    return pool[0::2] if split == "tune" else pool[1::2]


@dataclass
class Ctx:
    """What one case's templates are filled with."""

    rng: random.Random
    split: str

    def pick(self, pool: list[str], avoid: set[str] | None = None) -> str:
        options = [x for x in _half(pool, self.split) if x not in (avoid or set())]
        return self.rng.choice(options)

    def two(self, pool: list[str], avoid: set[str] | None = None) -> tuple[str, str]:
        a = self.pick(pool, avoid)
        return a, self.pick(pool, {a, *(avoid or set())})

    def phr(self, variants: list[Any]) -> Any:
        """A phrasing from this split's half of the variants (every list has at least two)."""
        return self.rng.choice(_half(variants, self.split))


# A statement: (text, first_person). First-person texts are said by the case's person (speaker).
# Every list holds at least two variants; the tune split sees the even ones, the test split the odd ones.
def _update(c: Ctx, kind: str, p: str) -> tuple[list[tuple[str, bool]], tuple[str, bool], str]:
    """Old statement(s), new statement and question for one update case."""
    if kind == "move":
        a, b = c.two(CITIES)
        old = c.phr([(f"{p} lives in {a}.", False), (f"I live in {a} these days.", True),
                     (f"{p}'s apartment is in {a}.", False), (f"My home is in {a}.", True)])
        new = c.phr([(f"{p} moved to {b} last month.", False), (f"We just moved to {b}!", True),
                     (f"{p} now lives in {b}.", False), (f"I relocated to {b} for good.", True),
                     (f"{p} has left {a} and lives in {b} now.", False),
                     (f"I don't live in {a} anymore, my new place is in {b}.", True)])
        q = c.phr([f"Where does {p} live?", f"Which city is {p}'s home?"])
    elif kind == "job":
        a, b = c.two(COMPANIES)
        r = c.pick(ROLES)
        old = c.phr([(f"{p} works at {a}.", False), (f"I work as a {r} at {a}.", True),
                     (f"{p} is a {r} at {a}.", False), (f"My employer is {a}.", True)])
        new = c.phr([(f"{p} started a new job at {b}.", False), (f"I quit {a} and joined {b}.", True),
                     (f"{p} now works at {b}.", False), (f"I got hired by {b} last week.", True),
                     (f"{p} switched jobs and is at {b} now.", False),
                     (f"I no longer work at {a}; I'm with {b} now.", True)])
        q = c.phr([f"Where does {p} work?", f"Who is {p}'s employer?"])
    elif kind == "relationship":
        a, b = c.two(NAMES, {p})
        old = c.phr([(f"{p} is dating {a}.", False), (f"I'm in a relationship with {a}.", True),
                     (f"{p}'s partner is {a}.", False), (f"My girlfriend is {a}.", True)])
        new = c.phr([(f"{p} broke up with {a} and is seeing {b} now.", False),
                     (f"I split up with {a}; I'm with {b} now.", True),
                     (f"{p} is now married to {b}.", False), (f"I'm engaged to {b} now.", True),
                     (f"{p} and {a} are no longer together.", False),
                     (f"My new partner is {b}.", True)])
        q = c.phr([f"Who is {p}'s partner?", f"Who is {p} in a relationship with?"])
    elif kind == "preference":
        cat, pool = c.rng.choice([("food", FOODS), ("drink", DRINKS), ("sport", SPORTS), ("music", GENRES)])
        a, b = c.two(pool)
        noun = {"food": "food", "drink": "drink", "sport": "sport", "music": "music genre"}[cat]
        old = c.phr([(f"{p}'s favourite {noun} is {a}.", False), (f"My favorite {noun} is {a}.", True),
                     (f"{p} prefers {a} over any other {noun}.", False), (f"I like {a} best of all.", True)])
        new = c.phr([(f"{p}'s favourite {noun} is {b} now.", False),
                     (f"These days my favorite {noun} is {b}.", True),
                     (f"{p} has gone off {a}; {b} is the favourite now.", False),
                     (f"I don't like {a} anymore, I prefer {b}.", True),
                     (f"Lately {p} prefers {b} to {a}.", False),
                     (f"I used to love {a}, but now {b} is my favorite.", True)])
        q = c.phr([f"What is {p}'s favourite {noun}?", f"Which {noun} does {p} like most?"])
    elif kind == "count":
        pet = c.pick(PETS)
        i = c.rng.randrange(0, 4)
        a, b = NUMBERS[i], NUMBERS[i + c.rng.choice([1, 2])]
        old = c.phr([(f"{p} has {a} {pet}.", False), (f"I have {a} {pet}.", True),
                     (f"{p} owns {a} {pet}.", False), (f"We keep {a} {pet} at home.", True)])
        new = c.phr([(f"{p} has {b} {pet} now.", False), (f"We adopted more, so now I have {b} {pet}.", True),
                     (f"{p} now owns {b} {pet}.", False), (f"I have {b} {pet} now, not {a}.", True),
                     (f"{p} got more {pet}; that makes {b} now.", False),
                     (f"Our home has {b} {pet} now.", True)])
        q = c.phr([f"How many {pet} does {p} have?", f"What number of {pet} does {p} own?"])
    elif kind == "date":
        ev = c.rng.choice(["wedding", "graduation", "dentist appointment", "job interview", "surgery", "recital"])
        d1, d2 = c.two(DAYS)
        m = c.pick(MONTHS)
        a, b = f"{d1}, {m} {c.rng.randrange(1, 14)}", f"{d2}, {m} {c.rng.randrange(15, 28)}"
        old = c.phr([(f"{p}'s {ev} is on {a}.", False), (f"My {ev} is scheduled for {a}.", True),
                     (f"{p} has the {ev} on {a}.", False), (f"I have my {ev} on {a}.", True)])
        new = c.phr([(f"{p}'s {ev} was moved to {b}.", False), (f"My {ev} got rescheduled to {b}.", True),
                     (f"{p}'s {ev} is now on {b}.", False), (f"The {ev} has been postponed to {b}.", True),
                     (f"{p}'s {ev} changed to {b}.", False), (f"I moved my {ev} to {b}.", True)])
        q = c.phr([f"When is {p}'s {ev}?", f"What date is {p}'s {ev}?"])
    elif kind == "correction":
        m = c.pick(MONTHS)
        d = c.rng.randrange(1, 20)
        a, b = f"{m} {d}", f"{m} {d + c.rng.choice([1, 3, 10])}"
        what = c.rng.choice(["birthday", "anniversary", "name day"])
        old = c.phr([(f"{p}'s {what} is on {a}.", False), (f"My {what} is {a}.", True),
                     (f"{p} celebrates the {what} on {a}.", False), (f"I celebrate my {what} on {a}.", True)])
        new = c.phr([(f"Correction: {p}'s {what} is actually on {b}, not {a}.", False),
                     (f"Sorry, I got it wrong: my {what} is {b}.", True),
                     (f"Actually, {p}'s {what} is on {b}.", False),
                     (f"I misspoke, my {what} is really on {b}.", True),
                     (f"To correct that: {p}'s {what} falls on {b}.", False),
                     (f"Wait, no, my {what} is {b}, not {a}.", True)])
        q = c.phr([f"When is {p}'s {what}?", f"What day is {p}'s {what}?"])
    elif kind == "negation":
        s = c.pick(SPORTS)
        opt = c.rng.randrange(2)
        if opt == 0:
            old = c.phr([(f"{p} plays {s} every week.", False), (f"I play {s} twice a week.", True),
                         (f"{p} goes to {s} practice on weekends.", False), (f"I'm on a {s} team.", True)])
            new = c.phr([(f"{p} no longer plays {s}.", False), (f"I stopped playing {s}.", True),
                         (f"{p} quit {s} after the injury.", False), (f"I don't play {s} anymore.", True),
                         (f"{p} gave up {s} this year.", False), (f"I'm not on the {s} team anymore.", True)])
            q = c.phr([f"Does {p} play {s}?", f"Is {p} still doing {s}?"])
        else:
            diet = c.rng.choice(["vegetarian", "vegan"])
            old = c.phr([(f"{p} is {diet}.", False), (f"I am {diet}.", True),
                         (f"{p} has been {diet} for years.", False), (f"I eat a {diet} diet.", True)])
            new = c.phr([(f"{p} is no longer {diet}.", False), (f"I stopped being {diet}.", True),
                         (f"{p} quit being {diet} last year.", False), (f"I'm not {diet} anymore.", True),
                         (f"{p} used to be {diet} but eats meat now.", False),
                         (f"I gave up being {diet}.", True)])
            q = c.phr([f"Is {p} {diet}?", f"What does {p} eat, is {p} {diet}?"])
    else:
        raise ValueError(kind)
    return [old], new, q


def _fact(c: Ctx, p: str) -> tuple[str, bool, str]:
    """One plain fact about ``p`` (for duplicates and look-alikes): text, first person, slot."""
    slot = c.rng.choice(["home", "work", "food", "pet", "hobby", "lang"])
    if slot == "home":
        v = c.pick(CITIES)
        t = c.phr([(f"{p} lives in {v}.", False), (f"I live in {v}.", True)])
    elif slot == "work":
        v = c.pick(COMPANIES)
        t = c.phr([(f"{p} works at {v}.", False), (f"I work at {v}.", True)])
    elif slot == "food":
        v = c.pick(FOODS)
        t = c.phr([(f"{p}'s favourite food is {v}.", False), (f"My favourite food is {v}.", True)])
    elif slot == "pet":
        v = c.pick(PETS)
        t = c.phr([(f"{p} has two {v}.", False), (f"I have two {v}.", True)])
    elif slot == "hobby":
        v = c.pick(HOBBIES)
        t = c.phr([(f"{p} enjoys {v} on Sundays.", False), (f"I enjoy {v} on Sundays.", True)])
    else:
        v = c.pick(LANGS)
        t = c.phr([(f"{p} speaks fluent {v}.", False), (f"I speak fluent {v}.", True)])
    return t[0], t[1], f"{slot}:{v}"


def _paraphrase(c: Ctx, p: str, slot: str) -> tuple[str, bool]:
    kind, v = slot.split(":", 1)
    options = {
        "home": [(f"{p}'s home is in {v}.", False), (f"My place is in {v}.", True),
                 (f"{p} resides in {v}.", False), (f"I'm living in {v}.", True)],
        "work": [(f"{p} is employed at {v}.", False), (f"My job is at {v}.", True),
                 (f"{p} has a job at {v}.", False), (f"I'm employed by {v}.", True)],
        "food": [(f"{p} loves {v} more than any other food.", False), (f"{v} is my favourite food.", True),
                 (f"{p}'s favorite food is {v}.", False), (f"My favorite dish is {v}.", True)],
        "pet": [(f"{p} owns two {v}.", False), (f"I've got two {v}.", True),
                (f"{p} keeps two {v}.", False), (f"We have two {v} at home.", True)],
        "hobby": [(f"On Sundays {p} enjoys {v}.", False), (f"On Sundays I enjoy {v}.", True),
                  (f"{p} spends Sundays {v}.", False), (f"Sundays are for {v}, for me.", True)],
        "lang": [(f"{p} is fluent in {v}.", False), (f"I'm fluent in {v}.", True),
                 (f"{p} speaks {v} fluently.", False), (f"I speak {v} fluently.", True)],
    }
    return c.phr(options[kind])  # type: ignore[no-any-return]


def _question(p: str, slot: str) -> str:
    kind = slot.split(":", 1)[0]
    return {
        "home": f"Where does {p} live?", "work": f"Where does {p} work?",
        "food": f"What is {p}'s favourite food?", "pet": f"What pets does {p} have?",
        "hobby": f"What does {p} enjoy on Sundays?", "lang": f"Which languages does {p} speak?",
    }[kind]


def _lookalike(c: Ctx, p: str) -> tuple[tuple[str, bool], tuple[str, bool, str | None], str]:
    """A fact and a similar-looking one that must not supersede or merge with it."""
    kind = c.rng.choice(["other_person", "relative", "visit", "born", "hobby", "pet", "lang", "volunteer"])
    q2 = c.pick(NAMES, {p})
    if kind == "other_person":
        a, b = c.two(CITIES)
        first = c.phr([(f"{p} lives in {a}.", False), (f"I live in {a}.", True)])
        second = c.phr([(f"{q2} moved to {b} last month.", False), (f"{q2} now lives in {b}.", False)])
        return first, (*second, None), f"Where does {p} live?"
    if kind == "relative":
        a, b = c.two(CITIES)
        rel = c.pick(RELATIVES)
        first = c.phr([(f"{p} lives in {a}.", False), (f"I live in {a}.", True)])
        second = c.phr([(f"{p}'s {rel} moved to {b}.", False), (f"My {rel} now lives in {b}.", True)])
        return first, (*second, None), f"Where does {p} live?"
    if kind == "visit":
        a, b = c.two(CITIES)
        first = c.phr([(f"{p} lives in {a}.", False), (f"I live in {a}.", True)])
        second = c.phr([(f"{p} visited {b} last weekend.", False), (f"I flew to {b} for a conference.", True),
                        (f"{p} spent a week in {b} on holiday.", False), (f"I went to {b} to see friends.", True)])
        return first, (*second, None), f"Where does {p} live?"
    if kind == "born":
        a, b = c.two(CITIES)
        first = c.phr([(f"{p} lives in {a}.", False), (f"I live in {a}.", True)])
        second = c.phr([(f"{p} was born in {b}.", False), (f"I grew up in {b}.", True)])
        return first, (*second, None), f"Where does {p} live?"
    if kind == "hobby":
        a, b = c.two(HOBBIES)
        first = c.phr([(f"{p} enjoys {a}.", False), (f"I enjoy {a}.", True)])
        second = c.phr([(f"{p} also enjoys {b}.", False), (f"I've taken up {b} as well.", True),
                        (f"{p} likes {b} too.", False), (f"I also like {b}.", True)])
        return first, (*second, None), f"Does {p} enjoy {a}?"
    if kind == "pet":
        a, b = c.two(NAMES, {p})
        first = c.phr([(f"{p} has a dog named {a}.", False), (f"I have a dog called {a}.", True)])
        second = c.phr([(f"{p} has a cat named {b}.", False), (f"I also have a cat called {b}.", True)])
        return first, (*second, None), f"What is the name of {p}'s dog?"
    if kind == "lang":
        a, b = c.two(LANGS)
        first = c.phr([(f"{p} speaks {a}.", False), (f"I speak {a}.", True)])
        second = c.phr([(f"{p} is learning {b}.", False), (f"I started learning {b}.", True)])
        return first, (*second, None), f"Which language does {p} speak?"
    a, b = c.two(COMPANIES)
    first = c.phr([(f"{p} works at {a}.", False), (f"I work at {a}.", True)])
    second = c.phr([(f"{p} volunteers at {b} on weekends.", False), (f"I do volunteer shifts at {b}.", True),
                    (f"{p} visited the {b} office for a meeting.", False), (f"I had lunch with people from {b}.", True)])
    return first, (*second, None), f"Where does {p} work?"


def _distractors(c: Ctx, p: str, n: int) -> list[dict[str, Any]]:
    """Unrelated memories: facts about other people, and chit-chat."""
    out: list[dict[str, Any]] = []
    used = {p}
    while len(out) < n:
        item: dict[str, Any]
        if c.rng.random() < 0.3:
            item = {"content": c.rng.choice(CHAT), "speaker": p}
        else:
            q = c.pick(NAMES, used)
            used.add(q)
            text, first, _slot = _fact(c, q)
            item = {"content": text, "speaker": q if first else None}
        if all(o["content"] != item["content"] for o in out):  # no repeats among distractors
            out.append(item)
    return out


def _mem(text: str, first: bool, p: str) -> dict[str, Any]:
    return {"content": text, "speaker": p if first else None}


UPDATE_KINDS = ["move", "job", "relationship", "preference", "count", "date", "correction", "negation"]
PLAN = [*[(k, 26) for k in UPDATE_KINDS], ("duplicate_exact", 25), ("duplicate_paraphrase", 25),
        ("lookalike", 50), ("delete_hard", 15), ("delete_soft", 10)]


def _variant(text: str, rng: random.Random) -> str:
    """The same content, re-typed: other case, spacing or final punctuation."""
    choice = rng.randrange(3)
    if choice == 0:
        return "  " + text.lower() + " "
    if choice == 1:
        return text.rstrip(".!") + "!"
    return text.replace(" ", "  ", 2)


def generate(split: str) -> list[dict[str, Any]]:
    """All cases of one split, reproducibly (the split's seed fixes every draw)."""
    rng = random.Random(SPLITS[split])
    c = Ctx(rng, split)
    t0 = datetime(2025, 1, 6, 9, tzinfo=UTC)
    cases: list[dict[str, Any]] = []
    for kind, n in PLAN:
        for i in range(n):
            p = c.pick(NAMES)
            case: dict[str, Any] = {"id": f"{split}-{kind}-{i:03d}", "kind": kind}
            distract = _distractors(c, p, rng.randrange(2, 5))
            if kind in UPDATE_KINDS:
                olds, new, q = _update(c, kind, p)
                mems = [_mem(t, f, p) for t, f in olds] + distract + [_mem(*new, p)]
                case.update(group="update", memories=mems, query=q, current=len(mems) - 1, stale=[0],
                            keep=list(range(1, len(mems) - 1)))
            elif kind.startswith("duplicate"):
                text, first, slot = _fact(c, p)
                again = (_variant(text, rng), first) if kind == "duplicate_exact" else _paraphrase(c, p, slot)
                mems = [_mem(text, first, p), *distract, _mem(*again, p)]
                case.update(group="duplicate", memories=mems, query=_question(p, slot), current=0,
                            duplicate_of={str(len(mems) - 1): 0}, keep=list(range(len(mems) - 1)))
            elif kind == "lookalike":
                (t1, f1), (t2, f2, _), q = _lookalike(c, p)
                mems = [_mem(t1, f1, p), *distract, _mem(t2, f2, p)]
                case.update(group="lookalike", memories=mems, query=q, current=0,
                            keep=list(range(len(mems))))
            else:
                # a made-up word: the builder makes it a keyword and tag, so it reaches every store
                marker = "".join(rng.choice(x) for x in ("BDFGKLMNPRSTVZ", "aeiou", "rlnm", "aeiou", "dgkptvz",
                                                         "aeiou", "rnsx")) + rng.choice(["ine", "ora", "elle"])
                what = c.phr(["locker code", "door code", "bike lock code", "wifi password"])
                first = rng.random() < 0.5
                text = f"My {what} is {marker}." if first else f"{p}'s {what} is {marker}."
                mems = [_mem(text, first, p), *distract]
                case.update(group="delete", memories=mems, query=f"What is {p}'s {what}?", forget=0,
                            hard=kind == "delete_hard", marker=marker, keep=list(range(1, len(mems))))
            for j, m in enumerate(case["memories"]):
                m["event_time"] = (t0 + timedelta(days=7 * i + j)).isoformat()
            cases.append(case)
    return cases


def load_cases(split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The committed cases of a split; ``limit`` takes an even slice of every kind."""
    path = DATA / f"operations_{split}.jsonl"
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if limit is None:
        return cases
    kinds = list(dict.fromkeys(c["kind"] for c in cases))
    per = max(1, limit // len(kinds))
    return [c for k in kinds for c in [x for x in cases if x["kind"] == k][:per]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DATA)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        cases = generate(split)
        path = args.out / f"operations_{split}.jsonl"
        path.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in cases))
        print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
