"""Channel tokens: from the system keyring, or an environment variable. Never from the config."""

from __future__ import annotations

import os
import re

SERVICE = "socialdesk"


class MissingCredentials(Exception):
    """No token for a channel; the message says how to provide one."""


def env_name(channel: str) -> str:
    return "SOCIALDESK_TOKEN_" + re.sub(r"[^A-Za-z0-9]", "_", channel).upper()


def token_for(channel: str, env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    if env.get(env_name(channel)):
        return env[env_name(channel)]
    problem = "no token is stored for it"
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            token = keyring.get_password(SERVICE, channel)
        except KeyringError as exc:
            token, problem = None, f"the system keyring is not available ({exc.__class__.__name__})"
    except ImportError:  # pragma: no cover - keyring is a dependency
        token, problem = None, "the keyring package is missing"
    if token:
        return token
    raise MissingCredentials(
        f"Channel {channel!r}: {problem}. Store one with `keyring set {SERVICE} {channel}` "
        f"or set {env_name(channel)}.")
