"""The desk's clockwork, run every half minute by the scheduler: unanswered conversations rise
when they pass their SLA and overflow when they wait too long, and volume spikes raise an alert
(services.alert_sender sends alerts on)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson
from sqlalchemy.orm import Session, sessionmaker

from socialdesk.rules.alerts import SpikeDetector
from socialdesk.rules.engine import RuleSet
from socialdesk.rules.routing import AgentState, route
from socialdesk.store import commands, queries
from socialdesk.store.models import utcnow

log = logging.getLogger(__name__)


class Maintenance:
    def __init__(self, sessions: sessionmaker[Session], rules: RuleSet, *, clock: Callable[[], datetime] = utcnow):
        self.sessions, self.rules, self.clock = sessions, rules, clock
        self.spikes = SpikeDetector(rules.alerts)
        self._seen_id: int | None = None
        self._quiet_until: datetime | None = None  # the backlog read at start-up is no spike

    def run_once(self) -> None:
        now = self.clock()
        for step in (self._overdue_and_overflow, self._spike):
            try:
                step(now)
            except Exception:  # one failing step must not stop the others, or the next run
                log.exception("maintenance: %s failed", step.__name__)

    def _overdue_and_overflow(self, now: datetime) -> None:
        with self.sessions() as s:
            waiting = queries.unanswered(s, published_before=now)
            agents = [AgentState(a.name, a.teams, a.skills, a.status, a.load, a.cap) for a in queries.agent_loads(s)]
        points = self.rules.priority.overdue_points
        rises, moves = [], []
        for w in waiting:
            reasons = orjson.loads(w.reasons) if w.reasons else []
            if w.sla_due_at and w.sla_due_at < now and not any(label.startswith("overdue") for label, _ in reasons):
                late = int((now - w.sla_due_at).total_seconds() // 60)
                reasons.append([f"overdue: {late} min past SLA +{points}", points])
                rises.append((w.id, min(100, w.priority + points), orjson.dumps(reasons).decode()))
            waited = (now - w.published_at).total_seconds() / 60
            target = route(w.tags, teams=self.rules.teams, agents=agents, default_team=self.rules.default_team,
                           waiting_minutes=waited)
            if w.team and target.team and target.team != w.team:
                moves.append((w.id, target.team, target.agent, target.reason))
        with self.sessions.begin() as s:
            commands.reprioritise(s, rises)
        with self.sessions.begin() as s:
            commands.reroute(s, moves)

    def _spike(self, now: datetime) -> None:
        window = timedelta(minutes=self.rules.alerts.baseline_minutes + self.rules.alerts.window_minutes)
        with self.sessions() as s:
            self._seen_id, counts = queries.inbound_per_minute(s, after_id=self._seen_id, posted_since=now - window)
        for minute, count in counts:
            self.spikes.add(minute, count)
        if self._quiet_until is None:
            self._quiet_until = now + timedelta(minutes=self.rules.alerts.window_minutes)
        if now < self._quiet_until:
            return
        alert = self.spikes.check(now)
        if alert is not None:
            with self.sessions.begin() as s:
                commands.raise_alert(s, alert.kind, alert.message)
