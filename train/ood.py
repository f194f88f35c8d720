"""python -m train.ood --model DIR: fit the out-of-distribution guard of a trained run.

Feature statistics (train/explained.py) of the training split -> principal subspace of ``--components`` dimensions, whitened, with
one centre per class; an image's score is its distance to the nearest centre (Mahalanobis with a shared
covariance). The rejection threshold is the ``--val-quantile`` of the validation split's scores, so about
1 - quantile of genuine lesion images are turned away. Writes ``DIR/ood.npz`` (projection, centres) and
``DIR/ood.json`` (threshold and how it was chosen); ``python -m export`` builds both into the model.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from train.cli import add_run_arguments, reports_data_errors
from train.data import CLASSES
from train.explained import OOD_FILE, OOD_JSON, OOD_LAYER, explained_outputs
from train.predict import Run, load_run, split_frame

def fit_projection(features: np.ndarray, labels: np.ndarray, components: int, shrinkage: float = 1e-3) -> dict:
    """Whitening projection onto the top principal components of the within-class covariance + centres."""
    centres = np.stack([features[labels == c].mean(axis=0) for c in range(len(CLASSES))])
    within = features - centres[labels]
    covariance = within.T @ within / len(features)
    covariance += shrinkage * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    top = np.argsort(eigenvalues)[::-1][:components]
    projection = eigenvectors[:, top] / np.sqrt(eigenvalues[top])
    return {"projection": projection.astype(np.float32), "centres": (centres @ projection).astype(np.float32)}


def ood_distance(features: np.ndarray, stats: dict) -> np.ndarray:
    """Same computation as the exported graph (train/explained.py), in numpy."""
    projected = features @ stats["projection"]
    return np.sqrt(((projected[:, None, :] - stats["centres"][None]) ** 2).sum(axis=-1).min(axis=1))


def ood_features(run: Run, paths: list[str]) -> np.ndarray:
    return np.concatenate([chunk["ood_features"] for chunk in explained_outputs(run, paths, include_features=True)])


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.ood", description=__doc__)
    add_run_arguments(p)
    p.add_argument("--components", type=int, default=64)
    p.add_argument("--val-quantile", type=float, default=0.98)
    p.add_argument("--max-train-images", type=int, default=3000,
                   help="random training images the statistics are fitted on (a few thousand suffice)")
    args = p.parse_args(argv)
    run = load_run(args.model)
    frame = split_frame(run, args.data)
    train_rows, val_rows = frame[frame["split"] == "train"], frame[frame["split"] == "val"]
    train_rows = train_rows.sample(min(args.max_train_images, len(train_rows)), random_state=0)
    stats = fit_projection(ood_features(run, train_rows["path"].tolist()), train_rows["label"].to_numpy(),
                           args.components)
    val_scores = ood_distance(ood_features(run, val_rows["path"].tolist()), stats)
    threshold = float(np.quantile(val_scores, args.val_quantile))
    summary = {"method": f"min over classes of the Mahalanobis distance of the channel mean/std of {OOD_LAYER}, "
                         "shared covariance, "
                         f"top {args.components} principal components, fitted on {len(train_rows)} training images",
               "components": args.components, "threshold": threshold, "val_quantile": args.val_quantile,
               "val_rejection_rate": float((val_scores > threshold).mean()), "val_n": len(val_scores),
               "val_score_percentiles": {str(q): float(np.quantile(val_scores, q / 100)) for q in (5, 50, 95, 99)}}
    np.savez(run.model_dir / OOD_FILE, **stats)
    (run.model_dir / OOD_JSON).write_text(json.dumps(summary, indent=2))
    print(f"OOD guard: {args.components} components, threshold {threshold:.3f} "
          f"(rejects {summary['val_rejection_rate']:.3f} of validation) -> {run.model_dir / OOD_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
