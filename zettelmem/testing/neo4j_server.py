"""Fetch, cache, start and stop a real Neo4j 5 community server -- no Docker.

The Neo4j community server and all its libraries are published on Maven
Central as ``org.neo4j:neo4j``.  This script asks Maven to copy that artifact
and its runtime dependencies into a local cache, then runs the server's main
class (``org.neo4j.server.CommunityEntryPoint``) straight from that classpath
with ``java``.  No tarball, no ``bin/neo4j`` launcher, no ``neo4j-admin``
script is needed; only Java 17 (or 21) and Maven.

The server is bound to 127.0.0.1 only: Bolt on the chosen port, HTTP and HTTPS
disabled, usage reporting off.  Auth is on; the initial password of user
``neo4j`` is set before the first start through the admin tool's Java main
class (``org.neo4j.cli.AdminTool dbms set-initial-password``), run from the
same classpath.

Usage (command line)::

    python -m zettelmem.testing.neo4j_server fetch  [--version 5.26.30]
    python scripts/neo4j_server.py fetch  [--version 5.26.30]   # the same, a thin entry point
    python scripts/neo4j_server.py start  --data-dir DIR [--port 7687]
                                          [--password PW] [--timeout 120]
                                          [--heap 512m] [--pagecache 128m]
    python scripts/neo4j_server.py status --data-dir DIR
    python scripts/neo4j_server.py stop   --data-dir DIR [--timeout 60]

``start`` prints the connection details on stdout (progress goes to stderr)::

    NEO4J_URI=bolt://127.0.0.1:7687
    NEO4J_USER=neo4j
    NEO4J_PASSWORD=...

and writes them to ``DIR/env`` (``source DIR/env`` in bash exports them) and
the password alone to ``DIR/password``.  Without ``--password`` a random one is
generated on the first start and reused on every later start of that DIR.
Starting a DIR that is already running just checks it and prints the details.

Usage (Python, e.g. from pytest fixtures)::

    from zettelmem.testing import neo4j_server
    neo4j_server.fetch()                # idempotent
    info = neo4j_server.start(tmp_path / "neo4j", port=17687)
    # info == {"uri": "bolt://127.0.0.1:17687", "user": "neo4j",
    #          "password": "...", "pid": 1234, "data_dir": "..."}
    neo4j_server.stop(tmp_path / "neo4j")
    neo4j_server.start(tmp_path / "neo4j", port=17687)   # same data back

The layout of DIR (the Neo4j home) is in :mod:`zettelmem.testing.neo4j_home`.

Environment:

    ZETTELMEM_NEO4J_VERSION  Neo4j version (default: DEFAULT_VERSION below)
    ZETTELMEM_NEO4J_CACHE    cache root (default ~/.cache/zettelmem); the jars
                             go to <root>/neo4j-<version>/lib
    ZETTELMEM_NEO4J_JAVA     java executable to run the server with (default:
                             the first Java 17 or 21 among $JAVA_HOME/bin/java,
                             `java` on PATH, /usr/lib/jvm/*)
    ZETTELMEM_NEO4J_MVN      mvn executable (default: `mvn` on PATH)

Only the Python standard library is required.  When the ``neo4j`` driver is
importable the readiness check logs in and runs ``RETURN 1``; otherwise it
falls back to a raw Bolt handshake.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from zettelmem.testing.neo4j_fetch import DEFAULT_VERSION, default_version, fetch, find_java
from zettelmem.testing.neo4j_home import (
    ADMIN_CLASS,
    HOST,
    MAIN_CLASS,
    USER,
    Neo4jServerError,
    ServerInfo,
    ServerPaths,
    read_state,
    render_config,
    resolve_password,
    server_command,
    write_credentials,
)
from zettelmem.testing.neo4j_home import log as _log

__all__ = [
    "DEFAULT_VERSION",
    "Neo4jServerError",
    "ServerInfo",
    "build_parser",
    "fetch",
    "find_java",
    "main",
    "start",
    "status",
    "stop",
]

DEFAULT_PORT = 7687
DEFAULT_HEAP = "512m"
DEFAULT_PAGECACHE = "128m"
DEFAULT_START_TIMEOUT = 120.0
DEFAULT_STOP_TIMEOUT = 60.0

# Popen handles of servers started by this process, so stop() can reap them
# (otherwise an in-process caller, e.g. pytest, would keep a zombie around).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# --------------------------------------------------------------------------
# Pid and initial password
# --------------------------------------------------------------------------


def _read_pid(p: ServerPaths) -> int | None:
    """Pid from DIR/neo4j.pid if that process is our live server, else None."""
    try:
        pid = int(p.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    if not _alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid  # no /proc: trust the pid file
    args = [a.decode(errors="replace") for a in cmdline]
    if MAIN_CLASS in args and f"--home-dir={p.home}" in args:
        return pid
    return None  # pid was reused by an unrelated process


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
            return False
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    except (OSError, IndexError):
        pass
    return True


def _set_initial_password(java: str, lib: Path, p: ServerPaths,
                          password: str) -> None:
    env = dict(os.environ, NEO4J_HOME=str(p.home), NEO4J_CONF=str(p.conf))
    cmd = [java, "-Xmx128m", "-cp", f"{lib}/*", ADMIN_CLASS,
           "dbms", "set-initial-password", password]
    proc = subprocess.run(cmd, env=env, cwd=p.home, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise Neo4jServerError(
            f"set-initial-password failed (exit {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}")


# --------------------------------------------------------------------------
# Readiness
# --------------------------------------------------------------------------


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex((HOST, port)) == 0


def _bolt_handshake(port: int) -> bool:
    """True when something speaking Bolt answers on the port."""
    try:
        with socket.create_connection((HOST, port), timeout=3) as s:
            # magic preamble + 4 proposed versions (5.x range, 4.4, 4.3..)
            s.sendall(bytes.fromhex("6060b017" "00040405" "00000404"
                                    "00000403" "00000000"))
            answer = s.recv(4)
            return len(answer) == 4 and answer != b"\0\0\0\0"
    except OSError:
        return False


def _ready(uri: str, port: int, password: str) -> bool:
    """One readiness probe. Raises Neo4jServerError on wrong credentials."""
    try:
        import neo4j
        from neo4j.exceptions import AuthError, DriverError, Neo4jError
    except ImportError:
        return _bolt_handshake(port)
    try:
        with neo4j.GraphDatabase.driver(uri, auth=(USER, password),
                                        connection_timeout=5) as driver, driver.session() as session:
            record = session.run("RETURN 1 AS ok").single()
            return record is not None and record["ok"] == 1
    except AuthError as exc:
        raise Neo4jServerError(f"server is up but rejects the password: {exc}") from exc
    except (Neo4jError, DriverError, OSError):
        return False


def _tail(path: Path, offset: int = 0, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# Start / stop / status
# --------------------------------------------------------------------------


def start(data_dir: str | os.PathLike[str], port: int = DEFAULT_PORT,
          password: str | None = None, *, version: str | None = None,
          timeout: float = DEFAULT_START_TIMEOUT, heap: str = DEFAULT_HEAP,
          pagecache: str = DEFAULT_PAGECACHE) -> ServerInfo:
    """Start (or reuse) the server whose home is data_dir; wait until ready.

    Returns dict(uri, user, password, pid, data_dir).  Raises
    Neo4jServerError (after printing the log tail) when it does not come up.
    """
    p = ServerPaths.of(data_dir)
    p.home.mkdir(parents=True, exist_ok=True)
    password = resolve_password(p, password)
    uri = f"bolt://{HOST}:{port}"

    running = _read_pid(p)
    if running is not None:
        state = read_state(p)
        if state.get("port") != port:
            raise Neo4jServerError(
                f"server for {p.home} already runs (pid {running}) on port "
                f"{state.get('port')}; stop it first")
        _log(f"already running (pid {running}); checking it answers")
        _wait_ready(p, running, uri, port, password, timeout, 0)
        write_credentials(p, uri, USER, password)
        return ServerInfo(uri=uri, user=USER, password=password, data_dir=str(p.home), pid=running)

    if _port_open(port):
        raise Neo4jServerError(f"{HOST}:{port} is already in use")

    version = version or default_version()
    lib = fetch(version)
    java = find_java()

    for sub in ServerPaths.SUBDIRS:
        (p.home / sub).mkdir(exist_ok=True)
    (p.conf / "neo4j.conf").write_text(render_config(p.home, port, pagecache))

    if not p.system_db.exists():
        _log("setting the initial password of user neo4j")
        _set_initial_password(java, lib, p, password)
    write_credentials(p, uri, USER, password)

    cmd = server_command(java, lib, p, heap)
    env = dict(os.environ, NEO4J_HOME=str(p.home), NEO4J_CONF=str(p.conf))
    with open(p.console, "ab") as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} start: "
                  f"{shlex.join(cmd)}\n".encode())
        log.flush()
        offset = log.tell()
        _log(f"starting Neo4j {version} on {uri} (home {p.home})")
        proc = subprocess.Popen(cmd, cwd=p.home, env=env,
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    _CHILDREN[proc.pid] = proc
    p.pid.write_text(f"{proc.pid}\n")
    p.state.write_text(json.dumps(
        {"pid": proc.pid, "port": port, "version": version, "java": java,
         "heap": heap, "pagecache": pagecache, "started_at": time.time()},
        indent=1))

    t0 = time.monotonic()
    try:
        _wait_ready(p, proc.pid, uri, port, password, timeout, offset)
    except Neo4jServerError:
        if _alive(proc.pid):
            stop(p.home, timeout=20)
        raise
    _log(f"ready after {time.monotonic() - t0:.1f}s (pid {proc.pid})")
    return ServerInfo(uri=uri, user=USER, password=password, data_dir=str(p.home), pid=proc.pid)


def _wait_ready(p: ServerPaths, pid: int, uri: str, port: int,
                password: str, timeout: float, log_offset: int) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not _alive(pid):
            tail = _tail(p.console, log_offset)
            _log(f"server exited during start; console.log tail:\n{tail}")
            raise Neo4jServerError(f"Neo4j exited during start (see {p.console})")
        try:
            if _ready(uri, port, password):
                return
        except Neo4jServerError:
            _log(f"console.log tail:\n{_tail(p.console, log_offset)}")
            raise
        if time.monotonic() > deadline:
            tail = _tail(p.console, log_offset)
            _log(f"not ready after {timeout:.0f}s; console.log tail:\n{tail}")
            raise Neo4jServerError(f"Neo4j not ready after {timeout:.0f}s")
        time.sleep(0.5)


def stop(data_dir: str | os.PathLike[str], timeout: float = DEFAULT_STOP_TIMEOUT) -> bool:
    """Stop the server of data_dir: SIGTERM, wait, then SIGKILL.

    Returns True if a server was running.  Safe to call when none is.
    """
    p = ServerPaths.of(data_dir)
    pid = _read_pid(p)
    if pid is None:
        p.pid.unlink(missing_ok=True)
        return False
    _log(f"stopping pid {pid}")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, timeout):
        _log(f"still running after {timeout:.0f}s; sending SIGKILL")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not _wait_exit(pid, 15):
            raise Neo4jServerError(f"pid {pid} survived SIGKILL")
    _CHILDREN.pop(pid, None)
    p.pid.unlink(missing_ok=True)
    _log(f"stopped in {time.monotonic() - t0:.1f}s")
    return True


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def status(data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """dict(running, pid, port, bolt, uri) for the server of data_dir."""
    p = ServerPaths.of(data_dir)
    pid = _read_pid(p)
    port = read_state(p).get("port")
    bolt = bool(pid and port and _bolt_handshake(port))
    return {"running": pid is not None, "pid": pid, "port": port,
            "bolt": bolt, "uri": f"bolt://{HOST}:{port}" if port else None}


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``fetch``, ``start``, ``stop``, ``status``."""
    ap = argparse.ArgumentParser(
        description="Fetch/start/stop a local Neo4j 5 community server "
                    "(loopback only, no Docker).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("fetch", help="download the server jars with Maven")
    f.add_argument("--version", default=None)

    s = sub.add_parser("start", help="start the server and wait for Bolt")
    s.add_argument("--data-dir", required=True)
    s.add_argument("--port", type=int, default=DEFAULT_PORT)
    s.add_argument("--password", default=None)
    s.add_argument("--version", default=None)
    s.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT)
    s.add_argument("--heap", default=DEFAULT_HEAP)
    s.add_argument("--pagecache", default=DEFAULT_PAGECACHE)

    t = sub.add_parser("stop", help="stop the server (SIGTERM, then SIGKILL)")
    t.add_argument("--data-dir", required=True)
    t.add_argument("--timeout", type=float, default=DEFAULT_STOP_TIMEOUT)

    st = sub.add_parser("status", help="exit 0 if running and answering "
                                       "Bolt, 1 if running but not, 3 if stopped")
    st.add_argument("--data-dir", required=True)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit code says how it went (``status``: 0 up, 1 not answering, 3 stopped)."""
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fetch":
            print(fetch(args.version))
        elif args.cmd == "start":
            info = start(args.data_dir, args.port, args.password,
                         version=args.version, timeout=args.timeout,
                         heap=args.heap, pagecache=args.pagecache)
            print(f"NEO4J_URI={info['uri']}")
            print(f"NEO4J_USER={info['user']}")
            print(f"NEO4J_PASSWORD={info['password']}")
        elif args.cmd == "stop":
            if not stop(args.data_dir, args.timeout):
                _log("not running")
        elif args.cmd == "status":
            st_ = status(args.data_dir)
            print(json.dumps(st_))
            if not st_["running"]:
                return 3
            return 0 if st_["bolt"] else 1
    except Neo4jServerError as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
