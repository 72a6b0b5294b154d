"""Reading config.yaml with line numbers, and turning validation errors into ``file:line: path: message``.

Why this is its own module: the models in ``monitor.config`` say what a valid configuration is;
this module only deals with the file: parsing it, remembering where each key was written, and
pointing every error at that line. Neither needs the other's details, and together they were too
long to read as one module.

Why these choices:
- ruamel's round-trip loader remembers the line of every key and list item, so each error can
  read ``config.yaml:41: cameras.east_beach.zones.water.coordinates: <what is wrong>``.
- Nothing in the file can hang the loader or exhaust memory: the file's size, how deep values
  nest and how far YAML aliases expand are limited before anything is built from them, and YAML
  tags (``!!float``, ``!!python/...``) are refused: a config never needs them, and they are how
  odd values get in. Each refusal names the line, like every other error.
- Timestamps stay text: pydantic parses ISO 8601 (with offsets) itself and reports bad ones with
  the same wording as every other error.
- pydantic's error paths contain things the file does not (union tags, ``[key]``, keys left at
  their default), so paths are cut back to what exists, or to a field the model really has.
- ``ConfigError`` lives here because reading the file can already fail; ``monitor.config``
  re-exports it, which is where callers import it from.
"""

from __future__ import annotations

import codecs
import difflib
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

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

# Limits on what a config file may be. The shipped config.yaml is 15 kB, 8 levels deep and
# under 2,000 values; these leave room for a site with a hundred cameras and long waterlines while
# refusing, in well under a second, files that would hang the loader or exhaust memory: a
# "billion laughs" document (a few lines whose aliases expand to 10^9 values), thousands of
# nested brackets (Python's recursion limit), a multi-gigabyte file or /dev/zero.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_VALUES = 200_000


class _Refused(Exception):
    """The document is well-formed YAML but not something a config may contain (tags, huge expansions)."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.line = mark.line + 1 if mark is not None else None


def _written_tag(tag: Any) -> str:
    """A tag as it was written (``!!float``, ``!foo``), not its expanded URI."""
    handle = getattr(tag, "handle", None)
    return f"{handle or ''}{getattr(tag, 'suffix', tag)}"


class _Composer(Composer):
    """ruamel's composer with the limits above, checked while the node tree is built.

    Aliases are not copied while composing (an alias is the anchored node itself), so each node's
    expanded size and height are computed once from its children's and the whole check is linear
    in the file's length however far the aliases would expand later. A node whose size is not yet
    known when an alias points at it is one that contains itself.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader=loader)
        self.warn_double_anchors = False  # legal YAML: the later anchor wins, as the spec says
        self._shape: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, expanded height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._shape:
                raise _Refused(
                    f"the alias *{event.anchor} is used inside its own anchor &{event.anchor}: "
                    "a value that contains itself has no end; copy the values instead",
                    event.start_mark,
                )
            return node
        tag = getattr(event, "ctag", None)
        if tag is not None and str(tag) != "!":
            raise _Refused(
                f"YAML tags such as {_written_tag(tag)} are not used in a config: remove it and write "
                "the value plainly (numbers as 5 or 0.5, text in quotes, lists in [ ])",
                event.start_mark,
            )
        if self.depth >= MAX_DEPTH:
            raise _Refused(
                f"values nested more than {MAX_DEPTH} levels deep (a config needs about 8): "
                "check the brackets and the indentation here",
                event.start_mark,
            )
        node = super().compose_node(parent, index)
        self._measure(node)
        return node

    def _measure(self, node: Any) -> None:
        if isinstance(node, MappingNode):
            for key, _ in node.value:
                if not isinstance(key, ScalarNode):
                    raise _Refused(
                        "a key must be a plain name, not a list or a mapping (remove the '?' or the brackets)",
                        key.start_mark,
                    )
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            children = []
        shapes = [self._shape[id(c)] for c in children]
        size = 1 + sum(s for s, _ in shapes)
        height = 1 + max((h for _, h in shapes), default=0)
        if size > MAX_VALUES:
            raise _Refused(
                f"this value expands to more than {MAX_VALUES:,} values through YAML aliases (*name "
                "repeats what &name holds); a config needs far fewer: write the values out, or use "
                "fewer aliases",
                node.start_mark,
            )
        if height > MAX_DEPTH:
            raise _Refused(
                f"through YAML aliases this value nests more than {MAX_DEPTH} levels deep "
                "(a config needs about 8): use fewer nested aliases",
                node.start_mark,
            )
        self._shape[id(node)] = (size, height)


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


def _line_at(raw: bytes, offset: int) -> tuple[int, int]:
    """(line, column), both from 1, of a byte offset."""
    start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - start + 1


def _read_text(path: Path) -> str:
    """The file as text, refusing what is not a small UTF-8 text file before any YAML is parsed."""
    try:
        if path.is_dir():
            raise ConfigError([f"{path}: is a folder, not a config file"])
        if path.exists() and not path.is_file():
            raise ConfigError([f"{path}: is not a regular file (a device or a pipe?); give the path of config.yaml"])
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except OSError as e:
        raise ConfigError([f"{path}: cannot read the config file: {e.strerror or e}"]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [
                f"{path}: the file is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MB, so it was not read "
                "(and no line can be named); a config is a few kB: is this the right file?"
            ]
        )
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0  # Notepad saves one
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = bom + e.start
        line, col = _line_at(raw, offset)
        if e.end >= len(raw) - bom and e.reason == "unexpected end of data":
            what = "the file ends in the middle of a character: it looks cut off (truncated); restore it from a copy"
        else:
            what = f"byte 0x{raw[offset]:02x} is not UTF-8 text; save the file as UTF-8 (or retype that character)"
        raise ConfigError([f"{path}:{line}: at column {col} (byte offset {offset}): {what}"]) from None


def read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse the file: (plain data, line of each path). Raises ConfigError for I/O and syntax errors."""
    text = _read_text(path)
    yaml = YAML(typ="rt")
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    try:
        node = yaml.load(text)
    except _Refused as e:
        raise ConfigError([f"{path}:{e.line or 1}: {e.message}"]) from None
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}" if mark is not None else " (the parser gave no line)"
        what = " ".join(p for p in (e.context, e.problem) if p)
        if mark is not None and mark.index >= len(text.rstrip()):
            what += " (the file ends here: is it cut off? restore it from a copy, or close what is open)"
        raise ConfigError([f"{path}{where}: YAML syntax error: {what}"]) from None
    except ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise ConfigError(
            [f"{path}:{line}: the character {char} is not allowed in YAML ({e.reason}); delete it (a damaged file or a paste?)"]
        ) from None
    except YAMLError as e:
        raise ConfigError([f"{path} (the parser gave no line): YAML syntax error: {e}"]) from None
    if node is None:
        raise ConfigError(
            [
                f"{path}:1: the file is empty or only comments; it needs at least "
                "timezone, detector and cameras (start from the config.yaml that comes with the monitor)"
            ]
        )
    lines: dict[Loc, int] = {}
    return _plain(node, (), lines), lines


# --------------------------------------------------------------------------------------------
# Error paths and messages: pydantic's errors -> (path in the file, message people can act on).


_PLAIN_KEY_RE = re.compile(r"[\w-]+")


def format_loc(loc: Loc) -> str:
    """``cameras.east_beach.zones[0]``; a key that is not a plain word is quoted (``cameras['a b']``),
    so that a key holding a dot, a space or a line break cannot make the path ambiguous."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY_RE.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
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
        shown = repr(value)
        msg += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
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
