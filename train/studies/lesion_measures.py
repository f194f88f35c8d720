"""python -m train.studies.lesion_measures: are the outline's measures worth showing? (issue #46)

On a labelled split with HAM10000's masks, for each image's centre square: the measures of
train/segmentation/measures.py from the reference mask and, with a run that has an outline decoder, from the
model's outline. Reports
- agreement of each measure between outline and reference (Spearman's rho, median relative or absolute
  difference; for colours, how often the same colours are present);
- how each separates melanomas from nevi: the AUC (the probability that a melanoma measures more than a nevus,
  an effect size on the measure's own scale-free ranking) with a lesion-bootstrap interval;
- the outline's own repeatability: the relative difference of area and diameter between two photos of one lesion
  (HAM10000's photos of a lesion are mostly of one visit, but may be zoomed differently: an upper bound);
- the skin tone around the lesion (ITA, train/evaluation/skin_tone.py) with the outline as the lesion instead of
  Otsu's threshold, both against the ITA with the reference mask.
Descriptions, not a second score: nothing here changes the referral.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
from scipy.stats import spearmanr
from skimage.color import rgb2lab
from sklearn.metrics import roc_auc_score

from train.cli import reports_data_errors
from train.data.loading import load_labelled_images
from train.data.preprocess import center_square, read_rgb
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.segmentation import keras_outlines, mask_files, outline_on_square, reference_squares
from train.evaluation.skin_tone import ita_group, ita_outside, lesion_in_frame, otsu_lesion_mask
from train.segmentation.measures import COLOURS, lesion_measures

SEPARATING = ("diameter_px", "asymmetry", "compactness", "colours")  # higher in melanoma, by the ABCD rule
RELATIVE = ("area_px", "diameter_px")  # compared as ratios; the others as differences


def measure_rows(frame: pd.DataFrame, images: list[np.ndarray], masks: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    """One row per image and mask source with every measure (an empty mask's row says so)."""
    rows = []
    for i, (_, image_row) in enumerate(frame.iterrows()):
        square = center_square(tf.convert_to_tensor(images[i])).numpy()
        for source, squares in masks.items():
            row = {"image_id": image_row["image_id"], "lesion_id": image_row["lesion_id"], "dx": image_row["dx"],
                   "source": source, "empty": not squares[i].any()}
            if not row["empty"]:
                m = lesion_measures(squares[i], square)
                row |= {k: m[k] for k in ("area_px", "diameter_px", "asymmetry", "compactness")}
                row |= {"colours": len(m["colours_present"]), **{f"colour {c}": c in m["colours_present"] for c in COLOURS}}
            rows.append(row)
    return pd.DataFrame(rows)


def separation(rows: pd.DataFrame) -> dict:
    """AUC of each measure for melanoma against nevus, with a lesion-bootstrap interval."""
    pair = rows[rows["dx"].isin(["mel", "nv"]) & ~rows["empty"]].reset_index(drop=True)
    y = (pair["dx"] == "mel").to_numpy()
    values = pair[list(SEPARATING)].to_numpy(float)

    def aucs(idx: np.ndarray) -> dict[str, float]:
        if y[idx].all() or not y[idx].any():
            return {name: np.nan for name in SEPARATING}
        return {name: roc_auc_score(y[idx], values[idx, k]) for k, name in enumerate(SEPARATING)}

    intervals = cluster_bootstrap(aucs, pair["lesion_id"].to_numpy(str), n_resamples=500)
    point = aucs(np.arange(len(pair)))
    return {"melanomas": int(y.sum()), "nevi": int((~y).sum()),
            **{name: {"auc": float(point[name]), "ci95": intervals[name]} for name in SEPARATING}}


def agreement(rows: pd.DataFrame) -> dict:
    """Outline against reference, image by image, where both outlined something."""
    both = rows[rows["source"] == "reference"].merge(rows[rows["source"] == "outline"], on="image_id",
                                                     suffixes=("_ref", "_out"))
    both = both[~both["empty_ref"] & ~both["empty_out"]]
    out = {"images": len(both)}
    for name in ("area_px", "diameter_px", "asymmetry", "compactness", "colours"):
        ref, mine = both[f"{name}_ref"].to_numpy(float), both[f"{name}_out"].to_numpy(float)
        difference = np.abs(mine / ref - 1) if name in RELATIVE else np.abs(mine - ref)
        out[name] = {"spearman": float(spearmanr(ref, mine).statistic),
                     "median_" + ("relative_difference" if name in RELATIVE else "absolute_difference"):
                         float(np.median(difference)), "p90": float(np.percentile(difference, 90))}
    same = np.all([both[f"colour {c}_ref"].to_numpy() == both[f"colour {c}_out"].to_numpy() for c in COLOURS], axis=0)
    out["same_colours_present"] = float(same.mean())
    return out


def repeatability(rows: pd.DataFrame) -> dict:
    """|relative difference| of area and diameter between the first two photos of each lesion, per mask source."""
    out = {}
    for source, part in rows[~rows["empty"]].groupby("source"):
        firsts = part.groupby("lesion_id").filter(lambda g: len(g) >= 2).groupby("lesion_id").head(2)
        pairs = firsts.groupby("lesion_id")[list(RELATIVE)].agg(lambda v: abs(v.iloc[1] / v.iloc[0] - 1))
        if pairs.empty:
            out[source] = {"lesions": 0}
            continue
        out[source] = {"lesions": len(pairs), **{name: {"median": float(pairs[name].median()),
                                                        "p90": float(pairs[name].quantile(0.9))} for name in RELATIVE}}
    return out


def skin_tone(images: list[np.ndarray], masks: dict[str, list[np.ndarray]]) -> dict:
    """ITA of the skin around the lesion with Otsu's lesion and (with a decoder) the outline, against the ITA with
    the reference mask: mean absolute difference in degrees and how often the ITA group is the same."""
    rows = []
    for i, image in enumerate(images):
        lab = rgb2lab(image / 255.0)
        lesions = {"otsu": otsu_lesion_mask(lab)}
        lesions.update({source: lesion_in_frame(squares[i], lab.shape[:2]) for source, squares in masks.items()})
        rows.append({k: ita_outside(lab, v)["ita"] for k, v in lesions.items()})
    table = pd.DataFrame(rows).dropna()
    return {other: {"images": len(table), "mean_abs_difference_degrees": float((table[other] - table["reference"]).abs().mean()),
                    "same_group": float(np.mean([ita_group(a) == ita_group(b)
                                                 for a, b in zip(table[other], table["reference"])]))}
            for other in table.columns if other != "reference"}


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.lesion_measures", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, type=Path)
    p.add_argument("--masks", required=True, type=Path, help="reference masks <image_id>_segmentation.png")
    p.add_argument("--labels", required=True, type=Path, help="labels CSV (image_id, dx, lesion_id): the split")
    p.add_argument("--missing", choices=("error", "skip"), default="error")
    p.add_argument("--model", type=Path, default=None, help="a run with an outline decoder (else reference only)")
    p.add_argument("--out", required=True, type=Path, help="JSON file")
    args = p.parse_args(argv)
    frame = load_labelled_images(args.images, args.labels, missing=args.missing).frame.reset_index(drop=True)
    masks = {"reference": reference_squares(frame, mask_files(frame, args.masks))}
    if args.model is not None:
        outlines = keras_outlines(args.model, frame["path"].tolist())
        masks["outline"] = [outline_on_square(o, s.shape[0]) for o, s in zip(outlines, masks["reference"])]
    images = [read_rgb(path) for path in frame["path"]]  # decoded once for the measures and the skin tone
    rows = measure_rows(frame, images, masks)
    report = {"images": str(args.images), "labels": str(args.labels), "model": str(args.model) if args.model else None,
              "n_images": len(frame), "empty": rows.groupby("source")["empty"].sum().astype(int).to_dict(),
              "separation_melanoma_vs_nevus": {s: separation(part) for s, part in rows.groupby("source")},
              "repeatability_same_lesion": repeatability(rows),
              "skin_tone_ita_against_reference_mask": skin_tone(images, masks)}
    if "outline" in masks:
        report["agreement_outline_vs_reference"] = agreement(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report["separation_melanoma_vs_nevus"], indent=1)[:1500])
    return 0


if __name__ == "__main__":
    sys.exit(main())
