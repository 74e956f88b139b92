"""Channel secrets: environment first, the system keyring (refusing one that cannot keep a
secret, never hanging on a locked one), the opt-in encrypted file, and redaction everywhere."""

from __future__ import annotations

import json
import logging
import threading
import time

import keyring
import pytest
from keyring.backend import KeyringBackend

from socialdesk.services.credentials import (
    PASSPHRASE_ENV,
    CredentialError,
    Credentials,
    EncryptedFile,
    MissingCredentials,
    SystemKeyring,
    redact,
    remember,
)
from socialdesk.services.setup import RedactingFormatter


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, delay: float = 0.0):
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}
        self.delay = delay

    def get_password(self, service, username):
        time.sleep(self.delay)
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_environment_wins_then_the_keyring(memory_keyring):
    memory_keyring.set_password("socialdesk", "brand-x", "from-the-keyring-123")
    assert Credentials(env={}).secret("brand-x") == "from-the-keyring-123"
    env = {"SOCIALDESK_TOKEN_BRAND_X": "from-the-env-456"}
    assert Credentials(env=env).secret("brand-x") == "from-the-env-456"
    assert Credentials(env=env).source("brand-x") == "$SOCIALDESK_TOKEN_BRAND_X"
    assert "MemoryKeyring" in Credentials(env={}).source("brand-x")


def test_a_missing_secret_says_how_to_store_it(memory_keyring):
    with pytest.raises(MissingCredentials) as caught:
        Credentials(env={}).secret("brand-mail", "smtp")
    message = str(caught.value)
    assert "socialdesk auth set brand-mail --smtp" in message and "SOCIALDESK_TOKEN_BRAND_MAIL_SMTP" in message


def test_no_keyring_backend_gives_advice_and_never_falls_back_to_plaintext():
    # conftest selects keyring's "fail" backend: what a headless server without D-Bus has.
    with pytest.raises(CredentialError) as caught:
        SystemKeyring()
    message = str(caught.value)
    assert "No usable system keyring" in message and PASSPHRASE_ENV in message and "Secret Service" in message
    # A channel whose secret is in the environment still works on such a machine.
    assert Credentials(env={"SOCIALDESK_TOKEN_BRAND": "env-token-789"}).secret("brand") == "env-token-789"
    with pytest.raises(MissingCredentials, match="SOCIALDESK_TOKEN_OTHER"):
        Credentials(env={}).secret("other")


def test_a_plaintext_keyring_is_refused():
    class PlaintextKeyring(MemoryKeyring):
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    previous = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        with pytest.raises(CredentialError, match="does not trust"):
            SystemKeyring()
    finally:
        keyring.set_keyring(previous)


def test_a_keyring_that_hangs_on_a_prompt_fails_fast_with_advice():
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring(delay=5))
    try:
        started = time.monotonic()
        with pytest.raises(CredentialError, match="did not answer within 0.2s"):
            SystemKeyring(timeout=0.2).get("brand")
        assert time.monotonic() - started < 2
    finally:
        keyring.set_keyring(previous)


def test_the_encrypted_file_round_trips_and_needs_the_passphrase(tmp_path, monkeypatch):
    path = tmp_path / "secrets" / "credentials.enc"
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse battery staple")
    store = EncryptedFile(path)
    store.set("brand-x", "xoxo-secret-token")
    store.set("brand-bsky/session", json.dumps({"accessJwt": "jwt-abc-123"}))
    assert path.stat().st_mode & 0o777 == 0o600
    assert b"xoxo-secret-token" not in path.read_bytes()  # encrypted at rest
    assert EncryptedFile(path).get("brand-x") == "xoxo-secret-token"
    assert EncryptedFile(path).delete("brand-x") and EncryptedFile(path).get("brand-x") is None
    assert not EncryptedFile(path).delete("brand-x")
    with pytest.raises(CredentialError, match="does not open it"):
        EncryptedFile(path, passphrase="wrong").get("brand-bsky/session")
    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(CredentialError, match=f"{PASSPHRASE_ENV} is not set"):
        EncryptedFile(path)


def test_the_encrypted_file_takes_concurrent_writers(tmp_path):
    store = EncryptedFile(tmp_path / "c.enc", passphrase="pw-for-tests")
    threads = [threading.Thread(target=store.set, args=(f"ch{i}", f"secret-{i:04d}")) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [store.get(f"ch{i}") for i in range(8)] == [f"secret-{i:04d}" for i in range(8)]


def test_a_vault_keeps_adapter_state_and_survives_a_store_that_cannot_write(tmp_path, memory_keyring):
    vault = Credentials(env={}).vault("brand-bsky")
    vault.set("session", '{"accessJwt": "eyJ-session-token"}')
    assert memory_keyring.values[("socialdesk", "brand-bsky/session")] == '{"accessJwt": "eyJ-session-token"}'
    assert Credentials(env={}).vault("brand-bsky").get("session") == '{"accessJwt": "eyJ-session-token"}'
    keyring.set_keyring(keyring.backends.fail.Keyring())
    headless = Credentials(env={}).vault("brand-bsky")
    headless.set("session", "eyJ-another-session")  # logged, not raised: the channel goes on
    assert headless.get("session") is None


def test_every_secret_read_is_redacted_from_logs_and_messages(memory_keyring, caplog):
    memory_keyring.set_password("socialdesk", "brand-tg", "123456:AAE-bot-token")
    token = Credentials(env={}).secret("brand-tg")
    remember(json.dumps({"consumer_key": "ck-abcdef", "access_token_secret": "ats-ghijkl"}))
    text = f"GET https://api.telegram.org/bot{token}/getUpdates failed; keys ck-abcdef ats-ghijkl"
    assert redact(text) == "GET https://api.telegram.org/bot***/getUpdates failed; keys *** ***"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", (token,), None)
    try:
        raise RuntimeError(f"bad url .../bot{token}/")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    formatted = RedactingFormatter("%(message)s").format(record)
    assert token not in formatted and "boom ***" in formatted and "bot***/" in formatted
    remember("abc")  # shorter than MIN_SECRET: never a secret, or ordinary words would vanish
    assert redact("abc def") == "abc def"
