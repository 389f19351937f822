"""The Neo4j graph backend: pure Cypher compilation, a tiny executor, migrations.

Install with ``pip install zettelmem[neo4j]``; apply the schema once with
``Neo4jGraphStore(config).setup()`` (or ``zettelmem db migrate``).
"""

from zettelmem.stores.neo4j.migrations import check_schema, migrate
from zettelmem.stores.neo4j.store import Neo4jGraphStore

__all__ = ["Neo4jGraphStore", "check_schema", "migrate"]
