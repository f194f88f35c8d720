"""python -m train.evaluation.segmentation: how well the lesion outline matches a reference mask.

Masks are ``<image_id>_segmentation.png`` as HAM10000's, of any size and grey levels: each is resized to its
image (the same aspect ratio is required, but for a square image, such as HAM10000's sharp crops, whose mask may be
the wider frame it is the centre square of) and thresholded at half its range. The outline covers what the model
sees, the image's centre square, so both are compared there at the image's own resolution: the model's
probability map is resized to the square and thresholded at 0.5, as the page draws it. Per image: Jaccard, Dice
and the ISIC 2018 Task 1 score (a Jaccard below 0.65 counts as 0), from the official scorer's functions
(isic-challenge-scoring); means with lesion-bootstrap intervals; metrics.json, per_image.csv and a figure of the
worst cases.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from isic_challenge_scoring.confusion import create_binary_confusion_matrix
from isic_challenge_scoring.metrics import binary_dice, binary_jaccard, binary_threshold_jaccard
from PIL import Image, UnidentifiedImageError

from train.cli import reports_data_errors
from train.data.loading import DataError, images_by_id, load_labelled_images
from train.data.preprocess import center_square, read_rgb
from train.evaluation.intervals import cluster_bootstrap
from train.model.guided import MASK_SUFFIX
from train.model.predict import load_run, model_inputs
from train.segmentation.decoder import load_outline, outline_model

DEFAULT_MODEL = Path("models/ham10000")
DEFAULT_BROWSER_MODEL = Path("site/model")
ISIC_THRESHOLD = 0.65  # ISIC 2018 Task 1: a per-image Jaccard below this counts as 0
WORST = 8


def reference_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """The mask at ``path`` as a bool (H, W) array of the image's ``shape`` (H, W); a DataError names a file that is
    not an image or whose aspect ratio is not its image's."""
    try:
        with Image.open(path) as img:
            grey = np.asarray(img.convert("F"), dtype=np.float32)
            full_scale = 65535 if img.mode.startswith("I") else 255
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"Mask {path} is not an image ({err}). Replace it with a grey-level PNG.") from err
    h, w = grey.shape
    if shape[0] == shape[1] and h != w:
        # a square crop of a wider frame (HAM10000's sharp crops): its mask is the frame's centre square
        grey = center_square(tf.convert_to_tensor(grey[..., None])).numpy()[..., 0]
        h, w = grey.shape
    if abs(w / h - shape[1] / shape[0]) > 0.01 * shape[1] / shape[0]:
        raise DataError(f"Mask {path} is {w}x{h} but its image is {shape[1]}x{shape[0]}: a mask must have its "
                        "image's aspect ratio (any size), or be the frame whose centre square a square image is. "
                        "Pair each image with its own mask.")
    # half the range the file can hold; a mask whose values are all 0 or 1 is a 0/1 mask
    half = 0.5 if grey.max() <= 1.0 else full_scale / 2
    return tf.image.resize(grey[..., None], shape, method="bilinear").numpy()[..., 0] > half


def image_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Jaccard, Dice and the ISIC thresholded Jaccard of two bool masks of one shape."""
    cm = create_binary_confusion_matrix(truth.ravel(), predicted.ravel())
    return {"jaccard": binary_jaccard(cm), "dice": binary_dice(cm),
            "thresholded_jaccard": binary_threshold_jaccard(cm, threshold=ISIC_THRESHOLD)}


def mask_files(frame: pd.DataFrame, masks_dir: Path) -> list[Path]:
    """Each image's mask; a DataError for a missing folder, a folder without masks, or images without one."""
    if not masks_dir.is_dir():
        raise DataError(f"Mask folder not found: {masks_dir}. Pass the folder of <image_id>{MASK_SUFFIX} files.")
    if not any(masks_dir.glob(f"*{MASK_SUFFIX}")):
        raise DataError(f"{masks_dir} holds no <image_id>{MASK_SUFFIX} files. Pass the folder of the lesion masks.")
    paths = [masks_dir / f"{image_id}{MASK_SUFFIX}" for image_id in frame["image_id"]]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} of {len(paths)} images have no mask in {masks_dir} (e.g. "
                        f"{', '.join(missing[:3])}). Add them, or pass --labels listing only the masked images.")
    return paths


def keras_outlines(model_dir: Path, paths: list[str]) -> np.ndarray:
    """Lesion probability per model-input pixel (N, size, size) from the run's decoder."""
    run = load_run(model_dir)
    decoder = load_outline(model_dir)
    if decoder is None:
        raise DataError(f"{model_dir} has no outline decoder. Fit one: python -m train.segmentation --model {model_dir}")
    model = outline_model(run.model, decoder)
    return np.concatenate([model.predict(x, batch_size=64, verbose=0)[..., 0] for x in model_inputs(paths, run.prep)])


def browser_outlines(model_dir: Path, paths: list[str]) -> np.ndarray:
    """The same map from the exported TF.js model, through the site's classifier.js in headless Chromium."""
    from export.browser_scoring import browser_outputs

    out = browser_outputs(model_dir, paths)
    if "outline" not in out:
        raise DataError(f"The TF.js model in {model_dir} has no outline output. Fit the decoder (python -m "
                        "train.segmentation) and export again (python -m export).")
    return out["outline"]


def outline_on_square(probability: np.ndarray, side: int) -> np.ndarray:
    """The model's (size, size) probability map as a bool mask of the image's centre square."""
    return tf.image.resize(probability[..., None], (side, side), method="bilinear").numpy()[..., 0] > 0.5


def reference_squares(frame: pd.DataFrame, masks: list[Path]) -> list[np.ndarray]:
    """Each image's reference mask on its centre square (read before any model runs, so a bad mask fails fast)."""
    squares = []
    for path, mask in zip(frame["path"], masks):
        with Image.open(path) as image:
            shape = image.size[::-1]
        squares.append(center_square(tf.convert_to_tensor(reference_mask(mask, shape)[..., None])).numpy()[..., 0])
    return squares


def score_images(frame: pd.DataFrame, truths: list[np.ndarray], outlines: np.ndarray) -> pd.DataFrame:
    rows = []
    for (_, row), truth, outline in zip(frame.iterrows(), truths, outlines):
        predicted = outline_on_square(outline, truth.shape[0])
        rows.append({"image_id": row["image_id"], "lesion_id": row["lesion_id"], "side": truth.shape[0],
                     "reference_share": float(truth.mean()), "outline_share": float(predicted.mean()),
                     **image_scores(truth, predicted)})
    return pd.DataFrame(rows)


def summary(scores: pd.DataFrame) -> dict:
    names = ["jaccard", "dice", "thresholded_jaccard"]
    values = scores[names].to_numpy()
    intervals = cluster_bootstrap(lambda idx: dict(zip(names, values[idx].mean(axis=0))),
                                  scores["lesion_id"].to_numpy(str))
    return {name: {"mean": float(values[:, i].mean()), "ci95": intervals[name],
                   "median": float(np.median(values[:, i]))} for i, name in enumerate(names)} | {
        "below_isic_threshold": float((scores["jaccard"] < ISIC_THRESHOLD).mean())}


def worst_cases_figure(scores: pd.DataFrame, frame: pd.DataFrame, truths: list[np.ndarray], outlines: np.ndarray,
                       out: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worst = scores.nsmallest(WORST, "jaccard").index
    fig, axes = plt.subplots(2, WORST // 2, figsize=(3 * WORST // 2, 6.6))
    for ax, i in zip(axes.ravel(), worst):
        image = center_square(tf.convert_to_tensor(read_rgb(frame["path"].iloc[i]))).numpy()
        ax.imshow(image)
        ax.contour(truths[i], levels=[0.5], colors="lime", linewidths=1.5)
        ax.contour(outline_on_square(outlines[i], image.shape[0]), levels=[0.5], colors="magenta", linewidths=1.5,
                   linestyles="dashed")
        ax.set_title(f"{scores['image_id'].iloc[i]}\nJaccard {scores['jaccard'].iloc[i]:.2f}", fontsize=8)
        ax.axis("off")
    fig.suptitle(f"{title}\nworst {WORST}: reference mask solid green, model outline dashed magenta", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def selected_images(images: Path, labels: Path | None, missing: str) -> pd.DataFrame:
    """``image_id``, ``lesion_id``, ``path``: the labelled images (a split), or every image in the folder, each its
    own lesion."""
    if labels is not None:
        return load_labelled_images(images, labels, missing=missing).frame[["image_id", "lesion_id", "path"]]
    index = images_by_id(images)
    return pd.DataFrame({"image_id": list(index), "lesion_id": list(index), "path": [str(p) for p in index.values()]})


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluation.segmentation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, type=Path, help="folder of images")
    p.add_argument("--masks", required=True, type=Path, help=f"folder of <image_id>{MASK_SUFFIX} reference masks")
    p.add_argument("--out", required=True, type=Path, help="folder for metrics.json, per_image.csv and the figure")
    p.add_argument("--model", type=Path, default=None, help=f"training run with an outline decoder (keras; default "
                   f"{DEFAULT_MODEL}) or exported TF.js model folder (browser; default {DEFAULT_BROWSER_MODEL})")
    p.add_argument("--runtime", choices=("keras", "browser"), default="keras")
    p.add_argument("--labels", type=Path, default=None,
                   help="labels CSV with image_id (and lesion_id): score only these images (e.g. the test split)")
    p.add_argument("--missing", choices=("error", "skip"), default="error",
                   help="with --labels: listed images absent from --images are an error, or left out")
    args = p.parse_args(argv)
    started = time.time()
    frame = selected_images(args.images, args.labels, args.missing).reset_index(drop=True)
    truths = reference_squares(frame, mask_files(frame, args.masks))
    model = args.model or (DEFAULT_MODEL if args.runtime == "keras" else DEFAULT_BROWSER_MODEL)
    outlines = (keras_outlines if args.runtime == "keras" else browser_outlines)(model, frame["path"].tolist())
    scores = score_images(frame, truths, outlines)
    metrics = {"n_images": len(scores), "n_lesions": int(scores["lesion_id"].nunique()), **summary(scores),
               "runtime": args.runtime, "model": str(model), "images": str(args.images),
               "masks": str(args.masks), "labels": str(args.labels) if args.labels else None,
               "compared_on": "the image's centre square at its own resolution; the outline thresholded at 0.5",
               "seconds": round(time.time() - started, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    scores.to_csv(args.out / "per_image.csv", index=False)
    worst_cases_figure(scores, frame, truths, outlines, args.out / "worst_cases.png",
                       f"{args.images.name}, {args.runtime} runtime, n={len(scores)}")
    print(f"{len(scores)} images: Jaccard {metrics['jaccard']['mean']:.3f}, Dice {metrics['dice']['mean']:.3f}, "
          f"ISIC thresholded Jaccard {metrics['thresholded_jaccard']['mean']:.3f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
