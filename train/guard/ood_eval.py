"""python -m train.guard.ood_eval --ood-set DIR --images NAME=DIR [NAME=DIR ...] --labels FILE --out DIR

How well the OOD guard works. Scores the OOD evaluation set (``python -m train.guard.ood_set``) and a labelled
in-distribution split (the test split) with the run's guard, exactly as the exported graph computes it, in
each named condition: the split's images as one folder holds them (e.g. ``low=`` the 200x150 copies,
``sharp=`` the 224 px crops; a folder that holds only part of the split is scored on that part). Writes
OUT/ood.json (rejection rates per condition and per category, AUROC in-distribution vs out-of-distribution
per condition) and OUT/ood_scores.png.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from train.cli import named_path, reports_data_errors
from train.data.loading import DataError, load_labelled_images
from train.evaluation.metrics import binary_auc
from train.model.explained import explained_outputs, load_ood_stats, load_ood_summary
from train.model.predict import load_run


def distances(run, stats: dict, paths: list[str]) -> np.ndarray:
    return np.concatenate([c["ood_distance"] for c in explained_outputs(run, paths, stats)])


def scores_figure(in_dist: dict[str, np.ndarray], rejected: np.ndarray, accepted: np.ndarray, threshold: float,
                  path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    every = np.concatenate([*in_dist.values(), rejected])
    bins = np.geomspace(max(every.min(), 1e-3), every.max(), 60)
    for name, scores in in_dist.items():
        ax.hist(scores, bins=bins, alpha=0.5, label=f"test split lesions, {name} (n={len(scores)})", density=True)
    ax.hist(accepted, bins=bins, alpha=0.5, label=f"transformed lesions (n={len(accepted)})", density=True)
    ax.hist(rejected, bins=bins, alpha=0.5, label=f"not lesions (n={len(rejected)})", density=True)
    ax.axvline(threshold, color="black", linestyle="--", label="threshold")
    ax.set_xscale("log")
    ax.set_xlabel("OOD distance (Mahalanobis, log scale)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.guard.ood_eval", description=__doc__)
    p.add_argument("--model", type=Path, default=Path("models/ham10000"), help="training run folder")
    p.add_argument("--ood-set", type=Path, required=True, help="folder written by python -m train.guard.ood_set")
    p.add_argument("--images", type=named_path, nargs="+", required=True, metavar="NAME=DIR",
                   help="in-distribution conditions: a name and the folder of the split's images in it")
    p.add_argument("--labels", type=Path, required=True, help="labels CSV choosing them (e.g. the test split)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    run = load_run(args.model)
    stats = load_ood_stats(args.model)
    if stats is None:
        raise DataError(f"{args.model} has no OOD guard yet; run python -m train.guard.ood --model {args.model}.")
    manifest_file = args.ood_set / "manifest.csv"
    if not manifest_file.is_file():
        raise DataError(f"{manifest_file} not found; build the set with python -m train.guard.ood_set --out {args.ood_set}.")
    manifest = pd.read_csv(manifest_file)
    conditions = {name: load_labelled_images(folder, args.labels, missing="skip") for name, folder in args.images}
    threshold = load_ood_summary(args.model)["threshold"]
    in_dist = {name: distances(run, stats, data.frame["path"].tolist()) for name, data in conditions.items()}
    ood_scores = distances(run, stats, [str(args.ood_set / f) for f in manifest["file"]])
    reject = (manifest["expected"] == "reject").to_numpy()
    per_category = {c: {"n": len(g), "expected": g["expected"].iloc[0],
                        "rejected": float((ood_scores[g.index] > threshold).mean())}
                    for c, g in manifest.groupby("category")}
    report = {
        "threshold": threshold,
        "in_distribution": {name: {"images": str(folder), "labels_file": str(args.labels), "n": len(in_dist[name]),
                                   "excluded": conditions[name].excluded,
                                   "rejected": float((in_dist[name] > threshold).mean()),
                                   "auroc": binary_auc(np.r_[np.zeros(len(in_dist[name])), np.ones(reject.sum())],
                                                       np.r_[in_dist[name], ood_scores[reject]])}
                            for name, folder in args.images},
        "out_of_distribution": {"n": int(reject.sum()), "rejected": float((ood_scores[reject] > threshold).mean())},
        "transformed_lesions": {"n": int((~reject).sum()), "rejected": float((ood_scores[~reject] > threshold).mean())},
        "per_category": per_category,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ood.json").write_text(json.dumps(report, indent=2))
    scores_figure(in_dist, ood_scores[reject], ood_scores[~reject], threshold, args.out / "ood_scores.png")
    lesions = "; ".join(f"{name}: rejects {r['rejected']:.3f} of {r['n']} test-split lesions, AUROC {r['auroc']:.4f}"
                        for name, r in report["in_distribution"].items())
    print(f"OOD guard: rejects {report['out_of_distribution']['rejected']:.3f} of {report['out_of_distribution']['n']} "
          f"non-lesion images and {report['transformed_lesions']['rejected']:.3f} of transformed lesions; {lesions} "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
