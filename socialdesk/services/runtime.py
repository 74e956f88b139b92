"""The running pipeline on APScheduler: one poller per enabled channel and stream (mentions,
DMs…), a watcher thread per channel that can wait for news (IMAP IDLE), the outbox sender and
the maintenance job (SLA, overflow, spikes) and the alert sender.

Used by the TUI (embedded mode), `socialdesk serve` and `socialdesk demo`."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from socialdesk.adapters.base import Adapter, AdapterError
from socialdesk.config import ChannelConfig, Config
from socialdesk.rules.engine import RuleSet
from socialdesk.rules.clusters import ClusterIndex
from socialdesk.store import commands, queries
from socialdesk.store.models import utcnow

from .alert_sender import AlertSender
from .channels import ChannelUnavailable, build_adapter
from .credentials import CredentialError, Credentials
from .commands import ChannelLimits, DeskSettings
from .desk import Desk
from .ingest import ChannelRef, Ingestor
from .maintenance import Maintenance
from .outbox import Sender
from .poller import ChannelPoller
from .rules import autoreply, build_ruleset, opening_hours

log = logging.getLogger(__name__)
SIMULATOR_TOKEN = "simulator"
MAINTENANCE_SECONDS = 30
ALERT_SECONDS = 1  # an idle alert sender only reads (alert_queue.alerts_due)


@dataclass(frozen=True)
class OpenChannel:
    ref: ChannelRef
    adapter: Adapter
    ingestor: Ingestor
    initial: str | None  # the cursor a first poll starts from (None: from now)


@dataclass
class Runtime:
    config: Config
    sessions: sessionmaker[Session]
    simulator_options: dict = field(default_factory=dict)
    credentials: Credentials | None = None
    pollers: dict[str, ChannelPoller] = field(default_factory=dict)  # by "<channel>:<stream>"
    intervals: dict[str, float] = field(default_factory=dict)
    adapters: dict[str, Adapter] = field(default_factory=dict)
    simulators: list = field(default_factory=list)
    sender: Sender | None = None
    rules: RuleSet | None = None
    scheduler: BackgroundScheduler | None = None
    watchers: list[threading.Thread] = field(default_factory=list)
    clusters: ClusterIndex | None = None  # incident clusters, shared by every channel's ingest
    _stopping: threading.Event = field(default_factory=threading.Event)
    _executor: ThreadPoolExecutor | None = None

    def build(self) -> None:
        """Register channels and make their adapters; a channel that cannot start is recorded
        in its health (shown in the TUI's status line) and the others go on."""
        self.rules = build_ruleset(self.config)
        self.sync_people()
        for channel in self.config.channels:
            if not channel.enabled:
                with self.sessions.begin() as s:
                    commands.ensure_channel(s, channel.name, channel.kind, channel.handle)
                continue
            try:
                opened = self.open_channel(channel)
            except (ChannelUnavailable, CredentialError, AdapterError):
                continue  # recorded in its health
            for stream in opened.adapter.streams:
                job = f"{channel.name}:{stream.name}"
                self.pollers[job] = ChannelPoller(channel.name, opened.ref.id, opened.adapter, opened.ingestor,
                                                  self.sessions, stream=stream.name, initial_cursor=opened.initial,
                                                  stopping=self._stopping)
                self.intervals[job] = max(channel.interval, stream.min_interval)
        self.sender = Sender(self.sessions, self.adapters)

    def sync_people(self) -> None:
        """The teams and agents of the config, in the store (the config is their seed)."""
        with self.sessions.begin() as s:
            commands.sync_people(s, [commands.TeamSpec(t.name, tuple(t.skills), t.overflow) for t in self.config.teams],
                                 [commands.AgentSpec(a.name, a.display_name, a.role, tuple(a.teams), tuple(a.skills),
                                                     a.cap) for a in self.config.agents])

    def open_channel(self, channel: ChannelConfig) -> OpenChannel:
        """One channel's adapter and ingestor (for the pollers, a backfill or `auth test`). A
        channel that cannot start has the reason recorded in its health, then it is raised."""
        if self.rules is None:
            self.rules = build_ruleset(self.config)
        if self.credentials is None:
            self.credentials = Credentials(self.config.credentials.backend, self.config.credentials.file)
        with self.sessions.begin() as s:
            channel_id = commands.ensure_channel(s, channel.name, channel.kind, channel.handle)
        try:
            adapter, initial = self._adapter_for(channel)
        except (ChannelUnavailable, CredentialError, AdapterError) as exc:
            log.error("%s", exc)
            with self.sessions.begin() as s:
                commands.record_poll(s, channel_id, "setup", error=str(exc))
            raise
        with self.sessions.begin() as s:
            commands.clear_health(s, channel_id, "setup")
        self.adapters[channel.name] = adapter
        ref = ChannelRef(channel_id, channel.name, channel.kind)
        ingestor = Ingestor(self.sessions, self.rules, ref, sla_minutes=self.config.rules.sla_minutes,
                            autoreply=autoreply(self.config), clusters=self.cluster_index(),
                            reopen_within=timedelta(days=self.config.resolve.reopen_within_days))
        return OpenChannel(ref, adapter, ingestor, initial)

    def cluster_index(self) -> ClusterIndex:
        """The incident-cluster index, rebuilt once from the signatures stored in its window."""
        if self.clusters is None:
            clusters = ClusterIndex()
            with self.sessions() as s:
                clusters.load(queries.recent_signatures(s, utcnow() - clusters.window))
            self.clusters = clusters
        return self.clusters

    def _adapter_for(self, channel: ChannelConfig) -> tuple[Adapter, str | None]:
        if channel.kind == "simulator":
            from socialdesk.adapters.mastodon import MastodonAdapter

            base_url = channel.base_url
            if base_url is None:
                from socialdesk.adapters.simulator import Simulator

                simulator = Simulator(**self.simulator_options)
                base_url = simulator.start()
                self.simulators.append(simulator)
            # The simulator is ours: read it from its first mention rather than "from now".
            return MastodonAdapter(base_url, SIMULATOR_TOKEN, page_limit=channel.page_limit or 80), "0"
        assert self.credentials is not None
        return build_adapter(channel, self.credentials), None

    def limits(self) -> dict[str, ChannelLimits]:
        """Each running channel's reply limit (the config's override, else the adapter's own) and
        how the platform counts it."""
        overrides = {c.name: c.max_length for c in self.config.channels if c.max_length}
        return {name: ChannelLimits(overrides.get(name, adapter.capabilities.max_length),
                                    adapter.capabilities.length_counting, adapter.capabilities)
                for name, adapter in self.adapters.items()}

    def desk(self, agent: str, role: str | None = None, sessions: sessionmaker[Session] | None = None) -> Desk:
        """The Desk for a signed-in agent, with this runtime's rules and channel limits (on
        `sessions` of its own, or the runtime's)."""
        hours = opening_hours(self.config)
        settings = DeskSettings(dict(self.config.resolution_codes), self.config.desk.require_resolution_code,
                                self.config.desk.confirm_above, self.config.known_tags(),
                                move_note=self.config.desk.move_note, closeout=self.config.resolve.closeout,
                                survey=self.config.resolve.survey)
        return Desk(sessions or self.sessions, agent, limits=self.limits(), rules=self.rules, settings=settings,
                    views=dict(self.config.views),
                    role=role,
                    brand=", ".join(self.config.rules.brand_handles), opening_hours=hours.describe() if hours else "",
                    response_window=self.config.rules.autoreply.response_window)

    def start(self) -> None:
        if not self.pollers and self.sender is None:
            self.build()
        # Every poller may hold a thread for a whole long poll (Telegram), plus the sender, the
        # maintenance job and the alert sender.
        self._executor = ThreadPoolExecutor(len(self.pollers) + 4)
        self.scheduler = BackgroundScheduler(executors={"default": self._executor},
                                             job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": 30})
        now = datetime.now()
        for job, poller in self.pollers.items():
            self.scheduler.add_job(poller.run, "interval", seconds=self.intervals[job], id=f"poll:{job}",
                                   next_run_time=now)
        assert self.sender is not None and self.rules is not None
        self.scheduler.add_job(self.sender.run_once, "interval", seconds=1, id="outbox",
                               next_run_time=now + timedelta(milliseconds=200))
        maintenance = Maintenance(self.sessions, self.rules)
        self.scheduler.add_job(maintenance.run_once, "interval", seconds=MAINTENANCE_SECONDS, id="maintenance",
                               next_run_time=now + timedelta(seconds=5))
        alerts = AlertSender(self.sessions, self.config.rules.alerts, stopping=self._stopping)
        if alerts.targets:
            self.scheduler.add_job(alerts.run_once, "interval", seconds=ALERT_SECONDS, id="alerts",
                                   next_run_time=now + timedelta(milliseconds=500))
        self.scheduler.start()
        self._start_watchers()

    def _start_watchers(self) -> None:
        """Adapters that can wait for news (IMAP IDLE) wake their pollers at once."""
        for name, adapter in self.adapters.items():
            if not adapter.capabilities.push:
                continue
            jobs = [f"poll:{job}" for job, poller in self.pollers.items() if poller.adapter is adapter]
            watcher = threading.Thread(target=self._watch, args=(name, adapter, jobs), name=f"watch:{name}",
                                       daemon=True)
            watcher.start()
            self.watchers.append(watcher)

    def _watch(self, name: str, adapter, jobs: list[str]) -> None:
        def wake() -> None:
            scheduler = self.scheduler
            if scheduler is not None and not self._stopping.is_set():
                for job in jobs:
                    scheduler.modify_job(job, next_run_time=datetime.now())

        try:
            adapter.watch(wake, self._stopping.is_set)
        except Exception:  # the interval polls go on without it
            log.exception("channel %s: waiting for news failed; polling on the interval only", name)

    def stop(self) -> None:
        """No new runs; the send under way finishes; then the adapters close, which ends long
        polls at once; then the jobs still running (a poll finishing its page) are waited for."""
        self._stopping.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.sender is not None:
            self.sender.stop()
        for adapter in self.adapters.values():
            adapter.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.scheduler = self._executor = None
        for watcher in self.watchers:
            watcher.join(timeout=5)
        for simulator in self.simulators:
            simulator.stop()
