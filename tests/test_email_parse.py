"""RFC 5322 messages → Inbound, against CPython's email test corpus (real-world mail: digests,
bounces, Outlook/Eudora quirks, odd charsets, broken MIME) and mail as customers write it today;
and the way back, the reply's headers. All pure: no server."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fakes.mail_messages import compose, corpus_files, customer_mails, delivered
from socialdesk.adapters.base import Inbound, NotAllowed, Outbound, Skipped
from socialdesk.adapters.email_headers import decode_bytes
from socialdesk.adapters.email_html import html_to_text
from socialdesk.adapters.email_parse import MAX_ID, parse_message
from socialdesk.adapters.values import json_object
from socialdesk.adapters.email_reply import build_reply, message_id_for, reply_subject

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def corpus_name(path: Path) -> str:
    """A corpus file's name; the older of the two msg_47.txt is msg_47_old.txt."""
    return path.name if "2e31ff5efb" not in str(path) else "msg_47_old.txt"


@pytest.fixture(scope="module")
def parsed() -> dict[str, Inbound | Skipped]:
    files = corpus_files()
    assert len(files) == 50, "corpus looks incomplete"
    return {corpus_name(path): parse_message(path.read_bytes(), received_at=RECEIVED, uid=7) for path in files}


# --- the whole corpus ----------------------------------------------------------------------------


def test_every_corpus_message_parses_or_is_skipped_with_a_reason(parsed):
    inbound = {n: r for n, r in parsed.items() if isinstance(r, Inbound)}
    skipped = {n: r for n, r in parsed.items() if isinstance(r, Skipped)}
    assert len(inbound) == 43
    # Seven test messages have no sender at all (MIME-structure fixtures without From/Sender).
    assert sorted(skipped) == ["msg_11.txt", "msg_18.txt", "msg_19.txt", "msg_37.txt", "msg_38.txt",
                               "msg_39.txt", "msg_40.txt"]
    assert {s.reason for s in skipped.values()} == {
        "no sender address (From, Sender and Return-Path are missing or empty)"}
    for name, message in inbound.items():
        assert message.kind == "email" and message.visibility == "private", name
        assert message.published_at.utcoffset() == timedelta(0), name
        assert 0 < len(message.platform_id) <= MAX_ID, name
        assert message.author.handle == message.author.handle.lower() == message.author.platform_id, name
        assert message.raw["uid"] == 7 and message.raw["size"] > 0, name
        assert json.dumps(message.raw)  # the store keeps it as JSON
        ref = json_object(message.reply_ref)
        assert ref["from"] == message.author.handle.lower() or ref["from"].lower() == message.author.handle


def test_the_whole_corpus_also_parses_after_delivery(parsed):
    # Delivery drops the mbox "From " line (msg_25, msg_43); nothing else changes.
    for path in corpus_files():
        after = parse_message(delivered(path.read_bytes()), received_at=RECEIVED)
        before = parsed[corpus_name(path)]
        assert type(after) is type(before), path.name
        if isinstance(after, Inbound):
            assert (after.platform_id, after.text) == (before.platform_id, before.text), path.name


def test_plain_message_author_subject_and_date(parsed):
    m = parsed["msg_01.txt"]
    assert m.platform_id == "<15090.61304.110929.45684@aaa.zzz.org>"
    assert (m.author.display_name, m.author.handle) == ("John X. Doe", "bbb@ddd.com")
    assert m.text == "Subject: This is a test message\n\nHi,\n\nDo you like this message?\n\n-Me"
    assert m.published_at == datetime(2001, 5, 4, 18, 5, 44, tzinfo=UTC)
    assert not m.auto_generated and m.in_reply_to is None


def test_quoted_printable_and_base64_parts_in_their_charsets(parsed):
    text = parsed["msg_10.txt"].text
    assert "¡This is a Quoted Printable encoded message!" in text  # iso-8859-1, QP
    assert "This is a Base64 encoded message." in text
    assert "This has no Content-Transfer-Encoding: header." in text


def test_alternative_prefers_the_plain_part_and_attachments_are_named(parsed):
    msg = compose(From="a@example.com", Subject="order")
    msg.set_content("plain words")
    msg.add_alternative("<p>html words</p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="invoice.pdf")
    assert parse_message(msg.as_bytes()).text == "Subject: order\n\nplain words\n\n[attachment: invoice.pdf]"
    assert parsed["msg_07.txt"].text.endswith("This is the dingus fish.\n\n[attachment: dingusfish.gif]")
    # msg_15 reuses the outer boundary for its inner alternative: the parts land in the outer
    # multipart/mixed, and a mail client shows both one after the other, as here.
    assert parsed["msg_15.txt"].text == "Subject: XX\n\nSome removed test.\n\nSome removed text."


def test_bounces_are_auto_generated(parsed):
    dsn = parsed["msg_16.txt"]
    assert dsn.auto_generated and dsn.author.bot
    assert dsn.author.handle == "postmaster@ucla.edu"
    assert "Reason: recipient reached disk quota" in dsn.text
    assert "Status: 5.0.0 (recipient reached disk quota)" in dsn.text  # the delivery-status part
    sendmail = parsed["msg_25.txt"]  # Auto-Submitted: auto-generated (failure), MAILER-DAEMON@
    assert sendmail.auto_generated and sendmail.author.handle == "mailer-daemon@zinfandel.lacita.com"
    null_sender = parsed["msg_43.txt"]  # From: MAILER DAEMON <>
    assert null_sender.auto_generated and null_sender.author.handle == "mailer-daemon"
    assert null_sender.text.startswith("Subject: Banned file: auto__mail.python.bat in mail from you\n\nBANNED")
    assert sum(1 for m in parsed.values() if isinstance(m, Inbound) and m.auto_generated) == 6


def test_msg_48_threads_on_the_top_level_in_reply_to_and_drops_the_signature(parsed):
    m = parsed["msg_48.txt"]
    assert m.in_reply_to == "<somelonglonglonglonglongunwrappablemessageidtoreplyto@mail.foo.bar>"
    assert m.text == "Subject: test\n\nThis is the signed contents."
    # No Message-ID: a stable id from the message itself.
    assert m.platform_id.startswith("sha256:")
    again = parse_message(corpus_files()[1].read_bytes(), received_at=RECEIVED)
    assert again.platform_id == m.platform_id
    assert json_object(m.reply_ref)["references"] == [m.in_reply_to]


def test_impossible_date_falls_back_to_the_internal_date(parsed):
    spam = parsed["msg_47_old.txt"]  # Date: Tue, 06 Jun 2017 27:39:33 +0600
    assert spam.published_at == RECEIVED
    assert spam.raw["headers"]["Date"] == "Tue, 06 Jun 2017 27:39:33 +0600"
    assert (spam.author.display_name, spam.author.handle) == ("123@abuse.net", "123@example.com")


def test_forwarded_messages_are_inlined(parsed):
    assert parsed["msg_46.txt"].text == (
        "Subject: GroupwiseForwardingTest\n\n---------- Forwarded message ----------\n"
        'From: "Dr. Sender" <sender@example.net>\nDate: Mon, 01 Feb 2010 12:18:40 +0100\n'
        'Subject: GroupwiseForwardingTest\nTo: "Recipient" <recipient@example.com>\n\n'
        "Testing email forwarding with Groupwise 1.2.2010")


# --- mail as customers send it -------------------------------------------------------------------


def test_html_only_mail_becomes_text():
    html = parse_message(customer_mails()[0], received_at=RECEIVED)
    assert html.text == ("Subject: Commande 48213 jamais arrivée\n\nBonjour,\n\n"
                         "Ma commande 48213 n’est jamais arrivée.\nPouvez-vous vérifier ?\n\n"
                         "Voir la commande (https://shop.example.com/orders/48213)")
    assert html.author.display_name == "Amélie Durand" and html.language == "fr"


def test_html_to_text_drops_scripts_and_keeps_breaks():
    assert html_to_text("<div>a<script>alert(1)</script></div><div>b &amp; c</div><ul><li>x<li>y</ul>"
                        "<pre>  keep\n   this</pre>") == "a\nb & c\n\nx\ny\n\n  keep\n   this"


def test_unicode_subjects_names_and_bodies_stay_literal():
    m = parse_message(customer_mails()[1], received_at=RECEIVED)
    assert m.text == "Subject: 返品について 📦\n\nこんにちは、\n\n商品を返品したいです。[bold]not markup[/bold] \u202eRTL\u202c"
    zalgo = "Z\u0351\u0357a\u0352l\u0310g\u0301o \x1b[31mred\x1b[0m"
    hostile = (b"From: =?utf-8?q?Doe=2C_J=C3=BCrgen?= <J.Doe@Example.DE>\nSubject: [red]hi[/red]\n"
               b"Content-Type: text/plain; charset=utf-8\n\n" + zalgo.encode() + b"\n")
    m = parse_message(hostile, received_at=RECEIVED)
    assert (m.author.display_name, m.author.handle) == ("Doe, Jürgen", "j.doe@example.de")
    assert m.text == f"Subject: [red]hi[/red]\n\n{zalgo}"


@pytest.mark.parametrize(("charset", "body", "expected"), [
    ("koi8-r", "Привет, где мой заказ?".encode("koi8-r"), "Привет, где мой заказ?"),
    ("iso-8859-1", "“smart” quotes – 5 €".encode("cp1252"), "“smart” quotes – 5 €"),  # mislabelled cp1252
    ("x-bogus-charset", "naïve café".encode("utf-8"), "naïve café"),
    ("us-ascii", "déjà vu".encode("utf-8"), "déjà vu"),  # 8-bit under an ASCII label
    ("utf-8", b"broken \xff\xfe utf-8", "broken \ufffd\ufffd utf-8"),  # declared UTF-8: replaced, not cp1252
    ("utf-8", "Grüße aus Köln ".encode() + b"\xff", "Grüße aus Köln \ufffd"),
    ("us-ascii", "naïve café, señor".encode() + b" \x81", "naïve café, señor \ufffd"),  # mostly UTF-8
])
def test_declared_charsets_with_tolerant_fallbacks(charset, body, expected):
    raw = (b"From: a@example.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=" +
           charset.encode() + b"\nContent-Transfer-Encoding: 8bit\n\n" + body + b"\n")
    assert parse_message(raw, received_at=RECEIVED).text == f"Subject: x\n\n{expected}"
    assert decode_bytes(body, charset) == expected


def test_format_flowed_paragraphs_are_joined():
    raw = (b"From: a@example.com\nContent-Type: text/plain; charset=utf-8; format=flowed\n\n"
           b"My parcel was supposed to arrive \nyesterday but it did \nnot.\n\n> You wrote that it \n> would come.\n"
           b"-- \nAnn\n")
    assert parse_message(raw).text == ("My parcel was supposed to arrive yesterday but it did not.\n\n"
                                       "> You wrote that it would come.\n-- \nAnn")


def test_encoded_words_mixed_with_raw_utf8_and_split_characters():
    raw = ("From: =?UTF-8?B?8J+T?= =?UTF-8?B?pg==?= Shop <shop@example.com>\n"
           "Subject: 日本 =?utf-8?q?caf=C3=A9?= =?iso-8859-1?q?_d=E9j=E0?= vu\n\nx\n").encode()
    m = parse_message(raw)
    assert m.author.display_name == "📦 Shop" and m.text.startswith("Subject: 日本 café déjà vu\n")


def test_raw_8bit_headers_are_decoded():
    raw = "From: Zoë Brown <zoe@example.com>\nSubject: Où est mon colis ?\n\nok\n".encode("utf-8")
    m = parse_message(raw, received_at=RECEIVED)
    assert m.author.display_name == "Zoë Brown" and m.text.startswith("Subject: Où est mon colis ?")


# --- threading and identity ----------------------------------------------------------------------


def test_threading_falls_back_to_the_last_reference():
    raw = b"From: a@example.com\nMessage-ID: <3@x>\nReferences: <1@x>\n <2@x>\n\nhi\n"
    m = parse_message(raw, received_at=RECEIVED)
    assert m.in_reply_to == "<2@x>"
    ref = json_object(m.reply_ref)
    assert ref["references"] == ["<1@x>", "<2@x>"] and ref["message_id"] == "<3@x>"


def test_reply_ref_keeps_reply_to_and_subject():
    msg = compose(From="Bob <bob@example.com>", Reply_To="Bob Support <bob+case@example.com>",
                Subject="Re: AW: order", Message_ID="<q@example.com>", In_Reply_To="<p@example.com>")
    msg.set_content("hi")
    ref = json_object(parse_message(msg.as_bytes(), received_at=RECEIVED).reply_ref)
    assert ref == {"message_id": "<q@example.com>", "references": ["<p@example.com>"], "subject": "Re: AW: order",
                   "reply_to": "bob+case@example.com", "from": "bob@example.com", "name": "Bob"}


def test_long_message_ids_become_a_hash_on_both_ends():
    long_id = "<" + "x" * 250 + "@example.com>"
    parent = parse_message(f"From: a@example.com\nMessage-ID: {long_id}\n\nhi\n".encode(), received_at=RECEIVED)
    child = parse_message(f"From: b@example.com\nIn-Reply-To: {long_id}\n\nre\n".encode(), received_at=RECEIVED)
    assert parent.platform_id.startswith("sha256:") and len(parent.platform_id) <= MAX_ID
    assert child.in_reply_to == parent.platform_id
    assert json_object(parent.reply_ref)["message_id"] == long_id  # the header needs the real one


def test_messages_without_message_id_get_a_stable_id_from_their_content():
    one = b"From: a@example.com\nSubject: s\n\nbody one\n"
    assert parse_message(one).platform_id == parse_message(one).platform_id
    assert parse_message(one).platform_id != parse_message(one.replace(b"one", b"two")).platform_id


@pytest.mark.parametrize(("headers", "auto"), [
    ("Auto-Submitted: no", False),
    ("Auto-Submitted: auto-replied", True),
    ("Precedence: bulk", True),
    ("Precedence: junk", True),
    ("List-Id: <news.example.com>", True),
    ("X-Autoreply: yes", True),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=b", True),
])
def test_machine_sent_mail_is_marked(headers, auto):
    raw = f"From: shop@example.com\n{headers}\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n".encode()
    assert parse_message(raw, received_at=RECEIVED).auto_generated is auto


def test_dates_language_and_absurd_values():
    future = parse_message(b"From: a@example.com\nDate: Fri, 01 Jan 2038 00:00:00 +0000\n\nx\n", received_at=RECEIVED)
    assert future.published_at == RECEIVED
    raw = b"From: a@example.com\nDate: Mon, 2 Mar 2026 10:00:00 +0100\nContent-Language: en-GB, de\n\nx\n"
    offset = parse_message(raw, received_at=RECEIVED)
    assert offset.published_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC) and offset.language == "en"


# --- never raises --------------------------------------------------------------------------------


def test_garbage_and_truncated_messages_never_raise():
    rng = random.Random(5)
    sources = [p.read_bytes() for p in corpus_files()]
    outcomes: Counter[str] = Counter()
    for i in range(300):
        raw = rng.choice(sources)
        cut = raw[: rng.randrange(len(raw) + 1)]
        noisy = bytearray(cut)
        for _ in range(rng.randrange(8)):
            if noisy:
                noisy[rng.randrange(len(noisy))] = rng.randrange(256)
        for data in (cut, bytes(noisy), bytes(rng.randrange(256) for _ in range(rng.randrange(200)))):
            result = parse_message(data, received_at=RECEIVED)
            assert isinstance(result, (Inbound, Skipped))
            outcomes[type(result).__name__] += 1
    assert outcomes["Inbound"] > 300 and outcomes["Skipped"] > 100
    assert parse_message(b"").reason == "empty message"
    deep = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n" + b"".join(
        f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n".encode() for i in range(60)) + b"deep\n"
    assert isinstance(parse_message(deep), Inbound)


# --- reply headers, pure -------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "expected"), [
    ("Order 12", "Re: Order 12"),
    ("RE: Re: re:Order 12", "Re: Order 12"),
    ("AW: SV: Antw: Bestellung", "Re: Bestellung"),
    ("Re[2]: Fwd: parcel", "Re: Fwd: parcel"),
    ("Reference number", "Re: Reference number"),
    ("  multi\r\n  line  ", "Re: multi line"),
    ("", "Re: your message"),
])
def test_reply_subject(subject, expected):
    assert reply_subject(subject) == expected


def test_message_ids_are_stable_and_valid():
    assert message_id_for("8f1c-22", "Brand@Example.COM") == "<8f1c-22@example.com>"
    odd = message_id_for("outbox 17/retry <1>", "brand@bücher.example")
    assert odd == message_id_for("outbox 17/retry <1>", "brand@bücher.example")
    assert odd.startswith("<sd.") and odd.endswith("@xn--bcher-kva.example>")


def test_a_conversation_moved_to_email_opens_a_thread_with_its_own_subject():
    message = Outbound(idempotency_key="move-1", text="As promised, by email.", visibility="private",
                       recipient="kim@example.org", reply_ref='{"subject": "Your case #4411"}')
    msg = build_reply(message, "brand@example.com", datetime(2026, 3, 1, tzinfo=UTC))
    assert (msg["To"], msg["Subject"], msg["In-Reply-To"]) == ("kim@example.org", "Your case #4411", None)
    with pytest.raises(NotAllowed):
        build_reply(Outbound(idempotency_key="x", text="hi", visibility="private", recipient="@kim"),
                    "brand@example.com", datetime(2026, 3, 1, tzinfo=UTC))


def test_an_address_as_unquoted_display_name_is_not_the_sender():
    raw = (b"From: alice@x.com <bob@y.com>\nReply-To: carol@evil.example <bob@y.com>, other <o@z.com>\n"
           b"Subject: hi\nMessage-ID: <s1@y.com>\n\nbody\n")
    m = parse_message(raw, received_at=RECEIVED)
    assert (m.author.handle, m.author.display_name) == ("bob@y.com", "alice@x.com")
    ref = json_object(m.reply_ref)
    assert ref["from"] == "bob@y.com" and ref["reply_to"] == "bob@y.com"
    reply = build_reply(Outbound("k", "ok", "private", in_reply_to=m.platform_id, reply_ref=m.reply_ref),
                        "support@example.com", RECEIVED)
    assert reply["To"] == '"alice@x.com" <bob@y.com>'


def test_quoted_names_with_commas_and_plain_addresses_still_read():
    raw = b'From: "Doe, J. <x>" <jd@y.com>\nReply-To: r@y.com (desk)\n\nbody\n'
    m = parse_message(raw, received_at=RECEIVED)
    assert (m.author.handle, m.author.display_name) == ("jd@y.com", "Doe, J. <x>")
    assert json_object(m.reply_ref)["reply_to"] == "r@y.com"


def test_an_invalid_byte_in_a_utf8_header_is_replaced_not_mojibake():
    raw = "Subject: Größe falsch ".encode() + b"\xff\nFrom: a@example.com\n\nx\n"
    assert parse_message(raw, received_at=RECEIVED).text.startswith("Subject: Größe falsch \ufffd\n")


def test_huge_subjects_and_header_values_are_capped():
    raw = (f"From: {'N' * 50_000} <a@example.com>\nSubject: {'refund ' * 20_000}\n\nbody\n").encode()
    m = parse_message(raw, received_at=RECEIVED)
    subject = m.text.split("\n", 1)[0]
    assert len(subject) <= 260 and subject.endswith("…")
    assert len(json_object(m.reply_ref)["subject"]) <= 250 and len(m.author.display_name) <= 250
    assert all(len(v) <= 1000 for v in m.raw["headers"].values())
    stored = json.dumps({"subject": "refund " * 20_000, "from": "a@example.com"})  # kept before the cap
    reply = build_reply(Outbound("k", "ok", "private", reply_ref=stored), "support@example.com", RECEIVED)
    assert len(reply["Subject"]) <= 260
