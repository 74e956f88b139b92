"""Where the audit chain is anchored (store.anchor): the key that signs its head, from
$SOCIALDESK_AUDIT_KEY or the secret store (`socialdesk audit key`), never from the store itself;
and the head log, a file outside the database."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import platformdirs
from sqlalchemy.engine import make_url

from socialdesk.config import Config
from socialdesk.store.anchor import Anchor

from .credentials import CredentialError, Credentials, remember

log = logging.getLogger(__name__)
KEY_ENV = "SOCIALDESK_AUDIT_KEY"
KEY_SECRET = "socialdesk/audit-key"  # its name in the secret store (no channel has such a part)


def credentials(config: Config) -> Credentials:
    return Credentials(config.credentials.backend, config.credentials.file)


def audit_key(config: Config) -> bytes | None:
    """The key from the environment, else the secret store; None when neither has one (or the
    secret store cannot be opened here: then heads are written unsigned)."""
    value = os.environ.get(KEY_ENV)
    if not value:
        try:
            value = credentials(config).store.get(KEY_SECRET)
        except CredentialError as exc:
            log.debug("no audit key from the secret store: %s", exc)
    return remember(value).encode() if value else None


def head_log(config: Config) -> Path:
    """The configured head log, else one per store in the user data dir (named by a hash of the
    store's file path or server address, so two stores never share one)."""
    if config.audit.head_log:
        return Path(config.audit.head_log).expanduser()
    url = make_url(config.store.effective_url)
    if url.get_backend_name() == "sqlite":
        name = str(Path(url.database or "").expanduser().resolve())
    else:
        name = url.render_as_string(hide_password=True)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return Path(platformdirs.user_data_dir("socialdesk")) / "audit" / f"{digest}.heads"


def audit_anchor(config: Config) -> Anchor:
    return Anchor(audit_key(config), head_log(config))
