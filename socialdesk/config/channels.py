"""`[[channels]]`: one block per account. Keys every kind shares, and keys one kind needs (an
email channel's servers, a Facebook page id…), checked against the channel's kind so that a key
set on the wrong kind is an error rather than silently ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import LocatedError, Model, Name

CHANNEL_KINDS = ("mastodon", "bluesky", "x", "facebook", "instagram", "telegram", "email", "simulator")
ChannelKind = Literal["mastodon", "bluesky", "x", "facebook", "instagram", "telegram", "email", "simulator"]
Security = Literal["ssl", "starttls", "plain"]

# key -> the kinds it applies to
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "account_id": ("x", "instagram"),
    "page_id": ("facebook", "instagram"),
    "api_version": ("facebook", "instagram"),
    "human_agent": ("facebook", "instagram"),
    "chat_proxy": ("bluesky",),
    "long_poll": ("telegram",),
    **{key: ("email",) for key in ("address", "username", "imap_host", "imap_port", "imap_security", "smtp_host",
                                   "smtp_port", "smtp_security", "smtp_username", "mailbox", "sent_mailbox", "idle")},
}
# kind -> keys it cannot do without
REQUIRED: dict[str, tuple[str, ...]] = {
    "mastodon": ("base_url",),
    "bluesky": ("handle",),
    "email": ("address", "imap_host", "smtp_host"),
}


class ChannelConfig(Model):
    name: Name
    kind: ChannelKind
    base_url: str | None = None
    handle: str | None = None
    interval: float = Field(default=30.0, ge=1)  # seconds between polls
    enabled: bool = True
    page_limit: int | None = Field(default=None, ge=1, le=100)  # None: the platform's own page size
    max_length: int | None = Field(default=None, ge=1)  # overrides the adapter's reply length limit
    account_id: str | None = None
    page_id: str | None = None
    api_version: str | None = None
    human_agent: bool | None = None
    chat_proxy: str | None = None
    long_poll: int | None = Field(default=None, ge=0, le=50)
    address: str | None = None
    username: str | None = None
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    imap_security: Security | None = None
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Security | None = None
    smtp_username: str | None = None
    mailbox: str | None = None
    sent_mailbox: str | None = None
    idle: bool | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in CHANNEL_KINDS:
            raise ValueError(f"unknown channel kind {value!r} (expected one of {', '.join(CHANNEL_KINDS)})")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and (value.count("@") != 1 or value.startswith("@") or value.endswith("@")):
            raise ValueError(f"expected an email address like support@example.com, got {value!r}")
        return value

    @model_validator(mode="after")
    def _keys_fit_the_kind(self) -> ChannelConfig:
        for key in self.model_fields_set:
            kinds = KIND_KEYS.get(key)
            if kinds and self.kind not in kinds:
                raise LocatedError((key,), f"{key} applies to {' and '.join(kinds)} channels only, "
                                           f"not to {self.kind}")
        for key in REQUIRED.get(self.kind, ()):
            if getattr(self, key) is None:
                article = "an" if self.kind[0] in "aeiou" else "a"
                raise LocatedError((key,), f"{article} {self.kind} channel needs {key}")
        return self
