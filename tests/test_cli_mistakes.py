"""Everyday CLI mistakes get one clear line, never a traceback or a silent surprise.

--home pointing at a file, an unwritable home, a mistyped --home for a read
command (refused, nothing created), global options after the command, revert by
change-id prefix, --version, list, and Ctrl-C during ingest without asyncio noise.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zettelmem.cli.app import app, hoist_global_options

ROOT = Path(__file__).resolve().parents[1]
READ_COMMANDS = [["search", "beagle"], ["list"], ["show", "abcd1234"], ["history", "abcd1234"], ["stats"],
                 ["export", "--out", "x.graphml"]]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def home(tmp_path, runner, monkeypatch) -> Path:
    monkeypatch.delenv("ZETTELMEM_HOME", raising=False)
    home: Path = tmp_path / "home"
    for text in ("I adopted a beagle called Biscuit in Porto.", "Biscuit the beagle loves the river in Porto.",
                 "My sister Clara is a vet in Porto."):
        res = runner.invoke(app, ["--home", str(home), "--offline", "add", text])
        assert res.exit_code == 0, res.output
    return home


def one_error_line(res, code: int, needle: str) -> str:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit))
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert needle in lines[0], lines[0]
    return str(lines[0])


def test_version(runner):
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == "zettelmem 0.1.0"


def test_home_that_is_a_file_is_refused(runner, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("not a memory")
    for args in (["add", "hello"], ["search", "hello"], ["stats"]):
        one_error_line(runner.invoke(app, ["--home", str(f), *args]), 2, "is a file")
    one_error_line(runner.invoke(app, ["--home", str(f / "sub"), "add", "hello"]), 2, "is a file")
    assert f.read_text() == "not a memory"


@pytest.mark.parametrize("args", READ_COMMANDS, ids=[a[0] for a in READ_COMMANDS])
def test_read_command_on_a_mistyped_home_refuses_and_creates_nothing(runner, tmp_path, args):
    typo = tmp_path / "hoem"
    one_error_line(runner.invoke(app, ["--home", str(typo), *args]), 2, "no memory at")
    assert not typo.exists()


def test_read_command_on_an_empty_folder_creates_no_store(runner, tmp_path):
    one_error_line(runner.invoke(app, ["--home", str(tmp_path), "search", "x"]), 2, "no memory at")
    assert list(tmp_path.iterdir()) == []


def test_write_command_says_it_created_a_store(runner, tmp_path):
    res = runner.invoke(app, ["--home", str(tmp_path / "new"), "--offline", "add", "hello there"])
    assert res.exit_code == 0 and "created a new memory at" in res.stderr
    res = runner.invoke(app, ["--home", str(tmp_path / "new"), "--offline", "add", "hello again"])
    assert res.exit_code == 0 and "created a new memory" not in res.stderr


def test_unwritable_home_is_one_line(runner, home, monkeypatch):
    # Tests run as root, whom permissions do not stop: make the folder look read-only.
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if (mode & os.W_OK and Path(p) == home)
                        else real(p, mode, **kw))
    one_error_line(runner.invoke(app, ["--home", str(home), "--offline", "add", "x"]), 1, "not writable")
    res = runner.invoke(app, ["--home", str(home), "search", "beagle", "--json"])  # reads still work
    assert res.exit_code == 0, res.output


def test_permission_error_while_opening_is_one_line(runner, home, monkeypatch):
    import zettelmem.engine.sync as sync

    def denied(*a, **kw):
        raise PermissionError(13, "Permission denied", str(home / "graph.sqlite"))

    monkeypatch.setattr(sync, "Memory", denied)
    one_error_line(runner.invoke(app, ["--home", str(home), "add", "x"]), 1, "permission denied")


def test_global_options_after_the_command(runner, home):
    before = runner.invoke(app, ["--home", str(home), "--user", "default", "search", "beagle", "--json"])
    after = runner.invoke(app, ["search", "beagle", "--json", "--home", str(home), "--user", "default"])
    assert before.exit_code == after.exit_code == 0, after.output
    assert [h["note"]["id"] for h in json.loads(before.stdout)] == [h["note"]["id"] for h in json.loads(after.stdout)]
    res = runner.invoke(app, ["list", f"--home={home}", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 3
    res = runner.invoke(app, ["list", "--home", str(home), "--user", "someone-else", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == []  # the scope option applied too


def test_hoist_global_options():
    cmds = {"search", "add", "db"}
    assert hoist_global_options(["search", "q", "--home", "h"], cmds) == ["--home", "h", "search", "q"]
    assert hoist_global_options(["--json", "search", "q", "--home=h", "--offline"], cmds) == \
        ["--json", "--home=h", "--offline", "search", "q"]
    assert hoist_global_options(["--home", "h", "add", "x", "--user", "u"], cmds) == \
        ["--home", "h", "--user", "u", "add", "x"]
    assert hoist_global_options(["add", "--", "--home", "x"], cmds) == ["add", "--", "--home", "x"]
    assert hoist_global_options(["db", "migrate", "--home", "h"], cmds) == ["--home", "h", "db", "migrate"]
    assert hoist_global_options(["--help"], cmds) == ["--help"]


def test_revert_by_unique_change_id_prefix(runner, home):
    from zettelmem import Memory, Settings

    with Memory(Settings(home=home, use_llm=False)) as mem:
        note = mem.list()[0]
        change = mem.update(note.id, tags=["pets"])
    res = runner.invoke(app, ["--home", str(home), "revert", change.id[:7], "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["reverts"] == change.id
    with Memory(Settings(home=home, use_llm=False)) as mem:
        assert mem.get(note.id).tags == note.tags
    one_error_line(runner.invoke(app, ["--home", str(home), "revert", "ffffffffff"]), 2, "no change")
    one_error_line(runner.invoke(app, ["--home", str(home), "revert", "ab"]), 2, "too short")


def test_revert_ambiguous_prefix_is_refused(runner, home, monkeypatch):
    from zettelmem.cli import _common
    from zettelmem.models import Change

    twins = [Change(id="abcd" + "0" * 28, note_id="n", version_before=1, version_after=2, before={}, after={}),
             Change(id="abcd" + "1" * 28, note_id="n", version_before=2, version_after=3, before={}, after={})]
    monkeypatch.setattr(_common, "_changes_in_scope", lambda mem, scope: twins)
    one_error_line(runner.invoke(app, ["--home", str(home), "revert", "abcd"]), 2, "matches 2 changes")


def test_list_command(runner, home):
    res = runner.invoke(app, ["--home", str(home), "list"])
    assert res.exit_code == 0 and "Biscuit" in res.stdout and "notes 1–3 of 3" in res.stdout
    res = runner.invoke(app, ["--home", str(home), "list", "--limit", "2", "--offset", "1", "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 2


def _stored(db: Path) -> int:
    """Notes committed so far (0 while the store is not there yet or is busy)."""
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as con:
            return int(con.execute("SELECT count(*) FROM notes").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_ctrl_c_during_ingest_is_quiet(tmp_path):
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps({"content": f"Note {i}: walked Biscuit by the river in Porto, lap {i}."}) + "\n"
                           for i in range(3000)), encoding="utf-8")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZETTELMEM_")}
    # a job started in the background by a shell (CI may be one) inherits SIGINT ignored, and Python then
    # keeps it ignored: give the child the default handler, as a terminal's Ctrl-C would find it
    proc = subprocess.Popen([sys.executable, "-m", "zettelmem", "--home", str(home), "--offline", "ingest", str(src)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    while _stored(home / "graph.sqlite") == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # until the first batch is committed: add_many is under way, whatever the load
    assert proc.poll() is None, "ingest finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    for noise in ("Traceback", "Task was destroyed", "KeyboardInterrupt", "Exception ignored"):
        assert noise not in err, err
    check = subprocess.run([sys.executable, "-m", "zettelmem", "--home", str(home), "check", "--json"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout + check.stderr
