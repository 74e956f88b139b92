"""One customer, one conversation, through the real screens: a public X mention answered in
public, moved to a DM (with a public note under the post), the customer's DM, a move to email,
the customer's email reply through the real IMAP path, the resolution with a code, the public
close-out on the original post and the satisfaction score "9" — all in one conversation, every
step in the timeline and the audit trail, every outbound message delivered once to its place.

The runtime polls the X fake and the mail fakes (IMAP: Dovecot or pymap; SMTP: aiosmtpd) on
loopback exactly as it would the platforms."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from fakes.mail import FakeMail
from fakes.x import FakeX
from sqlalchemy import select
from test_channels_end_to_end import channel_settings, poke
from ui import screen_lines, screen_text, settle

from socialdesk.app import SocialdeskApp
from socialdesk.config import Config
from socialdesk.services.credentials import Credentials, env_name
from socialdesk.services.runtime import Runtime
from socialdesk.store.models import AuditEvent, Conversation, Message

CUSTOMER_ADDRESS = "ann.lee@example.com"


@pytest.fixture
def world(store):
    x, mail = FakeX(seed=11).start(), FakeMail(seed=11).start()
    x.enforce_limits = False  # the test makes X poll its DMs now and again, far more than 15 times in 15 minutes
    x_settings, x_secret = channel_settings("x", x)
    mail_settings, mail_secret = channel_settings("email", mail)
    config = Config.model_validate({
        "channels": [{"name": "brand-x", "kind": "x", "interval": 1, **x_settings},
                     {"name": "brand-mail", "kind": "email", "interval": 1, **mail_settings}],
        "rules": {"canned": [
            {"name": "moved", "text": "We've sent you a DM, {customer_name}."},
            {"name": "closeout", "text": "Glad we sorted it out in private, {customer_name}! ({case_ref})"},
            {"name": "csat", "text": "How did we do? Reply with a score from 1 to 10. ({case_ref})"}]},
        "desk": {"move_note": "moved"},
        "resolve": {"closeout": "closeout", "survey": "csat"},
    })
    credentials = Credentials(env={env_name("brand-x"): x_secret, env_name("brand-mail"): mail_secret})
    runtime = Runtime(config, store, credentials=credentials)
    runtime.start()
    try:
        yield runtime, x, mail
    finally:
        runtime.stop()
        x.stop()
        mail.stop()


async def until(pilot, runtime, predicate, what: str, timeout: float = 30.0) -> None:
    """Wait for `predicate` while the pollers are made to run now (X reads DMs once a minute)."""
    deadline = poked = time.monotonic()
    deadline += timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{screen_text(pilot.app)}"
        if time.monotonic() - poked > 1:
            poke(runtime)
            poked = time.monotonic()
        await pilot.pause(0.2)


def email_from_customer(to: str, subject: str, body: str, answering: EmailMessage) -> bytes:
    """Ann's mail client answering one of our emails: threaded, with the question quoted under it."""
    msg = EmailMessage()
    msg["From"] = f"Ann Lee <{CUSTOMER_ADDRESS}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg["In-Reply-To"] = answering["Message-ID"]
    msg["References"] = answering["Message-ID"]
    quoted = "\n".join("> " + line for line in answering.get_body(("plain",)).get_content().splitlines())
    msg.set_content(f"{body}\n\nOn Tue, Acme Support wrote:\n{quoted}\n")
    return bytes(msg)


async def test_public_to_dm_to_email_and_back_is_one_conversation(world, store):
    runtime, x, mail = world
    desk = runtime.desk("alice")
    customer = x.customer()
    mention = x.post(customer, "@TweepyDev my card was charged twice for order 1234!")
    handle = x.users[customer]["username"]
    app = SocialdeskApp(desk)
    async with app.run_test(size=(110, 32), notifications=True) as pilot:
        await until(pilot, runtime, lambda: "my card was charged" in screen_text(app), "the mention in the queue")
        await pilot.press("enter")
        await until(pilot, runtime, lambda: "charged twice" in screen_text(app) and "since posted" in screen_text(app),
                    "the conversation")
        with store() as s:
            cid = s.execute(select(Message.conversation_id).where(Message.platform_id == mention)).scalar_one()

        # 1. A public answer.
        await pilot.press("w", *"Sorry to hear that! Let's sort it out in private.", "ctrl+s")
        await until(pilot, runtime, lambda: len(x.sent()) == 1, "the public reply on X")

        # 2. Move to a DM, with a public note under the post.
        await pilot.press("escape", "p")
        await until(pilot, runtime, lambda: f"direct message to @{handle} on brand-x" in screen_text(app), "routes")
        await pilot.press("down", "n")
        await until(pilot, runtime, lambda: "+ a public note under the post" in screen_text(app), "the note chosen")
        await pilot.press(*"Could you tell us the last 4 digits of the card?", "ctrl+s")
        await until(pilot, runtime, lambda: len(x.sent()) == 3, "the DM and the public note")

        # 3. The customer answers by DM: the same conversation.
        x.dm(customer, "It's 4242, thanks")
        await until(pilot, runtime, lambda: "It's 4242, thanks" in screen_text(app), "the customer's DM")

        # 4. Move to email (account details never on social media): a new thread with the case reference.
        await pilot.press("escape", "colon", *f"email Ann Lee <{CUSTOMER_ADDRESS}>", "enter")
        await until(pilot, runtime, lambda: f"email to {CUSTOMER_ADDRESS} (brand-mail)" in screen_text(app), "route")
        await pilot.press(*"Please answer this email with your account number.", "ctrl+s")  # in the composer
        await until(pilot, runtime, lambda: len(mail.accepted_messages()) == 1, "our email")
        (ours,) = mail.accepted_messages()
        assert ours["Subject"] == f"Your message to us [SD-{cid:06d}]"
        assert (ours["To"].addresses[0].addr_spec, ours["Reply-To"]) == (CUSTOMER_ADDRESS, mail.address)

        # 5. Her email reply arrives through IMAP into the same conversation.
        mail.deliver(email_from_customer(mail.address, f"Re: {ours['Subject']}", "Account 55501234", ours))
        await until(pilot, runtime, lambda: "Account 55501234" in screen_text(app), "her email")

        # 6. Resolved with a code: the close-out on the original post, the survey by email.
        await pilot.press("escape", "ctrl+r", *"fixed", "enter")
        await until(pilot, runtime, lambda: len(x.sent()) == 4 and len(mail.accepted_messages()) == 2,
                    "the close-out and the survey")
        await until(pilot, runtime, lambda: "resolved" in screen_lines(app)[0], "the resolution on screen")

        # 7. Her score comes back by email.
        survey = mail.accepted_messages()[1]
        mail.deliver(email_from_customer(mail.address, f"Re: {survey['Subject']}", "9", survey))
        await until(pilot, runtime, lambda: "CSAT 9" in screen_lines(app)[0], "the score in the header")
        await pilot.press("end")  # the timeline (focused again after the command line), to its end
        await settle(pilot)
        text = screen_text(app)
        assert "public close-out" in text and "satisfaction survey" in text

    sent_x = x.sent()
    assert [(s.visibility, s.in_reply_to if s.visibility == "public" else None) for s in sent_x] == [
        ("public", mention), ("private", None), ("public", mention), ("public", mention)]
    assert [s.text for s in sent_x][2:] == [f"We've sent you a DM, {x.users[customer]['name']}.",
                                            f"Glad we sorted it out in private, {x.users[customer]['name']}! "
                                            f"(SD-{cid:06d})"]
    thread, survey = mail.accepted_messages()
    assert survey["In-Reply-To"] != thread["Message-ID"] and survey["Subject"].startswith("Re: ")
    assert {m["To"].addresses[0].addr_spec for m in (thread, survey)} == {CUSTOMER_ADDRESS}
    with store() as s:
        assert set(s.execute(select(Message.conversation_id)).scalars()) == {cid}
        conv = s.get(Conversation, cid)
        assert (conv.status, conv.resolution_code, conv.csat, conv.message_count) == ("resolved", "fixed", 9, 10)
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.object_id == cid,
                                                            AuditEvent.object_type == "conversation")).scalars().all()
    assert actions.count("reply.queued") == 6 and actions.count("reply.sent") == 6 and "resolve" in actions
