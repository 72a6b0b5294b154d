"""When a rule is in force: seasons (date ranges), hours of the day and weekdays.

Everything here is pure: it reads a ``ScheduleConfig`` and a local wall-clock time and never looks
at the system clock. The caller converts the frame time into the configured time zone first.

Range syntax (the config validates it with the parsers below):

- dates: ``"MM-DD..MM-DD"``, both ends included. A start after the end wraps over New Year
  (``"12-01..03-15"`` is December to mid-March). A single ``"MM-DD"`` is one day. Days are compared
  as (month, day), so ``02-29`` exists only in leap years and ``"12-01..02-28"`` leaves out 29 February.
- hours: ``"HH:MM..HH:MM"``, start included, end excluded; ``24:00`` is allowed as an end. A start
  after the end wraps over midnight (``"20:00..06:00"``).
- weekdays: ``mon`` .. ``sun``.

An empty list does not restrict (all year, all day, every weekday). Within one list the ranges are
ORed; the lists are ANDed.

Which date an overnight hour range belongs to: dates and weekdays are checked against the date of
the local time itself, not the evening the night began. With ``dates: ["04-01..07-31"]`` and
``hours: ["20:00..06:00"]``, 02:00 on 1 August is out of season although the night began on 31 July.
This is the simplest rule to explain to an operator and to check by hand: "is today in season, and
is it night now".
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config import ScheduleConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60

_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")
_HOUR_RE = re.compile(r"^(\d{2}):(\d{2})$")

MonthDay = tuple[int, int]


def _parse_month_day(text: str, whole: str) -> MonthDay:
    m = _DAY_RE.match(text.strip())
    if not m:
        raise ValueError(f"{whole!r} is not a date range: write MM-DD..MM-DD, e.g. 04-01..07-31")
    month, day = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"{whole!r}: month {month:02d} is not 01..12")
    # 2000 is a leap year, so 02-29 is accepted; it simply never matches in other years.
    last = calendar.monthrange(2000, month)[1]
    if not 1 <= day <= last:
        raise ValueError(f"{whole!r}: day {day:02d} does not exist in month {month:02d} (01..{last:02d})")
    return month, day


def parse_date_range(text: str) -> tuple[MonthDay, MonthDay]:
    """``"MM-DD..MM-DD"`` (or one ``"MM-DD"``) -> ((month, day), (month, day)), both ends included."""
    parts = text.split("..")
    if len(parts) == 1:
        day = _parse_month_day(parts[0], text)
        return day, day
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a date range: write MM-DD..MM-DD, e.g. 04-01..07-31")
    return _parse_month_day(parts[0], text), _parse_month_day(parts[1], text)


def _parse_clock(text: str, whole: str, *, is_end: bool) -> int:
    m = _HOUR_RE.match(text.strip())
    if not m:
        raise ValueError(f"{whole!r} is not an hour range: write HH:MM..HH:MM, e.g. 20:00..06:00")
    hour, minute = int(m.group(1)), int(m.group(2))
    if is_end and (hour, minute) == (24, 0):
        return MINUTES_PER_DAY
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        allowed = "00:00..24:00" if is_end else "00:00..23:59"
        raise ValueError(f"{whole!r}: {text.strip()} is not a time of day ({allowed})")
    return hour * 60 + minute


def parse_hour_range(text: str) -> tuple[int, int]:
    """``"HH:MM..HH:MM"`` -> (start, end) in minutes after midnight; start included, end excluded."""
    parts = text.split("..")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not an hour range: write HH:MM..HH:MM, e.g. 20:00..06:00")
    start = _parse_clock(parts[0], text, is_end=False)
    end = _parse_clock(parts[1], text, is_end=True)
    if start == end or (start == 0 and end == MINUTES_PER_DAY):
        raise ValueError(f"{text!r} covers the whole day or nothing: leave hours empty for all day")
    return start, end


def parse_weekday(text: str) -> int:
    """``"mon"`` .. ``"sun"`` -> 0..6 (``date.weekday()`` numbering)."""
    key = text.strip().lower()
    if key not in WEEKDAYS:
        raise ValueError(f"{text!r} is not a weekday: use one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(key)


def _in_date_range(day: MonthDay, start: MonthDay, end: MonthDay) -> bool:
    if start <= end:
        return start <= day <= end
    return day >= start or day <= end  # wraps over New Year


def _in_hour_range(minute: int, start: int, end: int) -> bool:
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps over midnight


def in_season(schedule: ScheduleConfig, day: date) -> bool:
    """The date part of a schedule: ``dates`` and ``weekdays`` on this local date (hours ignored)."""
    md = (day.month, day.day)
    if schedule.dates and not any(_in_date_range(md, *parse_date_range(r)) for r in schedule.dates):
        return False
    if schedule.weekdays and day.weekday() not in {parse_weekday(w) for w in schedule.weekdays}:
        return False
    return True


def in_hours(schedule: ScheduleConfig, clock: time) -> bool:
    """The time-of-day part of a schedule."""
    if not schedule.hours:
        return True
    minute = clock.hour * 60 + clock.minute
    return any(_in_hour_range(minute, *parse_hour_range(r)) for r in schedule.hours)


def schedule_active(schedule: ScheduleConfig, local: datetime) -> bool:
    """Whether a rule with this schedule is in force at ``local`` (wall-clock time in the config tz).

    Empty schedule: always. Otherwise dates AND weekdays AND hours must each match one of their
    ranges; dates and weekdays use the date of ``local`` itself (see the module notes).
    """
    return in_season(schedule, local.date()) and in_hours(schedule, local.time())


def describe(schedule: ScheduleConfig) -> str:
    """A short human text for summaries, e.g. ``"04-01..07-31, 20:00..06:00"`` or ``"always"``."""
    parts: list[str] = []
    if schedule.dates:
        parts.append(" + ".join(schedule.dates))
    if schedule.weekdays:
        parts.append("/".join(schedule.weekdays))
    if schedule.hours:
        parts.append(" + ".join(schedule.hours))
    return ", ".join(parts) if parts else "always"
