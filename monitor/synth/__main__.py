"""Command line: ``python -m monitor.synth train|clips|preview``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m monitor.synth", description="Rendered lakeshore CCTV: demo model and sample clips.")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="render a YOLO dataset, train the demo detector on the CPU, export .pt and .onnx")
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
    c = sub.add_parser("clips", help="render every scenario clip and its ground truth")
    c.add_argument("--out", type=Path, default=Path("sample_videos"))
    c.add_argument("--only", nargs="*", help="clip stems to render (default: all)")
    pv = sub.add_parser("preview", help="write one PNG of a scenario frame, with its true boxes")
    pv.add_argument("stem")
    pv.add_argument("--t", type=float, default=0.0)
    pv.add_argument("--out", type=Path, default=Path("preview.png"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    if args.cmd == "train":
        from monitor.synth.train import TrainSettings, train

        m = train(TrainSettings(frames=args.frames, val_frames=args.val_frames, epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                                model=args.model, data_dir=args.data, out=args.out, workers=args.workers, seed=args.seed,
                                reuse_data=args.reuse_data, hours=args.hours))
        print(f"mAP50 (held-out whole frames, imgsz {m['inference_imgsz']}): {m['map50_val_full_frames']:.3f}; "
              f"training {m['train_s'] / 60:.1f} min; model in {args.out}")
        return 0
    if args.cmd == "clips":
        from monitor.synth.scenarios import write_all

        for path in write_all(args.out, args.only):
            print(path)
        return 0
    if args.cmd == "preview":
        from monitor.synth.scenarios import preview

        preview(args.stem, args.t, args.out)
        print(args.out)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
