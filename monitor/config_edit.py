"""Writing zones back into config.yaml: the file keeps its comments, order and layout.

The review page's zone editor saves a camera's zones here. The edit is made on ruamel.yaml's
round-trip document (only the camera's ``zones`` mapping changes: a zone keeps its other keys,
such as ``inertia_frames`` and ``anchor``, and its comments), written beside the file under a
temporary name, validated by ``load_config`` (so the errors, their lines and their wording are
exactly those of ``check-config``) and only then renamed over the file. A refused edit leaves the
file as it was.

The current file is first read through the hardened loader (``load_config``): a file that is
already broken, or hostile, is never parsed by the plain round-trip loader.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from monitor.config import AppConfig, ConfigError, load_config

MAX_ZONES = 100
DECIMALS = 4  # fractions of the frame: 1/10,000 of a 4K frame's width is under half a pixel


@dataclass(frozen=True)
class ZoneEdit:
    """One zone as the editor sends it: coordinates are fractions of the frame."""

    name: str
    kind: str
    coordinates: Sequence[Sequence[float]]


class StaleConfigError(ConfigError):
    """The file changed since the editor read it: saving would undo someone else's change."""


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # the shipped layout: "  - id: ..." under "rules:"
    yaml.width = 1 << 16  # never re-wrap a long line (a waterline of 40 corners stays on its line)
    return yaml


def _coords(points: Sequence[Sequence[float]]) -> CommentedSeq:
    out = CommentedSeq()
    for x, y in points:
        pair = CommentedSeq([_num(x), _num(y)])
        pair.fa.set_flow_style()
        out.append(pair)
    out.fa.set_flow_style()
    return out


def _num(v: float) -> float:
    v = float(v)
    # Not finite: written as .nan/.inf, which the validation then names on its line.
    return round(v, DECIMALS) if math.isfinite(v) else v


def apply_zones(text: str, camera_id: str, zones: Sequence[ZoneEdit]) -> str:
    """The config text with ``camera_id``'s zones replaced by ``zones`` (pure; not validated)."""
    yaml = _yaml()
    doc = yaml.load(text)
    cameras = doc.get("cameras") if isinstance(doc, dict) else None
    if not isinstance(cameras, dict) or camera_id not in cameras or not isinstance(cameras[camera_id], dict):
        raise ConfigError([f"camera {camera_id!r} is not in the config file"])
    cam = cameras[camera_id]
    node = cam.get("zones")
    if not isinstance(node, dict):
        node = CommentedMap()
        cam["zones"] = node
    wanted = {z.name: z for z in zones}
    for name in [n for n in node if n not in wanted]:
        del node[name]
    for z in zones:
        old = node.get(z.name)
        if isinstance(old, dict):
            old["kind"] = z.kind
            old["coordinates"] = _coords(z.coordinates)
        else:
            new = CommentedMap([("kind", z.kind), ("coordinates", _coords(z.coordinates))])
            new.fa.set_flow_style()
            node[z.name] = new
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def save_zones(
    path: Path, camera_id: str, zones: Sequence[ZoneEdit], *, expect_digest: str | None = None
) -> tuple[AppConfig, dict[str, Any], dict[str, Any]]:
    """Write ``camera_id``'s zones into the config file at ``path`` when the result is valid.

    Returns (the new configuration, the camera's zones before, after) for the audit log. Raises
    ConfigError with check-config's messages (naming ``path``) when the result is invalid,
    StaleConfigError when the file's digest is no longer ``expect_digest``; the file is unchanged then.
    """
    path = Path(path)
    if len(zones) > MAX_ZONES:
        raise ConfigError([f"{path}: at most {MAX_ZONES} zones per camera, got {len(zones)}"])
    before_cfg = load_config(path)  # the hardened reader first: never edit a file it refuses
    raw = path.read_bytes()
    if expect_digest is not None and digest(raw) != expect_digest:
        raise StaleConfigError([
            f"{path} changed since the editor was opened (by someone else, or by hand); "
            "reload the page and make the change again"
        ])  # fmt: skip
    text = apply_zones(raw.decode("utf-8-sig"), camera_id, zones)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".saving", dir=path.parent)
    except OSError as e:
        raise ConfigError([f"{path}: cannot write beside it ({e.strerror or e}); the review page needs write "
                           "access to the config file's folder to save zones"]) from None  # fmt: skip
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            after_cfg = load_config(tmp)
        except ConfigError as e:
            # Validated under a temporary name in the same folder (relative paths resolve the same):
            # the messages name the real file, as check-config would.
            raise ConfigError([m.replace(str(tmp), str(path)) for m in e.errors]) from None
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError([f"{path}: could not be saved ({e.strerror or e}); it is unchanged"]) from None
    finally:
        tmp.unlink(missing_ok=True)

    def dump(cfg: AppConfig) -> dict[str, Any]:
        return {n: z.model_dump(mode="json") for n, z in cfg.cameras[camera_id].zones.items()}

    return after_cfg, dump(before_cfg), dump(after_cfg)
