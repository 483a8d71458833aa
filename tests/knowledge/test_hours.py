"""Office hours, Swedish holidays and the local time (Europe/Stockholm), with frozen clocks."""

import datetime as dt

import pytest

from knowledge.hours import closed_days, moment, swedish_date


def at(iso: str, kb):
    return moment(kb.municipality, dt.datetime.fromisoformat(iso))


@pytest.mark.parametrize(
    ("iso", "period"),
    [
        ("2026-11-23T09:00:00+01:00", "office_hours"),
        ("2026-11-23T18:00:00+01:00", "evening"),
        ("2026-11-24T02:00:00+01:00", "night"),
        ("2026-11-22T12:00:00+01:00", "weekend"),
        ("2026-12-25T12:00:00+01:00", "holiday"),  # juldagen
        ("2026-06-19T10:00:00+02:00", "holiday"),  # midsommarafton: not a public holiday, but offices close
    ],
)
def test_the_period_of_a_moment(kb, iso, period):
    assert at(iso, kb).period == period


def test_utc_input_is_read_in_stockholm_time_across_daylight_saving(kb):
    # 06:30 UTC is 08:30 in summer (open) and 07:30 in winter (not yet open)
    assert at("2026-06-22T06:30:00+00:00", kb).open_now
    assert not at("2026-11-23T06:30:00+00:00", kb).open_now


def test_closed_days_come_from_the_holidays_package_with_the_eves_offices_close_on():
    days = closed_days(2026)
    for day in ("2026-01-01", "2026-04-03", "2026-04-06", "2026-05-14", "2026-06-06", "2026-06-19", "2026-12-24",
                "2026-12-25", "2026-12-26", "2026-12-31"):  # fmt: skip
        assert dt.date.fromisoformat(day) in days
    assert dt.date(2026, 4, 30) not in days  # valborgsmässoafton: an ordinary working day
    assert dt.date(2026, 5, 15) not in days  # klämdag: offices are open


def test_the_promise_names_the_next_working_day_in_swedish(kb):
    assert at("2026-11-23T10:00:00+01:00", kb).reply_promise() == "i dag"
    assert (
        at("2026-12-31T10:00:00+01:00", kb).reply_promise() == "nästa vardag, måndag 4 januari"
    )  # across the new year
    assert swedish_date(dt.date(2026, 11, 23)) == "måndag 23 november"
