"""An OpenAI-compatible HTTP server on loopback that replays hand-written replies.

Serves ``POST /v1/chat/completions`` (and ``GET /v1/models``) from fixture files in
``tests/replies/``. Each fixture is JSON::

    {"status": 200,                  # HTTP status (default 200)
     "delay": 0.0,                   # seconds to wait before answering
     "headers": {"Retry-After": "0"},
     "body": {...}}                  # the OpenAI wire body (or "body_text": raw text)

Inside ``body``, the strings ``"$MODEL"`` and ``"$ID"`` are replaced with the request's
model and a fresh completion id. Replies are queued per test with :meth:`queue`;
every request body is kept in :attr:`requests` for assertions.

The structured-output probe (``zettelmem.llm.probe``, sent when the method is
``auto``) is answered apart, without using the queue, as a server that honours the
methods in ``honours`` would: a correct reply for those, a 400 for a ``json_schema``
response format it does not support, plain text (``tool_choice`` ignored, as
llama.cpp's server does with an object) for a tool call it does not honour. Probe
requests go to :attr:`probes`, not :attr:`requests`. Run it by hand with
``python tests/openai_replay_server.py joint_good`` (replays that reply forever).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
import urllib.error
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

__all__ = ["REPLIES", "RecordingProxy", "ReplayServer", "load_reply"]

REPLIES = Path(__file__).parent / "replies"
_PROBE = "zettelmem_probe"
_ids = itertools.count(1)


def load_reply(name: str) -> dict[str, Any]:
    """A fixture from ``tests/replies/<name>.json``."""
    data: dict[str, Any] = json.loads((REPLIES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def _substitute(value: Any, model: str, completion_id: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, model, completion_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, model, completion_id) for v in value]
    if value == "$MODEL":
        return model
    if value == "$ID":
        return completion_id
    return value


class ReplayServer:
    """A threaded loopback server; use as a context manager."""

    def __init__(self, *, repeat: str | None = None, honours: tuple[str, ...] = ("function_calling",)) -> None:
        self.replies: deque[dict[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.probes: list[dict[str, Any]] = []
        self.honours = honours
        self.headers: list[dict[str, str]] = []
        self.repeat = load_reply(repeat) if repeat else None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def queue(self, *names: str) -> ReplayServer:
        """Queue fixtures by name, answered in order."""
        with self._lock:
            self.replies.extend(load_reply(name) for name in names)
        return self

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()  # cuts slow replies short
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _probe_reply(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The answer to a structured-output probe, or None if ``request`` is not one."""
        fmt = request.get("response_format") or {}
        tools = request.get("tools") or []
        is_probe = fmt.get("json_schema", {}).get("name") == _PROBE or (
            bool(tools) and tools[0].get("function", {}).get("name") == _PROBE
        )
        if not is_probe:
            return None
        with self._lock:
            self.probes.append(request)
        if fmt.get("type") == "json_schema":
            if "json_schema" not in self.honours:
                return {"status": 400, "body": {"error": {"message": "response_format json_schema not supported"}}}
            message: dict[str, Any] = {"role": "assistant", "content": '{"probe": "zettelmem"}'}
        else:
            if "function_calling" in self.honours:
                call = {"id": "call_probe", "type": "function",
                        "function": {"name": _PROBE, "arguments": '{"probe": "zettelmem"}'}}
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
            else:
                message = {"role": "assistant", "content": "Hello there, friend!"}
        usage = {"prompt_tokens": 20, "completion_tokens": 6, "total_tokens": 26}
        return {"body": {"id": "$ID", "object": "chat.completion", "created": 0, "model": "$MODEL", "usage": usage,
                         "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}}

    def _next(self, request: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        probe = self._probe_reply(request)
        if probe is not None:
            return probe
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)
            if self.replies:
                return self.replies.popleft()
        if self.repeat is not None:
            return self.repeat
        return {
            "status": 500,
            "body": {"error": {"message": "replay server: no reply queued", "type": "server_error"}},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self) -> None:
                body = {"object": "list", "data": [{"id": "replay", "object": "model"}]}
                self._send(200, json.dumps(body).encode(), {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error":{"message":"not found"}}', {})
                    return
                try:
                    request = json.loads(raw)
                except json.JSONDecodeError:
                    self._send(400, b'{"error":{"message":"bad json"}}', {})
                    return
                reply = server._next(request, {k.lower(): v for k, v in self.headers.items()})
                delay = float(reply.get("delay", 0))
                if delay and server._stop.wait(delay):
                    return
                if "body_text" in reply:
                    payload = reply["body_text"].encode()
                else:
                    body = _substitute(
                        reply.get("body", {}),
                        request.get("model", "replay"),
                        f"chatcmpl-replay-{next(_ids)}",
                    )
                    payload = json.dumps(body).encode()
                self._send(int(reply.get("status", 200)), payload, reply.get("headers", {}))

        return Handler


class RecordingProxy(ReplayServer):
    """Forwards every request to a real endpoint and keeps its chat completions.

    :attr:`recorded` holds ``(request, {"status", "body"})`` pairs of the real
    completions (structured-output probes are forwarded but not kept), to be written
    as replay fixtures.
    """

    def __init__(self, upstream: str, *, timeout: float = 1800.0) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.timeout = timeout
        self.recorded: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def _next(self, request: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        fmt = request.get("response_format") or {}
        tools = request.get("tools") or []
        probe = fmt.get("json_schema", {}).get("name") == _PROBE or (
            bool(tools) and tools[0].get("function", {}).get("name") == _PROBE
        )
        req = urllib.request.Request(
            f"{self.upstream}/chat/completions", data=json.dumps(request).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        reply = {"status": status, "body": json.loads(raw)}
        with self._lock:
            (self.probes if probe else self.requests).append(request)
            if not probe:
                self.recorded.append((request, reply))
        return reply


if __name__ == "__main__":  # pragma: no cover - manual use
    with ReplayServer(repeat=sys.argv[1] if len(sys.argv) > 1 else "joint_good") as srv:
        print(f"replaying on {srv.base_url} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
