"""Alerts out by webhook and email, each exactly once: every alert is queued in the store per
target, claimed, sent and marked (store.alert_queue), so an alert raised before this process
started, or just before one stopped or crashed, still goes out, and two processes never both
send it. A send cut off by a crash is repeated after a minute under the same key (the webhook's
Idempotency-Key header and the mail's Message-ID), so a receiver can drop the repeat."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
from sqlalchemy.orm import Session, sessionmaker

from socialdesk.config.rules import AlertsConfig
from socialdesk.store import alert_queue
from socialdesk.store.models import utcnow

from .credentials import redact
from .outbox import deliver_in_turn
from .poller import backoff_delay

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
# An alert no sender has seen for this long is not sent: a webhook configured today does not
# receive the store's history.
MAX_AGE = timedelta(hours=1)


class AlertSender:
    def __init__(self, sessions: sessionmaker[Session], alerts: AlertsConfig, *,
                 in_doubt_after: timedelta = alert_queue.IN_DOUBT_AFTER,
                 stopping: threading.Event | None = None, clock: Callable[[], datetime] = utcnow):
        self.sessions, self.alerts, self.in_doubt_after, self.clock = sessions, alerts, in_doubt_after, clock
        self.targets = tuple(target for target, wanted in (("webhook", alerts.webhook), ("email", alerts.email))
                             if wanted)
        self.stopping = stopping or threading.Event()

    def run_once(self) -> int:
        """Deliver what is due; how many deliveries were attempted."""
        if not self.targets or self.stopping.is_set():
            return 0
        now = self.clock()
        window = {"raised_since": now - MAX_AGE, "now": now, "in_doubt_after": self.in_doubt_after}
        with self.sessions() as s:
            if not alert_queue.alerts_due(s, self.targets, **window):
                return 0
        with self.sessions.begin() as s:
            claims = alert_queue.claim_alerts(s, self.targets, **window)
        return deliver_in_turn(self.sessions, claims, self._deliver, alert_queue.unclaim_alerts, self.stopping)

    def _deliver(self, claim: alert_queue.AlertClaim) -> None:
        if claim.in_doubt:
            log.info("alert %s: sending by %s again (an attempt was cut off; same key %s)", claim.alert_id,
                     claim.target, claim.key)
        try:
            if claim.target == "webhook":
                self._post(claim)
            else:
                self._mail(claim)
        except Exception as exc:  # the receiver is down, refuses, or is misconfigured: try later
            error = redact(f"{type(exc).__name__}: {exc}")
            retry_in = backoff_delay(claim.attempts, None) if claim.attempts < MAX_ATTEMPTS else None
            log.warning("alert %s: %s failed: %s (%s)", claim.alert_id, claim.target, error,
                        f"retry in {retry_in:.0f}s" if retry_in is not None else "gave up")
            with self.sessions.begin() as s:
                alert_queue.mark_alert_failed(s, claim.id, error, retry_in=retry_in)
            return
        with self.sessions.begin() as s:
            alert_queue.mark_alert_sent(s, claim.id)
        log.info("alert %s: sent by %s", claim.alert_id, claim.target)

    def _post(self, claim: alert_queue.AlertClaim) -> None:
        payload = {"id": claim.key, "kind": claim.kind, "message": claim.message, "at": claim.at.isoformat(),
                   "conversation_id": claim.conversation_id}
        assert self.alerts.webhook is not None
        httpx.post(self.alerts.webhook, json=payload, headers={"Idempotency-Key": claim.key},
                   timeout=10).raise_for_status()

    def _mail(self, claim: alert_queue.AlertClaim) -> None:
        assert self.alerts.email is not None
        host, _, port = self.alerts.smtp.partition(":")
        message = EmailMessage()
        message["From"], message["To"] = "socialdesk <socialdesk@localhost>", self.alerts.email
        message["Subject"] = f"socialdesk alert: {claim.kind}"
        message["Message-ID"] = f"<{claim.key}@socialdesk.invalid>"
        message["Auto-Submitted"] = "auto-generated"  # so no auto-responder answers it
        message.set_content(claim.message)
        with smtplib.SMTP(host, int(port or 25), timeout=10) as client:
            client.send_message(message)
