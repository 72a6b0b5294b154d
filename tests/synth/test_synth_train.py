"""The training command end to end on a toy set: render, train one epoch, export .pt and .onnx."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from monitor.synth.objects import CLASS_NAMES
from monitor.synth.train import TrainSettings, finish, fit, train


def test_tiny_training_run_exports_the_model(tmp_path: Path) -> None:
    out = tmp_path / "model"
    data = tmp_path / "data"
    metrics = train(TrainSettings(frames=6, val_frames=2, epochs=1, imgsz=160, batch=4, data_dir=data, out=out, workers=1))
    assert (out / "best.pt").stat().st_size > 1_000_000
    assert (out / "best.onnx").stat().st_size > 1_000_000
    assert (out / "names.txt").read_text().split() == list(CLASS_NAMES)
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 1
    assert 0.0 <= metrics["map50_val_full_frames"] <= 1.0
    # Labels on disk are YOLO rows for our five classes.
    rows = [line.split() for p in (data / "train" / "labels").glob("*.txt") for line in p.read_text().splitlines()]
    assert rows and all(len(r) == 5 and 0 <= int(r[0]) < len(CLASS_NAMES) for r in rows)
    assert (data / ".gitignore").read_text() == "*\n"

    from ultralytics import YOLO

    assert list(YOLO(str(out / "best.pt")).names.values()) == list(CLASS_NAMES)


def test_training_and_finishing_can_run_on_different_machines(tmp_path: Path) -> None:
    """`train --no-finish` on one machine, `finish` on another: the held-out frames are rendered again there."""
    data = tmp_path / "gpu-data"
    run = fit(TrainSettings(frames=4, val_frames=2, epochs=1, imgsz=160, batch=4, data_dir=data, out=tmp_path / "unused", workers=1))
    info = json.loads((run / "fit.json").read_text())
    assert info["epochs"] == 1 and info["val_frames"] == 2 and info["device"] == "2 CPU threads"

    elsewhere = tmp_path / "cpu-data"  # no dataset here yet
    out = tmp_path / "model"
    metrics = finish(run, elsewhere, out)
    # The same seeds give the same held-out frames as on the training machine.
    assert sorted(p.name for p in (elsewhere / "valfull" / "images").iterdir()) == sorted(p.name for p in (data / "valfull" / "images").iterdir())
    assert (elsewhere / "valfull" / "labels" / "0500000.txt").read_text() == (data / "valfull" / "labels" / "0500000.txt").read_text()
    assert (out / "best.onnx").exists() and metrics["epochs"] == 1
    assert "continued from" not in (out / "MODEL.md").read_text() and "from scratch" in (out / "MODEL.md").read_text()


def _first_epoch_box_loss(run: Path) -> float:
    header, first = (run / "results.csv").read_text().splitlines()[:2]
    return float(dict(zip([h.strip() for h in header.split(",")], first.split(",")))["train/box_loss"])


def test_a_pt_model_is_continued_from_not_restarted(tmp_path: Path) -> None:
    """--model X.pt must start from X's weights (ultralytics' pretrained=False would throw them away)."""
    data = tmp_path / "data"
    settings = TrainSettings(frames=4, val_frames=1, epochs=1, imgsz=320, batch=4, data_dir=data, out=tmp_path / "m", workers=1)
    scratch = _first_epoch_box_loss(fit(settings))
    committed = Path(__file__).resolve().parents[2] / "models" / "lakeshore-demo" / "best.pt"
    continued_run = fit(replace(settings, model=str(committed), reuse_data=True))
    continued = _first_epoch_box_loss(continued_run)
    # A trained detector starts far lower on the same frames (measured: ~1.7 against ~5).
    assert continued < 0.6 * scratch, (continued, scratch)
    assert json.loads((continued_run / "fit.json").read_text())["model"] == str(committed)
