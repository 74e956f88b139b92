"""Alerts on their way to the webhook and the mailbox: a queue in the store, claimed, sent and
marked like the outbox, so each alert leaves once across processes and restarts.

A sender first queues the alerts it has not seen for its targets (one row per alert and target),
then claims due rows in the same write transaction: two processes never claim the same row. A
row left `sending` by a process that died is claimed again after `in_doubt_after`; the receiver
may have it already, so every attempt carries the same key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from . import audit
from .db import hold_write_lock
from .models import Alert, AlertDelivery, Meta, UTCDateTime, utcnow

IN_DOUBT_AFTER = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class AlertClaim:
    id: int  # the delivery's
    alert_id: int
    target: str
    kind: str
    message: str
    at: datetime
    conversation_id: int | None
    attempts: int  # this one included
    in_doubt: bool  # an earlier attempt was cut off: the receiver may have it

    @property
    def key(self) -> str:
        """The same on every attempt, so a receiver can drop a repeat (the raise time tells
        alerts of a rebuilt store apart)."""
        return f"socialdesk-alert-{self.alert_id}-{int(self.at.timestamp() * 1_000_000)}"


def _unqueued(targets: Sequence[str], raised_since: datetime) -> list[Select]:
    """Per target: (alert id, target) of the alerts raised since `raised_since` not yet queued for it."""
    floor = select(Meta.value).where(Meta.key == "alert_queue_from").scalar_subquery()
    return [select(Alert.id, literal(target)).where(
        Alert.at >= raised_since, Alert.id > func.coalesce(floor, 0),
        ~exists().where(AlertDelivery.alert_id == Alert.id, AlertDelivery.target == target)) for target in targets]


def _due(targets: Sequence[str], now: datetime, in_doubt_after: timedelta):
    return and_(AlertDelivery.target.in_(targets), or_(
        and_(AlertDelivery.state == "queued", AlertDelivery.next_attempt_at <= now),
        and_(AlertDelivery.state == "sending", AlertDelivery.claimed_at <= now - in_doubt_after)))


def alerts_due(session: Session, targets: Sequence[str], *, raised_since: datetime, now: datetime | None = None,
               in_doubt_after: timedelta = IN_DOUBT_AFTER) -> bool:
    """A cheap read, so an idle sender does not take the write lock every second."""
    now = now or utcnow()
    if session.execute(select(AlertDelivery.id).where(_due(targets, now, in_doubt_after)).limit(1)).first():
        return True
    return any(session.execute(query.limit(1)).first() for query in _unqueued(targets, raised_since))


def claim_alerts(session: Session, targets: Sequence[str], *, raised_since: datetime, now: datetime | None = None,
                 limit: int = 10, in_doubt_after: timedelta = IN_DOUBT_AFTER) -> list[AlertClaim]:
    """Queue the alerts raised since `raised_since` that no sender has queued for `targets`
    yet, then take the due deliveries (oldest first)."""
    now = now or utcnow()
    audit.begin_write(session)
    for query in _unqueued(targets, raised_since):
        session.execute(insert(AlertDelivery).from_select(
            ["alert_id", "target", "state", "attempts", "next_attempt_at"],
            query.add_columns(literal("queued"), literal(0), literal(now, UTCDateTime()))))
    rows = session.execute(select(AlertDelivery, Alert).join(Alert, Alert.id == AlertDelivery.alert_id)
                           .where(_due(targets, now, in_doubt_after)).order_by(AlertDelivery.id).limit(limit)).all()
    claims = []
    for delivery, alert in rows:
        claims.append(AlertClaim(delivery.id, alert.id, delivery.target, alert.kind, alert.message, alert.at,
                                 alert.conversation_id, delivery.attempts + 1, in_doubt=delivery.state == "sending"))
        delivery.state, delivery.claimed_at, delivery.attempts = "sending", now, delivery.attempts + 1
    return claims


def unclaim_alerts(session: Session, delivery_ids: list[int]) -> None:
    """Claimed deliveries the sender stopped before attempting: queued again, as they were."""
    if delivery_ids:
        hold_write_lock(session)
        session.execute(update(AlertDelivery).where(AlertDelivery.id.in_(delivery_ids),
                                                    AlertDelivery.state == "sending").values(
            state="queued", attempts=AlertDelivery.attempts - 1, claimed_at=None))


def mark_alert_sent(session: Session, delivery_id: int) -> None:
    hold_write_lock(session)
    session.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id).values(
        state="sent", sent_at=utcnow(), last_error=None))


def mark_alert_failed(session: Session, delivery_id: int, error: str, *, retry_in: float | None) -> None:
    """Try again in `retry_in` seconds, or give up (None). A delivery already sent (by a
    process that claimed it again meanwhile) stays sent."""
    hold_write_lock(session)
    values = {"state": "failed"} if retry_in is None else {
        "state": "queued", "next_attempt_at": utcnow() + timedelta(seconds=retry_in)}
    session.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id, AlertDelivery.state != "sent")
                    .values(last_error=error, **values))
