"""The offline truth judge: subjects, slots, cessation cues, and its conservative defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zettelmem.agents.offline.truth import OfflineTruthJudge, normalise, read_fact
from zettelmem.models import Note, Provenance

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _note(text: str, speaker: str | None = None, day: int = 0) -> Note:
    return Note(content=text, provenance=Provenance(speaker=speaker), event_time=T0 + timedelta(days=day))


def verdict(old: str, new: str, *, sim: float = 0.8, old_speaker: str | None = None,
            new_speaker: str | None = None) -> str | None:
    a, b = _note(old, old_speaker, 0), _note(new, new_speaker, 3)
    found = OfflineTruthJudge().judge(b, [(a, sim)])
    assert all(v.target_id == a.id and v.agent.kind == "offline" and v.rationale for v in found)
    return found[0].verdict if found else None


@pytest.mark.parametrize(("old", "new"), [
    ("Ana lives in Lisbon.", "Ana moved to Porto last month."),
    ("Ana works at Acme.", "Ana quit Acme and joined Globex."),
    ("Ana's favourite food is sushi.", "These days Ana prefers ramen."),
    ("Ana has two cats.", "Ana has three cats now."),
    ("Ana's wedding is on Friday, June 3.", "Ana's wedding was moved to Saturday, June 18."),
    ("Ana plays tennis every week.", "Ana no longer plays tennis."),
    ("Ana is dating Marco.", "Ana and Marco are no longer together."),
])
def test_same_subject_same_slot_changed_value_supersedes(old: str, new: str) -> None:
    assert verdict(old, new) == "supersedes"


def test_first_person_resolves_to_the_speaker() -> None:
    assert verdict("I live in Lisbon.", "We just moved to Porto!", old_speaker="Ana", new_speaker="Ana") == "supersedes"
    # the same words from someone else are about someone else
    assert verdict("I live in Lisbon.", "I live in Porto.", old_speaker="Ana", new_speaker="Marco") is None


@pytest.mark.parametrize(("old", "new"), [
    ("Ana lives in Lisbon.", "Marco moved to Porto last month."),  # another person
    ("Ana lives in Lisbon.", "Ana's sister moved to Porto."),  # a relative
    ("Ana lives in Lisbon.", "Ana visited Porto last weekend."),  # a visit is not a move
    ("Ana lives in Lisbon.", "Ana was born in Porto."),  # another slot
    ("Ana enjoys chess.", "Ana also enjoys pottery."),  # multi-valued
    ("Ana has a dog named Rex.", "Ana has a cat named Tom."),
    ("Ana works at Acme.", "Ana volunteers at Globex on weekends."),
])
def test_look_alikes_are_independent(old: str, new: str) -> None:
    assert verdict(old, new) is None


def test_unsure_is_contradicts_not_supersedes() -> None:
    # the subject is unresolved (no name, no speaker) but the slot conflicts
    assert verdict("I live in Lisbon.", "I live in Porto now.") == "supersedes"  # both the (one) user
    assert verdict("lives in Lisbon, apparently.", "lives in Porto, apparently.", sim=0.9) == "contradicts"
    # a plain negation without a cue of change only contradicts
    assert verdict("Ana likes the rain.", "Ana does not like the rain.", sim=0.9) == "contradicts"
    assert verdict("lives in Lisbon, apparently.", "lives in Porto, apparently.", sim=0.3) is None


def test_duplicates_need_the_same_subject_and_value() -> None:
    assert verdict("Ana works at Acme.", "Ana is employed at Acme.") == "duplicates"
    assert verdict("Ana works at Acme.", "Marco is employed at Acme.") is None
    assert verdict("Ana works at Acme.", "Ana is employed at Acme.", sim=0.4) is None  # too far apart to merge


def test_a_late_arriving_older_memory_never_closes_a_newer_one() -> None:
    new, old = _note("Ana moved to Porto.", day=5), _note("Ana lives in Lisbon.", day=1)
    assert OfflineTruthJudge().judge(old, [(new, 0.8)]) == []


def test_closed_candidates_are_not_judged_again() -> None:
    a = _note("Ana lives in Lisbon.").model_copy(update={"valid_to": T0 + timedelta(days=1)})
    assert OfflineTruthJudge().judge(_note("Ana moved to Porto.", day=3), [(a, 0.8)]) == []


def test_read_fact_marks_retracted_values() -> None:
    fact = read_fact("I don't live in Lisbon anymore, my new place is in Porto.", "Ana")
    assert fact.subject == "Ana" and fact.slots[("residence", None)] == {"porto"}
    assert "lisbon" in fact.retracted_values and fact.cessation
    assert read_fact("My partner is Marco.", "Ana").subject == "Ana"
    assert read_fact("My sister lives in Oslo.", "Ana").subject == "Ana/sister"


def test_normalise_ignores_case_spacing_and_end_punctuation() -> None:
    assert normalise("  ana lives in  LISBON! ") == normalise("Ana lives in Lisbon.")
    assert normalise("Ana lives in Lisbon.") != normalise("Ana lives in Porto.")
