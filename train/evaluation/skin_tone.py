"""Skin tone of the skin around the lesion (individual typology angle, ITA) and the model's figures per tone.

ITA = atan2(L* - 50, b*) in degrees (Chardon et al. 1991; atan2 so that a bluish cast, b* < 0, which the
dermatoscope's light gives many HAM10000 images, reads as light skin above 90 degrees rather than wrapping to
a dark angle), from the median CIELAB L* and b* of the skin pixels: the image without the lesion, without a border strip and without the dark vignette that dermatoscopes
leave in the corners. Whole-image ITA reads a dark lesion as dark skin; this is why the lesion is masked out.
The lesion mask is HAM10000's own where one exists (``--masks``); elsewhere (the ISIC Archive copies) the
model's own lesion outline where the run has one (over the image's centre square, which the model sees; the rest
of the frame counts as skin), else Otsu's threshold on the image's lightness, the darker side taken as lesion.
Both are measured against the HAM10000 masks before they are trusted: Otsu's on the validation split
(``python -m train.evaluation.skin_tone``, segmentation.json), the outline's on the test split
(``python -m train.studies.lesion_measures``: the ITA with the outline is 0.68 degrees from the reference mask's
on average, with Otsu's 3.48).

Many HAM10000 images have a bluish cast (b* < 0 around the lesion, |ITA| > 90): atan2 keeps their angle
defined, the table reports their share, and they fall in the end groups; a colour-calibrated dermatoscope would
not need this caveat.

Groups follow the ITA categories of Del Bino & Bernerd (2013), used for dermoscopy by Kinyanjui et al. (2020,
"Fairness of classifiers across skin tones in dermatology"): very light > 55, light 41-55, intermediate 28-41,
tan 10-28, brown -30-10, dark < -30 degrees. They are the published scale measured on skin colour itself (not
a self-reported Fitzpatrick type, which HAM10000 does not carry), and the one the dermoscopy fairness papers
report, so the figures compare.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from skimage.color import rgb2lab
from skimage.filters import threshold_otsu

from train.cli import reports_data_errors
from train.data.loading import CLASSES, DataError, images_by_id
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.segmentation import outline_on_square
from train.evaluation.metrics import balanced_accuracy, sensitivity_specificity

# (name, lowest ITA in degrees), lightest first; a value belongs to the first group whose bound it exceeds
ITA_GROUPS = (("very light", 55.0), ("light", 41.0), ("intermediate", 28.0), ("tan", 10.0), ("brown", -30.0),
              ("dark", -np.inf))
BORDER = 0.08  # share of each side dropped: frame edges, rulers and the dermatoscope's rim
VIGNETTE_L = 25.0  # L* below this outside the lesion is the dark vignette or hair, not skin
MIN_SKIN_PIXELS = 200
TOO_WIDE = 0.3  # an interval wider than this: too few images to judge (as on the model card)
# a group this small is too few whatever its interval: four images that are all right give a zero-width interval
MIN_GROUP_IMAGES = 30
MALIGNANT = ("mel", "bcc", "akiec")


def ita(lab_pixels: np.ndarray) -> float:
    """ITA in degrees of skin pixels given as CIELAB rows (L*, a*, b*), from their median L* and b*."""
    lightness, yellow = np.median(lab_pixels[:, 0]), np.median(lab_pixels[:, 2])
    return float(np.degrees(np.arctan2(lightness - 50.0, yellow)))


def bluish(angle: float) -> bool:
    """b* < 0: outside the scale's own range (|ITA| > 90), a cast of the dermatoscope's light, not skin."""
    return abs(angle) > 90


def ita_group(angle: float) -> str:
    return next(name for name, low in ITA_GROUPS if angle > low)


def otsu_lesion_mask(lab: np.ndarray) -> np.ndarray:
    """The lesion as the darker side of Otsu's threshold on L*, inside the border strip."""
    inner = _inner(lab.shape[:2])
    threshold = threshold_otsu(lab[..., 0][inner])
    return (lab[..., 0] < threshold) & inner


def _inner(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    dy, dx = int(round(h * BORDER)), int(round(w * BORDER))
    mask[dy:h - dy, dx:w - dx] = True
    return mask


def load_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A HAM10000 mask (grey PNG, lesion > 128) resized to ``shape``; a sharp crop's mask is the centre square
    of its 200x150 copy's (data README)."""
    mask = np.asarray(Image.open(path).convert("L")) > 128
    h, w = mask.shape
    if shape[0] == shape[1] and h != w:  # centre-square crop of the full frame
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        mask = mask[top:top + side, left:left + side]
    return np.asarray(Image.fromarray(mask).resize((shape[1], shape[0]), Image.NEAREST))


def read_lab(image_path: Path) -> np.ndarray:
    return rgb2lab(np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float64) / 255.0)


def lesion_in_frame(square: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A lesion mask of an image's centre square placed in the whole frame (outside the square: skin, since
    the model's outline does not reach it)."""
    h, w = shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    full = np.zeros((h, w), bool)
    full[top : top + side, left : left + side] = square
    return full


def skin_ita(image_path: Path, mask_path: Path | None, outline: np.ndarray | None = None) -> dict:
    """ITA of the skin around the lesion of one image; the mask used ("ham10000", else "outline": the model's
    probability map ``outline`` over the centre square, else "otsu") and the share of the image that counted as
    skin."""
    lab = read_lab(image_path)
    if mask_path is not None:
        lesion, kind = load_mask(mask_path, lab.shape[:2]), "ham10000"
    elif outline is not None:
        lesion, kind = lesion_in_frame(outline_on_square(outline, min(lab.shape[:2])), lab.shape[:2]), "outline"
    else:
        lesion, kind = otsu_lesion_mask(lab), "otsu"
    return {**ita_outside(lab, lesion), "mask": kind}


def ita_outside(lab: np.ndarray, lesion: np.ndarray) -> dict:
    """ITA of an image's skin outside ``lesion`` (None where too little skin is left) and the skin's share."""
    skin = _inner(lab.shape[:2]) & ~lesion & (lab[..., 0] >= VIGNETTE_L)
    if skin.sum() < MIN_SKIN_PIXELS:  # the lesion fills the frame: the border strip is the only skin left
        skin = ~lesion & (lab[..., 0] >= VIGNETTE_L)
    return {"ita": ita(lab[skin]) if skin.sum() >= MIN_SKIN_PIXELS else None, "skin_share": float(skin.mean())}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def group_metrics(frame: pd.DataFrame, n_resamples: int = 1000) -> dict:
    """n and, each with a lesion-bootstrap interval, balanced accuracy, malignant sensitivity and specificity at
    the operating point (the file's ``referred``), melanoma sensitivity and the guard's rejection share, for the
    rows of one group of a predictions file (with ``dx``)."""
    labels = frame["dx"].map(CLASSES.index).to_numpy()
    predicted = frame[[c.upper() for c in CLASSES]].to_numpy().argmax(axis=1)
    referred = frame["referred"].to_numpy(dtype=bool)
    malignant = frame["dx"].isin(MALIGNANT).to_numpy()
    melanoma = (frame["dx"] == "mel").to_numpy()
    rejected = frame["out_of_distribution"].to_numpy(dtype=bool)

    def values(idx: np.ndarray) -> dict[str, float]:
        mal = sensitivity_specificity(malignant[idx], referred[idx])
        mel = sensitivity_specificity(melanoma[idx], referred[idx])
        return {"balanced_accuracy": balanced_accuracy(labels[idx], predicted[idx]),
                "malignant_sensitivity": mal["sensitivity"], "malignant_specificity": mal["specificity"],
                "melanoma_sensitivity": mel["sensitivity"], "guard_rejected": float(rejected[idx].mean())}

    every = np.arange(len(frame))
    point = values(every)
    lesions = frame["lesion_id"].fillna(frame["image"]).astype(str).to_numpy()
    intervals = cluster_bootstrap(values, lesions, n_resamples=n_resamples)
    out = {"n_images": int(len(frame)), "n_lesions": int(len(set(lesions))),
           "n_malignant": int(malignant.sum()), "n_melanoma": int(melanoma.sum())}
    # each figure is judged by its own denominator: 40 images with 3 malignant ones cannot show a sensitivity
    counted = {"balanced_accuracy": len(frame), "guard_rejected": len(frame), "malignant_sensitivity": int(malignant.sum()),
               "malignant_specificity": int((~malignant).sum()), "melanoma_sensitivity": int(melanoma.sum())}
    for name, value in point.items():
        low, high = intervals.get(name, [np.nan, np.nan])
        value = None if value is None or np.isnan(value) else float(value)
        wide = value is None or np.isnan(low) or high - low > TOO_WIDE or counted[name] < MIN_GROUP_IMAGES
        out[name] = {"value": value, "interval": None if np.isnan(low) else [low, high], "too_few_images": bool(wide)}
    return out


def skin_tone_table(predictions: pd.DataFrame, itas: pd.DataFrame, n_resamples: int = 1000) -> dict:
    """Per ITA group of the scored images, and per quarter of their ITA (the darkest quarter is where a
    whole-image probe saw the gap), the group's figures (group_metrics); images whose skin could not be
    measured are counted."""
    joined = predictions.merge(itas, on="image", how="left")
    measured = joined[joined["ita"].notna()].copy()
    measured["group"] = measured["ita"].map(ita_group)
    groups = {name: group_metrics(measured[measured["group"] == name], n_resamples)
              for name, _ in ITA_GROUPS if (measured["group"] == name).any()}
    quarters = pd.qcut(measured["ita"], 4, labels=["darkest quarter", "second", "third", "lightest quarter"])
    edges = np.percentile(measured["ita"], [0, 25, 50, 75, 100])
    return {"scale": "Del Bino & Bernerd 2013 ITA categories (as in Kinyanjui et al. 2020)",
            "bounds_degrees": {name: low for name, low in ITA_GROUPS if np.isfinite(low)},
            "masks": {k: int(v) for k, v in measured["mask"].value_counts().items()},
            "not_measured": int(joined["ita"].isna().sum()), "groups": groups,
            "bluish_share": float(measured["ita"].map(bluish).mean()),
            "quarters": {str(q): {"ita_range": [float(edges[i]), float(edges[i + 1])],
                                  **group_metrics(measured[quarters == q], n_resamples)}
                         for i, q in enumerate(quarters.cat.categories)},
            "ita_percentiles": {str(q): float(np.percentile(measured["ita"], q)) for q in (5, 25, 50, 75, 95)}}


def mask_path(masks: Path | None, image_id: str) -> Path | None:
    """The HAM10000 mask of ``image_id`` in ``masks``, or None where it has none."""
    path = masks / f"{image_id}_segmentation.png" if masks is not None else None
    return path if path is not None and path.is_file() else None


def measure_images(paths: dict[str, Path], masks: Path | None,
                   outlines: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """ITA of every image (id -> file): with its HAM10000 mask where ``masks`` holds one, else with the model's
    outline where ``outlines`` (id -> probability map) holds one, else Otsu's."""
    rows = []
    for image_id, path in paths.items():
        outline = (outlines or {}).get(image_id)
        rows.append({"image": image_id, **skin_ita(Path(path), mask_path(masks, image_id), outline)})
    return pd.DataFrame(rows)


def measure_folder(image_ids: list[str], images: Path, masks: Path | None) -> pd.DataFrame:
    """measure_images for the listed ids of an image folder."""
    index = images_by_id(images)
    absent = [i for i in image_ids if i not in index]
    if absent:
        raise DataError(f"{len(absent)} of the listed images are not in {images} (e.g. {absent[:3]}).")
    return measure_images({i: index[i] for i in image_ids}, masks)


def segmentation_check(image_ids: list[str], images: Path, masks: Path) -> dict:
    """How far Otsu's lesion mask agrees with the HAM10000 masks (Dice), and how far the ITA it gives is from
    the ITA with the true mask (and how often the group is the same), over ``image_ids``."""
    index = images_by_id(images)
    dices, pairs = [], []
    for image_id in image_ids:
        lab = read_lab(index[image_id])  # decoded once for both masks
        true, otsu = load_mask(masks / f"{image_id}_segmentation.png", lab.shape[:2]), otsu_lesion_mask(lab)
        dices.append(dice(otsu, true & _inner(lab.shape[:2])))
        with_true, with_otsu = ita_outside(lab, true)["ita"], ita_outside(lab, otsu)["ita"]
        if with_true is not None and with_otsu is not None:
            pairs.append((with_true, with_otsu))
    true, otsu = np.array(pairs).T
    return {"n_images": len(image_ids), "dice_median": float(np.median(dices)),
            "dice_quartiles": [float(np.percentile(dices, 25)), float(np.percentile(dices, 75))],
            "ita_difference_median": float(np.median(otsu - true)),
            "ita_difference_abs_p90": float(np.percentile(np.abs(otsu - true), 90)),
            "same_group_share": float(np.mean([ita_group(a) == ita_group(b) for a, b in pairs]))}


def distribution_figure(angles: np.ndarray, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(angles, bins=np.arange(-40, 91, 2.5), color="#57606a")
    for name, low in ITA_GROUPS:
        if np.isfinite(low):
            ax.axvline(low, color="#000", linestyle="--", linewidth=0.8)
    edges = [90, *[low for _, low in ITA_GROUPS if np.isfinite(low)], -40]
    for (name, _), high, low in zip(ITA_GROUPS, edges[:-1], edges[1:]):
        ax.text((high + low) / 2, ax.get_ylim()[1] * 0.92, name, ha="center", fontsize=8)
    ax.set_xlim(90, -40)  # light skin on the left, as the scale is read
    ax.set_xlabel("ITA of the skin around the lesion (degrees)")
    ax.set_ylabel("images")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluation.skin_tone", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, type=Path, help="HAM10000 image folder")
    p.add_argument("--masks", required=True, type=Path, help="HAM10000 lesion masks (<image_id>_segmentation.png)")
    p.add_argument("--split", required=True, type=Path, help="the run's split.csv (image_id, lesion_id, dx, split)")
    p.add_argument("--out", required=True, type=Path, help="folder for segmentation.json, training_ita.json/png")
    args = p.parse_args(argv)
    if not args.split.is_file():
        raise DataError(f"Split file not found: {args.split}. Pass the run's split.csv (models/ham10000/split.csv).")
    if not args.masks.is_dir():
        raise DataError(f"Mask folder not found: {args.masks}. Pass HAM10000's masks/ folder.")
    split = pd.read_csv(args.split)
    val = split.loc[split["split"] == "val", "image_id"].tolist()
    train = split.loc[split["split"] == "train", "image_id"].tolist()
    check = segmentation_check(val, args.images, args.masks)
    angles = measure_folder(train, args.images, args.masks)["ita"].dropna().to_numpy()
    args.out.mkdir(parents=True, exist_ok=True)
    groups = pd.Series(angles).map(ita_group).value_counts()
    training = {"n_images": int(len(angles)), "groups": {name: int(groups.get(name, 0)) for name, _ in ITA_GROUPS},
                "percentiles": {str(q): float(np.percentile(angles, q)) for q in (5, 25, 50, 75, 95)}}
    (args.out / "segmentation.json").write_text(json.dumps({"split": "validation", **check}, indent=2))
    (args.out / "training_ita.json").write_text(json.dumps(training, indent=2))
    distribution_figure(angles, args.out / "training_ita.png",
                        f"HAM10000 training split, skin around the lesion (n={len(angles)})")
    print(f"Otsu lesion masks against HAM10000's on {check['n_images']} validation images: median Dice "
          f"{check['dice_median']:.3f}; ITA off by {check['ita_difference_median']:+.1f} degrees (median), same group "
          f"{100 * check['same_group_share']:.1f}%")
    print("training split by ITA group: " + ", ".join(f"{k} {v}" for k, v in training["groups"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
