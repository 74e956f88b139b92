"""The privacy guard: cards (Luhn), IBANs (mod 97), UK sort code + account, e-mail addresses and
phone numbers found both ways (found when present, not found in order numbers, prices, dates),
custom patterns, the reply sentence, and hostile text that must never raise."""

from __future__ import annotations

import json
import time

import pytest

from corpus import platform_dir
from socialdesk.rules.privacy import Finding, PrivacyGuard, iban_valid, luhn_valid

GUARD = PrivacyGuard.compile()


def found(text: str, guard: PrivacyGuard = GUARD) -> list[tuple[str, str]]:
    """(kind, the exact characters found) for each finding."""
    return [(f.kind, text[f.start:f.end]) for f in guard.scan(text)]


def kinds(text: str) -> list[str]:
    return [f.kind for f in GUARD.scan(text)]


# --- cards -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [
    "4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "5555 5555 5555 4444",
    "3782 822463 10005", "378282246310005", "6011 1111 1111 1117", "4000 0566 5566 5556",
    "2223 0031 2200 3222", "4222222222222", "6250 9410 0652 8599",
])
def test_valid_cards_are_found(number):
    text = f"my card is {number}, thanks"
    assert found(text) == [("card", number)]


@pytest.mark.parametrize("number", [
    "4242 4242 4242 4241",  # fails Luhn
    "1234 5678 9012 3456",  # fails Luhn
    "7992739871300000",  # Luhn-valid but no card network starts with 7
    "0000 0000 0000 0000",  # Luhn-valid zeros
    "#4242424242424242",  # a "#" reference
    "A4242424242424242",  # glued to letters: an order/tracking reference
    "424242424242",  # 12 digits: too short
    "42424242424242424242",  # 20 digits: too long
])
def test_not_cards(number):
    assert "card" not in kinds(f"reference {number} please")


def test_order_numbers_that_fail_luhn_are_not_cards():
    # 16-digit order numbers: about 9 in 10 fail Luhn; none of these may be reported.
    orders = [f"4{n:015d}" for n in range(1000, 1100)]
    bad = [o for o in orders if not luhn_valid(o) and kinds(f"order {o}")]
    assert bad == []
    assert sum(luhn_valid(o) for o in orders) == 10


def test_card_inside_a_longer_run_of_groups_and_label():
    text = "card 4242 4242 4242 4242 123 exp 12/27"
    [f] = GUARD.scan(text)
    assert f.kind == "card" and f.label == "card ending 4242"
    assert text[f.start:f.end] in ("4242 4242 4242 4242", "4242 4242 4242 4242 123")
    assert "4242 4242" not in f.label


def test_full_width_and_other_script_digits():
    text = "カード番号は４２４２ ４２４２ ４２４２ ４２４２です"
    assert found(text) == [("card", "４２４２ ４２４２ ４２４２ ４２４２")]
    arabic = "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"
    assert kinds(f"card {arabic}") == ["card"]


def test_numbers_and_addresses_glued_to_cjk_text():
    assert found("カード番号は4242424242424242です") == [("card", "4242424242424242")]
    assert found("電話は090-1234-5678です") == [("phone", "090-1234-5678")]
    assert found("メールはjo@example.comです") == [("email", "jo@example.com")]


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


# --- IBAN ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("iban", [
    "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00",
    "de89370400440532013000", "FR14 2004 1010 0505 0001 3M02 606", "NL91 ABNA 0417 1643 00",
    "ES91 2100 0418 4502 0005 1332", "BE68 5390 0754 7034", "CH93 0076 2011 6238 5295 7",
])
def test_valid_ibans_are_found(iban):
    text = f"please pay to {iban} today"
    assert found(text) == [("iban", iban)]
    [f] = GUARD.scan(text)
    assert f.label.startswith(f"IBAN {iban[:2].upper()}") and f.label.endswith(iban.replace(" ", "")[-4:].upper())


@pytest.mark.parametrize("text", [
    "GB82 WEST 1234 5698 7654 33",  # check digits wrong
    "DE89 3704 0044 0532 0130 0",  # too short for DE
    "DE89 3704 0044 0532 0130 000",  # too long for DE
    "XX82 WEST 1234 5698 7654 32",  # no such country
    "ABGB82WEST12345698765432",  # glued to letters
    "no12 thanks for your help",  # a word and a number
])
def test_not_ibans(text):
    assert "iban" not in kinds(text)


def test_ibans_of_every_country_the_registry_knows_are_found():
    assert found("pay to HN88CABF00000000000250005469 please") == [("iban", "HN88CABF00000000000250005469")]


def test_a_checksum_alone_does_not_make_an_iban():
    # mod-97 valid, but a UK BBAN starts with four letters (a bank code), not digits
    assert "iban" not in kinds("ref GB98123412345678901234 paid")


def test_iban_valid():
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST12345698765431")
    assert not iban_valid("GB82")


# --- UK sort code + account ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "sort code 12-34-56 account 12345678",
    "Sort code: 123456, account number: 12345678",
    "12-34-56 12345678",
    "acc 87654321 sort code 12 34 56",
    "bank details 40-47-84 / 70872490",
])
def test_uk_accounts(text):
    assert kinds(text) == ["uk_account"]
    assert GUARD.scan(text)[0].label.startswith("UK bank account ending ")


@pytest.mark.parametrize("text", [
    "ordered 12-03-24, order 12345678 still missing",  # a date and an order number
    "ticket 123456 and order 12345678",  # no bank words, not dashed
    "sort code 12-34-56",  # no account number
    "account 12345678",  # no sort code
])
def test_not_uk_accounts(text):
    assert "uk_account" not in kinds(text)


# --- e-mail ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "email"), [
    ("write to jo.doe+shop@example.co.uk please", "jo.doe+shop@example.co.uk"),
    ("JO@EXAMPLE.COM", "JO@EXAMPLE.COM"),
    ("mail: ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ("(jürgen@example.de)", "jürgen@example.de"),
])
def test_emails(text, email):
    assert found(text) == [("email", email)]


@pytest.mark.parametrize("text", [
    "@acme where is my order?",  # a mention
    "thanks @jo@mastodon.social for the tip",  # a fediverse handle
    "user@localhost", "a@b", "price is 5@3.50", "email me at jo at example dot com",
])
def test_not_emails(text):
    assert "email" not in kinds(text)


def test_email_label_is_masked():
    [f] = GUARD.scan("jo.doe@example.com")
    assert f.label == "email j…@example.com"


# --- phones ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", [
    "+44 20 7946 0958", "+44 (0)20 7946 0958", "+1 415 555 2671", "+1 (415) 555-2671", "+33 6 12 34 56 78",
    "+49 30 12345678", "+4915112345678", "0044 20 7946 0958", "(415) 555-2671", "415-555-2671", "415.555.2671",
    "020 7946 0958", "07700 900123", "07700900123", "no. 07700900123", "06 12 34 56 78", "01.23.45.67.89", "030 1234567",
    # what python-phonenumbers' matcher finds
    "tel:+442079460958", "+49 30/1234567", "+49 (0)30/1234567", "+49 (0) 30 / 123 45 67",
])
def test_phones(phone):
    text = f"call me on {phone} tonight"
    phone = phone.removeprefix("no. ").removeprefix("tel:")
    assert found(text) == [("phone", phone)]
    assert GUARD.scan(text)[0].label == f"phone number ending {''.join(c for c in phone if c.isdigit())[-3:]}"


@pytest.mark.parametrize("text", [
    "order #A12345678", "order A12345678 is late", "order 123456789", "order 01234567890",
    "ticket 29396", "I paid $259.57 twice", "it cost €1.234,56", "1,234,567,890 views",
    "on 15.03.2024 at 14:30", "on 05.03.2024 14:30", "2024-03-15 14:30", "15/03/2024", "between 10:30-11:45",
    "version 1.2.3.4", "192.168.100.200", "tracking 1Z999AA10123456784", "call 0800", "+5 points",
    "maintenance 02:00–03:00 UTC", "order 0012345678",
])
def test_not_phones(text):
    assert "phone" not in kinds(text), text


def test_two_phones_and_a_card_do_not_overlap():
    text = "card 4242 4242 4242 4242, call +44 20 7946 0958 or 07700 900123"
    assert kinds(text) == ["card", "phone", "phone"]


# --- custom patterns, allow list, reply sentence ---------------------------------------------------


def test_custom_patterns():
    guard = PrivacyGuard.compile({"membership number": r"\bACM-\d{6}\b", "password": r"(?i)password:\s*\S+"})
    text = "member ACM-123456, password: hunter2"
    assert [(f.kind, text[f.start:f.end]) for f in guard.scan(text)] == [
        ("custom:membership number", "ACM-123456"), ("custom:password", "password: hunter2")]
    assert [f.label for f in guard.scan(text)] == ["membership number", "password"]
    problem = guard.public_reply_problem(text)
    assert problem is not None and "'membership number'" in problem and "hunter2" not in problem


def test_bad_custom_patterns_raise_naming_them():
    with pytest.raises(ValueError, match="'broken'"):
        PrivacyGuard.compile({"broken": "([a-z"})
    with pytest.raises(ValueError, match="'anything'"):
        PrivacyGuard.compile({"anything": ".*"})


def test_allow_list_lets_the_brands_own_contact_details_through():
    guard = PrivacyGuard.compile(allow=["Help@Acme.example", "+44 20 7946 0000"])
    assert guard.scan("email help@acme.example or call 020 7946 0000") == []
    assert [f.kind for f in guard.scan("email jo@acme.example or call 020 7946 0958")] == ["email", "phone"]


def test_public_reply_problem():
    assert GUARD.public_reply_problem("Sorry about that! We've sent a replacement.") is None
    problem = GUARD.public_reply_problem("Your card 4242 4242 4242 4242 and jo@example.com are on file")
    assert problem is not None
    assert "payment card number (ending 4242)" in problem and "email address (j…@example.com)" in problem
    assert "4242 4242" not in problem and "jo@example.com" not in problem
    assert problem.endswith("move the conversation to a private channel: press p.")
    assert problem.count(".") <= 3  # one sentence (the dots are in the masked domain and the end)


def test_finding_shape():
    [f] = GUARD.scan("call 020 7946 0958")
    assert f == Finding("phone", 5, 18, "phone number ending 958")


# --- hostile text ----------------------------------------------------------------------------------


def test_naughty_strings_never_raise():
    folder = platform_dir("minimaxir__big-list-of-naughty-strings")
    strings = json.loads((folder / "blns.json").read_text(encoding="utf-8"))
    strings += (folder / "blns.txt").read_bytes().decode("utf-8", "surrogateescape").splitlines()
    guard = PrivacyGuard.compile({"x": r"\d{4}"})
    for s in strings:
        for f in guard.scan(s):
            assert 0 <= f.start < f.end <= len(s)
        guard.public_reply_problem(s)


HUGE = {
    "digits": "1 " * 50_000,
    "dashed": "4242-" * 20_000,
    "ats": "a@" * 50_000,
    "dots": "a." * 50_000 + "@",
    "domain": "jo@" + "a." * 50_000,
    "parens": "+" + "1 (2) " * 16_000,
    "ibans": "GB82 " * 20_000,
    "sort codes": "12-34-56 12345678 " * 5_000,
    "full width": "４" * 100_000,
    "marks": "̸" * 100_000,
}


@pytest.mark.parametrize("name", sorted(HUGE))
def test_100_kb_posts_are_scanned_quickly(name):
    started = time.perf_counter()
    GUARD.scan(HUGE[name])
    assert time.perf_counter() - started < 1.5
