"""What the screens talk to: reads over the store, and the command layer, for the signed-in agent.

Every method that touches the store is synchronous and opens its own short session; screens
call those from thread workers, never from the event loop. `max_length` and `count` are in
memory. The actor (role, teams) is read from the store on first use, in a worker."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from typing import TYPE_CHECKING

from socialdesk.rules.canned import Rendered, Template
from socialdesk.store import commands as store_commands
from socialdesk.store import customers
from socialdesk.store import queries
from socialdesk.store import queue as queue_reads
from socialdesk.store.views import (
    AlertView,
    ChannelHealth,
    ConversationDetail,
    CustomerView,
    OutboxView,
    QueueFilter,
    QueueRow,
    Selection,
)

from .commands import (
    Actor,
    ChannelLimits,
    Command,
    CommandLayer,
    DeskSettings,
    EditCustomer,
    Outcome,
    Refused,
    Reply,
    ReplyRoute,
    ReplyRules,
    email_route,
    routes_for,
)
from .fresh import FreshCache
from .query import DEFAULT_VIEWS, Vocabulary

if TYPE_CHECKING:
    from socialdesk.rules.engine import RuleSet

UNDO_DEPTH = 20
HITS_FRESH = 3.0


class Desk:
    def __init__(self, sessions: sessionmaker[Session], agent: str, *, limits: dict[str, ChannelLimits] | None = None,
                 rules: RuleSet | None = None, role: str | None = None, brand: str = "", opening_hours: str = "",
                 response_window: str = "", settings: DeskSettings | None = None,
                 views: dict[str, str] | None = None):
        self.sessions = sessions
        self.agent = agent
        self.rules = rules
        self.settings = settings or DeskSettings(resolution_codes={})
        self.views = views if views is not None else dict(DEFAULT_VIEWS)  # name -> query, in key order
        self.availability = "offline"
        self.replies = ReplyRules(limits or {}, rules, {"brand": brand, "opening_hours": opening_hours,
                                                        "response_window": response_window})
        self.layer = CommandLayer(sessions, settings=self.settings, replies=self.replies)
        self._role = role
        self._actor: Actor | None = None
        self.history: deque[Outcome] = deque(maxlen=UNDO_DEPTH)  # what `undo_last` can take back
        self._cache = FreshCache(self.change_counter, fresh=HITS_FRESH, size=2)  # a search's hits and matches

    @property
    def actor(self) -> Actor:
        """The signed-in agent as the store knows them (read once, in a worker)."""
        if self._actor is None:
            self._actor = self.layer.actor(self.agent, self._role)
        return self._actor

    @property
    def role(self) -> str:
        return self.actor.role

    def max_length(self, channel: str, visibility: str = "public") -> int | None:
        """The longest reply the channel takes, publicly or privately."""
        return self.replies.max_length(channel, visibility)

    def count(self, channel: str, text: str) -> int:
        """A reply's length the channel's way (X counts weighted, others characters)."""
        return self.replies.count(channel, text)

    # Reads -------------------------------------------------------------------------------------
    def change_counter(self) -> int:
        with self.sessions() as s:
            return queries.change_counter(s)

    def search_hits(self, words: str) -> queue_reads.SearchHits | None:
        """The conversations a search's words find, computed once and reused by its pages,
        count and marks while the store stays still (see FreshCache)."""
        if not words.strip():
            return None

        def compute() -> queue_reads.SearchHits:
            with self.sessions() as s:
                return queue_reads.search_hits(s, words)

        return self._cache.get(("hits", words), compute)

    def forget_searches(self) -> None:
        """The next page of a search finds its matches again (a refresh asked for by the person)."""
        self._cache.clear()

    def queue_count(self, flt: QueueFilter) -> int:
        if flt.search.strip():  # a search is counted by finding its matches, kept for a pattern mark
            return len(self.matching(flt))
        with self.sessions() as s:
            return queue_reads.queue_count(s, flt, me=self.agent)

    def queue_page(self, flt: QueueFilter, offset: int, limit: int, after: QueueRow | None = None) -> list[QueueRow]:
        """Rows `offset`..`offset+limit` in queue order; `after` (the row at offset-1) lets the
        store page by keyset instead of OFFSET."""
        hits = self.search_hits(flt.search)
        with self.sessions() as s:
            return queue_reads.queue_page(s, flt, offset, limit, after=after, me=self.agent, hits=hits)

    def queue_tail(self, flt: QueueFilter, limit: int) -> list[QueueRow]:
        hits = self.search_hits(flt.search)
        with self.sessions() as s:
            return queue_reads.queue_tail(s, flt, limit, me=self.agent, hits=hits)

    def matching(self, flt: QueueFilter) -> dict[int, int]:
        """id -> version of every conversation the filter selects (a pattern mark). A search's
        is kept like its hits: its count found it already when T follows the search."""
        def compute() -> dict[int, int]:
            hits = self.search_hits(flt.search)
            with self.sessions() as s:
                return queue_reads.matching_ids(s, flt, me=self.agent, hits=hits)

        return self._cache.get(("matching", flt), compute) if flt.search.strip() else compute()

    def cluster_members(self, cluster_id: int) -> dict[int, int]:
        with self.sessions() as s:
            return queue_reads.cluster_members(s, cluster_id)

    def first_free(self, flt: QueueFilter) -> int | None:
        with self.sessions() as s:
            return queue_reads.first_free(s, flt, self.agent)

    def vocabulary(self) -> Vocabulary:
        """The names queries and commands may use (for checks and completion)."""
        with self.sessions() as s:
            known = queries.names(s)
        return Vocabulary(channels=known.channels, teams=tuple(known.teams), agents=tuple(known.agents),
                          tags=tuple(sorted({*known.tags, *self.settings.tags})))

    def conversation(self, conversation_id: int) -> ConversationDetail | None:
        with self.sessions() as s:
            return queries.conversation_detail(s, conversation_id)

    def channel_health(self) -> list[ChannelHealth]:
        with self.sessions() as s:
            return queries.channel_health(s)

    def latest_alert_id(self) -> int:
        with self.sessions() as s:
            return queries.latest_alert_id(s)

    def alerts_after(self, alert_id: int) -> list[AlertView]:
        with self.sessions() as s:
            return queries.alerts_after(s, alert_id)

    # Canned responses ----------------------------------------------------------------------------
    def canned(self, detail: ConversationDetail) -> list[Template]:
        """The canned responses that fit the conversation's channel, its language first."""
        if self.rules is None:
            return []
        return self.rules.canned.choices(channel_kind=detail.channel_kind, language=detail.language)

    def render_canned(self, name: str, detail: ConversationDetail) -> Rendered:
        return self.replies.render(name, detail, self.agent)

    # Commands ----------------------------------------------------------------------------------
    def run(self, command: Command, selection: Selection, *, dry_run: bool = False) -> Outcome:
        """Any command on conversations, as the signed-in agent (see services.commands)."""
        outcome = self.layer.run(self.actor, command, selection, dry_run=dry_run)
        if outcome.undoable:
            self.history.append(outcome)
        return outcome

    def undo(self, outcome: Outcome) -> str:
        if outcome in self.history:
            self.history.remove(outcome)
        return self.layer.undo(self.actor, outcome)

    def undo_last(self) -> str:
        """Take back this person's latest command that can be undone."""
        if not self.history:
            raise Refused("Nothing to undo: tag, assign, close or resolve something first.")
        return self.undo(self.history[-1])

    def selection_size(self, selection: Selection) -> int:
        return self.layer.count(self.actor, selection)

    def routes(self, conversation_id: int, addresses: tuple[str, ...] = ()) -> list[ReplyRoute]:
        """Every route the conversation offers (see services.commands.routes), with an email to
        each of `addresses`; those not possible now say why."""
        detail = self.conversation(conversation_id)
        if detail is None:
            return []
        return routes_for(detail, self.replies.limits, datetime.now(UTC), brand=self.replies.variables["brand"],
                          addresses=addresses)

    def email_route(self, conversation_id: int, typed: str) -> ReplyRoute:
        """An email to the address typed (Refused when it is not one address)."""
        detail = self.conversation(conversation_id)
        if detail is None:
            raise Refused("That conversation no longer exists.")
        return email_route(detail, self.replies.limits, typed, brand=self.replies.variables["brand"])

    def reply(self, conversation_id: int, text: str, visibility: str) -> OutboxView:
        """Queue a reply after every check (see commands.replies); ReplyRejected says why not."""
        return self.run(Reply(text, visibility), Selection((conversation_id,))).detail

    def set_availability(self, status: str) -> None:
        """available | away | offline: routing gives new conversations to available agents only."""
        with self.sessions.begin() as s:
            store_commands.set_agent_status(s, self.agent, status)
        self.availability = status

    def flag_key_customer(self, conversation_id: int, flag: bool) -> None:
        self.run(EditCustomer(key_customer=flag), Selection((conversation_id,)))

    def customer(self, conversation_id: int) -> CustomerView | None:
        """The person behind the conversation: identities, details, history, suggested links."""
        with self.sessions() as s:
            return customers.of_conversation(s, conversation_id)
