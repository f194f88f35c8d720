"""python -m train.evaluation.learning_curve --model DIR --out DIR: does the shipped run overfit?

Writes OUT/learning_curve.png from the run's ``training_log.csv`` (training and validation loss, validation
balanced accuracy raw and after the class-balance correction, per epoch; the head -> fine-tuning boundary,
learning-rate changes and the epoch whose checkpoint was kept) and OUT/overfitting.json: the kept model's
balanced accuracy and loss on a fixed sample of the training split, scored like validation (no augmentation,
the same preprocessing), next to the validation split, in each image source (``low``: the 200x150 copies,
``sharp``: the 224 px crops, for the images that have one).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from train.calibration.calibrate import calibrated_probabilities
from train.cli import add_run_arguments, reports_data_errors
from train.data.loading import DataError
from train.evaluation.metrics import balanced_accuracy, softmax
from train.model.fit import MONITORS
from train.model.predict import Run, load_run, run_logits, split_frame


def kept_epoch(log: pd.DataFrame, monitor: str) -> int:
    """1-based epoch whose weights the checkpoint kept: the first best of the monitored value (the
    checkpoint saves on a strict improvement only)."""
    return int(log["epoch"].iloc[int(np.argmax(log[monitor].to_numpy()))]) + 1


def learning_rate_changes(log: pd.DataFrame) -> list[tuple[int, float]]:
    """(1-based epoch, new rate) wherever the rate differs from the epoch before."""
    rates = log["learning_rate"].to_numpy()
    return [(int(log["epoch"].iloc[i]) + 1, float(rates[i])) for i in range(1, len(rates)) if rates[i] != rates[i - 1]]


def curve_figure(log: pd.DataFrame, head_epochs: int, kept: int, monitor: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = log["epoch"].to_numpy() + 1
    fig, (loss_ax, acc_ax, rate_ax) = plt.subplots(1, 3, figsize=(14, 3.8))
    train_loss = "logits_loss" if "logits_loss" in log else "loss"
    loss_ax.plot(epochs, log[train_loss], "o-", label="training (augmented stream)")
    loss_ax.plot(epochs, log["val_loss"], "o-", label="validation")
    loss_ax.set_ylabel("cross-entropy loss")
    acc_ax.plot(epochs, log["val_balanced_accuracy"], "o-", label="validation, raw argmax")
    acc_ax.plot(epochs, log["val_balanced_accuracy_adjusted"], "o-", label="validation, class-balance corrected")
    acc_ax.plot([kept], [log[monitor].max()], "k*", markersize=14, label=f"kept checkpoint (epoch {kept})")
    acc_ax.set_ylabel("balanced accuracy")
    # The rate gets its own panel: a cosine schedule changes it every epoch, too often to mark on the others.
    rate_ax.plot(epochs, log["learning_rate"], "o-", color="tab:red", label="learning rate")
    rate_ax.set_yscale("log")
    rate_ax.set_ylabel("learning rate")
    for ax in (loss_ax, acc_ax, rate_ax):
        ax.axvline(head_epochs + 0.5, color="grey", linestyle="--", label="head -> fine-tuning")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scored(run: Run, rows: pd.DataFrame) -> dict:
    """Balanced accuracy of the shipped decision (calibrated probabilities) and the raw cross-entropy loss
    (what the training log's val_loss measures)."""
    logits = run_logits(run, rows["path"].tolist())
    labels = rows["label"].to_numpy()
    raw = softmax(logits)
    return {"n": len(rows),
            "balanced_accuracy": balanced_accuracy(labels, calibrated_probabilities(logits, run.calibration).argmax(axis=1)),
            "loss": float(-np.log(np.clip(raw[np.arange(len(labels)), labels], 1e-12, None)).mean())}


def overfitting_gap(run: Run, data: Path | None, train_sample: int) -> dict:
    """Training sample vs validation, in each source; the same fixed training images in both."""
    sharpest, base = split_frame(run, data), split_frame(run, data, sharpest=False)
    chosen = sharpest[sharpest["split"] == "train"].sample(min(train_sample, int((sharpest["split"] == "train").sum())),
                                                            random_state=0)["image_id"]
    conditions = {"low": base}
    if (sharpest["source"] == "override").any():
        conditions["sharp"] = sharpest[sharpest["source"] == "override"]
    out = {}
    for name, frame in conditions.items():
        train_rows, val_rows = frame[frame["image_id"].isin(chosen)], frame[frame["split"] == "val"]
        if train_rows.empty or val_rows.empty:
            continue  # a source with no image on one side has no gap to report
        train, val = scored(run, train_rows), scored(run, val_rows)
        out[name] = {"train_sample": train, "validation": val,
                     "gap": {"balanced_accuracy": train["balanced_accuracy"] - val["balanced_accuracy"],
                             "loss": val["loss"] - train["loss"]}}
    return out


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluation.learning_curve", description=__doc__)
    add_run_arguments(p)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--train-sample", type=int, default=1000,
                   help="training images scored for the gap (a fixed random sample)")
    args = p.parse_args(argv)
    log_file = args.model / "training_log.csv"
    if not log_file.is_file():
        raise DataError(f"{log_file} not found; it is written by python -m train into the run folder.")
    run = load_run(args.model)
    log = pd.read_csv(log_file)
    monitor = MONITORS[run.config.get("monitor", "raw")]
    kept = kept_epoch(log, monitor)
    args.out.mkdir(parents=True, exist_ok=True)
    curve_figure(log, run.config["head_epochs"], kept, monitor, args.out / "learning_curve.png")
    report = {"checkpoint_epoch": kept, "monitor": monitor, "epochs_run": len(log),
              "head_epochs": run.config["head_epochs"], "learning_rate_changes": learning_rate_changes(log),
              "conditions": overfitting_gap(run, args.data, args.train_sample)}
    (args.out / "overfitting.json").write_text(json.dumps(report, indent=2))
    for name, c in report["conditions"].items():
        print(f"{name}: balanced accuracy {c['train_sample']['balanced_accuracy']:.4f} on {c['train_sample']['n']} "
              f"training images vs {c['validation']['balanced_accuracy']:.4f} on validation (gap "
              f"{c['gap']['balanced_accuracy']:+.4f}); loss {c['train_sample']['loss']:.4f} vs {c['validation']['loss']:.4f}")
    print(f"kept epoch {kept} of {len(log)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
