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
    config.add_argument("action", choices=["check", "init"], help="check: validate and summarise; "
                        "init: write the commented example (to --config, else the user config dir)")
    config.add_argument("--force", action="store_true", help="with init: replace an existing file")
    db = sub.add_parser("db", help="the store")
    db.add_argument("action", choices=["upgrade"])
    audit = sub.add_parser("audit", help="the audit trail")
    audit.add_argument("action", choices=["verify", "sign", "key"],
                       help="verify: check the chain against its signed head and the head log; sign: sign the "
                       "head with the audit key once the chain checks out; key: store the audit key")
    rules = sub.add_parser("rules", help="the rules in socialdesk.toml")
    rules.add_argument("action", choices=["check", "test"], help="check: validate and compile; "
                       "test: replay them over stored mentions and show what would change")
    rules.add_argument("--since", default="30d", help="with test: how far back (30d, 12h, 2w)")
    for command in (audit, rules):
        command.add_argument("--demo", action="store_true", help="use the demo's store (see `socialdesk demo`)")
    from socialdesk import cli_channels, cli_conv

    cli_channels.add_parsers(sub)
    cli_conv.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "config" and args.action == "init":
        return _config_init(args.config, force=args.force)
    from socialdesk.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "demo", False):
        from socialdesk.demo import demo_store_config

        config = demo_store_config(config)
    agent = args.agent or os.environ.get("SOCIALDESK_AGENT") or getpass.getuser()
    command = args.command or "tui"
    if command == "config":
        from socialdesk.config import summary

        print(summary(config))
        return 0
    if command == "rules" and args.action == "check":
        from socialdesk.services.rules import build_ruleset, describe

        try:
            print(describe(config, build_ruleset(config, sentiment=False)))
        except ValueError as exc:
            print(f"socialdesk: {config.source or 'built-in defaults'}: rules: {exc}", file=sys.stderr)
            return 2
        return 0
    if command == "demo":
        from socialdesk.demo import run_demo

        return run_demo(config, args, agent)

    from socialdesk.services.setup import StoreUnavailable, configure_logging, open_configured_store

    configure_logging(config)
    if command == "auth":
        from socialdesk.cli_channels import run_auth

        return run_auth(config, args)
    if command == "audit" and args.action == "key":
        from socialdesk.cli_audit import run_key

        return run_key(config)
    try:
        engine, sessions = open_configured_store(config, migrate=True, writable=command in ("tui", "serve"))
    except StoreUnavailable as exc:
        print(f"socialdesk: {exc}", file=sys.stderr)
        return 1
    if command == "db":
        print("store is at the newest schema")
        return 0
    if command == "audit":
        from socialdesk.cli_audit import run_audit

        return run_audit(sessions, args)
    if command == "rules":
        from datetime import UTC, datetime

        from socialdesk.services.replay import parse_since, replay
        from socialdesk.services.rules import build_ruleset

        try:
            since = parse_since(args.since)
        except ValueError as exc:
            print(f"socialdesk: --since: {exc}", file=sys.stderr)
            return 2
        report = replay(sessions, build_ruleset(config), since=since, now=datetime.now(UTC))
        print("\n".join(report.lines()))
        return 0
    if command == "conv":
        from socialdesk.cli_conv import run_conv

        return run_conv(config, sessions, args, agent)
    if command == "backfill":
        from socialdesk.cli_channels import run_backfill

        return run_backfill(config, sessions, args)
    from socialdesk.services.runtime import Runtime

    runtime = Runtime(config, sessions)
    if command == "serve":
        from socialdesk.services.setup import serve_forever

        if hint := no_channels_hint(config):
            print(f"socialdesk: {hint}", file=sys.stderr)
        return serve_forever(runtime)
    return run_tui(config, runtime, agent)


def _config_init(path: Path | None, *, force: bool) -> int:
    """Write the commented example where socialdesk will look for settings."""
    from socialdesk.config import ENV_PREFIX, user_config_file, write_example

    named = path or os.environ.get(f"{ENV_PREFIX}CONFIG")
    target = Path(named).expanduser() if named else user_config_file()
    try:
        write_example(target, force=force)
    except FileExistsError:
        print(f"socialdesk: {target} already exists; keep it, or replace it with --force", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"socialdesk: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {target}: the simulator channel is on, the other channels are examples to fill in.")
    print("Check it with `socialdesk config check`, store secrets with `socialdesk auth set CHANNEL`.")
    return 0


def no_channels_hint(config) -> str | None:
    """What to do when no channel is enabled (where to declare one, or how to try the demo); None
    when one is."""
    if any(channel.enabled for channel in config.channels):
        return None
    if config.source is None:
        where = "no settings file was found: `socialdesk config init` writes a commented example"
    else:
        where = f"add or enable a [[channels]] block in {config.source}"
    return f"no channel is enabled, so no messages will arrive; {where}, or try `socialdesk demo`"


def run_tui(config, runtime, agent: str, title: str = "socialdesk", role: str | None = None) -> int:
    from socialdesk.app import SocialdeskApp
    from socialdesk.store.anchor import attach, attached
    from socialdesk.store.db import open_reader

    runtime.start()
    # The screens read through connections of their own with a small page cache: a TUI that
    # browses a million conversations stays small (the pollers keep their big cache).
    screen_engine, screen_sessions = open_reader(config.store.effective_url)
    attach(screen_sessions, attached(runtime.sessions))  # their commands sign and log the audit head too
    desk = runtime.desk(agent, role, sessions=screen_sessions)
    hint = no_channels_hint(config)
    try:
        desk.set_availability("available")  # routing now gives this agent new conversations
        SocialdeskApp(desk, keymap=dict(config.keymap), title=title, bell=config.rules.alerts.bell,
                      notice=hint[:1].upper() + hint[1:] + "." if hint else None).run()
    finally:
        logging.getLogger(__name__).info("stopping")
        desk.set_availability("offline")
        runtime.stop()
        screen_engine.dispose()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
