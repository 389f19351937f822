"""Fetch and run a Neo4j 5 community server on loopback (see :mod:`zettelmem.testing.neo4j_server`)."""

from zettelmem.testing.neo4j_server import main

if __name__ == "__main__":
    raise SystemExit(main())
