"""The channel-health part of the status line: one short item per channel, errors in red."""

from __future__ import annotations

from rich.text import Text

from socialdesk.screens import format as fmt
from socialdesk.store.views import ChannelHealth
from socialdesk.text import terminal_safe

MAX_ERROR = 40


def health_line(channels: list[ChannelHealth] | None, error: str | None = None) -> Text:
    """`● mastodon rate 298  ✖ x: 429 Too Many Requests 3m ago` (rate: calls remaining).

    Error texts come from remote APIs, so they are untrusted and never parsed as markup.
    """
    line = Text(no_wrap=True, overflow="ellipsis", justify="right")
    if error is not None:
        line.append("✖ health unavailable: ", style="bold red")
        line.append(terminal_safe(error, single_line=True)[:MAX_ERROR])
        return line
    if not channels:
        line.append("no channels", style="dim")
        return line
    at = fmt.now()
    for index, channel in enumerate(channels):
        if index:
            line.append("  ")
        name = terminal_safe(channel.name, single_line=True)
        if channel.ok:
            line.append("● ", style="green")
            line.append(name)
            if channel.rate_remaining is not None:
                line.append(f" rate {channel.rate_remaining}", style="dim")
            continue
        message = terminal_safe(channel.last_error or "", single_line=True)
        if len(message) > MAX_ERROR:
            message = message[: MAX_ERROR - 1] + "…"
        line.append("✖ ", style="bold red")
        line.append(name, style="bold red")
        line.append(": ")
        line.append(message, style="red")
        if channel.last_error_at is not None:
            line.append(f" {fmt.age(channel.last_error_at, at)} ago", style="dim")
        if channel.rate_remaining is not None:
            line.append(f" rate {channel.rate_remaining}", style="dim")
    return line
