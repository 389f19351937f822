"""The grounding rule every evolution proposal passes (offline or LLM)."""

from __future__ import annotations

from zettelmem.agents.base import EvolutionProposal
from zettelmem.engine.guards import check_grounding
from zettelmem.models import Note

TARGET = Note(content="Maya signed up for the pottery class at Clay Collective on Alberta Street.",
              keywords=["pottery class", "Clay Collective", "Alberta Street"], tags=["pottery", "class"],
              context="Maya's new hobby.")
TRIGGER = "Maya: my first wheel-throwing lesson at the studio was on Thursday."


def prop(**fields) -> EvolutionProposal:
    return EvolutionProposal(target_id=TARGET.id, expected_version=1, **fields)


def check(p: EvolutionProposal) -> str | None:
    return check_grounding(p, TARGET, [TARGET.content, TRIGGER])


def refused(p):
    """The reason a proposal is refused (it must be refused)."""
    reason = check(p)
    assert reason is not None, "the proposal was accepted"
    return reason


def test_additions_grounded_in_the_note_or_trigger_pass():
    assert check(prop(tags=["pottery", "class", "wheel-throwing"])) is None
    assert check(prop(keywords=[*TARGET.keywords, "Thursday lesson"])) is None


def test_additions_no_text_supports_are_refused():
    assert "not supported" in refused(prop(tags=["pottery", "class", "ceramics"]))
    assert "no content words" in refused(prop(tags=["pottery", "class", "the"]))


def test_context_must_be_supported_and_add_no_new_names_or_numbers():
    assert check(prop(context="Maya takes a pottery class at Clay Collective; first wheel-throwing lesson Thursday.")) is None
    assert "supported" in refused(prop(context="A famous sculptor teaches advanced glazing techniques."))
    assert "introduces" in refused(prop(context="Maya takes the pottery class at Clay Collective with Priya."))
    assert "introduces" in refused(prop(context="Maya pays 120 for the pottery class at Clay Collective."))


def test_destructive_rewrites_are_refused():
    assert "destructive" in refused(prop(keywords=[]))
    assert "destructive" in refused(prop(tags=["wheel-throwing"]))
    assert "destructive" in refused(prop(context="   "))
    assert check(prop(keywords=["pottery class", "Clay Collective"])) is None  # dropping one of three is fine
