"""python -m train.calibration.change_margin --model DIR: how much the malignancy score moves between two photos of an
unchanged lesion, so that the lesion history can tell a real change from the model's own noise.

HAM10000 often has several dermoscopic photos of one lesion taken at the same visit (other angle, zoom,
light). On the validation split (sharpest copy of each image, as the model was validated) every pair of
photos of the same lesion gives one absolute difference of the calibrated malignancy score. The 95th
percentile of those differences is the "clear margin": a rise larger than that is unlikely to be photo-to-
photo noise. The share of pairs that fall on different sides of the operating point is written too, so the
page can say how often an unchanged lesion flips. Writes DIR/change_margin.json, which export ships in
metadata.json as ``change``.
"""
from __future__ import annotations

import itertools
import json
import sys

import numpy as np
import pandas as pd

from train.calibration.calibrate import malignancy_score
from train.cli import parse_run_arguments, reports_data_errors
from train.data.loading import DataError
from train.model.predict import validation_probabilities

QUANTILE = 0.95


def same_lesion_pairs(lesion_ids: pd.Series) -> np.ndarray:
    """Row positions (P, 2) of every pair of images that share a lesion id."""
    pairs = [pair for rows in lesion_ids.groupby(lesion_ids.to_numpy()).indices.values()
             for pair in itertools.combinations(sorted(rows), 2)]
    return np.array(pairs, dtype=int).reshape(-1, 2)


def pair_figures(scores: np.ndarray, pairs: np.ndarray, threshold: float, times: np.ndarray | None = None,
                 quantile: float = QUANTILE) -> dict[str, float]:
    """The ``quantile`` of |score difference| over photo ``pairs`` (row positions, (P, 2)), the median, and the
    share of pairs that straddle ``threshold``; ``times``: how often each pair counts (a bootstrap resample)."""
    a, b = scores[pairs[:, 0]], scores[pairs[:, 1]]
    times = np.ones(len(pairs), int) if times is None else times
    difference = np.repeat(np.abs(a - b), times)
    return {"margin": float(np.quantile(difference, quantile)), "median_difference": float(np.median(difference)),
            "crossing_rate": float(np.repeat((a >= threshold) != (b >= threshold), times).mean())}


def change_margin(scores: np.ndarray, lesion_ids: pd.Series, threshold: float, quantile: float = QUANTILE) -> dict:
    """The ``quantile`` of |score difference| over same-lesion pairs, and how often such pairs straddle
    ``threshold``."""
    pairs = same_lesion_pairs(lesion_ids.reset_index(drop=True))
    if len(pairs) == 0:
        raise DataError("No lesion has two images in this split, so photo-to-photo variation cannot be measured.")
    figures = pair_figures(scores, pairs, threshold, quantile=quantile)
    return {
        "margin": figures["margin"],
        "quantile": quantile,
        "median_difference": figures["median_difference"],
        "crossing_rate": figures["crossing_rate"],
        "n_pairs": int(len(pairs)),
        "n_lesions": int(len(np.unique(lesion_ids.to_numpy()[pairs[:, 0]]))),
        "method": "absolute difference of the calibrated malignancy score between two photos of the same "
                  "lesion taken at the same visit (HAM10000 validation split, sharpest copy), all pairs",
    }


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_run_arguments("python -m train.calibration.change_margin", __doc__, argv)
    run, val, probs = validation_probabilities(args.model, args.data)
    threshold = run.calibration["operating_point"]["threshold"]
    summary = change_margin(malignancy_score(probs, tuple(run.config["classes"])), val["lesion_id"], threshold)
    (args.model / "change_margin.json").write_text(json.dumps(summary, indent=2))
    print(f"change margin {summary['margin']:.3f} ({summary['n_pairs']} same-lesion pairs, "
          f"{summary['crossing_rate']:.1%} straddle the operating point) -> {args.model / 'change_margin.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
