"""Channel health in full: every channel and each stream it polls — last success, last error,
the rate limit left and when it resets. Opened from the queue (`c`) or the palette."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from socialdesk.screens import format as fmt
from socialdesk.screens.base import DeskScreen, PaletteCommand
from socialdesk.screens.messages import HealthFetched
from socialdesk.store.views import ChannelHealth, StreamHealth
from socialdesk.text import terminal_safe

REFRESH = 2.0


def _rate(stream: StreamHealth, at) -> Text:
    if stream.rate_remaining is None:
        return Text("rate –", style="dim")
    text = Text("rate ", style="dim")
    text.append(f"{stream.rate_remaining}" + (f"/{stream.rate_limit}" if stream.rate_limit else "") + " left",
                style="bold red" if stream.rate_remaining == 0 else "")
    if stream.rate_reset_at is not None and fmt.aware(stream.rate_reset_at) > at:
        text.append(f", resets in {fmt.duration(fmt.aware(stream.rate_reset_at) - at)}", style="dim")
    return text


def health_text(channels: list[ChannelHealth]) -> Text:
    """A block per channel, a line per stream, its last error below it (wrapped: errors are
    long). Remote text is never markup."""
    at = fmt.now()
    out = Text()
    for channel in channels:
        out.append(terminal_safe(channel.name, single_line=True), style="bold")
        out.append(f"  {channel.kind}\n", style="dim")
        for stream in channel.streams or (StreamHealth("–"),):
            never = stream.last_success_at is None and stream.last_error is None
            out.append("  " + terminal_safe(stream.stream, single_line=True)[:12].ljust(13))
            if never:
                out.append("– waiting".ljust(11), style="dim")
            elif stream.ok:
                out.append("● ok".ljust(11), style="green")
            else:
                out.append("✖ failing".ljust(11), style="bold red")
            last_ok = f"ok {fmt.age(stream.last_success_at, at)} ago" if stream.last_success_at else "never ok"
            out.append(last_ok.ljust(14), style="" if stream.last_success_at else "dim")
            out.append_text(_rate(stream, at))
            out.append("\n")
            if stream.last_error:
                out.append(f"    {fmt.age(stream.last_error_at, at)} ago: ", style="dim")
                out.append(terminal_safe(stream.last_error, single_line=True) + "\n",
                           style="dim" if stream.ok else "red")
        out.append("\n")
    return out


class ChannelsScreen(DeskScreen):
    BINDINGS = [
        Binding("escape,c", "back", "Back", id="channels.back", tooltip="Back to the queue"),
        Binding("r", "refresh", "Refresh", id="channels.refresh", tooltip="Read the channels' health now"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(Text("socialdesk · channels", style="bold"), id="channels-title")
        with VerticalScroll(id="channels-body"):
            yield Static(id="channels-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._fetch()
        self.set_interval(REFRESH, self._fetch)  # one clock: refreshes by hand do not add another

    @work(thread=True, exclusive=True, group="channels-health", exit_on_error=False)
    def _fetch(self) -> None:
        try:
            self.post_message(HealthFetched(self.desk.channel_health()))
        except Exception as error:
            self.post_message(HealthFetched(None, f"{type(error).__name__}: {error}"))

    @on(HealthFetched)
    def _fetched(self, message: HealthFetched) -> None:
        message.stop()
        body = self.query_one("#channels-table", Static)
        if message.error is not None:
            body.update(Text("health unavailable: " + terminal_safe(message.error), style="bold red"))
        elif not message.channels:
            body.update(Text("No channels are configured: add [[channels]] to socialdesk.toml.", style="dim"))
        else:
            body.update(health_text(message.channels))

    def reload(self, *, live: bool = False) -> None:
        self._fetch()

    def action_back(self) -> None:
        self.dismiss()

    def action_refresh(self) -> None:
        self._fetch()

    def palette_commands(self) -> list[PaletteCommand]:
        return [("Refresh channel health", "Read every channel's health now", self.action_refresh),
                ("Back to the queue", "Close the channel health screen", self.action_back)]
