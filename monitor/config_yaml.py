"""Reading config.yaml with line numbers, and turning validation errors into ``file:line: path: message``.

Why this is its own module: the models in ``monitor.config`` say what a valid configuration is;
this module only deals with the file: parsing it, remembering where each key was written, and
pointing every error at that line. Neither needs the other's details, and together they were too
long to read as one module.

Why these choices:
- ruamel's round-trip loader remembers the line of every key and list item, so each error can
  read ``config.yaml:41: cameras.east_beach.zones.water.coordinates: <what is wrong>``.
- Timestamps stay text: pydantic parses ISO 8601 (with offsets) itself and reports bad ones with
  the same wording as every other error.
- pydantic's error paths contain things the file does not (union tags, ``[key]``, keys left at
  their default), so paths are cut back to what exists, or to a field the model really has.
- ``ConfigError`` lives here because reading the file can already fail; ``monitor.config``
  re-exports it, which is where callers import it from.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """The configuration cannot be used. ``errors`` holds one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)


# --------------------------------------------------------------------------------------------
# Reading: YAML -> plain data plus the line of every path.


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that leaves timestamps as text (pydantic parses ISO 8601 with offsets)."""


def _timestamp_as_text(self: RoundTripConstructor, node: Any) -> Any:
    return self.construct_scalar(node)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _plain(node: Any, loc: Loc, lines: dict[Loc, int]) -> Any:
    """ruamel's commented tree -> plain dicts/lists/scalars, recording the line of every path."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key in node:
            k = _plain_scalar(key)
            try:
                lines[loc + (k,)] = node.lc.key(key)[0] + 1
            except KeyError:  # a key brought in by a `<<: *anchor` merge has no line of its own here
                lines[loc + (k,)] = lines.get(loc, 1)
            out[k] = _plain(node[key], loc + (k,), lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, item in enumerate(node):
            lines[loc + (i,)] = node.lc.item(i)[0] + 1
            items.append(_plain(item, loc + (i,), lines))
        return items
    return _plain_scalar(node)


def _plain_scalar(v: Any) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return bool(v) if type(v).__name__ == "ScalarBoolean" else int(v)
    if isinstance(v, float):
        return float(v)
    return v


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse the file: (plain data, line of each path). Raises ConfigError for I/O and syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a folder, not a config file"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"{path}: cannot read the config file: {e}"]) from None
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        node = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        what = " ".join(p for p in (e.context, e.problem) if p)
        raise ConfigError([f"{path}{line}: YAML syntax error: {what}"]) from None
    except YAMLError as e:
        raise ConfigError([f"{path}: YAML syntax error: {e}"]) from None
    if node is None:
        raise ConfigError([f"{path}: the file is empty; it needs at least timezone, detector and cameras"])
    lines: dict[Loc, int] = {}
    return _plain(node, (), lines), lines


# --------------------------------------------------------------------------------------------
# Error paths and messages: pydantic's errors -> (path in the file, message people can act on).


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def existing_prefix(data: Any, loc: Loc) -> Loc:
    """The longest prefix of ``loc`` that exists in ``data`` (drops pydantic's union tags, '[key]', ...)."""
    node, n = data, 0
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        n += 1
    return loc[:n]


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` to reach the type that validates a value."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` under ``root`` (for listing its allowed keys)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def error_loc(root: type[BaseModel], data: Any, err: Mapping[str, Any]) -> Loc:
    """Where in ``data`` a pydantic error of ``root`` belongs: a path the file has, or a field the model has."""
    loc = tuple(err["loc"])
    if err["type"] == "missing":
        return existing_prefix(data, loc[:-1])
    where = existing_prefix(data, loc)
    # A check on a key the file leaves at its default: name that key in the path.
    while len(where) < len(loc):
        model_here = model_at(root, where)
        if model_here is None or loc[len(where)] not in model_here.model_fields:
            break
        where = loc[: len(where) + 1]
    return where


def error_message(root: type[BaseModel], err: Mapping[str, Any]) -> str:
    """pydantic's message for one error of ``root``, reworded to say what is wrong and what is allowed."""
    kind, msg, value = err["type"], str(err["msg"]), err.get("input")
    if kind == "extra_forbidden":
        key = err["loc"][-1]
        model = model_at(root, tuple(err["loc"][:-1]))
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listing = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {key!r}{hint}{listing}"
    if kind == "missing":
        return f"missing required key {err['loc'][-1]!r}"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if msg.startswith("Input should"):
        msg = "should" + msg[len("Input should") :]
    if isinstance(value, (str, int, float, bool)) or value is None:
        msg += f" (got {value!r})"
    elif isinstance(value, (list, dict)):
        msg += f" (got a {'list' if isinstance(value, list) else 'mapping'})"
    return msg


def line_of(lines: Mapping[Loc, int], loc: Loc) -> int:
    """The line of ``loc``, or of its nearest parent the file has (1 when none)."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def format_errors(path: Path, issues: list[tuple[Loc, str]], lines: Mapping[Loc, int]) -> list[str]:
    """``file:line: path: message`` for each issue, in file order."""
    ordered = sorted(issues, key=lambda i: (line_of(lines, i[0]), format_loc(i[0])))
    return [f"{path}:{line_of(lines, loc)}: {format_loc(loc)}: {msg}" for loc, msg in ordered]
