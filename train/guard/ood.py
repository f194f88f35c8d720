"""python -m train.guard.ood --model DIR: fit the out-of-distribution guard of a trained run.

Feature statistics (train/model/explained.py) of the training split, in every version a user's photo may look
like (the sharp copy, the 200x150 copy, random camera/source changes) -> principal subspace of
``--components`` dimensions, whitened, with one centre per class; an image's score is its distance to the
nearest centre (Mahalanobis with a shared covariance). The rejection threshold is the ``--val-quantile`` of
the validation split's scores in whichever of its two versions scores higher, so at most about
1 - quantile of genuine lesion images are turned away in either. Extra sources (the run's ``--extra-data``
and this command's) add their training part to the fit and their inner check to the versions the threshold
must pass. Writes ``DIR/ood.npz`` (projection,
centres) and ``DIR/ood.json`` (threshold and how it was chosen); ``python -m export`` builds both into the
model.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd
import tensorflow as tf

from train.cli import add_run_arguments, reports_data_errors
from train.data.augment import acquisition_augment
from train.data.loading import CLASSES
from train.data.sources import extra_frame
from train.model.explained import OOD_FILE, OOD_JSON, OOD_LAYER, explained_outputs
from train.model.predict import Run, load_run, split_frame


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
    """Same computation as the exported graph (train/model/explained.py), in numpy."""
    projected = features @ stats["projection"]
    return np.sqrt(((projected[:, None, :] - stats["centres"][None]) ** 2).sum(axis=-1).min(axis=1))


def ood_features(run: Run, paths: list[str], augment_seed: int | None = None) -> np.ndarray:
    """The guard's feature statistics of each file; with ``augment_seed`` of a random camera/source change of
    it (train/data/augment.py), so the guard learns those changes as part of what a lesion photo looks like."""
    def change(pixels: np.ndarray, start: int) -> np.ndarray:
        return acquisition_augment(pixels, tf.constant([augment_seed, start], tf.int64)).numpy()

    chunks = explained_outputs(run, paths, include_features=True, change=None if augment_seed is None else change)
    return np.concatenate([chunk["ood_features"] for chunk in chunks])


def versions(rows: pd.DataFrame, base: pd.DataFrame) -> dict[str, list[str]]:
    """The files of each image the shared data has two sources of: the sharpest copy training used (the
    override folder where it has the image) and the base folder's copy (200x150 for HAM10000)."""
    base_paths = base.set_index("image_id").loc[rows["image_id"], "path"]
    return {"sharpest": rows["path"].tolist(), "base": base_paths.tolist()}


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.guard.ood", description=__doc__)
    add_run_arguments(p)
    p.add_argument("--components", type=int, default=64)
    p.add_argument("--val-quantile", type=float, default=0.98,
                   help="the threshold is this quantile of validation distances, in whichever version is higher")
    p.add_argument("--max-train-images", type=int, default=3000,
                   help="random training images the statistics are fitted on (a few thousand suffice)")
    p.add_argument("--augment-seed", type=int, default=0, help="seed of the camera/source changes of the fit set")
    p.add_argument("--extra-data", action="append", default=[], metavar="DIR",
                   help="a further source (train/data/sources.py) whose training part the guard is fitted on and "
                        "whose inner check bounds its threshold, besides those the run trained on (repeatable)")
    args = p.parse_args(argv)
    run = load_run(args.model)
    frame, base = split_frame(run, args.data), split_frame(run, args.data, sharpest=False)
    sources = tuple(dict.fromkeys([*(run.config.get("extra_data") or ()), *args.extra_data]))
    extra = extra_frame(sources, frame["image_id"]) if sources else frame.iloc[:0].assign(origin=None)
    train_rows, val_rows = frame[frame["split"] == "train"], frame[frame["split"] == "val"]
    train_rows = train_rows.sample(min(args.max_train_images, len(train_rows)), random_state=0)
    extra_train = extra[extra["split"] == "train"]
    extra_train = extra_train.sample(min(args.max_train_images, len(extra_train)), random_state=0)
    train_files = versions(train_rows, base)
    overridden = (train_rows["source"] == "override").to_numpy()
    sharpest = train_files["sharpest"] + extra_train["path"].tolist()
    # Both copies of every image that has two, plus a camera/source change of the sharpest one: fitted on
    # the blurred copies alone, the guard turned away 90% of sharp photos of the same lesions.
    base_copies = list(np.asarray(train_files["base"])[overridden])
    features = np.concatenate([ood_features(run, sharpest), *([ood_features(run, base_copies)] if base_copies else []),
                               ood_features(run, sharpest, augment_seed=args.augment_seed)])
    labels = np.concatenate([train_rows["label"].to_numpy(), extra_train["label"].to_numpy()])
    stats = fit_projection(features, np.concatenate([labels, labels[:len(train_rows)][overridden], labels]),
                           args.components)
    val_files = {**versions(val_rows, base),
                 **{origin: part["path"].tolist() for origin, part in extra[extra["split"] == "val"].groupby("origin")}}
    # The threshold is the quantile of whichever source (and copy) scores highest on its own validation
    # images, so that no source's genuine lesions are turned away more often than 1 - quantile.
    val_scores = {name: ood_distance(ood_features(run, files), stats) for name, files in val_files.items()}
    threshold = max(float(np.quantile(v, args.val_quantile)) for v in val_scores.values())
    summary = {"method": f"min over classes of the Mahalanobis distance of the channel mean/std of {OOD_LAYER}, "
                         f"shared covariance, top {args.components} principal components, fitted on "
                         f"{len(train_rows)} HAM10000 training images (their sharpest copy, their base copy where "
                         f"they have two ({int(overridden.sum())}), and a random camera/source change of each)"
                         + (f" and {len(extra_train)} training images of {', '.join(sources)} (each and a change of it)"
                            if sources else ""),
               "components": args.components, "threshold": threshold, "val_quantile": args.val_quantile,
               "fit_n": len(features), "sources": list(sources),
               "val_rejection_rate": {name: float((v > threshold).mean()) for name, v in val_scores.items()},
               "val_n": {name: len(v) for name, v in val_scores.items()},
               "val_score_percentiles": {name: {str(q): float(np.quantile(v, q / 100)) for q in (5, 50, 95, 99)}
                                         for name, v in val_scores.items()}}
    np.savez(run.model_dir / OOD_FILE, **stats)
    (run.model_dir / OOD_JSON).write_text(json.dumps(summary, indent=2))
    rates = ", ".join(f"{name} {rate:.3f}" for name, rate in summary["val_rejection_rate"].items())
    print(f"OOD guard: {args.components} components, threshold {threshold:.3f} (rejects of validation: {rates}) "
          f"-> {run.model_dir / OOD_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
