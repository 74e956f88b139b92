"""The one command layer: every change a person makes to conversations, from the TUI or the CLI.

`run(actor, command, selection)` checks policy, applies the change in one transaction (only to
conversations still as the actor saw them), writes one audit event per conversation and returns
an Outcome that says what happened and can be undone. A refusal is a `Refused` with a message for
the person, and an audit event of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from socialdesk.store import audit, changes, commands, notes, queries
from socialdesk.store.changes import ChangeSet
from socialdesk.store.models import utcnow
from socialdesk.store.queue import SearchError, matching_ids, queue_count
from socialdesk.store.views import Selection

from . import actions as a
from . import customers
from .actions import ConversationCommand, DeskSettings, Note, change_for
from .actor import Actor, Refused
from .aftercare import after_resolution, public_note
from .customers import CustomerCommand, EditCustomer, LinkIdentity, MergeNeeded, UnlinkIdentity
from .replies import HOLDING_REPLY_LIMIT, Approve, HoldingReply, Reply, ReplyRejected, ReplyRules

Command = ConversationCommand | Note | Reply | HoldingReply | Approve | CustomerCommand


@dataclass(frozen=True)
class Outcome:
    """What a command did (or, dry, would do)."""

    summary: str
    count: int = 0
    changes: ChangeSet | None = None
    outbox_ids: tuple[int, ...] = ()
    dry_run: bool = False
    detail: Any = None  # a reply's OutboxView

    @property
    def undoable(self) -> bool:
        return not self.dry_run and (bool(self.changes and self.changes.changed) or bool(self.outbox_ids))


def describe(command: Command) -> str:
    """What a command does, in a few words ("tag outage", "assign to team billing")."""
    if isinstance(command, (a.Tag, a.Untag)):
        return f"{type(command).__name__.lower()} {command.name}"
    if isinstance(command, a.SetPriority):
        return f"set priority {command.level}"
    if isinstance(command, a.Assign):
        who = [w for w in (command.agent and f"to {command.agent}", command.team and f"to team {command.team}") if w]
        return "assign " + " and ".join(who)
    if isinstance(command, a.Resolve):
        return f"resolve ({command.code})" if command.code else "resolve"
    if isinstance(command, HoldingReply):
        return f"send the holding reply {command.canned}"
    return {a.CloseNoise: "close as noise", a.Reopen: "reopen", a.Note: "add a note", Reply: "reply",
            Approve: "approve held replies", LinkIdentity: "link an identity", UnlinkIdentity: "unlink an identity",
            EditCustomer: "edit the customer"}[type(command)]


def _plural(n: int, noun: str = "conversation") -> str:
    many = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n:,} {noun if n == 1 else many}"


def _summary(verb: str, result: ChangeSet, dry_run: bool) -> str:
    if result.selected == 1 and not dry_run and not result.changed:
        if result.stale:
            return f"Not {verb}: it changed since you saw it (someone else, or a new message). Look again first."
        if result.unchanged:
            return f"Not {verb}: it is already so, or not yours to change."
        return f"Not {verb}: it no longer exists."
    head = f"Would have {verb}" if dry_run else verb[:1].upper() + verb[1:]
    text = f"{head} {_plural(result.changed)}."
    skipped = []
    if result.stale:
        skipped.append(f"{result.stale:,} changed since you saw {'it' if result.stale == 1 else 'them'}")
    if result.unchanged:
        skipped.append(f"{result.unchanged:,} already so or not allowed")
    missing = result.selected - result.changed - result.stale - result.unchanged
    if missing > 0:
        skipped.append(f"{missing:,} no longer exist")
    return text + (f" Skipped: {'; '.join(skipped)}." if skipped else "")


class CommandLayer:
    def __init__(self, sessions: sessionmaker[Session], *, settings: DeskSettings, replies: ReplyRules):
        self.sessions, self.settings, self.replies = sessions, settings, replies

    def actor(self, name: str, role: str | None = None) -> Actor:
        """The agent signed in as `name`, from the store (a first sign-in creates a plain agent).
        `role` is set only where the caller may decide it (the demo, an admin's --agent)."""
        with self.sessions.begin() as s:
            agent_id = commands.agent_id(s, name)
            if role is not None:
                commands.set_agent_role(s, agent_id, role)
        with self.sessions() as s:
            profile = queries.agent_profile(s, name)
        assert profile is not None
        return Actor.of(profile)

    def count(self, actor: Actor, selection: Selection) -> int:
        """How many conversations the selection names now (the preview before a bulk command)."""
        if selection.flt is None:
            return len(set(selection.ids))
        with self.sessions() as s:
            try:
                return queue_count(s, selection.flt, me=actor.name)
            except SearchError as exc:
                raise Refused(str(exc)) from None

    def run(self, actor: Actor, command: Command, selection: Selection, *, dry_run: bool = False) -> Outcome:
        try:
            if isinstance(command, Note):
                return self._note(actor, command, selection, dry_run)
            if isinstance(command, (Reply, HoldingReply)):
                return self._reply(actor, command, selection, dry_run)
            if isinstance(command, Approve):
                return self._approve(actor, selection, dry_run)
            if isinstance(command, (LinkIdentity, UnlinkIdentity, EditCustomer)):
                if dry_run:
                    return Outcome(f"Would have {command.verb} this conversation.", 1, dry_run=True)
                return Outcome(customers.run(self.sessions, actor, command, self._ids(actor, selection)), 1)
            return self._change(actor, command, selection, dry_run)
        except SearchError as exc:
            raise Refused(str(exc)) from None
        except (ReplyRejected, MergeNeeded):  # questions for the person, not refusals
            raise
        except Refused as refused:
            self._record_refusal(actor, command, selection, str(refused))
            raise

    def undo(self, actor: Actor, outcome: Outcome) -> str:
        if not outcome.undoable:
            raise Refused("There is nothing to undo.")
        texts = []
        with self.sessions.begin() as s:
            if outcome.changes is not None:
                result = changes.undo(s, outcome.changes, actor=actor.name)
                texts.append(f"Undone on {_plural(result.restored)}.")
                if result.skipped:
                    texts.append(f"{result.skipped:,} changed since and were left as they are.")
            if outcome.outbox_ids:  # a reply, or what a resolution queued (close-out, survey)
                cancelled = commands.cancel_replies(s, list(outcome.outbox_ids), actor=actor.name)
                left = len(outcome.outbox_ids) - cancelled
                texts.append(f"Withdrew {_plural(cancelled, 'reply')}." + (f" {left:,} had already gone out."
                                                                           if left else ""))
        return " ".join(texts)

    # Conversation changes ---------------------------------------------------------------------
    def _change(self, actor: Actor, command: ConversationCommand, selection: Selection, dry_run: bool) -> Outcome:
        bulk = selection.flt is not None or len(selection.ids) > 1
        with self.sessions() as s:  # read apart: on SQLite a transaction that reads first cannot wait to write
            names = queries.names(s)
        change = change_for(command, actor, names=names, settings=self.settings, now=utcnow(), bulk=bulk)
        session = self.sessions()
        try:
            session.begin()
            result = changes.apply(session, selection, change, actor=actor.name, me=actor.name, dry_run=dry_run)
            if dry_run:
                session.rollback()
            else:
                session.commit()
        finally:
            session.close()
        summary = _summary(command.verb, result, dry_run)
        if isinstance(command, a.Resolve) and not dry_run and result.changed:
            care = after_resolution(self.sessions, self.replies, self.settings, actor, result.ids)
            return Outcome(summary + care.summary(), result.changed, result, tuple(care.outbox_ids))
        return Outcome(summary, result.changed, result, dry_run=dry_run)

    def _note(self, actor: Actor, command: Note, selection: Selection, dry_run: bool) -> Outcome:
        text = command.text.strip()
        if not text:
            raise Refused("The note is empty: write something first.")
        ids = self._ids(actor, selection)
        if dry_run:
            return Outcome(f"Would have noted {_plural(len(ids))}.", len(ids), dry_run=True)
        with self.sessions.begin() as s:
            notes.add_notes(s, ids, text, agent_id=actor.id, actor=actor.name)
        return Outcome(f"Noted {_plural(len(ids))}.", len(ids))

    def _approve(self, actor: Actor, selection: Selection, dry_run: bool) -> Outcome:
        actor.require_supervisor("approve replies")
        ids = self._ids(actor, selection)
        with self.sessions() as s:
            waiting = [oid for oid, cid, _, _ in queries.pending_approvals(s) if cid in set(ids)]
        if not waiting:
            raise Refused("No reply here is waiting for approval.")
        if dry_run:
            return Outcome(f"Would have approved {_plural(len(waiting), 'reply')}.", len(waiting), dry_run=True)
        with self.sessions.begin() as s:
            approved = sum(commands.approve(s, oid, actor=actor.name) for oid in waiting)
        return Outcome(f"Approved {_plural(approved, 'reply')}.", approved)

    # Replies --------------------------------------------------------------------------------------
    def _reply(self, actor: Actor, command: Reply | HoldingReply, selection: Selection, dry_run: bool) -> Outcome:
        ids = self._ids(actor, selection)
        if isinstance(command, Reply) and len(ids) != 1:
            raise Refused("A written reply answers one conversation; for many, use a holding reply (a canned one).")
        if len(ids) > HOLDING_REPLY_LIMIT:
            raise Refused(f"A holding reply goes to at most {HOLDING_REPLY_LIMIT:,} conversations at once; "
                          f"this selection has {len(ids):,}. Narrow it (a filter, or fewer marks).")
        queued, refused = [], {}
        for cid in ids:
            with self.sessions() as s:
                detail = queries.conversation_detail(s, cid)
            if detail is None:
                continue
            note = None
            try:
                if isinstance(command, Reply):
                    text = command.text.strip()
                    route = command.route or self.replies.route(detail, command.visibility)
                    if command.public_note and route.visibility == "private":
                        note = public_note(detail, self.replies, self.settings, actor)
                else:
                    text = self.replies.render(command.canned, detail, actor.name).text
                    last = next((m for m in reversed(detail.messages) if m.direction == "in"), None)
                    route = self.replies.route(detail, last.visibility if last else "public")
                approval = self.replies.check(detail, text, route, actor)
            except ReplyRejected as rejected:
                if isinstance(command, Reply):
                    raise
                refused[str(rejected)] = refused.get(str(rejected), 0) + 1
                continue
            if not dry_run:
                with self.sessions.begin() as s:
                    queued.append(commands.queue_reply(s, cid, text, route.outbound(), actor=actor.name,
                                                       approval_reason=approval))
                    if note is not None:
                        note_text, note_route, note_approval = note
                        commands.queue_reply(s, cid, note_text, note_route.outbound(), actor=actor.name,
                                             approval_reason=note_approval, purpose="note")
            else:
                queued.append(None)
        if isinstance(command, Reply):
            entry = queued[0]
            text = ("Reply checked." if dry_run else "Reply queued.") + (" With a public note." if note else "")
            return Outcome(text, 1, dry_run=dry_run, detail=entry)
        text = f"{'Would have queued' if dry_run else 'Queued'} a holding reply to {_plural(len(queued))}."
        if refused:
            text += " Held back: " + "; ".join(f"{n:,} — {why}" for why, n in refused.items())
        return Outcome(text, len(queued), outbox_ids=tuple(e.id for e in queued if e is not None), dry_run=dry_run)

    # Helpers ----------------------------------------------------------------------------------------
    def _ids(self, actor: Actor, selection: Selection) -> list[int]:
        """The selection's conversations as ids (for commands that act one by one)."""
        if selection.flt is None:
            return list(dict.fromkeys(selection.ids))
        with self.sessions() as s:
            return list(matching_ids(s, selection.flt, me=actor.name))

    def _record_refusal(self, actor: Actor, command: Command, selection: Selection, reason: str) -> None:
        ids = list(dict.fromkeys(selection.ids))[:1] if selection.flt is None else []
        with self.sessions.begin() as s:
            audit.begin_write(s)
            audit.record(s, actor.name, [audit.Event(
                "refused", "conversation" if ids else "command", ids[0] if ids else None,
                {"command": type(command).__name__.lower(), "reason": reason, "selected": len(selection.ids)})])


