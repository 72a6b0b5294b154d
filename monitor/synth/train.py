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
    device: str = "cpu"  # or a CUDA index such as "0"


def _offline_env(root: Path) -> None:
    # Ultralytics reads these at import: no downloads, settings kept out of $HOME.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str((root / ".yolo-config").resolve()))
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")


def train(s: TrainSettings) -> dict:
    """Render (or reuse) the dataset, train, then :func:`finish`: validate on whole frames and export."""
    return finish(fit(s), s.data_dir, s.out, s.device)


def fit(s: TrainSettings) -> Path:
    """Render (or reuse) the dataset and train. Returns the run folder: weights plus ``fit.json``.

    Kept apart from :func:`finish` so training can run on a GPU machine and the
    held-out check and export run where the model will be used.
    """
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
        device=s.device,
        # On the CPU the loader shares two cores with training; on a GPU it is the bottleneck.
        workers=s.workers if s.device != "cpu" else min(s.workers, 2),
        project=str(runs),
        name="train",
        exist_ok=True,
        pretrained=s.model.endswith(".pt"),  # a .pt is continued from; a yaml starts from scratch
        amp=False,  # AMP's self-check downloads a model: not possible offline
        plots=False,
        seed=s.seed,
        deterministic=s.device == "cpu",  # bit-for-bit on the CPU; on a GPU speed matters more
        cache="ram",
        # Short schedules from scratch: a brief warm-up (ultralytics' floor is 100 iterations) so the
        # few CPU iterations there are run at full learning rate; mosaic off for the last tenth.
        warmup_epochs=0.1,
        # With a time budget ultralytics fits the epoch count after the first epoch: keep it to the last one.
        close_mosaic=1 if s.hours else (min(10, max(1, s.epochs // 10)) if s.epochs > 2 else 0),
        mosaic=1.0,
        scale=0.3,  # objects keep roughly the size they have at inference
        fliplr=0.5,
        hsv_v=0.5,
        patience=100,
        verbose=True,
        **({"time": s.hours} if s.hours else {}),
    )
    torch.set_num_threads(s.threads)  # ultralytics drops torch to one thread while training
    run = runs / "train"
    info = {
        "model": s.model,
        "train_frames": s.frames,
        "train_tiles": 2 * s.frames,
        "val_frames": s.val_frames,
        "epochs": _epochs_run(run),
        "tile_imgsz": s.imgsz,
        "inference_imgsz": 2 * s.imgsz,
        "scale": s.scale,
        "render_s": round(t_data, 1),
        "train_s": round(time.monotonic() - t0, 1),
        "device": _device_name(s.device, s.threads),
        "hours": s.hours,
        "batch": s.batch,
    }
    (run / "fit.json").write_text(json.dumps(info, indent=2) + "\n")
    return run


def _device_name(device: str, threads: int) -> str:
    if device == "cpu":
        return f"{threads} CPU threads"
    import torch

    first = device.split(",")[0]  # "0" or "0,1": name the first
    return torch.cuda.get_device_name(int(first) if first.isdigit() else None)


def finish(run: Path, data_dir: Path, out: Path, device: str = "cpu") -> dict:
    """Score a trained run on held-out whole frames, export .pt and .onnx into ``out``, write the card.

    ``run`` holds ``weights/best.pt`` (or ``last.pt``) and ``fit.json`` as :func:`fit` left them. The
    held-out frames are rendered here if ``data_dir`` lacks them (same seeds, same frames).
    """
    _offline_env(Path.cwd())
    from ultralytics import YOLO

    info = json.loads((run / "fit.json").read_text())
    full_yaml = data_dir / "data-full.yaml"
    if not full_yaml.exists():
        build_dataset(data_dir, 0, info["val_frames"], info["scale"], info["tile_imgsz"])
    best = run / "weights" / "best.pt"
    if not best.exists():
        best = run / "weights" / "last.pt"
    out.mkdir(parents=True, exist_ok=True)
    trained = YOLO(str(best))
    full = trained.val(data=str(full_yaml.resolve()), imgsz=info["inference_imgsz"], batch=8, device=device, plots=False,
                       project=str((data_dir / "runs").resolve()), name="val-full", exist_ok=True, verbose=False, rect=True)
    per_class = {CLASS_NAMES[int(c)]: round(float(v), 4) for c, v in zip(full.box.ap_class_index, full.box.ap50)}
    shutil.copy(best, out / "best.pt")
    onnx_path = Path(trained.export(format="onnx", imgsz=info["inference_imgsz"], simplify=False, opset=17, dynamic=False))
    shutil.copy(onnx_path, out / "best.onnx")
    (out / "names.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    metrics = {
        **info,
        "classes": list(CLASS_NAMES),
        "map50_val_full_frames": round(float(full.box.map50), 4),
        "map50_95_val_full_frames": round(float(full.box.map), 4),
        "map50_per_class": per_class,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "MODEL.md").write_text(model_card(metrics))
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
    device = m.get("device", f"{m.get('threads', 2)} CPU threads")
    extra = "" if m["model"] == "yolo11n.yaml" else f" --model {m['model']}"
    extra += "" if "CPU" in device else f" --device 0 --batch {m['batch']}"
    cmd = (f"python -m monitor.synth train --frames {m['train_frames']} --val-frames {m['val_frames']} {budget} "
           f"--imgsz {m['tile_imgsz']}{extra}")
    origin = ("trained from scratch (no pretrained weights)" if m["model"].endswith(".yaml")
              else f"continued from `{m['model']}` (the project's own earlier model; no outside weights)")
    return f"""# lakeshore-demo: the demo detector for the rendered sample scenes

A yolo11n detector {origin}
on frames of the rendered lakeshore view (`monitor/synth`), fully offline. Classes: {', '.join(f'`{c}`' for c in m['classes'])}. It knows the rendered scenes only: it is
there so that the whole pipeline (detection, tracking, zones, rules, clips, review) runs end to end on
the sample clips; it is not a model for real cameras.

- Files: `best.pt` (ultralytics), `best.onnx` (opset 17, input 1x3x{m['inference_imgsz']}x{m['inference_imgsz']}), `names.txt`, `metrics.json`.
- Run it on whole 1280x720 frames at **imgsz {m['inference_imgsz']}** (config `detector.imgsz`). It was trained on
  {m['tile_imgsz']} px tiles cut from frames shrunk to half size, so objects have the same pixel size in
  training and at imgsz {m['inference_imgsz']}.
- Training data: {m['train_frames']} rendered frames ({m['train_tiles']} tiles): summer and winter, day, dusk
  and night, clear, rain, snow and fog, sensor noise and JPEG artefacts; people walking, standing,
  sitting, fishing, wading, swimming and struggling, cars and SUVs, motor and rowing boats, rods, nets,
  gulls and buoys as distractors.
- Made with: `{cmd}` ({m['render_s'] / 60:.1f} min rendering, **{m['train_s'] / 60:.1f} min training**
  on {device}; {m['epochs']} epochs).

## Held-out accuracy

{m['val_frames']} held-out rendered frames (seeds never used in training), whole frames at imgsz
{m['inference_imgsz']}: **mAP50 {m['map50_val_full_frames']:.3f}**, mAP50-95 {m['map50_95_val_full_frames']:.3f}.

| class | mAP50 |
|---|---|
{per_class}
{evaluation}"""
