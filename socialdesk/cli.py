"""`socialdesk` on the command line. Heavy imports wait until a command needs them, so
`socialdesk --help` and config errors answer at once."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialdesk", description="A terminal console for social customer service.")
    parser.add_argument("--config", type=Path, help="settings file (default: ./socialdesk.toml, then the user config dir)")
    parser.add_argument("--agent", default=None, help="who is signed in (default: $SOCIALDESK_AGENT or your login name)")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="a busy queue fed by the built-in simulator: no credentials, no network")
    demo.add_argument("--headless", action="store_true", help="run the pipeline without the TUI and print what happened")
    demo.add_argument("--seconds", type=float, default=10.0, help="with --headless: how long to run")
    demo.add_argument("--rate", type=float, default=3.0, help="simulated mentions per second")
    demo.add_argument("--spike", action="store_true", help="simulate a spike (20x the rate)")
    demo.add_argument("--backlog", type=int, default=150, help="mentions waiting when the demo starts")
    demo.add_argument("--data-dir", type=Path, default=None, help="where the demo store lives (default: user data dir)")
    demo.add_argument("--fresh", action="store_true", help="start from an empty demo store")
    demo.add_argument("--auto-reply", type=float, default=0.0, metavar="FRACTION",
                      help="with --headless: answer this fraction of new conversations, to exercise sending")

    sub.add_parser("serve", help="run pollers and the sender without the TUI (the team's daemon)")
    config = sub.add_parser("config", help="settings")
    config.add_argument("action", choices=["check"])
    db = sub.add_parser("db", help="the store")
    db.add_argument("action", choices=["upgrade"])
    audit = sub.add_parser("audit", help="the audit trail")
    audit.add_argument("action", choices=["verify"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from socialdesk.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 2
    agent = args.agent or os.environ.get("SOCIALDESK_AGENT") or getpass.getuser()
    command = args.command or "tui"
    if command == "config":
        from socialdesk.config import summary

        print(summary(config))
        return 0
    if command == "demo":
        from socialdesk.demo import run_demo

        return run_demo(config, args, agent)

    from socialdesk.services.setup import configure_logging, open_configured_store

    configure_logging(config)
    try:
        engine, sessions = open_configured_store(config, migrate=True)
    except Exception as exc:  # a store that cannot be opened: say which and why, no traceback
        print(f"socialdesk: cannot open the store {config.store.effective_url!r}: {exc}", file=sys.stderr)
        return 1
    if command == "db":
        print("store is at the newest schema")
        return 0
    if command == "audit":
        from socialdesk.store import audit

        with sessions() as s:
            checked, broken = audit.verify(s)
        print(f"{checked} audit events checked" + (f"; chain broken at event {broken}" if broken else "; chain intact"))
        return 1 if broken else 0
    from socialdesk.services.runtime import Runtime

    runtime = Runtime(config, sessions)
    if command == "serve":
        from socialdesk.services.setup import serve_forever

        return serve_forever(runtime)
    return run_tui(config, sessions, runtime, agent)


def run_tui(config, sessions, runtime, agent: str, title: str = "socialdesk") -> int:
    from socialdesk.app import SocialdeskApp
    from socialdesk.services.desk import Desk

    runtime.start()
    try:
        desk = Desk(sessions, agent, max_lengths=runtime.max_lengths())
        SocialdeskApp(desk, keymap=dict(config.keymap), title=title).run()
    finally:
        logging.getLogger(__name__).info("stopping")
        runtime.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
