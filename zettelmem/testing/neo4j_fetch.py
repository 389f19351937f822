"""Fetch the Neo4j community server's jars from Maven Central, and find a Java to run them.

Part of :mod:`zettelmem.testing.neo4j_server`. ``fetch`` asks Maven to copy
``org.neo4j:neo4j:<version>`` and its runtime dependencies into a cache
(``ZETTELMEM_NEO4J_CACHE``, default ``~/.cache/zettelmem``); it is idempotent and
safe to run from several processes at once.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from zettelmem.testing.neo4j_home import Neo4jServerError, log, render_pom

__all__ = ["DEFAULT_VERSION", "cache_root", "default_version", "fetch", "find_java", "lib_dir"]

DEFAULT_VERSION = "5.26.30"  # 5.26 is the LTS line that still runs on Java 17
# Pinned so a fresh machine resolves the same plugin every time.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
COMPLETE_MARKER = "fetch-complete.json"


# --------------------------------------------------------------------------
# Fetch
# --------------------------------------------------------------------------


def default_version() -> str:
    return os.environ.get("ZETTELMEM_NEO4J_VERSION") or DEFAULT_VERSION


def cache_root() -> Path:
    env = os.environ.get("ZETTELMEM_NEO4J_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".cache" / "zettelmem"


def lib_dir(version: str | None = None) -> Path:
    """Directory holding all jars of the given Neo4j version."""
    return cache_root() / f"neo4j-{version or default_version()}" / "lib"


def _fetch_complete(lib: Path) -> bool:
    marker = lib.parent / COMPLETE_MARKER
    try:
        jars = json.loads(marker.read_text())["jars"]
    except (OSError, ValueError, KeyError):
        return False
    return bool(jars) and all((lib / j).is_file() for j in jars)


def fetch(version: str | None = None) -> Path:
    """Download org.neo4j:neo4j:<version> and its runtime deps; return lib dir.

    Idempotent: returns at once when the cache is already complete.  Safe to
    call from several processes at once (a lock file serializes them).
    """
    version = version or default_version()
    lib = lib_dir(version)
    if _fetch_complete(lib):
        log(f"Neo4j {version} already cached in {lib}")
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with open(lib.parent / ".fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _fetch_complete(lib):  # another process fetched it meanwhile
            log(f"Neo4j {version} already cached in {lib}")
            return lib
        return _fetch_locked(version, lib)


def _fetch_locked(version: str, lib: Path) -> Path:
    mvn = os.environ.get("ZETTELMEM_NEO4J_MVN") or shutil.which("mvn")
    if not mvn:
        raise Neo4jServerError("mvn not found on PATH (set ZETTELMEM_NEO4J_MVN)")
    work = lib.parent
    for stale in work.glob("lib.*"):  # staging dirs of an interrupted fetch
        shutil.rmtree(stale, ignore_errors=True)
    (work / "pom.xml").write_text(render_pom(version))
    staging = Path(tempfile.mkdtemp(prefix="lib.", dir=work))
    cmd = [
        mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(work / "pom.xml"),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    log(f"fetching org.neo4j:neo4j:{version} and its runtime dependencies "
         f"with Maven into {lib} (first time: ~130 MB)...")
    t0 = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(cmd, cwd=work, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
        while True:
            try:
                proc.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                log(f"... mvn still resolving/downloading "
                     f"({time.monotonic() - t0:.0f}s)")
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            out.seek(0)
            raise Neo4jServerError(
                f"mvn failed (exit {proc.returncode}):\n{out.read()[-4000:]}")
    jars = sorted(p.name for p in staging.glob("*.jar"))
    for required in (f"neo4j-{version}.jar", f"neo4j-server-{version}.jar"):
        if required not in jars:
            shutil.rmtree(staging, ignore_errors=True)
            raise Neo4jServerError(f"mvn finished but {required} is missing")
    if lib.exists():
        shutil.rmtree(lib)
    staging.rename(lib)
    size = sum((lib / j).stat().st_size for j in jars)
    (work / COMPLETE_MARKER).write_text(json.dumps(
        {"version": version, "jars": jars, "bytes": size}, indent=1))
    log(f"fetched {len(jars)} jars ({size / 2**20:.0f} MiB) "
         f"in {time.monotonic() - t0:.1f}s")
    return lib


# --------------------------------------------------------------------------
# Java
# --------------------------------------------------------------------------


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True,
                             text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def find_java() -> str:
    """A java executable that Neo4j 5.26 supports (17 or 21)."""
    explicit = os.environ.get("ZETTELMEM_NEO4J_JAVA")
    if explicit:
        return explicit
    candidates: list[str] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.path.join(os.environ["JAVA_HOME"], "bin", "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    for pattern in ("/usr/lib/jvm/*17*/bin/java", "/usr/lib/jvm/*21*/bin/java"):
        candidates.extend(sorted(glob.glob(pattern)))
    for java in candidates:
        if os.access(java, os.X_OK) and _java_major(java) in (17, 21):
            return java
    raise Neo4jServerError(
        "no Java 17 or 21 found (Neo4j 5.26 needs one); set ZETTELMEM_NEO4J_JAVA")
