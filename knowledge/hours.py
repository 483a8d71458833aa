"""Office hours, Swedish public holidays and the local time: what the bot may promise right now.

"Vi hör av oss i dag" only when the team is at work and has time left today; otherwise the next
working day, named. Holidays come from the maintained `holidays` package (public holidays, plus the
eves Swedish offices close on), never from a hand-kept list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from knowledge.model import Municipality, Schedule

# Not public holidays by law, but municipal offices are closed (the `holidays` "bank" category).
CLOSED_EVES = ("Midsommarafton", "Julafton", "Nyårsafton")
# A handover that arrives later than this before closing is promised for the next working day.
LAST_CALL = dt.timedelta(hours=1)

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip


@lru_cache(maxsize=64)
def closed_days(year: int) -> dict[dt.date, str]:
    public = holidays.Sweden(years=year, include_sundays=False, language="sv")
    bank = holidays.Sweden(years=year, include_sundays=False, language="sv", categories=("bank",))
    days = dict(public.items())
    days.update({day: name for day, name in bank.items() if name in CLOSED_EVES})
    return days


def holiday_name(day: dt.date) -> str | None:
    return closed_days(day.year).get(day)


def swedish_date(day: dt.date) -> str:
    """'måndag 24 november'."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


@dataclass(frozen=True)
class Moment:
    """What the clock means for the bot's promises at one moment, in the municipality's time zone."""

    local: dt.datetime
    working_day: bool  # a weekday in the schedule and not a holiday
    open_now: bool  # within office hours on a working day
    reply_today: bool  # open, with time left to call back today
    next_working_day: dt.date  # the first working day after today (or today, before opening)
    holiday: str | None

    @property
    def period(self) -> str:
        """office_hours | evening | night | weekend | holiday: how the bot describes the moment."""
        if self.holiday:
            return "holiday"
        if not self.working_day:
            return "weekend"
        if self.open_now:
            return "office_hours"
        return "night" if self.local.hour < 7 or self.local.hour >= 22 else "evening"

    def reply_promise(self) -> str:
        """'i dag' or 'nästa vardag, måndag 24 november': when the team will get in touch."""
        if self.reply_today:
            return "i dag"
        return f"nästa vardag, {swedish_date(self.next_working_day)}"


def is_working_day(day: dt.date, schedule: Schedule) -> bool:
    return day.isoweekday() in schedule.days and holiday_name(day) is None


def moment(municipality: Municipality, now: dt.datetime | None = None) -> Moment:
    schedule = municipality.office_hours
    local = (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(municipality.timezone))
    today = local.date()
    working = is_working_day(today, schedule)
    opens = dt.datetime.combine(today, schedule.opens, tzinfo=local.tzinfo)
    closes = dt.datetime.combine(today, schedule.closes, tzinfo=local.tzinfo)
    open_now = working and opens <= local < closes
    reply_today = open_now and local <= closes - LAST_CALL
    if working and local < opens:
        next_day = today
    else:
        next_day = today + dt.timedelta(days=1)
        while not is_working_day(next_day, schedule):
            next_day += dt.timedelta(days=1)
    return Moment(local, working, open_now, reply_today, next_day, holiday_name(today))
