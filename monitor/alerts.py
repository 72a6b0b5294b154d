"""The alert lifecycle: start -> update* -> end for one (camera, rule, track), then a cooldown.

``AlertEvent`` is what the judge hands to the pipeline (which records clips and writes the store).
``AlertBook`` holds the open alerts and cooldowns of one camera. It decides nothing about zones or
rules: it only enforces "one open alert per key", "no restart within cooldown_s of its end" and
"an update only when the score has really improved" (so the store is written a few times per
alert, not at every detection step).

All times for cooldowns are video offsets (seconds since the source started): they always run
forward and replay the same way every time, unlike a wall clock that can be set back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

log = logging.getLogger(__name__)

AlertKey = tuple[str, str, int]  # (camera id, rule id, track id)
Box = tuple[float, float, float, float]

# A new best score must beat the last reported one by this much before an update is sent:
# detector scores wobble by a few hundredths from frame to frame.
UPDATE_MIN_GAIN = 0.05


@dataclass(frozen=True)
class AlertEvent:
    """One change of one alert.

    ``box`` is the box in the frame at ``offset_s`` for start and update; for end and for disappear
    alerts it is the box where the object was last seen. ``since_offset_s`` is when the condition
    began (first step counted inside for enter/dwell, last seen for disappear): a clip starts
    pre_capture_s before it.
    """

    kind: Literal["start", "update", "end"]
    key: AlertKey
    rule_id: str
    zone: str
    zone_kind: str
    category: str
    label: str
    severity: str
    track_id: int
    score: float
    box: Box | None
    t: datetime
    offset_s: float
    since_offset_s: float


@dataclass(frozen=True)
class _Open:
    start: AlertEvent  # the start event; later events copy its identity fields
    best_score: float
    reported_score: float
    box: Box | None


class AlertBook:
    """Open alerts and cooldowns of one camera."""

    def __init__(self, update_min_gain: float = UPDATE_MIN_GAIN) -> None:
        self._open: dict[AlertKey, _Open] = {}
        self._cool_until: dict[AlertKey, float] = {}  # key -> offset_s before which it may not start
        self._gain = update_min_gain

    def is_open(self, key: AlertKey) -> bool:
        return key in self._open

    def open_keys(self) -> list[AlertKey]:
        return sorted(self._open)

    def cooling(self, key: AlertKey, offset_s: float) -> bool:
        return offset_s < self._cool_until.get(key, float("-inf"))

    def can_start(self, key: AlertKey, offset_s: float) -> bool:
        return key not in self._open and not self.cooling(key, offset_s)

    def start(self, event: AlertEvent) -> AlertEvent:
        """Open the alert described by a ``start`` event (raises if it is open or cooling down)."""
        if event.kind != "start":
            raise ValueError(f"AlertBook.start needs a start event, got {event.kind!r}")
        if not self.can_start(event.key, event.offset_s):
            why = (
                "is open"
                if event.key in self._open
                else f"cools down until offset {self._cool_until[event.key]:.2f} s"
            )
            raise ValueError(f"alert {event.key} cannot start at offset {event.offset_s:.2f} s: it {why}")
        self._open[event.key] = _Open(event, event.score, event.score, event.box)
        return event

    def observe(
        self, key: AlertKey, score: float, box: Box | None, t: datetime, offset_s: float
    ) -> AlertEvent | None:
        """Record one more detection of an open alert's object; an ``update`` when the score improved enough."""
        entry = self._open[key]
        best = max(entry.best_score, score)
        # The tolerance keeps a gain of exactly 0.05 from being lost to float rounding.
        improved = best > entry.reported_score and best - entry.reported_score >= self._gain - 1e-9
        self._open[key] = replace(
            entry, best_score=best, box=box, reported_score=best if improved else entry.reported_score
        )
        if not improved:
            return None
        return replace(entry.start, kind="update", score=best, box=box, t=t, offset_s=offset_s)

    def end(self, key: AlertKey, t: datetime, offset_s: float, cooldown_s: float) -> AlertEvent:
        """Close an open alert; the same key may not start again until ``offset_s + cooldown_s``."""
        entry = self._open.pop(key)
        self._cool_until[key] = offset_s + cooldown_s
        return replace(entry.start, kind="end", score=entry.best_score, box=entry.box, t=t, offset_s=offset_s)

    def prune(self, offset_s: float) -> None:
        """Forget cooldowns that have run out (keeps memory flat on a camera that runs for months)."""
        for key in [k for k, until in self._cool_until.items() if until <= offset_s]:
            del self._cool_until[key]
