"""Textual screens and widgets of socialdesk (installed as socialdesk.screens)."""

from socialdesk.screens.base import DeskScreen
from socialdesk.screens.commands import DeskCommands
from socialdesk.screens.conversation import ConversationScreen
from socialdesk.screens.queue import QueueScreen

__all__ = ["ConversationScreen", "DeskCommands", "DeskScreen", "QueueScreen"]
