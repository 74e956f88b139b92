"""The running pipeline on APScheduler: one poller per enabled channel, the outbox sender and
the maintenance job (SLA, overflow, spikes, alert delivery).

Used by the TUI (embedded mode), `socialdesk serve` and `socialdesk demo`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Adapter
from socialdesk.config import ChannelConfig, Config
from socialdesk.rules.engine import RuleSet
from socialdesk.store import commands

from .credentials import MissingCredentials, token_for
from .desk import ChannelLimits, Desk
from .ingest import ChannelRef, Ingestor
from .maintenance import Maintenance
from .outbox import Sender
from .poller import ChannelPoller
from .rules import autoreply, build_ruleset, opening_hours

log = logging.getLogger(__name__)
SIMULATOR_TOKEN = "simulator"
MAINTENANCE_SECONDS = 30


class ChannelUnavailable(Exception):
    """A configured channel that cannot run here; the message says why and what to do."""


@dataclass
class Runtime:
    config: Config
    sessions: sessionmaker[Session]
    simulator_options: dict = field(default_factory=dict)
    pollers: dict[str, ChannelPoller] = field(default_factory=dict)
    adapters: dict[str, Adapter] = field(default_factory=dict)
    simulators: list = field(default_factory=list)
    sender: Sender | None = None
    rules: RuleSet | None = None
    scheduler: BackgroundScheduler | None = None

    def build(self) -> None:
        """Register channels and make their adapters; a channel that cannot start is recorded
        in its health (shown in the TUI's status line) and the others go on."""
        self.rules = rules = build_ruleset(self.config)
        with self.sessions.begin() as s:
            commands.sync_people(s, [commands.TeamSpec(t.name, tuple(t.skills), t.overflow) for t in self.config.teams],
                                 [commands.AgentSpec(a.name, a.display_name, a.role, tuple(a.teams), tuple(a.skills),
                                                     a.cap) for a in self.config.agents])
        for channel in self.config.channels:
            with self.sessions.begin() as s:
                channel_id = commands.ensure_channel(s, channel.name, channel.kind, channel.handle)
            if not channel.enabled:
                continue
            try:
                adapter, initial = self._adapter_for(channel)
            except (ChannelUnavailable, MissingCredentials) as exc:
                log.error("%s", exc)
                with self.sessions.begin() as s:
                    commands.record_poll(s, channel_id, error=str(exc))
                continue
            self.adapters[channel.name] = adapter
            ingestor = Ingestor(self.sessions, rules, ChannelRef(channel_id, channel.name, channel.kind),
                                sla_minutes=self.config.rules.sla_minutes, autoreply=autoreply(self.config))
            self.pollers[channel.name] = ChannelPoller(channel.name, channel_id, adapter, ingestor,
                                                       self.sessions, initial_cursor=initial)
        self.sender = Sender(self.sessions, self.adapters)

    def _adapter_for(self, channel: ChannelConfig) -> tuple[Adapter, str | None]:
        from socialdesk.adapters.mastodon import MastodonAdapter

        if channel.kind == "simulator":
            base_url = channel.base_url
            if base_url is None:
                from socialdesk.adapters.simulator import Simulator

                simulator = Simulator(**self.simulator_options)
                base_url = simulator.start()
                self.simulators.append(simulator)
            # The simulator is ours: read it from its first mention rather than "from now".
            return MastodonAdapter(base_url, SIMULATOR_TOKEN, page_limit=channel.page_limit), "0"
        if channel.kind == "mastodon":
            if not channel.base_url:
                raise ChannelUnavailable(f"Channel {channel.name!r}: set base_url (the instance URL) in socialdesk.toml.")
            return MastodonAdapter(channel.base_url, token_for(channel.name), page_limit=channel.page_limit), None
        raise ChannelUnavailable(
            f"Channel {channel.name!r}: {channel.kind} channels are not supported by this version yet; "
            f"set enabled = false for it in socialdesk.toml.")

    def limits(self) -> dict[str, ChannelLimits]:
        """Each running channel's reply limit (the config's override, else the adapter's own) and
        how the platform counts it."""
        overrides = {c.name: c.max_length for c in self.config.channels if c.max_length}
        return {name: ChannelLimits(overrides.get(name, adapter.capabilities.max_length),
                                    adapter.capabilities.length_counting)
                for name, adapter in self.adapters.items()}

    def desk(self, agent: str, role: str | None = None) -> Desk:
        """The Desk for a signed-in agent, with this runtime's rules and channel limits."""
        declared = {a.name: a.role for a in self.config.agents}
        hours = opening_hours(self.config)
        return Desk(self.sessions, agent, limits=self.limits(), rules=self.rules,
                    role=role or declared.get(agent, "agent"),
                    brand=", ".join(self.config.rules.brand_handles), opening_hours=hours.describe() if hours else "",
                    response_window=self.config.rules.autoreply.response_window)

    def start(self) -> None:
        if not self.pollers and self.sender is None:
            self.build()
        self.scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(max(4, len(self.pollers) + 1))},
                                             job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": 30})
        now = datetime.now()
        intervals = {c.name: c.interval for c in self.config.channels}
        for name, poller in self.pollers.items():
            self.scheduler.add_job(poller.run, "interval", seconds=intervals[name], id=f"poll:{name}",
                                   next_run_time=now)
        assert self.sender is not None and self.rules is not None
        self.scheduler.add_job(self.sender.run_once, "interval", seconds=1, id="outbox",
                               next_run_time=now + timedelta(milliseconds=200))
        maintenance = Maintenance(self.sessions, self.rules, self.config.rules.alerts)
        self.scheduler.add_job(maintenance.run_once, "interval", seconds=MAINTENANCE_SECONDS, id="maintenance",
                               next_run_time=now + timedelta(seconds=5))
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        for adapter in self.adapters.values():
            adapter.close()
        for simulator in self.simulators:
            simulator.stop()
