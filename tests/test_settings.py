"""One settings root, strict: Settings.llm, unknown keywords refused, typed agent wiring, one label cleaner."""

from __future__ import annotations

import pytest

from zettelmem import Memory, Settings
from zettelmem.agents.base import AgentSuite
from zettelmem.agents.llm import select_suite
from zettelmem.agents.offline import offline_suite
from zettelmem.config import AgentsConfig
from zettelmem.engine.core import default_agents
from zettelmem.errors import ConfigurationError, InvalidContent
from zettelmem.llm.config import LLMSettings
from zettelmem.text import clean_labels


@pytest.mark.parametrize("kwargs", [{"hom": "x"}, {"home": "x", "graph": {"backend": "neo4j", "pasword": "x"}},
                                    {"home": "x", "llm": {"modle": "x"}}, {"home": "x", "agents": {"candidate": 3}}])
def test_unknown_settings_keywords_are_errors(kwargs):
    """``Settings(hom=...)`` used to build a memory in ~/.zettelmem, silently."""
    with pytest.raises(ConfigurationError, match="Extra inputs are not permitted"):
        Settings(**kwargs)
    with pytest.raises(ConfigurationError, match="Extra inputs are not permitted"):
        Memory(**kwargs)


def test_settings_and_fields_together_are_an_error(tmp_path):
    with pytest.raises(ConfigurationError, match="not both"):
        Memory(Settings(home=tmp_path), home=tmp_path / "other")


def test_llm_is_a_settings_field_and_its_env_variables_still_work(monkeypatch):
    monkeypatch.setenv("ZETTELMEM_LLM_MODEL", "env-model")
    monkeypatch.setenv("ZETTELMEM_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    s = Settings()
    assert isinstance(s.llm, LLMSettings) and s.llm.model == "env-model" and s.llm.is_configured()
    assert Settings(llm=LLMSettings(model="given")).llm.model == "given"
    assert Settings(llm={"model": "dict", "mode": "staged"}).llm.mode == "staged"
    monkeypatch.setenv("ZETTELMEM_LLM__MODE", "staged")  # the nested form of every other section
    assert Settings().llm.mode == "staged"



def test_agents_come_from_the_one_selection_function(monkeypatch):
    for var in ("ZETTELMEM_LLM_BASE_URL", "ZETTELMEM_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert default_agents(Settings()).name == "offline"
    assert default_agents(Settings(use_llm=False, llm=LLMSettings(base_url="http://127.0.0.1:9/v1"))).name == "offline"
    suite = default_agents(Settings(llm=LLMSettings(base_url="http://127.0.0.1:9/v1", mode="staged")))
    assert suite.name == "llm-staged" and suite.meter is not None and suite.aclose is not None
    assert isinstance(suite.offline, AgentSuite) and suite.offline.name == "offline"
    with pytest.raises(ConfigurationError):
        default_agents(Settings(use_llm=True))
    offline = offline_suite(AgentsConfig())
    assert select_suite(LLMSettings(), AgentsConfig(), offline) is offline
    assert offline.meter is None and offline.aclose is None and not hasattr(offline, "extra")


def test_ingest_batch_size_is_a_typed_setting(tmp_path):
    from zettelmem.config import HashingEmbeddingConfig

    calls: list[tuple[int, int]] = []
    s = Settings(home=tmp_path, embedding=HashingEmbeddingConfig(), use_llm=False, agents=AgentsConfig(batch_size=2))
    with Memory(s) as mem:
        mem.add_many([f"memory {i}" for i in range(5)], progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_one_label_cleaner_strict_for_users_lenient_for_models():
    raw = ["  Porto ", "porto", "dog\x00 walks", "PORTO", "x" * 80, "", 3]
    with pytest.raises(InvalidContent):
        clean_labels(raw, 10)
    assert clean_labels(raw[:4], 10) == ["Porto", "dog walks"]
    lenient = clean_labels(raw, 10, strict=False)
    assert lenient == ["Porto", "dog walks", "x" * 64, "3"]
    assert clean_labels(["Dogs", "dogs", "Cats"], 10, strict=False, lower=True) == ["dogs", "cats"]
    assert clean_labels(["a", "b", "c"], 2) == ["a", "b"]


def test_llm_settings_errors_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="modle"):
        LLMSettings(modle="x")
    with pytest.raises(ConfigurationError, match="timeout"):
        LLMSettings(timeout=-1)
