"""The simulator's HTTP side: the Mastodon REST subset socialdesk uses, on loopback.

Endpoints: GET /api/v1/notifications[/<id>], GET /api/v1/accounts/verify_credentials,
GET /api/v1/accounts/<id>[/statuses], POST /api/v1/statuses, GET /api/v1/statuses/<id>[/context],
GET /api/v1/instance. Bearer token required (except /api/v1/instance), X-RateLimit-* headers on
every answer, Link headers on lists, faults injected as `Simulator.faults` says.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .core import MAX_CHARACTERS, ApiError

if TYPE_CHECKING:
    from .core import Simulator

_PAGING = ("max_id", "min_id", "since_id")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator):
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are expected (slow-response faults); stay quiet.
        pass


def serve(simulator: Simulator, port: int = 0) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", port), simulator)
    host, bound = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="mastodon-simulator-http", daemon=True)
    thread.start()
    return server, f"http://{host}:{bound}"


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server_version = "MastodonSimulator/0.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing --

    def _dispatch(self, method: str) -> None:
        sim = self.server.simulator
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        body = b""
        length = _int(self.headers.get("Content-Length"))
        if length:
            body = self.rfile.read(length)
        limit, remaining, reset, over = sim.count_request()
        self._rate = (limit, remaining, reset)
        try:
            if path == "/api/v1/instance":
                self._send(200, self._instance())
                return
            if self.headers.get("Authorization", "") != f"Bearer {sim.token}":
                raise ApiError(401, "The access token is invalid")
            if over:
                raise ApiError(429, "Too many requests")
            fault = sim.draw_fault(method, path)
            if fault in ("500", "429"):
                self._fault(fault)
                return
            if fault == "slow":
                time.sleep(sim.slow_seconds)
            status, payload, link = self._route(method, path, query, body, lost=fault == "lost")
            if fault == "lost":
                fault = sim.lost_response_mode()
            self._send(status, payload, link=link, fault=fault)
        except ApiError as exc:
            self._send(exc.status, {"error": exc.message})
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug here must look like a server error, not hang the client
            self._send(500, {"error": f"simulator error: {type(exc).__name__}: {exc}"})

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
               lost: bool) -> tuple[int, Any, str | None]:
        sim = self.server.simulator
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "v1"] or len(parts) < 3:
            raise ApiError(404, "Record not found")
        resource, rest = parts[2], parts[3:]
        one = lambda name: (query.get(name) or [None])[-1]  # noqa: E731
        if method == "GET" and resource == "notifications":
            if rest:
                return 200, sim.get_notification(_int(rest[0]) or -1), None
            limit = max(1, min(_int(one("limit")) or 40, 80))
            items = sim.list_notifications(
                types=query.get("types[]", []) + query.get("types", []),
                exclude_types=query.get("exclude_types[]", []) + query.get("exclude_types", []),
                max_id=_int(one("max_id")), min_id=_int(one("min_id")),
                since_id=_int(one("since_id")), limit=limit,
            )
            return 200, items, self._link(path, query, items)
        if method == "GET" and resource == "accounts" and rest:
            if rest == ["verify_credentials"]:
                account = dict(sim.brand)
                account["source"] = {"privacy": "public", "sensitive": False, "language": "en",
                                     "note": "", "fields": []}
                return 200, account, None
            if len(rest) == 1:
                return 200, sim.account(rest[0]), None
            if len(rest) == 2 and rest[1] == "statuses":
                limit = max(1, min(_int(one("limit")) or 20, 40))
                items = sim.account_statuses(
                    rest[0], max_id=_int(one("max_id")), min_id=_int(one("min_id")),
                    since_id=_int(one("since_id")), limit=limit,
                )
                return 200, items, self._link(path, query, items)
        if resource == "statuses":
            if method == "POST" and not rest:
                params = self._params(body)
                status = sim.post_status(params, self.headers.get("Idempotency-Key"), lost=lost)
                return 200, status, None
            if method == "GET" and len(rest) == 1:
                return 200, sim.get_status(rest[0]), None
            if method == "GET" and len(rest) == 2 and rest[1] == "context":
                return 200, sim.context(rest[0]), None
        raise ApiError(404, "Record not found")

    def _params(self, body: bytes) -> dict[str, Any]:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                raise ApiError(400, "Error occurred while parsing request parameters") from None
            if not isinstance(params, dict):
                raise ApiError(400, "Error occurred while parsing request parameters")
            return params
        if ctype in ("", "application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            return {k: v[-1] for k, v in form.items()}
        raise ApiError(415, f"Unsupported content type {ctype}")

    def _link(self, path: str, query: dict[str, list[str]], items: list[dict[str, Any]]) -> str | None:
        if not items:
            return None
        host = self.headers.get("Host") or urlsplit(self.server.simulator.base_url or "").netloc
        kept = [(k, v) for k, values in query.items() if k not in _PAGING for v in values]
        base = f"http://{host}{path}?"
        older = urlencode([*kept, ("max_id", items[-1]["id"])])
        newer = urlencode([*kept, ("min_id", items[0]["id"])])
        return f'<{base}{older}>; rel="next", <{base}{newer}>; rel="prev"'

    def _instance(self) -> dict[str, Any]:
        sim = self.server.simulator
        return {
            "uri": urlsplit(sim.traffic.instance).netloc,
            "title": "socialdesk Mastodon simulator",
            "version": "4.3.0 (compatible; socialdesk simulator)",
            "configuration": {"statuses": {"max_characters": MAX_CHARACTERS}},
        }

    def _fault(self, fault: str) -> None:
        if fault == "429":
            self._send(429, {"error": "Too many requests"}, extra={"Retry-After": "1"})
        else:
            self._send(500, {"error": "We're sorry, but something went wrong on our end."})

    def _send(self, status: int, payload: Any, *, link: str | None = None,
              fault: str | None = None, extra: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        length = len(body)
        if fault == "truncated":  # a complete HTTP message carrying half a JSON document
            body = body[: max(1, len(body) // 2)]
            length = len(body)
        elif fault == "dropped":  # the connection dies half-way through the body
            body = body[: max(1, len(body) // 2)]
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(length))
            limit, remaining, reset = self._rate
            self.send_header("X-RateLimit-Limit", str(limit))
            self.send_header("X-RateLimit-Remaining", str(remaining))
            self.send_header("X-RateLimit-Reset", _iso(reset))
            if link:
                self.send_header("Link", link)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if fault == "dropped":
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        if fault == "dropped":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
