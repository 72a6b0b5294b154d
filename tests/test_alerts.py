from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from monitor.alerts import AlertBook, AlertEvent

T0 = datetime(2026, 7, 15, 6, 0, tzinfo=timezone.utc)
KEY = ("east_beach", "person_in_water", 4)


def start_event(offset_s: float, score: float = 0.6) -> AlertEvent:
    return AlertEvent(
        kind="start",
        key=KEY,
        rule_id="person_in_water",
        zone="water",
        zone_kind="water",
        category="person",
        label="person",
        severity="critical",
        track_id=4,
        score=score,
        box=(1.0, 2.0, 3.0, 4.0),
        t=T0 + timedelta(seconds=offset_s),
        offset_s=offset_s,
        since_offset_s=offset_s - 0.4,
    )


def test_lifecycle_start_update_end() -> None:
    book = AlertBook()
    assert book.start(start_event(1.0)).kind == "start"
    assert book.is_open(KEY) and book.open_keys() == [KEY]
    assert book.observe(KEY, 0.62, (0, 0, 1, 1), T0, 1.2) is None  # +0.02: not worth a write
    update = book.observe(KEY, 0.7, (5.0, 5.0, 9.0, 9.0), T0 + timedelta(seconds=1.4), 1.4)
    assert update is not None
    assert (update.kind, update.score, update.box, update.offset_s) == ("update", 0.7, (5.0, 5.0, 9.0, 9.0), 1.4)
    assert update.since_offset_s == pytest.approx(0.6) and update.rule_id == "person_in_water"
    assert book.observe(KEY, 0.5, (6.0, 6.0, 9.0, 9.0), T0, 1.6) is None  # worse: no update
    end = book.end(KEY, T0 + timedelta(seconds=3), 3.0, cooldown_s=10)
    assert (end.kind, end.score, end.box, end.offset_s) == ("end", 0.7, (6.0, 6.0, 9.0, 9.0), 3.0)
    assert not book.is_open(KEY)


@pytest.mark.parametrize("gain, scores, updates", [(0.05, [0.64, 0.65, 0.69, 0.7], [0.65, 0.7]), (0.0, [0.61, 0.6], [0.61])])
def test_update_gain(gain: float, scores: list[float], updates: list[float]) -> None:
    book = AlertBook(update_min_gain=gain)
    book.start(start_event(0.0, score=0.6))
    seen = [e.score for i, s in enumerate(scores) if (e := book.observe(KEY, s, None, T0, 0.2 * (i + 1)))]
    assert seen == pytest.approx(updates)


@pytest.mark.parametrize("restart_at, allowed", [(12.9, False), (13.0, True), (40.0, True)])
def test_cooldown_after_end(restart_at: float, allowed: bool) -> None:
    book = AlertBook()
    book.start(start_event(1.0))
    book.end(KEY, T0, 3.0, cooldown_s=10)
    assert book.cooling(KEY, restart_at) is not allowed
    assert book.can_start(KEY, restart_at) is allowed
    assert book.can_start(("east_beach", "person_in_water", 5), 3.5)  # another track is not affected


def test_start_refuses_open_or_cooling_keys() -> None:
    book = AlertBook()
    book.start(start_event(1.0))
    with pytest.raises(ValueError, match="is open"):
        book.start(start_event(1.2))
    book.end(KEY, T0, 2.0, cooldown_s=5)
    with pytest.raises(ValueError, match="cools down until offset 7.00"):
        book.start(start_event(3.0))
    with pytest.raises(ValueError, match="start event"):
        book.start(replace(start_event(9.0), kind="end"))


def test_prune_forgets_expired_cooldowns_only() -> None:
    book = AlertBook()
    other = ("east_beach", "person_in_water", 5)
    book.start(start_event(0.0))
    book.start(replace(start_event(0.0), key=other, track_id=5))
    book.end(KEY, T0, 1.0, cooldown_s=2)
    book.end(other, T0, 1.0, cooldown_s=100)
    book.prune(5.0)
    assert book.can_start(KEY, 5.0) and not book.can_start(other, 5.0)
    assert book._cool_until == {other: 101.0}  # memory stays flat on long runs
