"""Channel secrets: from an environment variable, the system keyring, or (opted in) a file
encrypted with a passphrase from the environment. Never from the config file, never printed.

Each channel has one secret under its own name; a few kinds keep more under "<name>/<part>"
(an SMTP password that differs, a Bluesky session). Every secret read is also registered with
`redact`, which the log formatter and the health/outbox error paths run text through.

Nothing here may block on a terminal: keyring calls run with a time limit (a locked keyring
that wants to ask for its password fails with advice instead), a keyring that would keep
secrets in plain text is refused, and the encrypted file takes its passphrase only from the
environment.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Protocol

import platformdirs

log = logging.getLogger(__name__)
SERVICE = "socialdesk"
PASSPHRASE_ENV = "SOCIALDESK_CREDENTIALS_PASSPHRASE"
KEYRING_TIMEOUT = 10.0
MIN_SECRET = 6  # shorter values would blank out ordinary words when redacted

_known: set[str] = set()
_known_lock = threading.Lock()


def redact(text: str) -> str:
    """`text` with every secret this process has read replaced by ***."""
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def remember(secret: str) -> str:
    """Register a secret for `redact` (and each line of a JSON secret's values)."""
    values = [secret]
    try:
        parsed = json.loads(secret)
        if isinstance(parsed, dict):
            values += [v for v in parsed.values() if isinstance(v, str)]
    except ValueError:
        pass
    with _known_lock:
        _known.update(v for v in values if len(v) >= MIN_SECRET)
    return secret


class CredentialError(Exception):
    """A secret cannot be read or written; the message says what to do."""


class MissingCredentials(CredentialError):
    """No secret for a channel; the message says how to provide one."""


def env_name(channel: str, part: str | None = None) -> str:
    name = channel + (f"_{part}" if part else "")
    return "SOCIALDESK_TOKEN_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def key(channel: str, part: str | None = None) -> str:
    return f"{channel}/{part}" if part else channel


class SecretStore(Protocol):
    description: str

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> bool: ...


NO_KEYRING_ADVICE = (
    "Either start a Secret Service (for example `dbus-run-session -- gnome-keyring-daemon --unlock` "
    "on a server), or keep the secrets in socialdesk's encrypted file: set [credentials] "
    f'backend = "encrypted-file" in socialdesk.toml and export {PASSPHRASE_ENV}, or give the '
    "secret in an environment variable.")


class SystemKeyring:
    """The system keyring through the keyring package, refusing backends that cannot keep a
    secret (none found) or would keep it in plain text, and never waiting on a prompt."""

    def __init__(self, timeout: float = KEYRING_TIMEOUT):
        import keyring

        self.timeout = timeout
        self.backend = keyring.get_keyring()
        self.description = f"the system keyring ({type(self.backend).__module__}.{type(self.backend).__name__})"
        problem = _unusable(self.backend)
        if problem:
            raise CredentialError(f"No usable system keyring here ({problem}). {NO_KEYRING_ADVICE}")

    def _call(self, what: str, fn, *args):
        from keyring.errors import KeyringError

        outcome: dict = {}

        def run() -> None:
            try:
                outcome["value"] = fn(*args)
            except KeyringError as exc:
                outcome["error"] = exc
            except Exception as exc:  # a backend's own failure (D-Bus gone, ...)
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="keyring", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise CredentialError(
                f"The system keyring did not answer within {self.timeout:g}s while {what}: it is probably "
                f"locked and waiting for its password. Unlock it, or: {NO_KEYRING_ADVICE}")
        if "error" in outcome:
            exc = outcome["error"]
            raise CredentialError(f"The system keyring failed while {what} ({type(exc).__name__}: {exc}). "
                                  f"{NO_KEYRING_ADVICE}")
        return outcome.get("value")

    def get(self, name: str) -> str | None:
        return self._call(f"reading {name!r}", self.backend.get_password, SERVICE, name)

    def set(self, name: str, value: str) -> None:
        self._call(f"storing {name!r}", self.backend.set_password, SERVICE, name, value)

    def delete(self, name: str) -> bool:
        from keyring.errors import PasswordDeleteError

        def remove() -> bool:
            try:
                self.backend.delete_password(SERVICE, name)
            except PasswordDeleteError:
                return False
            return True

        return bool(self._call(f"removing {name!r}", remove))


def _unusable(backend) -> str | None:
    module, name = type(backend).__module__, type(backend).__name__
    if module.startswith("keyring.backends.fail") or module.startswith("keyring.backends.null"):
        return "no keyring backend is available: no Secret Service on D-Bus, no desktop keyring"
    if module.startswith("keyrings.alt"):
        return f"{module}.{name} keeps secrets in a file that socialdesk does not trust"
    if module.startswith("keyring.backends.chainer") and not getattr(backend, "backends", None):
        return "no keyring backend is available"
    return None


class EncryptedFile:
    """Secrets in one file, encrypted with Fernet (AES-128-CBC + HMAC) under a key derived by
    scrypt from a passphrase taken from the environment, written atomically with mode 0600."""

    def __init__(self, path: Path, passphrase: str | None = None):
        self.path = path
        self.description = f"the encrypted file {path}"
        passphrase = os.environ.get(PASSPHRASE_ENV) if passphrase is None else passphrase
        if not passphrase:
            raise CredentialError(
                f"[credentials] backend is \"encrypted-file\" but {PASSPHRASE_ENV} is not set: export the "
                "passphrase in the environment of socialdesk (it is never asked for on the terminal).")
        self._passphrase = passphrase.encode("utf-8")
        self._lock = threading.Lock()

    def _fernet(self, salt: bytes):
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        derived = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(self._passphrase)
        return Fernet(base64.urlsafe_b64encode(derived))

    def _load(self) -> tuple[bytes, dict[str, str]]:
        from cryptography.fernet import InvalidToken

        if not self.path.exists():
            return os.urandom(16), {}
        try:
            envelope = json.loads(self.path.read_text("utf-8"))
            salt = base64.b64decode(envelope["salt"])
            data = self._fernet(salt).decrypt(envelope["data"].encode("ascii"))
        except InvalidToken:
            raise CredentialError(f"{self.path}: the passphrase in {PASSPHRASE_ENV} does not open it") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CredentialError(f"{self.path}: not a socialdesk credentials file ({type(exc).__name__})") from None
        return salt, json.loads(data)

    def _save(self, salt: bytes, secrets: dict[str, str]) -> None:
        token = self._fernet(salt).encrypt(json.dumps(secrets).encode("utf-8")).decode("ascii")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": 1, "kdf": "scrypt", "salt": base64.b64encode(salt).decode(), "data": token}, fh)
        os.replace(tmp, self.path)

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._load()[1].get(name)

    def set(self, name: str, value: str) -> None:
        with self._lock:
            salt, secrets = self._load()
            secrets[name] = value
            self._save(salt, secrets)

    def delete(self, name: str) -> bool:
        with self._lock:
            salt, secrets = self._load()
            if secrets.pop(name, None) is None:
                return False
            self._save(salt, secrets)
            return True


def default_file() -> Path:
    return Path(platformdirs.user_data_dir("socialdesk")) / "credentials.enc"


def open_store(backend: str = "system", file: str | None = None) -> SecretStore:
    """The configured secret store; raises CredentialError with advice when it cannot be used."""
    if backend == "encrypted-file":
        return EncryptedFile(Path(file).expanduser() if file else default_file())
    return SystemKeyring()


class Credentials:
    """A channel's secrets, environment first. The store is opened on first need, so channels
    whose secrets come from the environment work on a machine with no keyring at all."""

    def __init__(self, backend: str = "system", file: str | None = None, env: dict[str, str] | None = None):
        self.backend, self.file = backend, file
        self.env = dict(os.environ) if env is None else env
        self._store: SecretStore | None = None

    @property
    def store(self) -> SecretStore:
        if self._store is None:
            self._store = open_store(self.backend, self.file)
        return self._store

    def env_source(self, channel: str, part: str | None = None) -> str | None:
        """"$VAR" when the secret comes from the environment, else None."""
        return "$" + env_name(channel, part) if self.env.get(env_name(channel, part)) else None

    def source(self, channel: str, part: str | None = None) -> str | None:
        """Where the secret would come from ("$VAR", the store's description), or None."""
        found = self.env_source(channel, part)
        if found:
            return found
        return self.store.description if self.store.get(key(channel, part)) else None

    def _lookup(self, channel: str, part: str | None) -> str | None:
        value = self.env.get(env_name(channel, part)) or self.store.get(key(channel, part))
        return remember(value) if value else None

    def optional(self, channel: str, part: str | None = None) -> str | None:
        """A secret a channel can do without (an SMTP password that differs, a saved session):
        None when it is not stored, or when no store can be opened here."""
        try:
            return self._lookup(channel, part)
        except CredentialError as exc:
            log.debug("channel %s: no %s from the secret store: %s", channel, part or "secret", exc)
            return None

    def secret(self, channel: str, part: str | None = None) -> str:
        try:
            value = self._lookup(channel, part)
        except CredentialError as exc:
            raise MissingCredentials(f"Channel {channel!r}: {exc} (for this channel: "
                                     f"{env_name(channel, part)})") from None
        if value:
            return value
        what = f"its {part} secret" if part else "its secret"
        raise MissingCredentials(
            f"Channel {channel!r}: {what} is not stored. Store it with `socialdesk auth set {channel}"
            f"{' --' + part if part else ''}` or set {env_name(channel, part)}.")

    def vault(self, channel: str) -> ChannelVault:
        return ChannelVault(self, channel)


class ChannelVault:
    """An adapter's Vault (adapters.base): what it must keep between runs (a session, refreshed
    tokens), in the channel's secret store under "<channel>/<key>"."""

    def __init__(self, credentials: Credentials, channel: str):
        self.credentials, self.channel = credentials, channel

    def get(self, name: str) -> str | None:
        return self.credentials.optional(self.channel, name)

    def set(self, name: str, value: str) -> None:
        """Keep it if the store can; a channel whose secret came from the environment on a
        machine with no keyring still works, it only has to log in again next start."""
        remember(value)
        try:
            self.credentials.store.set(key(self.channel, name), value)
        except CredentialError as exc:
            log.warning("channel %s: cannot keep its %s between runs: %s", self.channel, name, exc)
