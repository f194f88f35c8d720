"""python -m train.calibration.recalibrate --model DIR: refit a run's calibration on its validation split.

Rewrites ``calibration.json`` and ``val_metrics.json`` of a finished training run with the current
calibration rule (train/calibration/calibrate.py), without retraining. Uses the data folder and split recorded in the
run's config.json unless ``--data`` is given. ``--melanoma-floor`` changes the operating-point rule as
``python -m train --melanoma-floor`` would have, and records it in config.json, so that the run's config
always describes the calibration it has. ``--with-inner`` (recorded the same way, as ``calibrate_with_inner``)
fits the class-balance correction, temperature and operating point on HAM10000's validation split and the
inner check of every extra source the run trained on, together (``python -m train --calibrate-with-inner``);
``val_metrics.json`` then reports HAM10000's validation and each inner check apart.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from train.calibration.calibrate import training_prior
from train.cli import add_run_arguments, reports_data_errors
from train.data.loading import CLASSES, DataError
from train.data.sources import extra_frame
from train.model.fit import calibrate_on_validation
from train.model.predict import load_run, run_logits, split_frame


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.calibration.recalibrate", description=__doc__)
    add_run_arguments(p)
    p.add_argument("--melanoma-floor", type=float, default=None,
                   help="hold the operating point to this melanoma sensitivity (95%% lower bound on validation)")
    p.add_argument("--with-inner", action="store_true",
                   help="fit on HAM10000's validation split and the extra sources' inner checks together")
    args = p.parse_args(argv)
    run = load_run(args.model)
    if args.with_inner and not run.config.get("extra_data"):
        raise DataError(f"{args.model} trained on no extra source (--extra-data): it has no inner check to calibrate on.")
    changes = {"melanoma_floor": args.melanoma_floor} if args.melanoma_floor is not None else {}
    changes |= {"calibrate_with_inner": True} if args.with_inner else {}
    if changes:
        run.config.update(changes)
        (run.model_dir / "config.json").write_text(json.dumps(run.config, indent=2))
    frame = split_frame(run, args.data)
    extra = extra_frame(run.config["extra_data"], frame["image_id"]) if run.config.get("extra_data") else frame.iloc[:0]
    val, inner = frame[frame["split"] == "val"], extra[extra["split"] == "val"]
    # the prior of the stream the run trained on: every source's training part, as python -m train counts it
    trained = np.concatenate([frame.loc[frame["split"] == "train", "label"], extra.loc[extra["split"] == "train", "label"]])
    counts = np.bincount(trained.astype(int), minlength=len(CLASSES))
    calibration, metrics = calibrate_on_validation(
        run.model, run.prep, run_logits(run, val["path"].tolist()), val["label"].to_numpy(), inner,
        lambda paths: run_logits(run, paths), training_prior(counts, run.config["imbalance"]),
        run.config.get("min_sensitivity", 0.9), run.config.get("melanoma_floor"),
        bool(run.config.get("calibrate_with_inner")))
    (run.model_dir / "calibration.json").write_text(json.dumps(calibration, indent=2))
    (run.model_dir / "val_metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"{args.model}: class-balance strength {calibration['prior_strength']}, temperature "
          f"{calibration['temperature']:.3f}, threshold {calibration['operating_point']['threshold']:.3f}; val "
          f"balanced accuracy {metrics['balanced_accuracy_uncalibrated']:.4f} -> {metrics['balanced_accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
