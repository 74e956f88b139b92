"""`python -m socialdesk.adapters.simulator`: serve a Mastodon simulator until Ctrl+C."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from .core import Simulator


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m socialdesk.adapters.simulator",
        description="A local Mastodon API (notifications, statuses) with realistic customer traffic.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--rate", type=float, default=5.0, help="mentions per second (default 5)")
    parser.add_argument("--spike", action="store_true", help="multiply the rate by 20")
    parser.add_argument("--faults", type=float, default=0.0,
                        help="probability that a request fails (500, 429, truncated, slow)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--token", default="simulator", help="the Bearer token to accept")
    parser.add_argument("--backlog", type=int, default=0, help="mentions already waiting at start")
    parser.add_argument("--ratelimit", type=int, default=300, help="requests per 5 minutes")
    args = parser.parse_args(argv)
    if not 0.0 <= args.faults <= 1.0:
        parser.error("--faults must be between 0 and 1")

    sim = Simulator(rate=args.rate, spike=args.spike, seed=args.seed, faults=args.faults,
                    token=args.token, backlog=args.backlog, ratelimit=args.ratelimit)
    try:
        url = sim.start(port=args.port)
    except OSError as exc:
        print(f"cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    # Stop cleanly on Ctrl+C and on SIGTERM, even when started with SIGINT ignored (a background
    # job of a non-interactive shell inherits that).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(url, flush=True)
        print(f"Mastodon simulator at {url} — token {args.token!r}, {sim.effective_rate:g} mentions/s"
              f"{', faults ' + format(args.faults, 'g') if args.faults else ''}. Ctrl+C to stop.",
              file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
