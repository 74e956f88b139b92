"""What the queue and the conversation screens share: commands on conversations.

Keys open the `:` command line with the verb typed (t → ":tag ", A → ":assign "…), so every
action has one path: the line is parsed (services.command_line), the command runs in a worker
through the command layer, a count above the desk's threshold asks first, and the outcome is
shown with "u to undo". `;` makes the next command act on the marked conversations (or, with
none marked, on the whole view) instead of the highlighted one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from socialdesk.screens.base import DeskScreen, PaletteCommand
from socialdesk.screens.confirm import Confirm
from socialdesk.screens.messages import (
    CommandDone,
    CommandRefused,
    NeedsConfirm,
    NeedsMerge,
    Undone,
    WordsLoaded,
)
from socialdesk.screens.widgets.command_line import CommandLine
from textual import on, work
from textual.binding import Binding

from socialdesk.services.command_line import Line, Words, parse_line
from socialdesk.services.commands import (
    Assign,
    Command,
    MergeNeeded,
    Outcome,
    Refused,
    Selection,
    describe,
)
from socialdesk.services.memory import give_back
from socialdesk.text import terminal_safe

BIG_COMMAND = 1000  # conversations: after a command this big, memory goes back to the system


@dataclass(frozen=True)
class Target:
    """What a command will act on, and how to say so ("#412", "1,204 marked", "the view")."""

    label: str
    selection: Selection
    count: int | None = None  # None: a filter, counted when the command runs


class ActingScreen(DeskScreen):
    BINDINGS = [
        Binding("colon", "command_line", "Command", show=False, id="act.command_line",
                tooltip="Type a command (:tag outage, :assign team=billing…)"),
        Binding("semicolon", "apply_to_marked", "On marked", show=False, id="act.apply_to_marked",
                tooltip="The next command acts on every marked conversation (or the whole view)"),
        Binding("t", "prompt('tag ')", "Tag", show=False, id="act.tag", tooltip="Add a tag (tab completes)"),
        Binding("P", "prompt('priority ')", "Priority", show=False, id="act.priority", tooltip="Set the priority: P1..P4"),
        Binding("A", "prompt('assign ')", "Assign to", show=False, id="act.assign_to",
                tooltip="Assign to an agent or a team (assign team=billing)"),
        Binding("x", "prompt('close noise')", "Noise", show=False, id="act.close_noise", tooltip="Close as noise"),
        Binding("n", "prompt('note ')", "Note", show=False, id="act.note", tooltip="An internal note, never sent"),
        Binding("u", "undo", "Undo", show=False, id="act.undo", tooltip="Undo your last command"),
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.on_marked = False  # set by `;` for the next command
        self._words_asked = False

    # What the subclass says --------------------------------------------------------------------
    def target(self) -> Target | None:
        """The highlighted (or open) conversation; with `on_marked`, the marks or the view."""
        raise NotImplementedError

    def screen_verb(self, line: Line) -> None:
        """`:view`, `:mark`, `:search`… (the queue handles them; elsewhere they say so)."""
        if line.verb == "undo":
            self.action_undo()
        else:
            self.notify(f":{line.verb} works in the queue.", severity="warning", markup=False)

    def after_command(self, outcome: Outcome) -> None:
        """The command finished (marks follow their conversations' new versions, …)."""

    def palette_commands(self) -> list[PaletteCommand]:
        """The commands both screens offer (each adds its own)."""
        return [
            ("Take", "Assign to me (a)", self.action_take),
            ("Tag", "Add a tag (t)", lambda: self.action_prompt("tag ")),
            ("Untag", "Take a tag off", lambda: self.action_prompt("untag ")),
            ("Set priority", "P1..P4 (P)", lambda: self.action_prompt("priority ")),
            ("Assign to…", "An agent or a team (A)", lambda: self.action_prompt("assign ")),
            ("Close as noise", "Out of the queue, still searchable (x)", lambda: self.action_prompt("close noise")),
            ("Add a note", "Internal, never sent (n)", lambda: self.action_prompt("note ")),
            ("Undo", "Undo your last command (u)", self.action_undo),
            ("Command line", "Type a command: :tag, :assign, :view, :resolve… (:)", self.action_command_line),
        ]

    # Command line -------------------------------------------------------------------------------
    def load_words(self) -> None:
        """Read the names to complete, once (after the screen's first rows: never before them)."""
        if not self._words_asked:
            self._words_asked = True
            self._load_words()

    @work(thread=True, exclusive=True, group="act-words", exit_on_error=False)
    def _load_words(self) -> None:
        desk = self.desk
        known = desk.vocabulary()
        canned = [t.name for t in desk.rules.canned] if desk.rules is not None else []
        self.post_message(WordsLoaded(Words(tags=known.tags, channels=known.channels, agents=known.agents,
                                            teams=known.teams,
                                            views=tuple(desk.views), codes=tuple(desk.settings.resolution_codes),
                                            canned=canned)))

    @on(WordsLoaded)
    def _words_loaded(self, message: WordsLoaded) -> None:
        self.query_one(CommandLine).input.words = message.words

    def action_command_line(self) -> None:
        self.action_prompt("")

    def action_prompt(self, text: str) -> None:
        self.load_words()
        target = self.target()
        label = f"{'on ' + target.label if target else ''} :"
        self.query_one(CommandLine).open(text, terminal_safe(label.strip(), single_line=True))

    def action_apply_to_marked(self) -> None:
        self.on_marked = not self.on_marked
        target = self.target()
        if self.on_marked and target is not None:
            self.notify(f"Next command: on {target.label}.", markup=False, timeout=3)

    @on(CommandLine.Cancelled)
    def _cancelled(self) -> None:
        self.query_one(CommandLine).close()
        self.on_marked = False
        self.focus_main()

    @on(CommandLine.Submitted)
    def _submitted(self, message: CommandLine.Submitted) -> None:
        self.focus_main()
        if not message.line:
            return
        try:
            line = parse_line(message.line)
        except Refused as refused:
            self.notify(str(refused), severity="warning", markup=False, timeout=8)
            return
        if line.command is None:
            self.screen_verb(line)
        else:
            self.execute(line.command)

    def focus_main(self) -> None:
        """Give the focus back to the screen's main widget after the command line."""

    # Running --------------------------------------------------------------------------------------
    def execute(self, command: Command) -> None:
        target = self.target()
        self.on_marked = False
        if target is None:
            self.notify("Nothing to act on here.", severity="warning", markup=False)
            return
        self._run(command, target, confirmed=False)

    def action_take(self) -> None:
        self.execute(Assign("me"))

    @work(thread=True, group="act-run", exit_on_error=False)
    def _run(self, command: Command, target: Target, confirmed: bool) -> None:
        try:
            if not confirmed:
                count = target.count if target.count is not None else self.desk.selection_size(target.selection)
                if count > self.desk.settings.confirm_above:
                    self.post_message(NeedsConfirm(command, target, count))
                    return
            self.post_message(CommandDone(self.desk.run(command, target.selection)))
        except MergeNeeded as question:
            self.post_message(NeedsMerge(command, target, str(question)))
        except Refused as refused:
            self.post_message(CommandRefused(str(refused)))

    @on(NeedsConfirm)
    def _needs_confirm(self, message: NeedsConfirm) -> None:
        what = describe(message.command)
        question = f"{what[:1].upper()}{what[1:]}: {message.count:,} conversations ({message.target.label}). Go ahead?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(message.command, message.target, confirmed=True)

        self.app.push_screen(Confirm(terminal_safe(question)), answered)

    @on(NeedsMerge)
    def _needs_merge(self, message: NeedsMerge) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._run(replace(message.command, merge=True), message.target, confirmed=True)

        self.app.push_screen(Confirm(terminal_safe(message.question + " Merge them?")), answered)

    @on(CommandDone)
    def _command_done(self, message: CommandDone) -> None:
        outcome: Outcome = message.outcome
        hint = "  (u: undo)" if outcome.undoable else ""
        self.notify(terminal_safe(outcome.summary) + hint, severity="information" if outcome.count else "warning",
                    markup=False, timeout=6)
        self.after_command(outcome)
        self.reload(live=True)
        if outcome.count >= BIG_COMMAND:
            self.give_back()

    @work(thread=True, group="act-memory", exit_on_error=False)
    def give_back(self) -> None:
        """After big work, once its outcome is on screen: memory back to the system."""
        give_back()

    @on(CommandRefused)
    def _command_refused(self, message: CommandRefused) -> None:
        self.notify(terminal_safe(message.reason), title="Not done", severity="warning", markup=False, timeout=10)

    def action_undo(self) -> None:
        self._undo()

    @work(thread=True, group="act-run", exit_on_error=False)
    def _undo(self) -> None:
        try:
            self.post_message(Undone(self.desk.undo_last()))
        except Refused as refused:
            self.post_message(CommandRefused(str(refused)))

    @on(Undone)
    def _undone(self, message: Undone) -> None:
        self.notify(terminal_safe(message.summary), markup=False, timeout=6)
        self.reload(live=True)
        self.give_back()
