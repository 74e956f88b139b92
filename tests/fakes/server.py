"""A scriptable HTTP server on loopback with fault injection.

Each request is answered by the next scripted `Reply`, else by `handler(seen)`, else 404. With
`faults > 0` a seeded random share of requests gets a fault instead:

- "429": the platform's own rate-limit answer (`rate_limited()`, by default 429 + Retry-After);
- "500": a server error;
- "timeout": the answer comes after `slow_seconds` (longer than the client waits);
- "reset": the connection is closed before any answer;
- "truncated": a complete HTTP message carrying half the JSON body;
- "malformed": a full-length body that is not JSON;
- "dropped": the connection dies half-way through the body;
- "lost" (writes only): the request is carried out, then the connection is reset, so the
  client cannot know whether it worked (the case `find_sent` exists for).
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FAULT_KINDS = ("429", "500", "timeout", "reset", "truncated", "malformed", "dropped", "lost")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # str/bytes sent as is; anything else as JSON (None: an empty body)
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "normal"  # normal | slow | dropped | reset | truncated | malformed
    delay: float = 0.0

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    target: str  # path?query as sent

    def param(self, name: str) -> str | None:
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


def default_rate_limited() -> Reply:
    return Reply(429, {"error": "Too many requests"}, {"Retry-After": "1"})


class LoopbackServer:
    def __init__(
        self,
        handler: Callable[[Seen], Reply] | None = None,
        *,
        faults: float = 0.0,
        fault_kinds: tuple[str, ...] = FAULT_KINDS,
        seed: int = 0,
        slow_seconds: float = 1.0,
        rate_limited: Callable[[], Reply] = default_rate_limited,
        fault_filter: Callable[[Seen], bool] | None = None,
    ):
        self.handler = handler
        self.script: list[Reply] = []
        self.requests: list[Seen] = []
        self.faults = faults
        self.fault_kinds = fault_kinds
        self.slow_seconds = slow_seconds
        self.rate_limited = rate_limited
        self.fault_filter = fault_filter
        self.faults_injected: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # -- life --

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback-fake", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        self.script, self.requests = [], []
        self.faults_injected.clear()

    # -- answering --

    def _draw_fault(self, seen: Seen) -> str | None:
        if self.faults <= 0 or (self.fault_filter is not None and not self.fault_filter(seen)):
            return None
        with self._lock:
            if self._rng.random() >= self.faults:
                return None
            kinds = [k for k in self.fault_kinds if k != "lost" or seen.method != "GET"]
            fault = self._rng.choice(kinds) if kinds else None
        if fault:
            self.faults_injected[fault] += 1
        return fault

    def answer(self, seen: Seen) -> tuple[Reply, bool]:
        """The reply for a request, and whether to reset the connection after carrying it out."""
        self.requests.append(seen)
        fault = self._draw_fault(seen)
        if fault == "429":
            return self.rate_limited(), False
        if fault == "500":
            return Reply(500, {"error": "injected server error"}), False
        if fault == "reset":
            return Reply(mode="reset"), False
        with self._lock:
            scripted = self.script.pop(0) if self.script else None
        reply = scripted or (self.handler(seen) if self.handler else Reply(404, {"error": "not found"}))
        if fault == "lost":
            return reply, True
        if fault == "timeout":
            reply.mode, reply.delay = "slow", self.slow_seconds
        elif fault in ("truncated", "malformed", "dropped"):
            reply.mode = fault
        return reply, False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: LoopbackServer):
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up on a slow answer are expected


def reset_connection(connection: socket.socket) -> None:
    """Close with RST, not FIN: the client sees 'connection reset by peer'."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        seen = Seen(method, url.path, parse_qsl(url.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()}, body, self.path)
        try:
            reply, lose = self.server.fake.answer(seen)
        except Exception as exc:  # a fake's bug must look like a server error, not hang the client
            reply, lose = Reply(500, {"error": f"fake error: {type(exc).__name__}: {exc}"}), False
        if lose or reply.mode == "reset":
            self.close_connection = True
            reset_connection(self.connection)
            return
        payload = reply.payload()
        if reply.mode == "slow":
            time.sleep(reply.delay)
        if reply.mode == "truncated":
            payload = payload[: max(1, len(payload) // 2)]
        elif reply.mode == "malformed":
            payload = b"<html><body>502 Bad Gateway</body></html>"
        length = len(payload)
        if reply.mode == "dropped":
            payload = payload[: max(1, len(payload) // 2)]
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            if reply.mode == "dropped":
                self.close_connection = True
                reset_connection(self.connection)
        except OSError:
            self.close_connection = True
