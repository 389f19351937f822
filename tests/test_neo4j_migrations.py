"""Schema migrations on a fresh Neo4j of our own: explicit, recorded, immutable."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Settings
from zettelmem.config import HashingEmbeddingConfig, Neo4jConfig
from zettelmem.errors import SchemaVersionError
from zettelmem.stores.neo4j import Neo4jGraphStore, check_schema, migrate
from zettelmem.stores.neo4j.migrations import load_migrations, migrations_dir

pytestmark = pytest.mark.neo4j


def _copy_migrations(dest: Path) -> Path:
    dest.mkdir()
    for entry in migrations_dir().iterdir():
        if entry.name.endswith(".cypher"):
            (dest / entry.name).write_text(entry.read_text())
    return dest


def test_schema_lifecycle(tmp_path: Path, neo4j_servers: Any) -> None:
    info = neo4j_servers.start("schema")
    cfg = Neo4jConfig(uri=info["uri"], user=info["user"], password=info["password"])
    settings = Settings(home=tmp_path / "home", graph=cfg, embedding=HashingEmbeddingConfig(), use_llm=False)
    store = Neo4jGraphStore(cfg)
    try:
        # the constructor connects, nothing more
        assert not store.run_cypher("SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'zm_' RETURN name", write=False)
        with pytest.raises(SchemaVersionError, match="zettelmem db migrate"):
            store.count_all()
        with pytest.raises(SchemaVersionError, match="setup"):
            Memory(settings)

        shipped = load_migrations()
        assert store.migrate() == [m.id for m in shipped]
        assert store.migrate() == []
        store.setup()
        recorded = store.run_cypher("MATCH (m:ZmMigration) RETURN m.id AS id, m.checksum AS sum, "
                                    "m.applied_at IS NOT NULL AS dated ORDER BY id", write=False)
        assert recorded == [{"id": m.id, "sum": m.checksum, "dated": True} for m in shipped]
        names = {r["name"] for r in store.run_cypher("SHOW CONSTRAINTS YIELD name RETURN name", write=False)}
        assert {"zm_note_id", "zm_change_id", "zm_link_key", "zm_meta_key"} <= names
        with Memory(settings) as mem:
            assert mem.add("Biscuit is a beagle.").note.content == "Biscuit is a beagle."

        # an applied migration edited afterwards is refused, by migrate and by the check
        edited = _copy_migrations(tmp_path / "edited")
        last = sorted(edited.iterdir())[-1]
        last.write_text(last.read_text() + "\n// a harmless-looking edit\n")
        with pytest.raises(SchemaVersionError, match="edited"):
            migrate(store._driver, cfg.database, folder=edited)
        with pytest.raises(SchemaVersionError, match="edited"):
            check_schema(store._driver, cfg.database, folder=edited)

        # a database migrated by a newer zettelmem is refused by this one
        newer = _copy_migrations(tmp_path / "newer")
        (newer / "9999_future.cypher").write_text("CREATE INDEX zm_future IF NOT EXISTS FOR (n:Future) ON (n.x);")
        assert migrate(store._driver, cfg.database, folder=newer) == ["9999_future"]
        with Neo4jGraphStore(cfg) as fresh, pytest.raises(SchemaVersionError, match="newer version"):
            fresh.count_all()
        with pytest.raises(SchemaVersionError, match="newer version"):
            store.setup()
    finally:
        store.close()
        neo4j_servers.stop(info)
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
