"""A TCP proxy on loopback that injects connection faults in front of a server (the email tests put
it before Dovecot's IMAP port): a seeded share of connections is reset or stalls."""

from __future__ import annotations

import random
import select
import socket
import threading
import time
from collections import Counter

from fakes.server import reset_connection


class FaultProxy:
    """A TCP proxy to `target`. A seeded share of connections is reset after the greeting
    ("reset") or stalls for `slow_seconds` then closes ("stall")."""

    def __init__(self, target: tuple[str, int], *, faults: float, rng: random.Random, slow_seconds: float,
                 counter: Counter[str]):
        self.target = target
        self.faults = faults
        self.rng = rng
        self.slow_seconds = slow_seconds
        self.counter = counter
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.open: set[socket.socket] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> FaultProxy:
        threading.Thread(target=self._accept, name="imap-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.listener.close()

    def reset_all(self) -> None:
        """Break every open connection (a NAT timeout, a server restart)."""
        with self._lock:
            open_now, self.open = list(self.open), set()
        for sock in open_now:
            reset_connection(sock)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.open.add(client)
                fault = self.rng.choice(("reset", "stall")) if self.rng.random() < self.faults else None
                if fault:
                    self.counter[fault] += 1
            threading.Thread(target=self._pipe, args=(client, fault), daemon=True).start()

    def _pipe(self, client: socket.socket, fault: str | None) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            reset_connection(client)
            return
        server.settimeout(None)
        greeted = False
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (server if sock is client else client).sendall(data)
                    if sock is server and not greeted:
                        greeted = True
                        if fault == "reset":
                            return
                        if fault == "stall":
                            time.sleep(self.slow_seconds)
                            return
        except (OSError, ValueError):  # ValueError: reset_all closed the socket under select()
            pass
        finally:
            with self._lock:
                self.open.discard(client)
            reset_connection(client) if fault == "reset" else client.close()
            server.close()
