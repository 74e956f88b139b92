"""Every key binding id the screens declare, so `[keymap]` is checked when the settings are
read, without importing Textual. tests/test_config.py holds this list to the screens' BINDINGS:
a screen that adds a binding adds its id here."""

from __future__ import annotations

BINDING_IDS = frozenset({
    "act.apply_to_marked", "act.assign_to", "act.close_noise", "act.command_line", "act.note", "act.priority",
    "act.tag", "act.undo",
    "app.help", "app.quit",
    "canned.cancel",
    "channels.back", "channels.refresh",
    "command_line.cancel", "command_line.complete", "command_line.next", "command_line.previous",
    "confirm.no", "confirm.yes",
    "customer.close", "customer.crm", "customer.key", "customer.notes",
    "routes.cancel", "routes.note",
    "conversation.approve", "conversation.assign", "conversation.back", "conversation.canned", "conversation.customer",
    "conversation.key_customer", "conversation.resolve", "conversation.route", "conversation.send", "conversation.visibility",
    "conversation.write",
    "queue.assign", "queue.channels", "queue.clear_marks", "queue.clear_search", "queue.clusters",
    "queue.down", "queue.first", "queue.last", "queue.mark", "queue.mark_cluster", "queue.mark_pattern",
    "queue.mark_range", "queue.mine", "queue.open", "queue.page_down", "queue.page_up", "queue.refresh",
    "queue.resolve", "queue.search", "queue.up", "queue.view_1", "queue.view_2", "queue.view_3",
    "queue.view_4", "queue.view_5", "queue.view_6", "queue.view_7", "queue.view_8", "queue.view_9",
})
