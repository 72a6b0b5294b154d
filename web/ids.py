"""Row ids from requests, checked once: in the URL by the ``id`` converter, in forms, query strings
and JSON by ``parse_id``.

SQLite stores an INTEGER as a signed 64-bit number. Python hands it any int, and one of 2^63 or
more raises OverflowError deep inside a query: a 500 instead of "there is no such alert". So an id
is only ASCII digits (``int()`` would also take " 1", "1_0" and Arabic-Indic digits) within
1 .. 2^63-1 before any query sees it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort, request
from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))
QUOTED_CHARS = 40


class IdError(ValueError):
    """A value that is not an id; the message names the parameter and the allowed range."""


def quoted(value: Any) -> str:
    """A request value quoted in an error message, cut short: a message must not echo a megabyte
    back (nor grow a session cookie past what a browser keeps, when it is flashed)."""
    text = repr(value)
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 4] + "…" + text[-3:]


def parse_id(raw: Any, name: str, *, lo: int = 1) -> int:
    """``raw`` (a string of ASCII digits) as an id from ``lo`` to ``MAX_ID``, or ``IdError``."""
    if isinstance(raw, str) and 0 < len(raw) <= _MAX_DIGITS and raw.isascii() and raw.isdigit():
        value = int(raw)
        if lo <= value <= MAX_ID:
            return value
    raise IdError(f"{name} must be a whole number from {lo} to {MAX_ID}, not {quoted(raw)}")


D = TypeVar("D", int, None)


def id_arg(name: str, default: D, *, lo: int = 1) -> int | D:
    """The id in query parameter ``name`` (``default`` when it is absent or empty), or a 400 that
    says what is allowed."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        return parse_id(raw, name, lo=lo)
    except IdError as e:
        abort(400, description=str(e))


class IdConverter(BaseConverter):
    """``<id:alert_id>``: a URL part that can be a row id. Anything else matches no route, so the
    answer is the usual 404, as for an id that has no row."""

    regex = r"[0-9]{1,%d}" % _MAX_DIGITS
    part_isolating = True

    def to_python(self, value: str) -> int:
        try:
            return parse_id(value, "id")
        except IdError:
            raise ValidationError() from None

    def to_url(self, value: Any) -> str:
        return str(int(value))
