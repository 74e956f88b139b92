"""The fake contract (see tests/fakes/__init__.py) for Mastodon, over the built-in simulator:
it already speaks the Mastodon API on loopback, with faults and Idempotency-Key."""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from socialdesk.adapters.mastodon import MastodonAdapter
from socialdesk.adapters.simulator import Simulator


class Sent(NamedTuple):
    in_reply_to: str
    visibility: str
    text: str


class FakeMastodon:
    kind = "mastodon"

    def __init__(self, *, faults: float = 0.0, seed: int = 0, slow_seconds: float = 1.0,
                 idempotency_keys: bool = True):
        self.simulator = Simulator(rate=0, seed=seed, faults=faults, followup_probability=0.0, other_share=0.0,
                                   slow_seconds=slow_seconds, ratelimit=100_000, idempotency_keys=idempotency_keys)
        self.base_url = ""

    def start(self) -> FakeMastodon:
        self.base_url = self.simulator.start()
        return self

    def stop(self) -> None:
        self.simulator.stop()

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def faults_injected(self) -> Counter:
        return Counter(fault for _, _, fault in self.simulator.faults_injected)

    def adapter(self, **overrides: Any) -> MastodonAdapter:
        return MastodonAdapter(self.base_url, self.simulator.token, **overrides)

    def generate(self, n: int, *, private_share: float = 0.25) -> None:
        self.simulator.generate(n)  # the simulator's traffic has its own share of direct messages

    def busy(self, n: int) -> None:
        """The brand posts n statuses of its own (other agents at work), pushing ours back."""
        for i in range(n):
            self.simulator.post_status({"status": f"Meanwhile, another answer ({i})."}, None)

    def expected_ids(self) -> set[str]:
        return {m["status"]["id"] for m in self.simulator.mentions if m.get("status")}

    def sent(self) -> list[Sent]:
        return [Sent(s["in_reply_to_id"] or "", "private" if s["visibility"] == "direct" else "public",
                     s["text"]) for s in self.simulator.sent]
