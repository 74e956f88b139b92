"""The sender: delivers outbox entries through their channel's adapter, exactly once.

An entry is marked `sending` (committed) before the adapter is called. If the process dies
there, or an attempt failed after its request went out (`maybe_sent`: a timeout, a reset, a
5xx, a lost answer), the entry is *in doubt*: the next attempt first asks the platform whether
the reply is already posted (`find_sent`), and only then posts again with the same idempotency
key. A platform that cannot be asked (`CannotVerify`) gets no second attempt: the reply is
parked as failed with what the agent should check, because a public reply must never go out
twice."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Adapter, AdapterError, CannotVerify, Outbound
from socialdesk.store import commands

from .credentials import redact
from .poller import backoff_delay

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def deliver_in_turn(sessions: sessionmaker[Session], claims: Sequence[Any], deliver: Callable[[Any], None],
                    unclaim: Callable[[Session, list[int]], None], stopping: threading.Event) -> int:
    """Deliver claimed entries one at a time; once `stopping` is set, those not attempted go back
    to their queue (not in doubt). How many were attempted."""
    for done, claim in enumerate(claims):
        if stopping.is_set():
            with sessions.begin() as s:
                unclaim(s, [c.id for c in claims[done:]])
            return done
        deliver(claim)
    return len(claims)


class Sender:
    def __init__(self, sessions: sessionmaker[Session], adapters: Mapping[str, Adapter], *,
                 in_doubt_after: timedelta = commands.IN_DOUBT_AFTER):
        self.sessions = sessions
        self.adapters = adapters
        self.in_doubt_after = in_doubt_after
        self.sent = 0
        self.failed = 0  # replies given up on (retries left do not count)
        self._running = threading.Lock()
        self._stopping = threading.Event()

    def run_once(self) -> int:
        with self._running:
            if self._stopping.is_set():
                return 0
            with self.sessions() as s:
                if not commands.outbox_due(s, in_doubt_after=self.in_doubt_after):
                    return 0
            with self.sessions.begin() as s:
                claims = commands.claim_outbox(s, in_doubt_after=self.in_doubt_after)
            return deliver_in_turn(self.sessions, claims, self._deliver, commands.unclaim, self._stopping)

    def stop(self) -> None:
        """Finish the send under way (a send cut off would be in doubt), then send no more."""
        self._stopping.set()
        with self._running:
            pass

    def _deliver(self, claim: commands.OutboxClaim) -> None:
        adapter = self.adapters.get(claim.channel)
        if adapter is None:
            self._fail(claim, f"channel {claim.channel!r} is not running; check socialdesk.toml", None)
            return
        message = Outbound(idempotency_key=claim.idempotency_key, text=claim.text,
                           visibility=claim.visibility, in_reply_to=claim.in_reply_to,  # type: ignore[arg-type]
                           recipient=claim.recipient, recipient_id=claim.recipient_id,
                           reply_to_kind=claim.reply_to_kind, reply_to_at=claim.reply_to_at,
                           reply_ref=claim.reply_ref, automatic=claim.automatic)
        try:
            result = adapter.find_sent(message) if claim.in_doubt else None
            if result is None:
                result = adapter.send(message)
        except CannotVerify as exc:
            self._fail(claim, f"not sent again: an earlier attempt may have reached {claim.channel}. {exc}", None)
            return
        except AdapterError as exc:
            retry = exc.retryable and claim.attempts < MAX_ATTEMPTS
            # An entry in doubt stays in doubt until a look has answered: a failed look proves nothing.
            self._fail(claim, str(exc), backoff_delay(claim.attempts, exc.retry_after) if retry else None,
                       maybe_sent=exc.maybe_sent or claim.in_doubt)
            return
        except Exception as exc:  # nobody knows how far it got: look before the next try
            log.exception("outbox %s: send failed", claim.id)
            self._fail(claim, f"internal error: {exc}", backoff_delay(claim.attempts, None), maybe_sent=True)
            return
        with self.sessions.begin() as s:
            commands.mark_sent(s, claim.id, result.platform_id, result.url, result.sent_at, result.text)
        self.sent += 1
        log.info("outbox %s: sent as %s on %s", claim.id, result.platform_id, claim.channel)

    def _fail(self, claim: commands.OutboxClaim, error: str, retry_in: float | None, *,
              maybe_sent: bool = False) -> None:
        error = redact(error)
        if retry_in is None:
            self.failed += 1
        log.warning("outbox %s: %s (%s)", claim.id, error,
                    f"retry in {retry_in:.0f}s" if retry_in is not None else "gave up")
        with self.sessions.begin() as s:
            commands.mark_failed(s, claim.id, error, retry_in=retry_in, maybe_sent=maybe_sent)
