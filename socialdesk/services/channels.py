"""From a `[[channels]]` block and its secret to a running adapter: the one place that maps
each kind's settings onto its adapter's constructor. Adapter modules are imported on demand."""

from __future__ import annotations

from typing import Any

from socialdesk.adapters.base import Adapter
from socialdesk.config import ChannelConfig

from .credentials import Credentials


class ChannelUnavailable(Exception):
    """A configured channel that cannot run here; the message says why and what to do."""


def _given(**settings: Any) -> dict[str, Any]:
    """Only the settings the config gives: an adapter's own defaults stand for the rest."""
    return {name: value for name, value in settings.items() if value is not None}


def build_adapter(channel: ChannelConfig, credentials: Credentials) -> Adapter:
    """The adapter for a platform channel (not the simulator, which the runtime starts)."""
    c = channel
    common = _given(base_url=c.base_url, page_limit=c.page_limit)
    if c.kind == "mastodon":
        from socialdesk.adapters.mastodon import MastodonAdapter

        assert c.base_url is not None  # the config requires it
        return MastodonAdapter(c.base_url, credentials.secret(c.name), **_given(page_limit=c.page_limit))
    if c.kind == "x":
        from socialdesk.adapters.x import XAdapter

        return XAdapter(credentials.secret(c.name), account_id=c.account_id, vault=credentials.vault(c.name),
                        **common)
    if c.kind == "facebook":
        from socialdesk.adapters.facebook import FacebookAdapter

        return FacebookAdapter(credentials.secret(c.name), page_id=c.page_id,
                               **_given(api_version=c.api_version, human_agent=c.human_agent), **common)
    if c.kind == "instagram":
        from socialdesk.adapters.instagram import InstagramAdapter

        return InstagramAdapter(credentials.secret(c.name), account_id=c.account_id, page_id=c.page_id,
                                **_given(api_version=c.api_version, human_agent=c.human_agent), **common)
    if c.kind == "bluesky":
        from socialdesk.adapters.bluesky import BlueskyAdapter

        assert c.handle is not None  # the config requires it
        return BlueskyAdapter(c.handle.lstrip("@"), credentials.secret(c.name), vault=credentials.vault(c.name),
                              **_given(chat_proxy=c.chat_proxy), **common)
    if c.kind == "telegram":
        from socialdesk.adapters.telegram import TelegramAdapter

        return TelegramAdapter(credentials.secret(c.name), **_given(long_poll=c.long_poll), **common)
    if c.kind == "email":
        from socialdesk.adapters.email import EmailAdapter

        assert c.address and c.imap_host and c.smtp_host  # the config requires them
        return EmailAdapter(
            address=c.address, password=credentials.secret(c.name), imap_host=c.imap_host, smtp_host=c.smtp_host,
            smtp_password=credentials.optional(c.name, "smtp"),
            **_given(username=c.username, imap_port=c.imap_port, imap_security=c.imap_security,
                     smtp_port=c.smtp_port, smtp_security=c.smtp_security, smtp_username=c.smtp_username,
                     mailbox=c.mailbox, sent_mailbox=c.sent_mailbox, idle=c.idle, page_limit=c.page_limit))
    raise ChannelUnavailable(f"Channel {c.name!r}: {c.kind} channels have no adapter here.")


def secret_parts(kind: str) -> dict[str | None, str]:
    """What `socialdesk auth set` asks for, per kind: {part: prompt} (None: the main secret)."""
    return {
        "mastodon": {None: "access token (scopes read:notifications read:statuses write:statuses)"},
        "x": {None: "OAuth 2.0 user access token"},
        "facebook": {None: "Page access token"},
        "instagram": {None: "access token"},
        "bluesky": {None: "app password"},
        "telegram": {None: "bot token from @BotFather"},
        "email": {None: "mailbox password", "smtp": "SMTP password (only if it differs)"},
    }.get(kind, {None: "secret"})
