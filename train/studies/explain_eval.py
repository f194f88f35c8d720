"""python -m train.studies.explain_eval --images DIR --labels FILE --masks DIR --out DIR: where the heatmap points.

For every image: the class activation map (CAM) of the predicted class, min-max normalised as the site
shows it, upsampled to the centre square the model saw, against the lesion segmentation mask cropped the
same way. Two measures, next to a centred-Gaussian heatmap that ignores the image (lesions tend to be
centred, so this baseline is strong):
- inside-mask mass: share of the heatmap's total mass that falls inside the lesion;
- pointing game: whether the heatmap's maximum lies inside the lesion.
Both are also reported for the off-centre lesions (those the Gaussian's central peak misses), where a map
that had only learnt "lesions are in the middle" would fail as the Gaussian does.
Writes OUT/explain.json and OUT/examples.png (correct and wrong predictions with their overlays).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from train.calibration.calibrate import calibrated_probabilities
from train.cli import reports_data_errors
from train.data.loading import CLASSES, DataError, load_labelled_images
from train.data.preprocess import center_square, read_rgb
from train.model.explained import explained_outputs
from train.model.guided import MASK_SUFFIX
from train.model.predict import load_run

GAUSSIAN_SIGMAS = (0.15, 0.25, 0.35)  # as a share of the square's side


def normalised_cam(cam: np.ndarray, side: int) -> np.ndarray:
    """(h, w) class map -> (side, side) in [0, 1]: bilinear upsampling, then min-max (as the site does)."""
    up = tf.image.resize(cam[None, :, :, None], (side, side), method="bilinear").numpy()[0, :, :, 0]
    span = up.max() - up.min()
    return (up - up.min()) / span if span > 0 else np.zeros_like(up)


def centred_gaussian(side: int, sigma_share: float) -> np.ndarray:
    grid = (np.arange(side) + 0.5 - side / 2) / side
    return np.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) / (2 * sigma_share**2))


def heatmap_scores(heatmap: np.ndarray, mask: np.ndarray) -> tuple[float, bool]:
    """(inside-mask share of the mass, whether the maximum is inside the mask)."""
    total = heatmap.sum()
    inside = float((heatmap * mask).sum() / total) if total > 0 else 0.0
    peak = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return inside, bool(mask[peak])


def square_mask(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"Lesion mask {path} not found; --masks must hold <image_id>{MASK_SUFFIX} files.")
    grey = read_rgb(path)[..., :1]
    return center_square(tf.convert_to_tensor(grey[None]))[0, :, :, 0].numpy() >= 128


def summarise(values: list[tuple[float, bool]]) -> dict:
    inside = np.array([v[0] for v in values])
    hits = np.array([v[1] for v in values])
    return {"inside_mask_mass": float(inside.mean()), "pointing_game": float(hits.mean())}


def examples_figure(correct: list[dict], wrong: list[dict], path: Path) -> None:
    """Correct predictions on the top row, wrong ones below (a row stays short if there are too few)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(len(correct), len(wrong), 1)
    fig, axes = plt.subplots(2, columns, figsize=(2.4 * columns, 5.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, row in [*zip(axes[0], correct), *zip(axes[1], wrong)]:
        ax.imshow(row["image"])
        ax.imshow(row["heatmap"], cmap="jet", alpha=0.45, extent=(0, row["image"].shape[1], row["image"].shape[0], 0))
        ax.contour(row["mask"], levels=[0.5], colors="white", linewidths=1)
        mark = "correct" if row["true"] == row["pred"] else "wrong"
        ax.set_title(f"{mark}: {row['pred']}\n(true {row['true']}, in-mask {row['inside']:.0%})", fontsize=8)
    fig.suptitle("Class activation map of the predicted class; white line: lesion mask", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.explain_eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, type=Path)
    p.add_argument("--labels", required=True, type=Path)
    p.add_argument("--masks", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--model", type=Path, default=Path("models/ham10000"))
    p.add_argument("--examples", type=int, default=4, help="correct and wrong predictions each in the panel")
    args = p.parse_args(argv)
    frame = load_labelled_images(args.images, args.labels).frame
    masks = [square_mask(args.masks / f"{image_id}{MASK_SUFFIX}") for image_id in frame["image_id"]]
    run = load_run(args.model)
    chunks = list(explained_outputs(run, frame["path"].tolist()))
    logits = np.concatenate([c["logits"] for c in chunks])
    cams = np.concatenate([c["cams"] for c in chunks])
    predicted = calibrated_probabilities(logits, run.calibration).argmax(axis=1)
    cam_scores, baseline_scores = [], {s: [] for s in GAUSSIAN_SIGMAS}
    heatmaps = []
    for cam, mask, cls in zip(cams, masks, predicted):
        heatmap = normalised_cam(cam[:, :, cls], mask.shape[0])
        heatmaps.append(heatmap)
        cam_scores.append(heatmap_scores(heatmap, mask))
        for sigma in GAUSSIAN_SIGMAS:
            baseline_scores[sigma].append(heatmap_scores(centred_gaussian(mask.shape[0], sigma), mask))
    report = {"n_images": len(frame), "labels_file": str(args.labels), "cam_of": "predicted class",
              "cam": summarise(cam_scores),
              "centred_gaussian": {f"sigma_{s}": summarise(v) for s, v in baseline_scores.items()},
              "mean_mask_share_of_square": float(np.mean([m.mean() for m in masks]))}
    best = {k: max(v[k] for v in report["centred_gaussian"].values()) for k in ("inside_mask_mass", "pointing_game")}
    report["beats_best_baseline"] = {k: report["cam"][k] > best[k] for k in best}
    off_centre = [i for i, (_, hit) in enumerate(baseline_scores[GAUSSIAN_SIGMAS[0]]) if not hit]
    if off_centre:
        report["off_centre_lesions"] = {
            "n_images": len(off_centre), "cam": summarise([cam_scores[i] for i in off_centre]),
            "centred_gaussian": {f"sigma_{s}": summarise([v[i] for i in off_centre]) for s, v in baseline_scores.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "explain.json").write_text(json.dumps(report, indent=2))

    y_true = frame["label"].to_numpy()
    rng = np.random.default_rng(0)
    panels = []
    for ok in (True, False):
        pool = np.flatnonzero((predicted == y_true) == ok)
        picks = rng.choice(pool, min(args.examples, len(pool)), replace=False)
        panels.append([{"image": center_square(tf.convert_to_tensor(read_rgb(frame["path"].iloc[i])[None]))[0].numpy(),
                        "heatmap": heatmaps[i], "mask": masks[i], "true": CLASSES[y_true[i]],
                        "pred": CLASSES[predicted[i]], "inside": cam_scores[i][0]} for i in picks])
    examples_figure(*panels, args.out / "examples.png")
    print(f"{len(frame)} images: CAM inside-mask mass {report['cam']['inside_mask_mass']:.3f}, pointing game "
          f"{report['cam']['pointing_game']:.3f}; best centred Gaussian {best['inside_mask_mass']:.3f} / "
          f"{best['pointing_game']:.3f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
