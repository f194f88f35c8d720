"""python -m train.guard.ood --model DIR: fit the out-of-distribution guard of a trained run.

Feature statistics (train/model/explained.py) of the training split, in every version a user's photo may look
like (the sharp copy, the 200x150 copy, random camera/source changes) -> principal subspace of
``--components`` dimensions, whitened, with one centre per class; an image's score is its distance to the
nearest centre (Mahalanobis with a shared covariance). The rejection threshold is the ``--val-quantile`` of
the validation split's scores in whichever of its two versions scores higher, so at most about
1 - quantile of genuine lesion images are turned away in either. Extra sources (the run's ``--extra-data``
and this command's) add their training part to the fit and their inner check to the versions the threshold
must pass; with ``--per-source`` each source has its own centres and threshold (an image passes where any
source would pass it), so that a broad source does not loosen the guard for all. Writes ``DIR/ood.npz`` (projection,
centres) and ``DIR/ood.json`` (threshold and how it was chosen); ``python -m export`` builds both into the
model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from train.cli import add_run_arguments, reports_data_errors
from train.data.augment import acquisition_augment
from train.data.loading import CLASSES
from train.data.sources import extra_frame
from train.guard.negatives import (
    fit_outlier_exposure,
    joined_features,
    negative_images,
    negative_logit,
    negative_part,
    refuse_leaks,
)
from train.model.explained import LATE, NEGATIVE, OOD_FILE, OOD_JSON, OOD_LAYER, explained_outputs, layer_stats
from train.model.predict import Run, load_run, split_frame


def fit_projection(features: np.ndarray, groups: np.ndarray, components: int, shrinkage: float = 1e-3) -> dict:
    """Whitening projection onto the top principal components of the within-group covariance + one centre per
    group (a class, or with ``--per-source`` a class of one source), in the order of the sorted group numbers."""
    present, index = np.unique(groups, return_inverse=True)
    centres = np.stack([features[index == g].mean(axis=0) for g in range(len(present))])
    within = features - centres[index]
    covariance = within.T @ within / len(features)
    covariance += shrinkage * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    top = np.argsort(eigenvalues)[::-1][:components]
    projection = eigenvectors[:, top] / np.sqrt(eigenvalues[top])
    return {"projection": projection.astype(np.float32), "centres": (centres @ projection).astype(np.float32)}


def ood_distance(features: np.ndarray, stats: dict) -> np.ndarray:
    """One layer's distance to the nearest centre, as the exported graph computes it (train/model/explained.py)."""
    projected = features @ stats["projection"]
    squared = ((projected[:, None, :] - stats["centres"][None]) ** 2).sum(axis=-1)
    return np.sqrt((squared * np.square(stats.get("scales", 1.0))).min(axis=1))


def guard_score(features: dict[str, np.ndarray], stats: dict) -> np.ndarray:
    """The exported guard's score of ``features`` (``early``, and ``late`` where the guard has a late part or an
    outlier-exposure part): the largest of its parts, each in the early distance's units."""
    score = ood_distance(features["early"], stats)
    if f"{LATE}projection" in stats:
        score = np.maximum(score, ood_distance(features["late"], layer_stats(stats, LATE)) * stats[f"{LATE}weight"])
    if f"{NEGATIVE}weights" in stats:
        score = np.maximum(score, negative_part(negative_logit(features, stats)) * stats[f"{NEGATIVE}scale"])
    return score


def highest_quantile(scores: list[np.ndarray], quantile: float) -> float:
    """The guard's threshold rule: the ``quantile`` of whichever validation set (source or copy) scores highest,
    so that none of them is turned away more often than 1 - quantile."""
    return max(float(np.quantile(v, quantile)) for v in scores)


def per_source_scales(stats: dict, centre_source: np.ndarray, val_features: dict[str, np.ndarray],
                      val_source: dict[str, int], quantile: float) -> dict:
    """A threshold per source: each source's validation versions are scored against its own centres, and its
    centres' distances are scaled so that its ``quantile`` lands on the first source's (HAM10000's). An image
    is then accepted where any source would accept it, and no source's threshold is loosened by another's."""
    limits = {source: highest_quantile([ood_distance(f, {**stats, "centres": stats["centres"][centre_source == source]})
                                        for name, f in val_features.items() if val_source[name] == source], quantile)
              for source in set(val_source.values())}
    return {**stats, "scales": np.array([limits[0] / limits[s] for s in centre_source], dtype=np.float32)}


def ood_features(run: Run, paths: list[str], augment_seed: int | None = None) -> dict[str, np.ndarray]:
    """The guard's features of each file: ``early`` (the early layer's statistics) and ``late`` (the pooled top
    features); with ``augment_seed`` of a random camera/source change of it (train/data/augment.py), so the guard
    learns those changes as part of what a lesion photo looks like."""
    def change(pixels: np.ndarray, start: int) -> np.ndarray:
        return acquisition_augment(pixels, tf.constant([augment_seed, start], tf.int64)).numpy()

    chunks = list(explained_outputs(run, paths, include_features=True, change=None if augment_seed is None else change))
    return {"early": np.concatenate([c["ood_features"] for c in chunks]),
            "late": np.concatenate([c["late_features"] for c in chunks])}


def stacked(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {layer: np.concatenate([part[layer] for part in parts]) for layer in parts[0]}


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
    p.add_argument("--per-source", action="store_true",
                   help="centres and a threshold per source (each class of each), instead of one threshold that "
                        "the broadest source's validation sets for all")
    p.add_argument("--negatives", type=Path, default=None, metavar="DIR",
                   help="photos that are not lesions (e.g. ../shared/data/not_lesions_imagenet_sample): a logistic "
                        "regression separating them from every source's lesions becomes a part of the guard "
                        "(outlier exposure, train/guard/negatives.py); fitted on, never validated or evaluated on")
    p.add_argument("--negative-c", type=float, default=0.1,
                   help="inverse regularisation strength of that logistic regression")
    p.add_argument("--late", action="store_true",
                   help="a second guard on the pooled top features beside the early layer's (an image either "
                        "rejects is rejected): the early statistics see colour and texture, the late ones what a lesion is")
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
    val_files = {**versions(val_rows, base),
                 **{origin: part["path"].tolist() for origin, part in extra[extra["split"] == "val"].groupby("origin")}}
    negatives = negative_images(args.negatives) if args.negatives else []
    # checked before the slow feature pass, so bad negatives fail in seconds
    refuse_leaks(negatives, [*sharpest, *train_files["base"], *[f for files in val_files.values() for f in files]])
    # Both copies of every image that has two, plus a camera/source change of the sharpest one: fitted on
    # the blurred copies alone, the guard turned away 90% of sharp photos of the same lesions.
    base_copies = list(np.asarray(train_files["base"])[overridden])
    features = stacked([ood_features(run, sharpest), *([ood_features(run, base_copies)] if base_copies else []),
                        ood_features(run, sharpest, augment_seed=args.augment_seed)])
    labels = np.concatenate([train_rows["label"].to_numpy(), extra_train["label"].to_numpy()])
    # source 0 is HAM10000, then the extra sources in order; with --per-source each class of each has a centre
    source_of = {origin: k + 1 for k, origin in enumerate(dict.fromkeys(extra["origin"]))}
    fit_sources = np.concatenate([np.zeros(len(train_rows), int), extra_train["origin"].map(source_of).to_numpy(int)])
    groups = labels + len(CLASSES) * fit_sources if args.per_source else labels
    fit_groups = np.concatenate([groups, groups[:len(train_rows)][overridden], groups])
    val_features = {name: ood_features(run, files) for name, files in val_files.items()}
    layers = {}
    for layer in ("early", "late") if args.late else ("early",):
        layers[layer] = fit_projection(features[layer], fit_groups, args.components)
        if args.per_source:
            layers[layer] = per_source_scales(layers[layer], np.unique(groups) // len(CLASSES),
                                              {name: f[layer] for name, f in val_features.items()},
                                              {name: source_of.get(name, 0) for name in val_files}, args.val_quantile)
    stats = layers["early"]
    if args.late:
        # the late distances in the early ones' units: the highest validation quantile of each lands on the same value
        limit = {layer: highest_quantile([ood_distance(f[layer], layers[layer]) for f in val_features.values()],
                                         args.val_quantile) for layer in layers}
        stats = {**stats, **{LATE + k: v for k, v in layers["late"].items()},
                 f"{LATE}weight": np.float32(limit["early"] / limit["late"])}
    if negatives:
        files = [str(n) for n in negatives]
        # each negative as it is and under a camera/source change, as the lesions are fitted
        negative_features = stacked([ood_features(run, files), ood_features(run, files, augment_seed=args.augment_seed)])
        part = fit_outlier_exposure(joined_features(features), joined_features(negative_features), args.negative_c)
        # its softplus in the distance's units: the highest validation quantile of each part lands on the same value
        limits = [highest_quantile([g(f) for f in val_features.values()], args.val_quantile)
                  for g in (lambda f: guard_score(f, stats), lambda f: negative_part(negative_logit(f, part)))]
        stats = {**stats, **part, f"{NEGATIVE}scale": np.float32(limits[0] / limits[1])}
    val_scores = {name: guard_score(f, stats) for name, f in val_features.items()}
    threshold = highest_quantile(list(val_scores.values()), args.val_quantile)
    summary = {"method": f"min over classes of the Mahalanobis distance of the channel mean/std of {OOD_LAYER}, "
                         f"shared covariance, top {args.components} principal components, fitted on "
                         f"{len(train_rows)} HAM10000 training images (their sharpest copy, their base copy where "
                         f"they have two ({int(overridden.sum())}), and a random camera/source change of each)"
                         + (f" and {len(extra_train)} training images of {', '.join(sources)} (each and a change of it)"
                            if sources else "")
                         + ("; one centre per class of each source, each source's distances scaled to its own "
                            "validation quantile" if args.per_source else "")
                         + ("; and the same on the pooled top features, scaled to the early distances' units, the "
                            "larger of the two deciding" if args.late else "")
                         + (f"; and a logistic regression (C={args.negative_c}) of the early statistics and pooled "
                            f"features against {len(negatives)} photos that are not lesions ({args.negatives}, each and "
                            "a change of it), its softplus scaled to the distance's units, the larger deciding"
                            if negatives else ""),
               "components": args.components, "threshold": threshold, "val_quantile": args.val_quantile,
               "per_source": args.per_source, "late": args.late,
               "negatives": {"folder": str(args.negatives), "n": len(negatives),
                             "fit_set_rejected": float((guard_score(negative_features, stats) > threshold).mean())}
               if negatives else None,
               "fit_n": len(features["early"]), "sources": list(sources),
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
