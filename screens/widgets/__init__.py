"""Reusable widgets of the socialdesk screens."""

from socialdesk.screens.widgets.command_line import CommandLine
from socialdesk.screens.widgets.queue_list import QueueList
from socialdesk.screens.widgets.timeline import Timeline

__all__ = ["CommandLine", "QueueList", "Timeline"]
