"""python -m train.studies.stream_memory --data DIR [--override-images DIR] --out FILE: peak memory of the training input.

Builds the training stream of the run's data the way ``python -m train`` does, in memory (the default) and
with ``--stream``, on growing shares of the training split, pulls ``--batches`` augmented batches through it
(more than one pass over the data when the share is small), and records each run's peak resident memory.
Every measurement runs in a fresh interpreter, so one run's peak does not hide another's. The model is
not built: what is measured is what the input side holds, the part that grows with the data set.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from train.cli import reports_data_errors
from train.data.arrays import resized_pixels
from train.data.inputs import training_stream
from train.data.loading import load_training_data
from train.data.split import load_or_create_split
from train.model.config import TrainConfig
from train.model.network import preprocessing_for


def measure(data: Path, override: Path | None, split: Path, share: float, stream: bool, batches: int,
            size: int) -> dict:
    """Decode (or not), stream ``batches`` batches, and report the peak RSS of this process."""
    config = TrainConfig(data=str(data), out="", size=size, stream=stream, acquisition=True)
    prep = preprocessing_for("keras", size)
    frame = load_training_data(data, override).frame
    frame = frame.merge(load_or_create_split(frame, split)[["image_id", "split"]], on="image_id")
    rows = frame[frame["split"] == "train"].sample(frac=share, random_state=0)
    started = time.time()
    images = (rows["path"].to_numpy(str) if stream
              else resized_pixels(rows["path"].tolist(), prep).round().astype(np.uint8))
    dataset, _ = training_stream(images, rows["label"].to_numpy(), config, prep)
    for _ in dataset.take(batches):
        pass
    return {"mode": "stream" if stream else "in memory", "images": len(rows), "batches": batches,
            "seconds": round(time.time() - started, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.stream_memory", description=__doc__)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--override-images", type=Path, default=None)
    p.add_argument("--split", type=Path, default=Path("models/ham10000/split.csv"))
    p.add_argument("--shares", type=float, nargs="+", default=[0.25, 1.0], help="shares of the training split")
    p.add_argument("--batches", type=int, default=250, help="batches of 32 pulled through each stream")
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--out", type=Path, default=None, help="write the table as JSON here")
    p.add_argument("--child", nargs=2, metavar=("SHARE", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        share, mode = args.child
        print(json.dumps(measure(args.data, args.override_images, args.split, float(share), mode == "stream",
                                 args.batches, args.size)))
        return 0
    rows = []
    for mode in ("memory", "stream"):
        for share in args.shares:
            command = [sys.executable, "-m", "train.studies.stream_memory", "--data", str(args.data), "--split",
                       str(args.split), "--batches", str(args.batches), "--size", str(args.size), "--child",
                       str(share), mode]
            if args.override_images:
                command += ["--override-images", str(args.override_images)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                print(result.stderr[-2000:], file=sys.stderr)
                return result.returncode
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{r['mode']:>9}: {r['images']:>5} training images, {r['batches']} batches in {r['seconds']} s, "
                  f"peak memory {r['peak_rss_mib']:,.0f} MiB", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"batch_size": 32, "input_size": args.size, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
