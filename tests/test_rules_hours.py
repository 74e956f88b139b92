"""Opening hours (zones, DST, spans past midnight, holidays) and the out-of-hours
acknowledgement: only when closed, never twice, never to noise, robots or the brand."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta, timezone

import pytest

from socialdesk.rules.hours import OpeningHours, acknowledgement_text, resolve_timezone, should_acknowledge
from socialdesk.rules.model import AuthorContext, Mention

UTC = timezone.utc
WEEKDAYS = {d: ("09:00", "17:30") for d in ("mon", "tue", "wed", "thu", "fri")}
LONDON = OpeningHours("Europe/London", {**WEEKDAYS, "sat": ("10:00", "14:00"), "sun": None})


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- is_open ----------------------------------------------------------------------------------

def test_the_default_is_weekdays_in_utc():
    hours = OpeningHours()
    assert hours.describe() == "Mon–Fri 09:00–17:30 (UTC)"
    assert hours.is_open(utc(2025, 6, 2, 9, 0))  # Monday
    assert not hours.is_open(utc(2025, 6, 7, 12, 0))  # Saturday


def test_boundaries_open_at_the_start_closed_at_the_end():
    hours = OpeningHours("UTC", WEEKDAYS)
    assert not hours.is_open(utc(2025, 6, 2, 8, 59, 59))
    assert hours.is_open(utc(2025, 6, 2, 9, 0))
    assert hours.is_open(utc(2025, 6, 2, 17, 29, 59))
    assert not hours.is_open(utc(2025, 6, 2, 17, 30))


def test_hours_are_wall_clock_in_the_zone_summer_and_winter():
    # 08:30 UTC is 09:30 in London in June (BST), 08:30 in January (GMT)
    assert LONDON.is_open(utc(2025, 6, 2, 8, 30))
    assert not LONDON.is_open(utc(2025, 1, 6, 8, 30))
    assert LONDON.is_open(utc(2025, 1, 6, 9, 0))
    # Saturday 10:00–14:00 local; Sunday closed
    assert LONDON.is_open(utc(2025, 6, 7, 9, 0))  # 10:00 BST
    assert not LONDON.is_open(utc(2025, 6, 8, 12, 0))


def test_an_aware_time_in_another_zone_is_converted():
    new_york = timezone(timedelta(hours=-4))
    assert LONDON.is_open(datetime(2025, 6, 2, 5, 0, tzinfo=new_york))  # 10:00 BST
    assert not LONDON.is_open(datetime(2025, 6, 2, 13, 0, tzinfo=new_york))  # 18:00 BST


def test_naive_times_are_utc():
    assert LONDON.is_open(datetime(2025, 6, 2, 8, 30)) == LONDON.is_open(utc(2025, 6, 2, 8, 30))


NIGHT = OpeningHours("Europe/London", {"fri": ("22:00", "06:00"), "sat": ("22:00", "06:00")})


def test_a_span_past_midnight_runs_into_the_next_morning():
    assert not NIGHT.is_open(utc(2025, 1, 10, 21, 59))  # Fri 21:59 GMT
    assert NIGHT.is_open(utc(2025, 1, 10, 22, 0))
    assert NIGHT.is_open(utc(2025, 1, 11, 5, 59))  # Sat 05:59, from Friday's span
    assert not NIGHT.is_open(utc(2025, 1, 11, 6, 0))
    assert NIGHT.is_open(utc(2025, 1, 12, 3, 0))  # Sun 03:00, from Saturday's span
    assert not NIGHT.is_open(utc(2025, 1, 13, 3, 0))  # Mon 03:00: Sunday has no span
    assert NIGHT.describe() == "Fri–Sat 22:00–06:00 (Europe/London)"


def test_a_night_span_over_the_spring_forward_is_an_hour_shorter():
    # London, 30 March 2025: 01:00 GMT becomes 02:00 BST. Sat 22:00 GMT → Sun 06:00 BST = 05:00 UTC.
    assert NIGHT.is_open(utc(2025, 3, 29, 22, 0))
    assert NIGHT.is_open(utc(2025, 3, 30, 4, 59))
    assert not NIGHT.is_open(utc(2025, 3, 30, 5, 0))


def test_a_night_span_over_the_fall_back_is_an_hour_longer():
    # London, 26 October 2025: 02:00 BST becomes 01:00 GMT. Sat 22:00 BST = 21:00 UTC → Sun 06:00 GMT.
    assert not NIGHT.is_open(utc(2025, 10, 25, 20, 59))
    assert NIGHT.is_open(utc(2025, 10, 25, 21, 0))
    assert NIGHT.is_open(utc(2025, 10, 26, 5, 59))
    assert not NIGHT.is_open(utc(2025, 10, 26, 6, 0))


def test_an_opening_time_in_the_dst_gap_moves_forward_by_the_gap():
    # New York, 9 March 2025: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that night.
    hours = OpeningHours("America/New_York", {"sun": ("02:30", "10:00")})
    opening = hours.next_opening(utc(2025, 3, 9, 6, 0))
    assert opening.astimezone(UTC) == utc(2025, 3, 9, 7, 30)  # 03:30 EDT
    assert not hours.is_open(utc(2025, 3, 9, 7, 29))
    assert hours.is_open(utc(2025, 3, 9, 7, 30))


def test_all_day_with_24_00():
    hours = OpeningHours("UTC", {"sat": ("00:00", "24:00")})
    assert hours.is_open(utc(2025, 6, 7, 0, 0))
    assert hours.is_open(utc(2025, 6, 7, 23, 59, 59))
    assert not hours.is_open(utc(2025, 6, 8, 0, 0))
    assert hours.describe() == "Sat 00:00–24:00 (UTC)"


def test_holidays_close_the_whole_day_and_the_spans_that_start_on_it():
    hours = OpeningHours("Europe/London", {**WEEKDAYS, "thu": ("20:00", "02:00")},
                         holidays=(date(2025, 12, 25), date(2025, 12, 24)))
    assert not hours.is_open(utc(2025, 12, 25, 12, 0))  # Christmas, a Thursday
    assert not hours.is_open(utc(2025, 12, 25, 21, 0))  # Thursday's night span starts on the holiday
    assert not hours.is_open(utc(2025, 12, 26, 1, 0))
    assert hours.is_open(utc(2025, 12, 26, 9, 0))  # Friday
    assert hours.holidays == (date(2025, 12, 24), date(2025, 12, 25))  # sorted


# --- next_opening -----------------------------------------------------------------------------

def test_next_opening_after_the_weekend_in_the_zone():
    opening = LONDON.next_opening(utc(2025, 6, 7, 14, 0))  # Sat 15:00 BST, after Saturday's hours
    assert opening == datetime(2025, 6, 9, 9, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    assert opening.utcoffset() == timedelta(hours=1)


def test_next_opening_later_the_same_day_and_when_open():
    assert LONDON.next_opening(utc(2025, 1, 6, 7, 0)).astimezone(UTC) == utc(2025, 1, 6, 9, 0)
    at = utc(2025, 1, 6, 10, 0)
    assert LONDON.next_opening(at) == at  # already open


def test_next_opening_skips_holidays():
    hours = OpeningHours("UTC", WEEKDAYS, holidays=(date(2025, 12, 25), date(2025, 12, 26)))
    assert hours.next_opening(utc(2025, 12, 24, 18, 0)) == utc(2025, 12, 29, 9, 0)


def test_hours_that_never_open():
    closed = OpeningHours("UTC", {})
    assert not closed.is_open(utc(2025, 6, 2, 12, 0))
    with pytest.raises(ValueError, match="never open"):
        closed.next_opening(utc(2025, 6, 2, 12, 0))
    assert closed.describe() == "closed (UTC)"


# --- describe and validation ------------------------------------------------------------------

def test_describe_groups_consecutive_days():
    assert LONDON.describe() == "Mon–Fri 09:00–17:30, Sat 10:00–14:00 (Europe/London)"
    split = OpeningHours("Europe/Berlin", {"mon": ("8:00", "16:00"), "tue": ("08:00", "16:00"),
                                           "thu": ("08:00", "16:00"), "Friday": ("08:00", "12:00")})
    assert split.describe() == "Mon–Tue 08:00–16:00, Thu 08:00–16:00, Fri 08:00–12:00 (Europe/Berlin)"


def test_lists_from_toml_are_accepted_and_the_hours_are_hashable():
    hours = OpeningHours("UTC", {"mon": ["09:00", "17:00"]})
    assert hours.weekly["mon"] == ("09:00", "17:00")
    assert hours == OpeningHours("UTC", {"mon": ("09:00", "17:00")})
    assert hash(hours) == hash(OpeningHours("UTC", {"mon": ("09:00", "17:00")}))


@pytest.mark.parametrize(("weekly", "message"), [
    ({"funday": ("09:00", "17:00")}, "unknown day 'funday'"),
    ({"mon": ("9am", "5pm")}, "expected a time"),
    ({"mon": ("09:00", "25:00")}, "not a time of day"),
    ({"mon": ("09:60", "17:00")}, "not a time of day"),
    ({"mon": ("09:00", "09:00")}, "same time"),
    ({"mon": ("24:00", "06:00")}, "cannot open at 24:00"),
    ({"mon": "09:00-17:00"}, "expected"),
    ({"mon": ("09:00",)}, "expected"),
])
def test_bad_hours_are_refused_with_the_day(weekly, message):
    with pytest.raises(ValueError, match=message):
        OpeningHours("UTC", weekly)


def test_bad_holidays_are_refused():
    with pytest.raises(ValueError, match="holidays"):
        OpeningHours("UTC", WEEKDAYS, holidays=("2025-12-25",))  # type: ignore[arg-type]


def test_an_unknown_zone_is_refused_with_an_example():
    with pytest.raises(ValueError, match="'Europe/Lodnon' is not a known time zone"):
        OpeningHours("Europe/Lodnon")
    with pytest.raises(ValueError):
        OpeningHours("../../etc/passwd")


def test_without_a_tz_database_utc_still_works_and_other_zones_say_what_to_install(monkeypatch):
    def missing(key):
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)
    assert resolve_timezone("UTC") is UTC
    assert OpeningHours("UTC").is_open(utc(2025, 6, 2, 10, 0))
    with pytest.raises(ValueError, match="no time zone database.*tzdata"):
        OpeningHours("Europe/London")


# --- should_acknowledge -----------------------------------------------------------------------

SATURDAY_NIGHT = utc(2025, 6, 7, 22, 0)  # closed in London
MONDAY_NOON = utc(2025, 6, 2, 11, 0)  # open


def mention(**kw) -> Mention:
    base = dict(text="where is my order?", channel="masto", channel_kind="mastodon", kind="mention",
                visibility="public", author_id="42", author_handle="@ann", published_at=SATURDAY_NIGHT)
    base.update(kw)
    return Mention(**base)


def ack(m=None, ctx=None, *, noise=False, now=SATURDAY_NIGHT, **kw):
    return should_acknowledge(m or mention(), ctx or AuthorContext(), verdict_noise=noise, hours=LONDON,
                              now=now, **kw)


def test_out_of_hours_a_customer_is_acknowledged():
    assert ack()
    assert ack(mention(kind="dm", visibility="private"))
    assert ack(mention(kind="email", channel_kind="email"))


def test_in_hours_nobody_is_acknowledged():
    assert not ack(now=MONDAY_NOON)


def test_never_to_noise_reposts_or_bots():
    assert not ack(noise=True)
    assert not ack(mention(is_repost=True))
    assert not ack(mention(bot=True))


def test_never_to_auto_generated_messages():
    assert not ack(mention(kind="email", channel_kind="email", auto_generated=True))


def test_never_twice_within_the_window():
    assert not ack(ctx=AuthorContext(acknowledged_at=SATURDAY_NIGHT - timedelta(hours=2)))
    assert not ack(ctx=AuthorContext(acknowledged_at=SATURDAY_NIGHT - timedelta(hours=23, minutes=59)))
    assert ack(ctx=AuthorContext(acknowledged_at=SATURDAY_NIGHT - timedelta(hours=24)))
    assert not ack(ctx=AuthorContext(acknowledged_at=SATURDAY_NIGHT - timedelta(hours=30)), once_per_hours=48)
    # naive stored time against an aware now
    assert not ack(ctx=AuthorContext(acknowledged_at=datetime(2025, 6, 7, 21, 0)))


def test_never_to_the_brand_itself():
    assert not ack(mention(author_handle="@AcmeSupport"), brand_handles=("acmesupport",))
    assert not ack(mention(author_handle="acme"), brand_handles=("@acme", "@acmesupport"))
    assert ack(mention(author_handle="@ann"), brand_handles=("@acme",))


# --- acknowledgement_text ---------------------------------------------------------------------

TEMPLATE = ("Hi {customer_name}, thanks for your message! We're closed right now; our hours are "
            "{opening_hours}. We're back {next_opening} and will answer {response_window}.")


def test_the_text_names_the_hours_the_next_opening_and_the_window():
    text = acknowledgement_text(TEMPLATE, name="Ann", hours=LONDON, response_window="within 60 minutes",
                                now=SATURDAY_NIGHT)
    assert text == ("Hi Ann, thanks for your message! We're closed right now; our hours are "
                    "Mon–Fri 09:00–17:30, Sat 10:00–14:00 (Europe/London). We're back Mon 09:00 and will "
                    "answer within 60 minutes.")


def test_short_variable_names_and_the_zone():
    text = acknowledgement_text("{name}: {hours} [{timezone}]", name="Ann", hours=LONDON,
                                response_window="", now=SATURDAY_NIGHT)
    assert text == "Ann: Mon–Fri 09:00–17:30, Sat 10:00–14:00 (Europe/London) [Europe/London]"


def test_the_customer_name_is_one_clean_line_and_never_expanded():
    text = acknowledgement_text("Hi {customer_name}!", name="\x1b[31mAnn\u202e\n{opening_hours}\x07" + "x" * 100,
                                hours=LONDON, response_window="soon", now=SATURDAY_NIGHT)
    assert text.startswith("Hi Ann {opening_hours}xxx")
    assert "\x1b" not in text and "\u202e" not in text and "\n" not in text
    assert len(text) <= len("Hi !") + 60


def test_an_empty_name_leaves_no_dangling_space():
    text = acknowledgement_text("Hi {customer_name}, we'll be back {next_opening}.", name="  ",
                                hours=LONDON, response_window="", now=SATURDAY_NIGHT)
    assert text == "Hi, we'll be back Mon 09:00."


def test_braces_and_unknown_variables_are_left_alone():
    text = acknowledgement_text("{{literal}} {agent_name} { {customer_name", name="Ann", hours=LONDON,
                                response_window="", now=SATURDAY_NIGHT)
    assert text == "{literal} {agent_name} { {customer_name"


def test_hours_that_never_open_give_an_empty_next_opening():
    text = acknowledgement_text("back: [{next_opening}]", name="Ann", hours=OpeningHours("UTC", {}),
                                response_window="", now=SATURDAY_NIGHT)
    assert text == "back: []"
