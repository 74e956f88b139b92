"""Local servers on loopback that speak each platform's API, for adapter contract tests, the
cross-adapter fault test and bench/poll.py. `server` holds the shared HTTP machinery (scripted
answers, handlers, injected faults); one module per platform holds its fake."""

import importlib

# Every platform's fake, by channel kind (each module also defines its `Sent` record).
FAKES = {
    "mastodon": "fakes.mastodon:FakeMastodon",
    "x": "fakes.x:FakeX",
    "facebook": "fakes.graph_facebook:FakeFacebook",
    "instagram": "fakes.graph_instagram:FakeInstagram",
    "bluesky": "fakes.bluesky:FakeBluesky",
    "telegram": "fakes.telegram:FakeTelegram",
    "email": "fakes.mail:FakeMail",
}


def fake_class(kind: str) -> type:
    """The fake for a channel kind, imported on demand (email's starts an IMAP server)."""
    module, name = FAKES[kind].split(":")
    return getattr(importlib.import_module(module), name)
