"""A built-in Mastodon simulator: a local HTTP server speaking the Mastodon API subset socialdesk
uses, fed by realistic customer traffic (see `traffic`). The demo and the tests run the real
Mastodon adapter against it.

    sim = Simulator(rate=5, seed=1)
    base_url = sim.start()          # http://127.0.0.1:<port>, token "simulator"
    ...
    sim.stop()

`python -m socialdesk.adapters.simulator --port 8765` serves one until Ctrl+C.
"""

from __future__ import annotations

from .core import ApiError, Simulator
from .traffic import BRAND_ID, BRAND_USERNAME, Traffic, notifications

__all__ = ["BRAND_ID", "BRAND_USERNAME", "ApiError", "Simulator", "Traffic", "notifications"]
