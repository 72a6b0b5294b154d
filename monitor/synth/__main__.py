"""Command line: ``python -m monitor.synth train|finish|clips|bench-clips|preview``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m monitor.synth", description="Rendered lakeshore CCTV: demo model and sample clips.")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="render a YOLO dataset, train the demo detector (CPU or GPU), export .pt and .onnx")
    t.add_argument("--frames", type=int, default=1500, help="training frames to render (two tiles each)")
    t.add_argument("--val-frames", type=int, default=200, help="held-out frames")
    t.add_argument("--epochs", type=int, default=7)
    t.add_argument("--hours", type=float, default=None, help="training time budget; the epoch count is fitted to it")
    t.add_argument("--imgsz", type=int, default=320, help="tile side; the model then runs whole frames at twice this")
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--model", default="yolo11n.yaml", help="ultralytics architecture yaml (trained from scratch), or a .pt to continue training from")
    t.add_argument("--data", type=Path, default=Path("data/synth-dataset"), help="where the rendered dataset goes (gitignored)")
    t.add_argument("--out", type=Path, default=Path("models/lakeshore-demo"))
    t.add_argument("--workers", type=int, default=2, help="render processes and data loader workers")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--reuse-data", action="store_true", help="train on the dataset already rendered in --data")
    t.add_argument("--device", default="cpu", help="cpu, or a CUDA device index such as 0")
    t.add_argument("--no-finish", action="store_true",
                   help="stop after training (weights and fit.json in DATA/runs/train); run `finish` on them later")
    f = sub.add_parser("finish", help="score a trained run on held-out whole frames and export it (after train --no-finish)")
    f.add_argument("--run", type=Path, default=Path("data/synth-dataset/runs/train"), help="folder with weights/ and fit.json")
    f.add_argument("--data", type=Path, default=Path("data/synth-dataset"), help="where the held-out frames are (rendered if missing)")
    f.add_argument("--out", type=Path, default=Path("models/lakeshore-demo"))
    c = sub.add_parser("clips", help="render every scenario clip and its ground truth")
    c.add_argument("--out", type=Path, default=Path("sample_videos"))
    c.add_argument("--only", nargs="*", help="clip stems to render (default: all)")
    b = sub.add_parser("bench-clips", help="render the capacity benchmark's footage (quiet shoreline, wade-in), "
                                           "unless the same footage is already there")
    b.add_argument("--out", type=Path, default=Path("data/bench"), help="where the clips go (gitignored)")
    b.add_argument("--seconds", type=float, default=60.0, help="length of each clip")
    b.add_argument("--seed", type=int, default=1201, help="the scene and its actors")
    b.add_argument("--wade-at", type=float, default=None,
                   help="when the wader reaches the water, in seconds (default: 20, or a third of a shorter clip)")
    b.add_argument("--force", action="store_true", help="render even when the stamp says the clips are up to date")
    pv = sub.add_parser("preview", help="write one PNG of a scenario frame, with its true boxes")
    pv.add_argument("stem")
    pv.add_argument("--t", type=float, default=0.0)
    pv.add_argument("--out", type=Path, default=Path("preview.png"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    if args.cmd == "train":
        from monitor.synth.train import TrainSettings, finish, fit

        s = TrainSettings(frames=args.frames, val_frames=args.val_frames, epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                          model=args.model, data_dir=args.data, out=args.out, workers=args.workers, seed=args.seed,
                          reuse_data=args.reuse_data, hours=args.hours, device=args.device)
        run = fit(s)
        if args.no_finish:
            print(f"trained: {run}; next: python -m monitor.synth finish --run {run}")
            return 0
        return _report(finish(run, s.data_dir, s.out, s.device), s.out)
    if args.cmd == "finish":
        from monitor.synth.train import finish

        return _report(finish(args.run, args.data, args.out), args.out)
    if args.cmd == "clips":
        from monitor.synth.scenarios import write_all

        for path in write_all(args.out, args.only):
            print(path)
        return 0
    if args.cmd == "bench-clips":
        from monitor.synth.bench import BenchParams, default_wade_at, write_bench_clips

        try:
            params = BenchParams(args.seconds, args.seed, default_wade_at(args.seconds) if args.wade_at is None else args.wade_at)
        except ValueError as e:
            p.error(str(e))
        paths, rendered = write_bench_clips(args.out, params, args.force)
        for path in paths:
            print(path)
        print("rendered" if rendered else "up to date: nothing rendered")
        return 0
    if args.cmd == "preview":
        from monitor.synth.scenarios import preview

        preview(args.stem, args.t, args.out)
        print(args.out)
        return 0
    return 2


def _report(m: dict, out: Path) -> int:
    print(f"mAP50 (held-out whole frames, imgsz {m['inference_imgsz']}): {m['map50_val_full_frames']:.3f}; "
          f"training {m['train_s'] / 60:.1f} min on {m['device']}; model in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
