"""`socialdesk auth set|test|list|remove CHANNEL` and `socialdesk backfill CHANNEL --since 7d`.

Secrets are read from the terminal without echo, or one per line from a pipe; they are never
printed, and every message passes through `redact`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime

from socialdesk.config import ChannelConfig, Config

OAUTH1_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
ADAPTER_STATE = ("session", "oauth2")  # what adapters keep between runs (a Bluesky session, refreshed tokens)
VAULT_PARTS = (None, "smtp", *ADAPTER_STATE)  # everything `auth remove` forgets


def add_parsers(sub) -> None:
    auth = sub.add_parser("auth", help="channel credentials in the system keyring",
                          description="Store, check, list and remove channel secrets. What each kind's "
                                      "secret is: mastodon an access token; x an OAuth 2.0 user token (or "
                                      "--oauth1 keys); facebook a Page token; instagram an access token; "
                                      "bluesky an app password; telegram the bot token; email the mailbox "
                                      "password (--smtp for a different SMTP password).")
    auth.add_argument("action", choices=["set", "test", "list", "remove"])
    auth.add_argument("channel", nargs="?", help="the channel's name in socialdesk.toml")
    auth.add_argument("--smtp", action="store_true", help="email: the SMTP password, when it differs")
    auth.add_argument("--oauth1", action="store_true", help="x: store the four OAuth 1.0a keys instead of a token")
    backfill = sub.add_parser("backfill", help="read a channel's history into the store")
    backfill.add_argument("channel", help="the channel's name in socialdesk.toml")
    backfill.add_argument("--since", default="7d", help="how far back (7d, 12h, 2w); default 7d")
    backfill.add_argument("--stream", action="append", help="only this stream (repeatable); default all")


def _fail(message: str, code: int = 1) -> int:
    from socialdesk.services.credentials import redact

    print(f"socialdesk: {redact(message)}", file=sys.stderr)
    return code


def _channel(config: Config, name: str | None) -> ChannelConfig | None:
    return next((c for c in config.channels if c.name == name), None)


def _unknown(config: Config, name: str | None) -> int:
    names = ", ".join(c.name for c in config.channels if c.kind != "simulator") or "none"
    where = config.source or "the built-in defaults"
    if name is None:
        return _fail(f"name a channel (channels in {where}: {names})", 2)
    return _fail(f"no channel named {name!r} in {where} (channels: {names})", 2)


def run_auth(config: Config, args: argparse.Namespace) -> int:
    from socialdesk.services.credentials import CredentialError, Credentials

    credentials = Credentials(config.credentials.backend, config.credentials.file)
    try:
        if args.action == "list":
            return _list(config, credentials)
        channel = _channel(config, args.channel)
        if channel is None or channel.kind == "simulator":
            return _unknown(config, args.channel)
        if args.action == "set":
            return _set(channel, credentials, args)
        if args.action == "remove":
            return _remove(channel, credentials)
        return _test(config, channel, credentials)
    except CredentialError as exc:
        return _fail(str(exc))


def read_secret(prompt: str) -> str:
    """A secret from the terminal without echo, or one line from a pipe."""
    if sys.stdin.isatty():
        return getpass.getpass(f"{prompt}: ").strip()
    return sys.stdin.readline().strip()


def _set(channel: ChannelConfig, credentials, args: argparse.Namespace) -> int:
    from socialdesk.services.channels import secret_parts
    from socialdesk.services.credentials import key

    part = "smtp" if args.smtp else None
    if args.smtp and channel.kind != "email":
        return _fail("--smtp is for email channels", 2)
    if args.oauth1 and channel.kind != "x":
        return _fail("--oauth1 is for x channels", 2)
    if args.oauth1:
        values = {name: read_secret(f"{channel.name} OAuth 1.0a {name}") for name in OAUTH1_FIELDS}
        if not all(values.values()):
            return _fail("all four OAuth 1.0a keys are needed; nothing was stored", 2)
        secret = json.dumps(values)
    else:
        secret = read_secret(f"{channel.name} {secret_parts(channel.kind).get(part, 'secret')}")
    if not secret:
        return _fail("nothing was entered; nothing was stored", 2)
    store = credentials.store
    store.set(key(channel.name, part), secret)
    if part is None:  # a session or refreshed token belongs to the secret just replaced
        for state in ADAPTER_STATE:
            store.delete(key(channel.name, state))
    print(f"stored the {part + ' ' if part else ''}secret of {channel.name!r} in {store.description}; "
          f"check it with `socialdesk auth test {channel.name}`")
    return 0


def _remove(channel: ChannelConfig, credentials) -> int:
    from socialdesk.services.credentials import key

    removed = [part or "secret" for part in VAULT_PARTS if credentials.store.delete(key(channel.name, part))]
    if not removed:
        print(f"nothing was stored for {channel.name!r} in {credentials.store.description}")
        return 0
    print(f"removed {', '.join(removed)} of {channel.name!r} from {credentials.store.description}")
    return 0


def _list(config: Config, credentials) -> int:
    from socialdesk.services.credentials import CredentialError

    channels = [c for c in config.channels if c.kind != "simulator"]
    if not channels:
        print("no channels need credentials (only the simulator is configured)")
        return 0
    try:
        credentials.store  # opened once: its problem, if any, is told once, below the list
    except CredentialError as exc:
        problem: CredentialError | None = exc
    else:
        problem = None
    missing = 0
    width = max(len(c.name) for c in channels)
    for channel in channels:
        source = credentials.env_source(channel.name) or (None if problem else credentials.source(channel.name))
        if source is None:
            source = "no secret store here (see below)" if problem else \
                f"not stored: run `socialdesk auth set {channel.name}`"
            missing += channel.enabled
        state = "" if channel.enabled else "  (disabled)"
        print(f"{channel.name:<{width}}  {channel.kind:<9}  {source}{state}")
    if problem is not None:
        print(f"\n{problem}", file=sys.stderr)
    return 1 if missing else 0


def _test(config: Config, channel: ChannelConfig, credentials) -> int:
    from socialdesk.adapters.base import AdapterError
    from socialdesk.services.channels import ChannelUnavailable, build_adapter

    try:
        adapter = build_adapter(channel, credentials)
    except ChannelUnavailable as exc:
        return _fail(str(exc))
    try:
        who = adapter.verify()
    except AdapterError as exc:
        return _fail(f"{channel.name}: {exc}")
    finally:
        adapter.close()
    print(f"ok: {channel.name} is {who}")
    return 0


def run_backfill(config: Config, sessions, args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from socialdesk.adapters.base import AdapterError
    from socialdesk.services.backfill import backfill
    from socialdesk.services.channels import ChannelUnavailable
    from socialdesk.services.credentials import CredentialError
    from socialdesk.services.replay import parse_since
    from socialdesk.services.runtime import Runtime

    channel = _channel(config, args.channel)
    if channel is None:
        return _unknown(config, args.channel)
    try:
        since = parse_since(args.since)
    except ValueError as exc:
        return _fail(f"--since: {exc}", 2)
    now = datetime.now(UTC)
    start = now - since
    try:
        opened = Runtime(config, sessions).open_channel(channel)
    except (ChannelUnavailable, CredentialError, AdapterError) as exc:
        return _fail(str(exc))
    if not opened.adapter.capabilities.backfill:
        return _fail(f"{channel.name}: {channel.kind} keeps no history that socialdesk can read back")
    span = max(1.0, (now - start).total_seconds())
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TextColumn("{task.fields[found]} found, {task.fields[new]} new"), TimeElapsedColumn())
    try:
        with Progress(*columns, transient=False) as bar:
            tasks = {}

            def shown(p) -> None:
                if p.stream not in tasks:
                    tasks[p.stream] = bar.add_task(f"{channel.name} {p.stream}", total=span, found=0, new=0)
                covered = (now - p.oldest).total_seconds() if p.oldest else 0.0
                bar.update(tasks[p.stream], completed=min(span, covered), found=p.fetched, new=p.stored)

            done = backfill(opened.adapter, opened.ingestor, start, streams=args.stream, on_page=shown)
            for p in done:
                if p.stream in tasks:
                    bar.update(tasks[p.stream], completed=span)
    except AdapterError as exc:
        return _fail(f"{channel.name}: {exc} (what was read so far is stored; run it again to go on)")
    finally:
        opened.adapter.close()
    found, new = sum(p.fetched for p in done), sum(p.stored for p in done)
    print(f"{channel.name}: {found} messages since {start:%Y-%m-%d %H:%M} UTC, {new} new, "
          f"{found - new} already stored")
    return 0
