"""Test and benchmark support, importable like any module.

- :mod:`zettelmem.testing.conformance`: the one ``GraphStore`` conformance suite and helpers;
- :mod:`zettelmem.testing.neo4j_server`: fetch and run a Neo4j 5 community server on loopback;
- :mod:`zettelmem.testing.langgraph`: the factory for LangGraph's upstream store tests.
"""

from zettelmem.testing.conformance import T0, GraphStoreConformance, drop_chroma_collection, make_note, purge_neo4j

__all__ = ["T0", "GraphStoreConformance", "drop_chroma_collection", "make_note", "purge_neo4j"]
