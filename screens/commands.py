"""Command palette (ctrl+p): the commands of the screen it was opened from."""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider

from socialdesk.screens.base import DeskScreen, PaletteCommand


class DeskCommands(Provider):
    """Context commands: what the current screen offers through `palette_commands`."""

    def _commands(self) -> list[PaletteCommand]:
        screen = self.screen
        return screen.palette_commands() if isinstance(screen, DeskScreen) else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name,
                          help=help_text)
