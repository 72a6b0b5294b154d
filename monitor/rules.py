"""The per-camera judge: tracked, classified detections in, alert events out.

The pipeline calls ``CameraJudge.step`` once per detection step (detect_fps). Each step:

1. one detection per track id (the best scoring, should a tracker ever repeat an id);
2. per track and zone, debounced presence (``zones.next_presence``): in after ``inertia_frames``
   consecutive steps with the anchor inside, out after as many steps outside;
3. tracks not seen are held (presence kept, alerts open) for ``lost_after_s`` (5 s by default, of
   video time whatever the rate of the steps), then they are gone, which counts as out of
   every zone. Why 5 s and not ~1 s: on real footage the detector loses a person standing still
   for up to ~4 s, longer than the tracker keeps an id, and a short hold would end the alert and
   start a second one for a person who never left. While held, a new tracker id that appears
   where the track was last seen (same category, moved at most about its own size) is taken to
   be that track (``_identities``), except where a disappear rule watches it. The cost: an
   object that walks out of the picture ends its alert 5 s late;
4. enter / dwell: an alert starts on a step where the track is seen, is in one of the rule's zones
   (for dwell: continuously for ``min_duration_s``), has one of the rule's categories, the schedule
   is active at the frame's local time, neither the rule nor that zone is muted, and the key is not
   cooling down. It is level-triggered: a person already in the water when the night schedule
   begins, a mute ends, or a cooldown runs out, starts an alert then. It stays open while the
   object is in any of the rule's zones and ends when it is out of all of them or gone;
5. disappear: a track last seen inside one of the rule's zones and unseen for ``disappear_after_s``
   fires once: ``start`` and ``end`` in the same step (a one-shot alarm; since_offset_s = last
   seen, so the clip shows the moment it went under). A drowning person is rarely re-acquired under
   the same track id, so waiting for "seen again" would leave alerts open forever. A track that
   reappears before the time is up cancels it.

The judge is deterministic: tracks are handled in ascending id order and rules in config order.
Cooldowns and times use the video offset (``offset_s``); schedules use the wall-clock ``t``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import supervision as sv

from monitor.alerts import AlertBook, AlertEvent, AlertKey, Box
from monitor.config import UNKNOWN, ResolvedCamera, RuleConfig
from monitor.schedule import schedule_active
from monitor.zones import Presence, anchor_points, camera_polygons, next_presence, points_in_polygon

log = logging.getLogger(__name__)

LOST_AFTER_S = 5.0


def _near(last: Box, box: np.ndarray) -> float | None:
    """Distance between box centres when close enough to be the same object, else None.

    Close enough: within the diagonal of the larger box, i.e. the object moved at most about its
    own size while unseen.
    """
    cx0, cy0 = (last[0] + last[2]) / 2, (last[1] + last[3]) / 2
    cx1, cy1 = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
    diag = max(
        math.hypot(last[2] - last[0], last[3] - last[1]), math.hypot(float(box[2] - box[0]), float(box[3] - box[1]))
    )
    dist = math.hypot(cx1 - cx0, cy1 - cy0)
    return dist if dist <= diag else None


def _same_kind(a: str, b: str) -> bool:
    """Could two sightings be one object? The same category, or one of them ``unknown``: a car the
    detector names on some steps is a moving blob (monitor.unknown) on the others."""
    return a == b or UNKNOWN in (a, b)


@dataclass(frozen=True)
class MuteSet:
    """Muted rule ids and zone names: no new alert starts for them (open ones run to their end)."""

    rules: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()


@dataclass
class _Track:
    track_id: int
    presence: dict[str, Presence]
    last_seen_s: float = 0.0
    box: Box = (0.0, 0.0, 0.0, 0.0)
    score: float = 0.0
    gone: bool = False
    seen_now: bool = False
    zones_in_last_seen: frozenset[str] = frozenset()
    categories: Counter[str] = field(default_factory=Counter)
    category_seen_at: dict[str, int] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # category -> latest model label
    disappear_done: set[str] = field(default_factory=set)  # disappear rule ids already judged
    rule_since: dict[str, float] = field(default_factory=dict)  # rule id -> condition began (offset)
    rule_best: dict[str, float] = field(default_factory=dict)  # rule id -> best score since then

    @property
    def category(self) -> str:
        """Majority category over the track's life (ties: the latest), so one odd frame does not flip it."""
        return max(self.categories, key=lambda c: (self.categories[c], self.category_seen_at[c]))

    @property
    def label(self) -> str:
        return self.labels[self.category]


class CameraJudge:
    """Applies one camera's rules to its tracked detections, step by step."""

    def __init__(
        self,
        camera: ResolvedCamera,
        rules: list[RuleConfig],
        tz: ZoneInfo,
        frame_wh: tuple[int, int],
        lost_after_s: float = LOST_AFTER_S,
    ) -> None:
        self.camera = camera
        self.tz = tz
        self.frame_wh = frame_wh
        self._zone_names = sorted(camera.zones)
        polygons = camera_polygons(camera, frame_wh)
        self._polygons = {name: polygons[name] for name in self._zone_names}
        self._rules: list[RuleConfig] = []
        self._rule_zones: dict[str, list[str]] = {}
        for rule in rules:
            names = [z for z in self._zone_names if z in rule.zones or camera.zones[z].kind in rule.zones]
            if names:
                self._rules.append(rule)
                self._rule_zones[rule.id] = names
            else:
                log.debug("camera %s has no zone for rule %s; rule skipped", camera.id, rule.id)
        self._in_force: set[str] = set()  # rule ids whose schedule was active at the last step
        self._lost_after_s = lost_after_s
        self._keep_gone_s = max((r.disappear_after_s for r in self._rules if r.type == "disappear"), default=0.0)
        self._tracks: dict[int, _Track] = {}
        self._alias: dict[int, int] = {}  # tracker id -> the judge's id of a re-identified track
        self._book = AlertBook()
        self._step_index = 0

    # ---- queries (for tests, the pipeline and the review overlay) -------------------------
    def rules(self) -> list[RuleConfig]:
        return list(self._rules)

    def in_zone(self, track_id: int, zone: str) -> bool:
        track = self._tracks.get(track_id)
        return bool(track and not track.gone and track.presence[zone].inside)

    def open_alerts(self) -> list[AlertKey]:
        return self._book.open_keys()

    def watching(self) -> bool:
        """Does the judge need every detection step now? (Motion gating keeps full rate while it does.)

        Yes while an alert is open; while a track of a category that a rule in force (at the last
        step) watches is in one of that rule's zones or on its way in (debouncing counts steps);
        and while a track last seen in a zone that a disappear rule watches may still raise it.
        """
        if self._book.open_keys():
            return True
        rules = [r for r in self._rules if r.id in self._in_force]
        for track in self._tracks.values():
            for rule in rules:
                if track.category not in rule.objects:
                    continue
                zones = self._rule_zones[rule.id]
                if track.gone:
                    if rule.type == "disappear" and track.zones_in_last_seen.intersection(zones):
                        return True
                elif any(track.presence[z].inside or track.presence[z].streak for z in zones):
                    return True
        return False

    # ---- the step ----------------------------------------------------------------------------
    def step(self, t: datetime, offset_s: float, dets: sv.Detections, muted: MuteSet = MuteSet()) -> list[AlertEvent]:
        """Judge one detection step; returns the alert events it caused, in a stable order."""
        if t.tzinfo is None:
            raise ValueError("step needs an aware datetime t (the frame's wall-clock time with its time zone)")
        self._step_index += 1
        local = t.astimezone(self.tz)
        active = {r.id: schedule_active(r.schedule, local) for r in self._rules}
        self._in_force = {rid for rid, on in active.items() if on}
        self._observe(dets, offset_s)
        events: list[AlertEvent] = []
        for tid in sorted(self._tracks):
            track = self._tracks[tid]
            for rule in self._rules:
                if rule.type == "disappear":
                    events.extend(self._judge_disappear(track, rule, t, offset_s, active[rule.id], muted))
                else:
                    events.extend(self._judge_presence(track, rule, t, offset_s, active[rule.id], muted))
        # Gone tracks are kept only as long as a disappear rule may still fire for them.
        expired = [i for i, tr in self._tracks.items() if tr.gone and offset_s - tr.last_seen_s >= self._keep_gone_s]
        for tid in expired:
            del self._tracks[tid]
        if expired:
            self._alias = {raw: tid for raw, tid in self._alias.items() if tid in self._tracks}
        self._book.prune(offset_s)
        return events

    def close_all(self, t: datetime, offset_s: float) -> list[AlertEvent]:
        """End every open alert (end of file, shutdown) and forget all tracks."""
        cooldown = {r.id: r.cooldown_s for r in self._rules}
        events = [self._book.end(key, t, offset_s, cooldown[key[1]]) for key in self._book.open_keys()]
        self._tracks.clear()
        self._alias.clear()
        return events

    # ---- hot reload (config.yaml edited while the camera runs) --------------------------------
    def reconfigure(
        self, camera: ResolvedCamera, rules: list[RuleConfig], t: datetime, offset_s: float
    ) -> list[AlertEvent]:
        """Take over new zones and rules between two steps, keeping tracks, open alerts and cooldowns.

        A zone whose polygon, anchor or inertia changed is judged afresh (every track's presence in
        it starts out, and is debounced again), as is a new zone; an unchanged zone keeps its state.
        Open alerts of a rule that no longer applies here end now (the events are returned); the
        others run on and end when their object leaves the rule's new zones.
        """
        old_zones, old_resolution = dict(self.camera.zones), self.camera.zones_resolution
        kept = (self._tracks, self._alias, self._book, self._step_index, self._in_force)
        ending = [key for key in self._book.open_keys() if key[1] not in {r.id for r in rules}]
        cooldown = {r.id: r.cooldown_s for r in self._rules}
        self.__init__(camera, rules, self.tz, self.frame_wh, self._lost_after_s)  # type: ignore[misc]
        self._tracks, self._alias, self._book, self._step_index, self._in_force = kept
        events = [self._book.end(key, t, offset_s, cooldown[key[1]]) for key in ending]
        # A rule that is still configured but no longer reaches any zone of this camera ends too.
        events += [
            self._book.end(key, t, offset_s, cooldown[key[1]])
            for key in self._book.open_keys()
            if key[1] not in self._rule_zones
        ]

        def same(name: str) -> bool:
            return old_zones.get(name) == camera.zones.get(name) and old_resolution == camera.zones_resolution

        for track in self._tracks.values():
            track.presence = {
                name: track.presence[name] if same(name) and name in track.presence else Presence()
                for name in self._zone_names
            }
            track.zones_in_last_seen = frozenset(n for n in track.zones_in_last_seen if same(n))
            for rid in [r for r in track.rule_since if r not in self._rule_zones]:
                track.rule_since.pop(rid, None)
                track.rule_best.pop(rid, None)
        return events

    # ---- internals -----------------------------------------------------------------------------
    def _observe(self, dets: sv.Detections, offset_s: float) -> None:
        """Update every track's presence from this step's detections (and count missing steps)."""
        for track in self._tracks.values():
            track.seen_now = False
        if len(dets) > 0:
            if dets.tracker_id is None:
                raise ValueError("step needs tracked detections (tracker_id set)")
            if "category" not in dets.data or "class_name" not in dets.data:
                raise ValueError("step needs classified detections (data['category'] and data['class_name'])")
            scores = dets.confidence if dets.confidence is not None else np.ones(len(dets), dtype=np.float32)
            tids = self._identities(dets)
            # Best detection per identity: sort by (id, -score) and take the first of each id.
            order = np.lexsort((-scores, tids))
            ids = tids[order]
            first = order[np.concatenate(([True], ids[1:] != ids[:-1]))]
            inside = {
                name: points_in_polygon(
                    anchor_points(dets.xyxy[first], self.camera.zones[name].anchor), self._polygons[name]
                )
                for name in self._zone_names
            }
            for row, idx in enumerate(first):
                self._see(int(tids[idx]), idx, row, dets, scores, inside, offset_s)
        for track in self._tracks.values():
            # Gone after lost_after_s unseen, in video time rather than in steps: with motion gating
            # steps come at the full rate only while something of interest is near a zone, and a
            # walker seen once a second would otherwise be held for 25 s (and its id lent to the
            # next person who appears where it was last seen).
            if not track.seen_now and not track.gone:
                if offset_s - track.last_seen_s >= self._lost_after_s - 1e-6:
                    track.gone = True
                    track.presence = {name: Presence() for name in self._zone_names}
                    track.rule_since.clear()
                    track.rule_best.clear()

    def _identities(self, dets: sv.Detections) -> np.ndarray:
        """The judge's track id for each detection: the tracker's, or an earlier one it re-identifies.

        A detector can miss a person standing still for seconds (seen on real footage: 4 s), longer
        than the tracker keeps an id, so the person comes back under a new id. A new id whose box
        is near where a held (unseen, not yet gone) track of the same category (or where one of them
        is ``unknown``) was last seen is
        taken to be that track, so its open alert continues instead of a second alert starting.
        Never done for a track last seen in a zone that a disappear rule watches: someone else
        swimming to where a person went under must not cancel the drowning alarm.
        """
        raw = np.asarray(dets.tracker_id, dtype=int)
        tids = np.array([self._alias.get(int(r), int(r)) for r in raw], dtype=int)
        present = {int(t) for t in tids if int(t) in self._tracks}
        claimed: set[int] = set()
        for row in np.argsort(raw, kind="stable"):
            rid = int(raw[row])
            if rid in self._alias or rid in self._tracks:
                continue
            box = dets.xyxy[row]
            category = str(dets.data["category"][row])
            best: tuple[float, int] | None = None
            for tid, track in self._tracks.items():
                if (
                    track.gone
                    or tid in present
                    or tid in claimed
                    or not _same_kind(track.category, category)
                    or self._watched_for_disappear(track)
                ):
                    continue
                dist = _near(track.box, box)
                if dist is not None and (best is None or (dist, tid) < best):
                    best = (dist, tid)
            if best is not None:
                self._alias[rid] = best[1]
                tids[row] = best[1]
                claimed.add(best[1])
                log.debug("camera %s: track %d re-identified as %d", self.camera.id, rid, best[1])
        return tids

    def _watched_for_disappear(self, track: _Track) -> bool:
        return any(
            r.type == "disappear"
            and track.category in r.objects
            and track.zones_in_last_seen.intersection(self._rule_zones[r.id])
            for r in self._rules
        )

    def _see(
        self,
        tid: int,
        idx: int,
        row: int,
        dets: sv.Detections,
        scores: np.ndarray,
        inside: dict[str, np.ndarray],
        offset_s: float,
    ) -> None:
        track = self._tracks.get(tid)
        if track is None or track.gone:
            # New, or back after being gone: start afresh (cooldowns live in the AlertBook and stay).
            track = _Track(tid, {name: Presence() for name in self._zone_names})
            self._tracks[tid] = track
        category = str(dets.data["category"][idx])
        track.categories[category] += 1
        track.category_seen_at[category] = self._step_index
        track.labels[category] = str(dets.data["class_name"][idx])
        x1, y1, x2, y2 = (float(v) for v in dets.xyxy[idx])
        track.box = (x1, y1, x2, y2)
        track.score = float(scores[idx])
        track.last_seen_s = offset_s
        track.seen_now = True
        for name in self._zone_names:
            zone = self.camera.zones[name]
            track.presence[name] = next_presence(
                track.presence[name], bool(inside[name][row]), offset_s, zone.inertia_frames
            )
        track.zones_in_last_seen = frozenset(n for n in self._zone_names if track.presence[n].inside)

    def _start_event(
        self, track: _Track, rule: RuleConfig, zone: str, t: datetime, offset_s: float, since: float, score: float
    ) -> AlertEvent:
        return AlertEvent(
            kind="start",
            key=(self.camera.id, rule.id, track.track_id),
            rule_id=rule.id,
            zone=zone,
            zone_kind=self.camera.zones[zone].kind,
            category=track.category,
            label=track.label,
            severity=rule.severity,
            track_id=track.track_id,
            score=score,
            box=track.box,
            t=t,
            offset_s=offset_s,
            since_offset_s=since,
        )

    def _judge_presence(
        self, track: _Track, rule: RuleConfig, t: datetime, offset_s: float, active: bool, muted: MuteSet
    ) -> list[AlertEvent]:
        key: AlertKey = (self.camera.id, rule.id, track.track_id)
        in_zones = [] if track.gone else [z for z in self._rule_zones[rule.id] if track.presence[z].inside]
        holds = bool(in_zones) and track.category in rule.objects
        if not holds:
            track.rule_since.pop(rule.id, None)
            track.rule_best.pop(rule.id, None)
            if self._book.is_open(key):
                return [self._book.end(key, t, offset_s, rule.cooldown_s)]
            return []
        if rule.id not in track.rule_since:
            firsts = [track.presence[z].first_in_offset_s for z in in_zones]
            track.rule_since[rule.id] = min(f for f in firsts if f is not None)
            track.rule_best[rule.id] = 0.0
        if not track.seen_now:
            return []  # held while the tracker may bring it back; nothing new to report
        track.rule_best[rule.id] = max(track.rule_best[rule.id], track.score)
        if self._book.is_open(key):
            update = self._book.observe(key, track.rule_best[rule.id], track.box, t, offset_s)
            return [update] if update else []
        since = track.rule_since[rule.id]
        if rule.type == "dwell" and offset_s - since < rule.min_duration_s:
            return []
        free = [z for z in in_zones if z not in muted.zones]
        if not active or rule.id in muted.rules or not free or not self._book.can_start(key, offset_s):
            return []
        event = self._start_event(track, rule, free[0], t, offset_s, since, track.rule_best[rule.id])
        return [self._book.start(event)]

    def _judge_disappear(
        self, track: _Track, rule: RuleConfig, t: datetime, offset_s: float, active: bool, muted: MuteSet
    ) -> list[AlertEvent]:
        if track.seen_now:
            track.disappear_done.discard(rule.id)  # seen again: a later disappearance counts anew
            return []
        zones = [z for z in self._rule_zones[rule.id] if z in track.zones_in_last_seen]
        if (
            not zones
            or rule.id in track.disappear_done
            or track.category not in rule.objects
            or offset_s - track.last_seen_s < rule.disappear_after_s
        ):
            return []
        track.disappear_done.add(rule.id)  # judged once, whether or not it may fire now
        key: AlertKey = (self.camera.id, rule.id, track.track_id)
        free = [z for z in zones if z not in muted.zones]
        if not active or rule.id in muted.rules or not free or not self._book.can_start(key, offset_s):
            return []
        start = self._book.start(self._start_event(track, rule, free[0], t, offset_s, track.last_seen_s, track.score))
        return [start, self._book.end(key, t, offset_s, rule.cooldown_s)]
