"""Every key binding id the screens declare, so `[keymap]` is checked when the settings are
read, without importing Textual. tests/test_config.py holds this list to the screens' BINDINGS:
a screen that adds a binding adds its id here."""

from __future__ import annotations

BINDING_IDS = frozenset({
    "app.help", "app.quit",
    "canned.cancel",
    "channels.back", "channels.refresh",
    "conversation.approve", "conversation.assign", "conversation.back", "conversation.canned",
    "conversation.key_customer", "conversation.resolve", "conversation.send", "conversation.visibility",
    "conversation.write",
    "queue.assign", "queue.channels", "queue.clear_search", "queue.down", "queue.first", "queue.last",
    "queue.mark", "queue.mine", "queue.open", "queue.page_down", "queue.page_up", "queue.refresh",
    "queue.search", "queue.up",
})
