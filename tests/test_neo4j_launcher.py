"""The Neo4j launcher's pure parts, without a server: layout, config, credentials, arguments."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from zettelmem.testing import neo4j_server
from zettelmem.testing.neo4j_home import (
    HOST,
    Neo4jServerError,
    ServerPaths,
    read_state,
    render_config,
    render_env,
    render_pom,
    resolve_password,
    server_command,
    write_credentials,
)


def test_paths_layout(tmp_path: Path) -> None:
    p = ServerPaths.of(tmp_path / "x" / ".." / "home")
    assert p.home == (tmp_path / "home").resolve()
    assert p.conf == p.home / "conf" and p.console == p.home / "logs" / "console.log"
    assert p.pid.name == "neo4j.pid" and p.state.name == "server.json"
    assert p.password.parent == p.env.parent == p.home
    assert p.system_db == p.home / "data" / "databases" / "system"
    assert set(ServerPaths.SUBDIRS) >= {"conf", "logs", "data"}


def test_config_is_loopback_bolt_only(tmp_path: Path) -> None:
    conf = render_config(tmp_path, 17999, "64m")
    settings = dict(line.split("=", 1) for line in conf.splitlines() if line and not line.startswith("#"))
    assert settings["server.bolt.listen_address"] == f"{HOST}:17999" and HOST == "127.0.0.1"
    assert settings["server.default_listen_address"] == "127.0.0.1"
    assert settings["server.http.enabled"] == settings["server.https.enabled"] == "false"
    assert settings["dbms.security.auth_enabled"] == "true"
    assert settings["dbms.usage_report.enabled"] == "false"
    assert settings["server.memory.pagecache.size"] == "64m"
    assert settings["server.directories.data"] == f"{tmp_path}/data"


def test_pom_and_command(tmp_path: Path) -> None:
    assert "<version>5.26.30</version>" in render_pom("5.26.30")
    p = ServerPaths.of(tmp_path)
    cmd = server_command("/usr/bin/java", tmp_path / "lib", p, "256m")
    assert cmd[:3] == ["/usr/bin/java", "-Xms256m", "-Xmx256m"]
    assert cmd[cmd.index("-cp") + 1] == f"{tmp_path / 'lib'}/*"
    assert f"--home-dir={p.home}" in cmd and f"--config-dir={p.conf}" in cmd and cmd[-1] == "--console-mode"


def test_password_resolution(tmp_path: Path) -> None:
    p = ServerPaths.of(tmp_path)
    assert resolve_password(p, None, generate=lambda: "generated-pw") == "generated-pw"  # fresh home
    assert len(resolve_password(p, None)) >= 16  # the default generator
    with pytest.raises(Neo4jServerError, match="at least 8"):
        resolve_password(p, "short")
    p.password.write_text("stored-password\n")
    assert resolve_password(p, None) == "stored-password"  # reused on every later start
    assert resolve_password(p, "another-password") == "another-password"  # not initialized yet: allowed
    p.system_db.mkdir(parents=True)
    with pytest.raises(Neo4jServerError, match="another password"):
        resolve_password(p, "another-password")
    assert resolve_password(p, "stored-password") == "stored-password"
    p.password.unlink()
    with pytest.raises(Neo4jServerError, match="no password file"):
        resolve_password(p, None)


def test_credentials_files_are_private_and_source_cleanly(tmp_path: Path) -> None:
    p = ServerPaths.of(tmp_path)
    password = "it's $HOME `x` \"q\""
    write_credentials(p, "bolt://127.0.0.1:17999", "neo4j", password)
    for f in (p.password, p.env):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert p.password.read_text() == password + "\n"
    assert p.env.read_text() == render_env("bolt://127.0.0.1:17999", "neo4j", password)
    out = subprocess.run(["bash", "-c", f"source {p.env}; printf '%s|%s|%s' \"$NEO4J_URI\" \"$NEO4J_USER\" "
                          "\"$NEO4J_PASSWORD\""], capture_output=True, text=True, check=True).stdout
    assert out == f"bolt://127.0.0.1:17999|neo4j|{password}"


def test_state_file(tmp_path: Path) -> None:
    p = ServerPaths.of(tmp_path)
    assert read_state(p) == {}
    p.state.write_text("{not json")
    assert read_state(p) == {}
    p.state.write_text(json.dumps({"port": 1234}))
    assert read_state(p) == {"port": 1234}


def test_arguments() -> None:
    ap = neo4j_server.build_parser()
    args = ap.parse_args(["start", "--data-dir", "/tmp/x"])
    assert (args.cmd, args.port, args.password, args.heap) == ("start", neo4j_server.DEFAULT_PORT, None, "512m")
    args = ap.parse_args(["start", "--data-dir", "d", "--port", "17000", "--timeout", "5", "--pagecache", "32m"])
    assert (args.port, args.timeout, args.pagecache) == (17000, 5.0, "32m")
    assert ap.parse_args(["stop", "--data-dir", "d"]).timeout == neo4j_server.DEFAULT_STOP_TIMEOUT
    with pytest.raises(SystemExit):
        ap.parse_args(["start"])  # --data-dir is required
    with pytest.raises(SystemExit):
        ap.parse_args(["start", "--data-dir", "d", "--port", "many"])


def test_status_and_stop_of_a_home_without_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert neo4j_server.main(["status", "--data-dir", str(tmp_path)]) == 3
    assert json.loads(capsys.readouterr().out)["running"] is False
    p = ServerPaths.of(tmp_path)
    p.pid.write_text("999999999\n")  # a stale pid file: no such process
    assert neo4j_server.stop(tmp_path) is False and not p.pid.exists()


def test_jar_cache_layout_and_completeness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zettelmem.testing import neo4j_fetch

    monkeypatch.setenv("ZETTELMEM_NEO4J_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZETTELMEM_NEO4J_VERSION", "5.1.2")
    assert neo4j_fetch.cache_root() == (tmp_path / "cache").resolve()
    lib = neo4j_fetch.lib_dir()
    assert lib == (tmp_path / "cache").resolve() / "neo4j-5.1.2" / "lib"
    assert not neo4j_fetch._fetch_complete(lib)  # nothing fetched
    lib.mkdir(parents=True)
    (lib / "a.jar").write_bytes(b"x")
    marker = lib.parent / neo4j_fetch.COMPLETE_MARKER
    marker.write_text(json.dumps({"jars": ["a.jar", "b.jar"]}))
    assert not neo4j_fetch._fetch_complete(lib)  # a jar is missing: fetch again
    (lib / "b.jar").write_bytes(b"x")
    assert neo4j_fetch._fetch_complete(lib)
    assert neo4j_fetch.fetch() == lib  # complete: no Maven run
