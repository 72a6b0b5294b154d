"""Train the demo detector on rendered frames, offline, on the CPU, and export it.

The model starts from a bare architecture yaml (no pretrained weights can
be fetched here). It trains on half-scale tiles and is meant to run on
whole 1280x720 frames at imgsz 640, where objects have the same pixel size
as in the tiles. Its headline figure is mAP50 on held-out *whole* frames at
imgsz 640, the way the monitor runs it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from monitor.synth.dataset import build_dataset
from monitor.synth.objects import CLASS_NAMES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    frames: int = 1500  # rendered training frames (two tiles each)
    val_frames: int = 200  # held-out frames: val tiles during training, whole frames at the end
    epochs: int = 7
    imgsz: int = 320  # tile side; inference runs whole frames at 2x this
    batch: int = 8  # small batches: more optimiser steps from the same CPU time
    scale: float = 0.5  # frames are shrunk by this before tiling: 1280x720 -> 640x360
    model: str = "yolo11n.yaml"  # an architecture yaml (from scratch) or a .pt to continue from
    data_dir: Path = Path("data/synth-dataset")
    out: Path = Path("models/lakeshore-demo")
    workers: int = 2
    seed: int = 0
    reuse_data: bool = False
    threads: int = 2
    hours: float | None = None  # wall-clock budget: ultralytics then fits the epoch count (and LR schedule) to it


def _offline_env(root: Path) -> None:
    # Ultralytics reads these at import: no downloads, settings kept out of $HOME.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str((root / ".yolo-config").resolve()))
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")


def train(s: TrainSettings) -> dict:
    """Render (or reuse) the dataset, train, validate on whole frames, export .pt and .onnx."""
    _offline_env(Path.cwd())
    t_start = time.monotonic()
    data_yaml = s.data_dir / "data.yaml"
    if not (s.reuse_data and data_yaml.exists()):
        if s.data_dir.exists():
            shutil.rmtree(s.data_dir)
        build_dataset(s.data_dir, s.frames, s.val_frames, s.scale, s.imgsz, s.seed, s.workers)
    t_data = time.monotonic() - t_start

    import torch
    from ultralytics import YOLO

    model = YOLO(s.model)

    def _threads(_trainer: object) -> None:
        # select_device() resets torch to os.cpu_count() - 1 threads: one on a two-core machine.
        torch.set_num_threads(s.threads)

    model.add_callback("on_pretrain_routine_end", _threads)
    model.add_callback("on_train_start", _threads)
    runs = (s.data_dir / "runs").resolve()
    t0 = time.monotonic()
    model.train(
        data=str(data_yaml.resolve()),
        epochs=s.epochs,
        imgsz=s.imgsz,
        batch=s.batch,
        device="cpu",
        workers=min(s.workers, 2),
        project=str(runs),
        name="train",
        exist_ok=True,
        pretrained=False,
        amp=False,
        plots=False,
        seed=s.seed,
        deterministic=True,
        cache="ram",
        # Short schedule from scratch: a brief warm-up (ultralytics' floor is 100 iterations) so the
        # few CPU iterations there are run at full learning rate; mosaic until the last epoch.
        warmup_epochs=0.1,
        close_mosaic=1 if s.epochs > 2 else 0,
        mosaic=1.0,
        scale=0.3,  # objects keep roughly the size they have at inference
        fliplr=0.5,
        hsv_v=0.5,
        patience=100,
        verbose=True,
        **({"time": s.hours} if s.hours else {}),
    )
    torch.set_num_threads(s.threads)  # ultralytics drops torch to one thread while training
    t_train = time.monotonic() - t0
    best = runs / "train" / "weights" / "best.pt"
    if not best.exists():
        best = runs / "train" / "weights" / "last.pt"

    s.out.mkdir(parents=True, exist_ok=True)
    trained = YOLO(str(best))
    full = trained.val(data=str((s.data_dir / "data-full.yaml").resolve()), imgsz=2 * s.imgsz, batch=8, device="cpu",
                       plots=False, project=str(runs), name="val-full", exist_ok=True, verbose=False, rect=True)
    per_class = {CLASS_NAMES[int(c)]: round(float(v), 4) for c, v in zip(full.box.ap_class_index, full.box.ap50)}
    shutil.copy(best, s.out / "best.pt")
    onnx_path = Path(trained.export(format="onnx", imgsz=2 * s.imgsz, simplify=False, opset=17, dynamic=False))
    shutil.copy(onnx_path, s.out / "best.onnx")
    (s.out / "names.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    metrics = {
        "model": s.model,
        "classes": list(CLASS_NAMES),
        "train_frames": s.frames,
        "train_tiles": 2 * s.frames,
        "val_frames": s.val_frames,
        "epochs": _epochs_run(runs / "train"),
        "tile_imgsz": s.imgsz,
        "inference_imgsz": 2 * s.imgsz,
        "map50_val_full_frames": round(float(full.box.map50), 4),
        "map50_95_val_full_frames": round(float(full.box.map), 4),
        "map50_per_class": per_class,
        "render_s": round(t_data, 1),
        "train_s": round(t_train, 1),
        "total_s": round(time.monotonic() - t_start, 1),
        "threads": s.threads,
        "hours": s.hours,
    }
    (s.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (s.out / "MODEL.md").write_text(model_card(metrics))
    log.info("metrics: %s", metrics)
    return metrics


def _epochs_run(run_dir: Path) -> int:
    """Epochs actually trained (with a time budget ultralytics picks the count itself)."""
    results = run_dir / "results.csv"
    if not results.exists():
        return 0
    return max(len(results.read_text().strip().splitlines()) - 1, 0)


def model_card(m: dict, evaluation: str = "") -> str:
    """MODEL.md: what the model is, how it was made, and its figures."""
    per_class = "\n".join(f"| {k} | {v:.3f} |" for k, v in m["map50_per_class"].items())
    budget = f"--hours {m['hours']}" if m.get("hours") else f"--epochs {m['epochs']}"
    cmd = f"python -m monitor.synth train --frames {m['train_frames']} --val-frames {m['val_frames']} {budget} --imgsz {m['tile_imgsz']}"
    return f"""# lakeshore-demo: the demo detector for the rendered sample scenes

A {m['model'].replace('.yaml', '')} detector trained from scratch (no pretrained weights) on frames of
the rendered lakeshore view (`monitor/synth`), on the CPU, fully offline. Classes:
{', '.join(f'`{c}`' for c in m['classes'])}. It knows the rendered scenes only: it is there so that
the whole pipeline (detection, tracking, zones, rules, clips, review) runs end to end on the sample
clips; it is not a model for real cameras.

- Files: `best.pt` (ultralytics), `best.onnx` (opset 17, input 1x3x{m['inference_imgsz']}x{m['inference_imgsz']}), `names.txt`, `metrics.json`.
- Run it on whole 1280x720 frames at **imgsz {m['inference_imgsz']}** (config `detector.imgsz`). It was trained on
  {m['tile_imgsz']} px tiles cut from frames shrunk to half size, so objects have the same pixel size in
  training and at imgsz {m['inference_imgsz']}.
- Training data: {m['train_frames']} rendered frames ({m['train_tiles']} tiles): summer and winter, day, dusk
  and night, clear, rain, snow and fog, sensor noise and JPEG artefacts; people walking, standing,
  sitting, fishing, wading, swimming and struggling, cars and SUVs, motor and rowing boats, rods, nets,
  gulls and buoys as distractors.
- Made with: `{cmd}` ({m['render_s'] / 60:.1f} min rendering, **{m['train_s'] / 60:.1f} min training**
  on {m['threads']} CPU threads; {m['epochs']} epochs).

## Held-out accuracy

{m['val_frames']} held-out rendered frames (seeds never used in training), whole frames at imgsz
{m['inference_imgsz']}: **mAP50 {m['map50_val_full_frames']:.3f}**, mAP50-95 {m['map50_95_val_full_frames']:.3f}.

| class | mAP50 |
|---|---|
{per_class}
{evaluation}"""
