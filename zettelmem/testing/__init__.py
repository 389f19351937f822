"""Test and benchmark support, importable like any module.

- :mod:`zettelmem.testing.conformance`: the one ``GraphStore`` conformance suite and helpers;
- :mod:`zettelmem.testing.truth`: its ``Memory``-level part (truth maintenance, forgetting);
- :mod:`zettelmem.testing.vectors`: the one ``VectorIndex`` conformance suite;
- :mod:`zettelmem.testing.neo4j_server`: fetch and run a Neo4j 5 community server on loopback;
- :mod:`zettelmem.testing.langgraph`: the factory for LangGraph's upstream store tests.
"""

from zettelmem.testing.conformance import T0, GraphStoreConformance, drop_chroma_collection, make_note, purge_neo4j
from zettelmem.testing.truth import TruthConformance, files_with
from zettelmem.testing.vectors import VectorIndexConformance, drop_chroma_index

__all__ = ["T0", "GraphStoreConformance", "TruthConformance", "VectorIndexConformance", "drop_chroma_collection",
           "drop_chroma_index", "files_with", "make_note", "purge_neo4j"]
