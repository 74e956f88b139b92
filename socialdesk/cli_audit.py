"""`socialdesk audit verify|sign|key`: hold the hash-chained audit trail against its anchored
head (the signed head in the store and the head log outside it), sign the head with the audit
key, or keep that key in the secret store."""

from __future__ import annotations

import argparse
import sys

from socialdesk.config import Config

MIN_KEY = 16


def _say(message: str, code: int) -> int:
    print(f"socialdesk: {message}", file=sys.stderr)
    return code


def run_key(config: Config) -> int:
    """Read the audit key (without echo, or from a pipe) and keep it in the secret store."""
    from socialdesk.cli_channels import read_secret
    from socialdesk.services.audit_anchor import KEY_ENV, KEY_SECRET, credentials
    from socialdesk.services.credentials import CredentialError

    value = read_secret("audit key (the same on every host that writes this store)")
    if len(value) < MIN_KEY:
        return _say(f"an audit key needs at least {MIN_KEY} characters; nothing was stored", 2)
    try:
        store = credentials(config).store
        store.set(KEY_SECRET, value)
    except CredentialError as exc:
        return _say(f"{exc} (the audit key's variable is ${KEY_ENV})", 1)
    print(f"stored the audit key in {store.description}. Every process that writes this store needs the same "
          f"key (here, or in ${KEY_ENV}); then `socialdesk audit sign` signs the chain's head.")
    return 0


def run_audit(sessions, args: argparse.Namespace) -> int:
    from socialdesk.store import audit
    from socialdesk.store.anchor import attached

    anchor = attached(sessions)
    if args.action == "sign":
        if anchor.key is None:
            return _say("no audit key here: store one with `socialdesk audit key` or set $SOCIALDESK_AUDIT_KEY", 2)
        with sessions.begin() as s:
            report = audit.sign_head(s, anchor)
        signed = report.broken_at is None and not report.problems
        print("\n".join(_lines(report)[:1 if signed else None]))
        print(f"signed the head ({report.checked} events)" if signed else "not signed: the chain does not check out")
        return 0 if signed else 1
    with sessions() as s:
        report = audit.check(s, anchor)
    print("\n".join(_lines(report)))
    return 0 if report.intact else 1


def _lines(report) -> list[str]:
    first = f"{report.checked} audit events checked"
    if report.broken_at is not None:
        first += f"; chain broken at event {report.broken_at}"
    elif report.intact:
        first += "; chain intact"
    return [first, *report.problems, *([report.unsigned] if report.unsigned else []),
            *(f"note: {note}" for note in report.notes)]
