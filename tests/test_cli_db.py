"""`zettelmem db migrate` and `zettelmem migrate` against the real Neo4j server."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from zettelmem import Memory, Scope, Settings
from zettelmem.cli.app import app
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.testing import purge_neo4j

runner = CliRunner()


def test_db_migrate_on_embedded_is_a_no_op(tmp_path):
    res = runner.invoke(app, ["--home", str(tmp_path), "db", "migrate"])
    assert res.exit_code == 0 and "needs no migrations" in res.output


def test_db_migrate_and_migrate_into_neo4j(tmp_path, neo4j_config, monkeypatch):
    # the shared test database holds hashing-256 vectors (one embedding model per Neo4j database)
    monkeypatch.setenv("ZETTELMEM_EMBEDDING__PROVIDER", "hashing")
    monkeypatch.setenv("ZETTELMEM_EMBEDDING__DIMS", "256")
    monkeypatch.setenv("ZETTELMEM_GRAPH__BACKEND", "neo4j")
    monkeypatch.setenv("ZETTELMEM_GRAPH__URI", neo4j_config.uri)
    monkeypatch.setenv("ZETTELMEM_GRAPH__USER", neo4j_config.user)
    monkeypatch.setenv("ZETTELMEM_GRAPH__PASSWORD", neo4j_config.password.get_secret_value())
    res = runner.invoke(app, ["--home", str(tmp_path / "n"), "--json", "db", "migrate"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["uri"] == neo4j_config.uri
    for var in ("ZETTELMEM_GRAPH__BACKEND", "ZETTELMEM_GRAPH__URI", "ZETTELMEM_GRAPH__USER",
                "ZETTELMEM_GRAPH__PASSWORD"):
        monkeypatch.delenv(var)
    home = tmp_path / "src"
    scope = Scope(user_id="cli-migrate-" + tmp_path.name[-12:])
    with Memory(Settings(home=home, embedding=HashingEmbeddingConfig(dims=256))) as mem:
        ids = [r.note.id for r in mem.add_many(["Ana moved to Lisbon.", "Ana now works at a bakery in Lisbon."],
                                               scope=scope)]
    try:
        args = ["--home", str(home), "--json", "migrate", "--neo4j-uri", neo4j_config.uri,
                "--neo4j-user", neo4j_config.user, "--neo4j-password", neo4j_config.password.get_secret_value(),
                "--vectors-dir", str(tmp_path / "vec")]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        report = json.loads(res.output)
        assert report["ok"] and report["notes"] >= 2
        res = runner.invoke(app, args)  # rerun is safe
        assert res.exit_code == 0 and json.loads(res.output)["ok"]
    finally:
        from zettelmem.stores.neo4j import Neo4jGraphStore

        store = Neo4jGraphStore(neo4j_config)
        purge_neo4j(store, [scope], scope.user_id)
        store.close()
    assert len(ids) == 2
