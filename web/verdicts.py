"""What an officer may decide about an alert, and the pure check of a decision.

Reasons are stored as short codes (stable, so statistics survive a change of wording); the labels
are what the page shows. The false-alarm codes are the ones counted in the false-alarm rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ids import quoted

VERDICTS = ("confirm", "dismiss")

# code -> label, in the order the form offers them.
DISMISS_REASONS: dict[str, str] = {
    "waves_or_reflection": "False alarm: waves or reflection",
    "bird_or_animal": "False alarm: bird or animal",
    "shadow_or_light": "False alarm: shadow or light",
    "false_alarm_other": "False alarm: other",
    "duplicate": "Duplicate",
    "drill": "Drill",
    "handled_by_patrol": "Already handled by patrol",
}
FALSE_ALARM_REASONS = frozenset(
    {"waves_or_reflection", "bird_or_animal", "shadow_or_light", "false_alarm_other"}
)
NOTE_MAX_CHARS = 2000


class VerdictError(ValueError):
    """A verdict that cannot be stored; the message says what is allowed."""


@dataclass(frozen=True)
class Verdict:
    status: str  # "confirmed" | "dismissed"
    reason: str | None
    note: str | None


def parse_verdict(verdict: str | None, reason: str | None, note: str | None) -> Verdict:
    """Check a verdict as sent by a form or the API and return what to store."""
    verdict = (verdict or "").strip().lower()
    reason = (reason or "").strip() or None
    note = (note or "").strip() or None
    if verdict not in VERDICTS:
        raise VerdictError(f"verdict {quoted(verdict)} is not allowed: use one of {', '.join(VERDICTS)}")
    if note is not None and len(note) > NOTE_MAX_CHARS:
        raise VerdictError(f"the note has {len(note)} characters; at most {NOTE_MAX_CHARS} are allowed")
    if verdict == "confirm":
        if reason is not None:
            raise VerdictError("a confirmed alert takes no reason; write it in the note instead")
        return Verdict("confirmed", None, note)
    if reason is None:
        raise VerdictError(
            "dismissing needs a reason: one of " + ", ".join(DISMISS_REASONS)
        )
    if reason not in DISMISS_REASONS:
        raise VerdictError(
            f"reason {quoted(reason)} is not allowed: use one of {', '.join(DISMISS_REASONS)}"
        )
    return Verdict("dismissed", reason, note)


def reason_label(code: str | None) -> str:
    if code is None:
        return ""
    return DISMISS_REASONS.get(code, code)
