from __future__ import annotations

from datetime import date, datetime

import pytest

from monitor.config import ScheduleConfig
from monitor.schedule import (
    describe,
    in_season,
    parse_date_range,
    parse_hour_range,
    parse_weekday,
    schedule_active,
)

FISHING_BAN = ["04-01..07-31"]
ICE = ["12-01..03-15"]
NIGHT = ["20:00..06:00"]


@pytest.mark.parametrize(
    "dates, hours, weekdays, local, expected",
    [
        # Empty: always.
        ([], [], [], datetime(2026, 1, 1, 3, 0), True),
        # A season, both ends included.
        (FISHING_BAN, [], [], datetime(2026, 3, 31, 23, 59), False),
        (FISHING_BAN, [], [], datetime(2026, 4, 1, 0, 0), True),
        (FISHING_BAN, [], [], datetime(2026, 7, 31, 23, 59), True),
        (FISHING_BAN, [], [], datetime(2026, 8, 1, 0, 0), False),
        # Over New Year.
        (ICE, [], [], datetime(2026, 11, 30, 12, 0), False),
        (ICE, [], [], datetime(2026, 12, 1, 0, 0), True),
        (ICE, [], [], datetime(2027, 1, 1, 0, 0), True),
        (ICE, [], [], datetime(2027, 3, 15, 23, 59), True),
        (ICE, [], [], datetime(2027, 3, 16, 0, 0), False),
        (["12-01..02-28"], [], [], datetime(2028, 2, 29, 12, 0), False),  # 29 Feb is after 28 Feb
        # Over midnight: start included, end excluded.
        ([], NIGHT, [], datetime(2026, 7, 1, 19, 59), False),
        ([], NIGHT, [], datetime(2026, 7, 1, 20, 0), True),
        ([], NIGHT, [], datetime(2026, 7, 1, 23, 59), True),
        ([], NIGHT, [], datetime(2026, 7, 2, 0, 0), True),
        ([], NIGHT, [], datetime(2026, 7, 2, 5, 59), True),
        ([], NIGHT, [], datetime(2026, 7, 2, 6, 0), False),
        ([], ["08:00..24:00"], [], datetime(2026, 7, 2, 23, 59), True),
        # Several ranges in one list: any of them.
        (["03-01..05-31", "09-15..11-30"], [], [], datetime(2026, 6, 1, 12, 0), False),
        (["03-01..05-31", "09-15..11-30"], [], [], datetime(2026, 10, 1, 12, 0), True),
        ([], ["06:00..08:00", "18:00..20:00"], [], datetime(2026, 7, 2, 19, 0), True),
        ([], ["06:00..08:00", "18:00..20:00"], [], datetime(2026, 7, 2, 12, 0), False),
        # Dates AND hours; the date is the local time's own date, even late in an overnight range.
        (FISHING_BAN, NIGHT, [], datetime(2026, 7, 31, 23, 0), True),
        (FISHING_BAN, NIGHT, [], datetime(2026, 8, 1, 2, 0), False),
        (FISHING_BAN, NIGHT, [], datetime(2026, 4, 1, 2, 0), True),
        (FISHING_BAN, NIGHT, [], datetime(2026, 5, 1, 12, 0), False),
        # A single day; weekdays (2026-07-18 is a Saturday).
        (["07-31"], [], [], datetime(2026, 7, 31, 8, 0), True),
        (["07-31"], [], [], datetime(2026, 7, 30, 8, 0), False),
        ([], [], ["sat", "sun"], datetime(2026, 7, 18, 8, 0), True),
        ([], [], ["sat", "sun"], datetime(2026, 7, 17, 8, 0), False),
    ],
)
def test_schedule_active(
    dates: list[str], hours: list[str], weekdays: list[str], local: datetime, expected: bool
) -> None:
    schedule = ScheduleConfig(dates=dates, hours=hours, weekdays=weekdays)
    assert schedule_active(schedule, local) is expected


def test_in_season_ignores_hours() -> None:
    schedule = ScheduleConfig(dates=FISHING_BAN, hours=NIGHT)
    assert in_season(schedule, date(2026, 5, 1)) is True
    assert in_season(schedule, date(2026, 9, 1)) is False


@pytest.mark.parametrize(
    "text, expected",
    [("04-01..07-31", ((4, 1), (7, 31))), ("12-01..03-15", ((12, 1), (3, 15))), ("02-29", ((2, 29), (2, 29)))],
)
def test_parse_date_range(text: str, expected: tuple[tuple[int, int], tuple[int, int]]) -> None:
    assert parse_date_range(text) == expected


@pytest.mark.parametrize("text, expected", [("20:00..06:00", (1200, 360)), ("08:30..24:00", (510, 1440))])
def test_parse_hour_range(text: str, expected: tuple[int, int]) -> None:
    assert parse_hour_range(text) == expected


@pytest.mark.parametrize(
    "parse, text, message",
    [
        (parse_date_range, "13-01..02-01", "month 13"),
        (parse_date_range, "02-30..03-01", "day 30 does not exist in month 02"),
        (parse_date_range, "4-1..5-1", "MM-DD..MM-DD"),
        (parse_date_range, "04-01...05-01", "MM-DD..MM-DD"),
        (parse_date_range, "04-01..05-01..06-01", "MM-DD..MM-DD"),
        (parse_hour_range, "25:00..06:00", "not a time of day"),
        (parse_hour_range, "20:00..06:60", "not a time of day"),
        (parse_hour_range, "24:00..06:00", "not a time of day"),
        (parse_hour_range, "20:00", "HH:MM..HH:MM"),
        (parse_hour_range, "20:00..20:00", "whole day or nothing"),
        (parse_hour_range, "00:00..24:00", "whole day or nothing"),
        (parse_weekday, "monday", "mon, tue"),
    ],
)
def test_parse_errors_say_what_is_allowed(parse: object, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text)  # type: ignore[operator]


def test_weekday_numbers_match_python() -> None:
    assert [parse_weekday(w) for w in ("mon", "Sun")] == [date(2026, 7, 13).weekday(), date(2026, 7, 19).weekday()]


@pytest.mark.parametrize(
    "schedule, text",
    [
        (ScheduleConfig(), "always"),
        (ScheduleConfig(dates=["03-01..05-31", "09-15..11-30"]), "03-01..05-31 + 09-15..11-30"),
        (ScheduleConfig(dates=FISHING_BAN, hours=NIGHT, weekdays=["sat"]), "04-01..07-31, sat, 20:00..06:00"),
    ],
)
def test_describe(schedule: ScheduleConfig, text: str) -> None:
    assert describe(schedule) == text
