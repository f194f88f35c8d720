"""python -m train.calibration.recalibrate --model DIR: refit a run's calibration on its validation split.

Rewrites ``calibration.json`` and ``val_metrics.json`` of a finished training run with the current
calibration rule (train/calibration/calibrate.py), without retraining. Uses the data folder and split recorded in the
run's config.json unless ``--data`` is given. ``--melanoma-floor`` changes the operating-point rule as
``python -m train --melanoma-floor`` would have, and records it in config.json, so that the run's config
always describes the calibration it has.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from train.calibration.calibrate import calibrate, training_prior
from train.cli import add_run_arguments, reports_data_errors
from train.data.loading import CLASSES
from train.model.fit import validation_metrics
from train.model.predict import load_run, run_logits, split_frame


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.calibration.recalibrate", description=__doc__)
    add_run_arguments(p)
    p.add_argument("--melanoma-floor", type=float, default=None,
                   help="hold the operating point to this melanoma sensitivity (95%% lower bound on validation)")
    args = p.parse_args(argv)
    run = load_run(args.model)
    if args.melanoma_floor is not None:
        run.config["melanoma_floor"] = args.melanoma_floor
        (run.model_dir / "config.json").write_text(json.dumps(run.config, indent=2))
    frame = split_frame(run, args.data)
    val = frame[frame["split"] == "val"]
    counts = np.bincount(frame.loc[frame["split"] == "train", "label"], minlength=len(CLASSES))
    logits = run_logits(run, val["path"].tolist())
    y_val = val["label"].to_numpy()
    calibration = calibrate(logits, y_val, training_prior(counts, run.config["imbalance"]),
                            run.config.get("min_sensitivity", 0.9), run.config.get("melanoma_floor"))
    metrics = validation_metrics(logits, y_val, calibration)
    (run.model_dir / "calibration.json").write_text(json.dumps(calibration, indent=2))
    (run.model_dir / "val_metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"{args.model}: class-balance strength {calibration['prior_strength']}, temperature "
          f"{calibration['temperature']:.3f}, threshold {calibration['operating_point']['threshold']:.3f}; val "
          f"balanced accuracy {metrics['balanced_accuracy_uncalibrated']:.4f} -> {metrics['balanced_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
