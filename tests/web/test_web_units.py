"""Pure parts of the review page: verdict checks, CSV safety, zone geometry, charts, lock-out, filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from monitor.store import to_db_time

from web.charts import fold_series, nice_max, rate_bars, stacked_days
from web.db import AlertFilter, FilterError, local_day_start_utc
from web.export import csv_safe
from web.users import FREE_FAILURES, LOCK_MAX, lock_time
from web.verdicts import Verdict, VerdictError, parse_verdict
from web.zones import drawn_zones, frame_size_from_config, is_fractional, to_pixels

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("args,expected", [
    (("confirm", None, None), Verdict("confirmed", None, None)),
    (("CONFIRM", "", "  seen by patrol boat 2 "), Verdict("confirmed", None, "seen by patrol boat 2")),
    (("dismiss", "drill", None), Verdict("dismissed", "drill", None)),
    (("dismiss", "waves_or_reflection", "glare"), Verdict("dismissed", "waves_or_reflection", "glare")),
])  # fmt: skip
def test_parse_verdict(args, expected) -> None:
    assert parse_verdict(*args) == expected


@pytest.mark.parametrize("args,message", [
    (("dismiss", None, None), "needs a reason"),
    (("dismiss", "because", None), "'because' is not allowed"),
    (("confirm", "drill", None), "takes no reason"),
    ((None, None, None), "'' is not allowed"),
    (("confirm", None, "x" * 2001), "at most 2000"),
])  # fmt: skip
def test_parse_verdict_errors(args, message) -> None:
    with pytest.raises(VerdictError, match=message):
        parse_verdict(*args)


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+49 30 1234", "'+49 30 1234"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("person", "person"), ("", ""), (-2.5, -2.5), (7, 7), (None, None),
])  # fmt: skip
def test_csv_safe(value, expected) -> None:
    assert csv_safe(value) == expected


@pytest.mark.parametrize("failures,expected", [
    (0, None), (FREE_FAILURES - 1, None), (FREE_FAILURES, timedelta(minutes=1)),
    (FREE_FAILURES + 1, timedelta(minutes=2)), (FREE_FAILURES + 3, timedelta(minutes=8)), (FREE_FAILURES + 30, LOCK_MAX),
])  # fmt: skip
def test_lock_time_doubles_up_to_a_cap(failures, expected) -> None:
    assert lock_time(failures) == expected


@pytest.mark.parametrize("coords,size,expected", [
    ([[0, 0.5], [1, 0.5], [1, 1]], (640, 360), [(0, 180), (640, 180), (640, 360)]),
    ([[10, 20], [300, 20], [300, 200]], (640, 360), [(10, 20), (300, 20), (300, 200)]),
    ([[0, 0], [1, 0], [1, 1]], (100, 50), [(0, 0), (100, 0), (100, 50)]),
])  # fmt: skip
def test_zone_coordinates_to_frame_pixels(coords, size, expected) -> None:
    assert to_pixels(coords, size) == expected


def test_pixel_zones_drawn_on_another_frame_size_are_scaled_as_the_monitor_does() -> None:
    coords = [[0, 540], [1920, 540], [1920, 1080]]
    assert to_pixels(coords, (640, 360), (1920, 1080)) == [(0, 180), (640, 180), (640, 360)]
    [d] = drawn_zones({"beach": SimpleNamespace(kind="shore", coordinates=coords)}, (640, 360), (1920, 1080))
    assert d.points == "0.0,180.0 640.0,180.0 640.0,360.0"
    # Without a frame the placeholder is the frame the zones were drawn on.
    assert frame_size_from_config({"beach": SimpleNamespace(coordinates=coords)}, (1920, 1080)) == (1920, 1080)


def test_drawn_zone_class_is_safe_and_label_at_top() -> None:
    z = SimpleNamespace(kind='Bird "habitat"<', coordinates=[[0.1, 0.9], [0.5, 0.2], [0.9, 0.9]])
    [d] = drawn_zones({"reeds": z}, (1000, 500))
    assert d.css == "zone-bird-habitat"
    assert d.points == "100.0,450.0 500.0,100.0 900.0,450.0"
    assert d.label_x == pytest.approx(500 + 500 / 24 / 3) and d.label_y == pytest.approx(100 + 500 / 24 * 1.1)


@pytest.mark.parametrize("zones,expected", [
    ({}, (1280, 720)),
    ({"a": SimpleNamespace(coordinates=[[0, 0], [1, 1], [0, 1]])}, (1280, 720)),
    ({"a": SimpleNamespace(coordinates=[[0, 0], [1919, 1079], [0, 1079]])}, (1920, 1080)),
])  # fmt: skip
def test_placeholder_size_holds_pixel_zones(zones, expected) -> None:
    assert frame_size_from_config(zones) == expected


def test_is_fractional() -> None:
    assert is_fractional([[0, 0], [1, 1]]) and not is_fractional([[0, 0], [2, 1]])


@pytest.mark.parametrize("args,expected", [
    ({}, {}),
    ({"camera": " pier ", "status": "new", "from": "2026-07-01", "unseen": "1"},
     {"camera": "pier", "status": "new", "from": "2026-07-01", "unseen": "1"}),
    ({"severity": "", "zone": "water", "to": "2026-07-31"}, {"zone": "water", "to": "2026-07-31"}),
])  # fmt: skip
def test_filter_round_trips_through_the_url(args, expected) -> None:
    assert AlertFilter.from_args(args).to_args() == expected


@pytest.mark.parametrize("args,message", [
    ({"severity": "high"}, "severity='high' is not allowed"),
    ({"status": "open"}, "status='open' is not allowed"),
    ({"from": "01.07.2026"}, "from='01.07.2026' is not a date"),
    ({"from": "2026-07-02", "to": "2026-07-01"}, "is after"),
    # At the ends of the calendar, local midnight in UTC or the day after does not exist.
    ({"to": "9999-12-31"}, "to=9999-12-31 is out of range: use a date from 1970-01-01 to 9998-12-31"),
    ({"from": "0001-01-01"}, "from=0001-01-01 is out of range"),
    ({"from": "x" * 5000}, r"from='xxxxxxxx.*' is not a date"),
])  # fmt: skip
def test_filter_errors(args, message) -> None:
    with pytest.raises(FilterError, match=message) as e:
        AlertFilter.from_args(args)
    assert len(str(e.value)) < 200, "a long value is not echoed whole"


def test_date_filter_uses_local_days() -> None:
    # Midnight in Berlin in summer is 22:00 UTC the day before.
    assert local_day_start_utc(date(2026, 7, 2), BERLIN) == "2026-07-01T22:00:00.000+00:00"
    q = AlertFilter(date_from=date(2026, 7, 2), date_to=date(2026, 7, 2)).query(BERLIN, None)
    assert (to_db_time(q.start), to_db_time(q.end)) == ("2026-07-01T22:00:00.000+00:00", "2026-07-02T22:00:00.000+00:00")  # type: ignore[arg-type]
    assert (q.camera, q.unseen_by) == (None, None)


@pytest.mark.parametrize("v,expected", [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (420, 500), (0.3, 0.5)])
def test_nice_max(v, expected) -> None:
    assert nice_max(v) == pytest.approx(expected)


def test_fold_series_keeps_the_biggest_and_sums_the_rest() -> None:
    series = {f"s{i}": [i, 1] for i in range(12)}
    out = fold_series(series)
    assert list(out)[:2] == ["s11", "s10"] and len(out) == 10
    assert out["other"] == [0 + 1 + 2, 3]


def test_charts_escape_names_and_scale_bars() -> None:
    days = [date(2026, 7, 1) + timedelta(days=i) for i in range(3)]
    svg = str(stacked_days(days, {"<b>": [1, 0, 4]}, "t"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert svg.count("<rect x=") == 2  # zero bars are not drawn
    bars = str(rate_bars([("water", 3, 4), ("ice", 0, 0)], "t"))
    assert "75% of 4" in bars and "no verdicts" in bars


@pytest.mark.parametrize("value,expected", [
    ("2026-07-01T22:47:12.000+00:00", "2026-07-02 00:47:12"), (None, "—"), ("drill", "drill"), (3, "3"),
    ("2026-07-01", "2026-07-01"),
])  # fmt: skip
def test_audit_values_show_local_times(app, value, expected) -> None:
    from web.views import shown

    with app.app_context():
        assert shown(value) == expected
