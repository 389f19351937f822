"""OpenTelemetry gen_ai.memory spans, read back with the SDK's in-memory exporter."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from zettelmem import Memory, Scope, Settings, telemetry
from zettelmem.agents.llm import llm_suite
from zettelmem.agents.offline import offline_suite
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.errors import InvalidInput
from zettelmem.llm import LLMSettings, ScriptedLLM

ME = Scope(user_id="otel", namespace="notes")
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)  # once per process: the global provider cannot be replaced


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    telemetry.configure(capture_content=None)
    yield _EXPORTER
    telemetry.configure(capture_content=None)


@pytest.fixture
def mem(tmp_path: Path, spans: InMemorySpanExporter) -> Iterator[Memory]:
    m = Memory(Settings(home=tmp_path / "home", embedding=HashingEmbeddingConfig()))
    yield m
    m.close()


def _by_op(exporter: InMemorySpanExporter, op: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if (s.attributes or {}).get("gen_ai.operation.name") == op]


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_memory_operations_emit_gen_ai_memory_spans(mem: Memory, spans: InMemorySpanExporter) -> None:
    home = str(mem.settings.home)
    opened = _by_op(spans, "create_memory_store")
    assert len(opened) == 1 and opened[0].name == f"create_memory_store {home}"
    assert _attrs(opened[0])["gen_ai.memory.store.id"] == home

    a = mem.add("Otto repairs bicycles in Ghent.", ME).note
    b = mem.add("Otto repairs bicycles and scooters.", ME).note
    write = _by_op(spans, "update_memory")[0]
    attrs = _attrs(write)
    assert write.name == f"update_memory {home}" and write.kind == trace.SpanKind.CLIENT
    assert attrs["gen_ai.provider.name"] == "zettelmem" and attrs["gen_ai.memory.store.id"] == home
    assert attrs["gen_ai.memory.record.id"] == a.id and attrs["gen_ai.memory.record.count"] == 1
    assert attrs["zettelmem.scope"] == "otel/default/notes" and attrs["zettelmem.scope.user_id"] == "otel"
    assert attrs["zettelmem.llm.calls"] == 0 and attrs["gen_ai.usage.input_tokens"] == 0  # offline agents
    assert "gen_ai.memory.records" not in attrs  # content is off by default

    spans.clear()
    hits = mem.search("bicycles", ME, k=3)
    (search,) = _by_op(spans, "search_memory")
    attrs = _attrs(search)
    assert attrs["gen_ai.memory.record.count"] == len(hits) == 2
    assert set(attrs["zettelmem.record.ids"]) == {a.id, b.id} and attrs["gen_ai.request.top_k"] == 3
    assert "gen_ai.memory.query.text" not in attrs and "gen_ai.memory.records" not in attrs

    spans.clear()
    mem.update(a.id, ME, tags=["repairs"])
    mem.delete([a.id, b.id], ME)
    (update,) = _by_op(spans, "update_memory")
    assert _attrs(update)["gen_ai.memory.record.id"] == a.id and _attrs(update)["zettelmem.method"] == "update"
    (delete,) = _by_op(spans, "delete_memory")
    assert set(_attrs(delete)["zettelmem.record.ids"]) == {a.id, b.id}
    assert _attrs(delete)["gen_ai.memory.record.count"] == 2


def test_content_is_recorded_only_when_asked(mem: Memory, spans: InMemorySpanExporter) -> None:
    telemetry.configure(capture_content=True)
    note = mem.add("Pia's passport number is X1234.", ME).note
    mem.search("passport", ME)
    (write,) = _by_op(spans, "update_memory")
    assert json.loads(str(_attrs(write)["gen_ai.memory.records"])) == [
        {"id": note.id, "content": "Pia's passport number is X1234."}]
    (search,) = _by_op(spans, "search_memory")
    assert _attrs(search)["gen_ai.memory.query.text"] == "passport"


def test_a_failed_operation_marks_its_span(mem: Memory, spans: InMemorySpanExporter) -> None:
    with pytest.raises(InvalidInput):
        mem.search("   ", ME)
    (span,) = _by_op(spans, "search_memory")
    assert span.status.status_code == StatusCode.ERROR and _attrs(span)["error.type"] == "InvalidInput"
    assert span.events == ()  # no exception event: its message could carry memory text


def test_llm_calls_are_counted_per_operation(tmp_path: Path, spans: InMemorySpanExporter) -> None:
    def reply(messages: Any, schema: Any, task: str) -> dict[str, Any]:
        user = messages[1][1]
        ids = [m["id"] for m in json.loads(user.split('<data name="memories">\n')[1].split("\n</data>")[0])]
        return {"notes": [{"memory": i, "keywords": ["sailing"], "tags": ["hobby"], "context": "Sailing.",
                           "memory_type": "episodic", "links": []} for i in ids]}

    settings = Settings(home=tmp_path / "llm", embedding=HashingEmbeddingConfig())
    suite = llm_suite(LLMSettings(batch_size=4), settings.agents, offline_suite(settings.agents),
                      ScriptedLLM(default=reply))
    m = Memory(settings, agents=suite)
    try:
        m.add_many(["Quinn sails on Sundays.", "Quinn sails a yawl."], ME)
    finally:
        m.close()
    (write,) = _by_op(spans, "update_memory")
    assert _attrs(write)["zettelmem.llm.calls"] == 1 and _attrs(write)["gen_ai.memory.record.count"] == 2


def test_without_the_extra_nothing_is_wrapped(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"  # as if opentelemetry-api were not installed
        "from zettelmem.engine.core import AsyncMemory\n"
        "assert not getattr(AsyncMemory, '_zettelmem_traced', False)\n"
        "assert not hasattr(AsyncMemory.search, '__wrapped__')\n"
        "print('untraced')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "untraced"
    from zettelmem import AsyncMemory

    assert getattr(AsyncMemory, "_zettelmem_traced", False) and hasattr(AsyncMemory.search, "__wrapped__")  # with the extra
