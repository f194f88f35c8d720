"""python -m train.studies.ship_rule --shipped NAME=DIR ... --candidate NAME=DIR ... --ood FILE --out FILE.json

Does a candidate recipe's run meet issue #43's ship rule, judged on data that chose nothing?

The shipped run's seed and checkpoint were chosen on HAM10000's validation split, so every other run looks worse
there by selection. The rule therefore compares the candidate with the shipped model on the HAM10000 *test* split
(``low``: the 200x150 copies, ``sharp``: the 224 px crops) image by image, with lesion-bootstrap intervals of the
differences, and reads the ISIC inner check (``inner``) and the guard's non-lesion evaluation set (``--ood``, the
candidate's train.guard.ood_eval report). The ISIC external part (``external``) is reported and decides nothing.
Each ``DIR`` is a ``python -m train.evaluation.evaluate`` output folder (its predictions.csv). Lines:

- inner check: melanoma sensitivity at the operating point >= 0.75; the guard turns away <= 10%;
- HAM10000 test, ``low`` and ``sharp``: balanced accuracy at most 0.02 below the shipped model's, malignant
  specificity at 90% sensitivity at most 0.03 below, bcc and bkl sensitivity each at most 0.05 below;
- the non-lesion set: >= 98% rejected and >= 95% of its photos; HAM10000 test lesions turned away <= 3%.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from train.calibration.calibrate import is_malignant
from train.cli import named_path, reports_data_errors
from train.data.loading import CLASSES, DataError
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.metrics import balanced_accuracy

PROBABILITY_COLUMNS = ["AKIEC", "BCC", "BKL", "DF", "MEL", "NV", "VASC"]  # CLASSES' order, as predictions.csv names them
HAM_CONDITIONS = ("low", "sharp")
LIMITS = {"balanced_accuracy": -0.02, "malignant_specificity_at_90": -0.03, "bcc_sensitivity": -0.05,
          "bkl_sensitivity": -0.05}
INNER_MELANOMA_SENSITIVITY, INNER_GUARD, NON_LESIONS, PHOTOS, HAM_GUARD = 0.75, 0.10, 0.98, 0.95, 0.03


def predictions(folder: Path) -> pd.DataFrame:
    path = Path(folder) / "predictions.csv"
    if not path.is_file():
        raise DataError(f"{path} not found: give the output folder of python -m train.evaluation.evaluate.")
    frame = pd.read_csv(path, dtype={"lesion_id": str})
    frame["label"] = frame["dx"].map(CLASSES.index)
    return frame


def specificity_at_sensitivity(malignant: np.ndarray, score: np.ndarray, sensitivity: float = 0.9) -> float:
    """The best specificity among thresholds that catch at least ``sensitivity`` of the malignant images: how
    well the scores separate, free of where the operating point happened to land on this split."""
    from sklearn.metrics import roc_curve

    if malignant.all() or not malignant.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(malignant, score)
    return float(1 - fpr[tpr >= sensitivity].min())


def figures(frame: pd.DataFrame) -> dict[str, float]:
    """What the rule reads of one run on one set of images."""
    y = frame["label"].to_numpy()
    predicted = frame[PROBABILITY_COLUMNS].to_numpy().argmax(axis=1)
    recall = lambda c: float((predicted[y == CLASSES.index(c)] == CLASSES.index(c)).mean()) if (y == CLASSES.index(c)).any() else float("nan")  # noqa: E731
    melanoma = frame["dx"] == "mel"
    return {"balanced_accuracy": balanced_accuracy(y, predicted),
            "malignant_specificity_at_90": specificity_at_sensitivity(is_malignant(y), frame["malignancy_score"].to_numpy()),
            "bcc_sensitivity": recall("bcc"), "bkl_sensitivity": recall("bkl"),
            "melanoma_sensitivity": float(frame.loc[melanoma, "referred"].mean()) if melanoma.any() else float("nan"),
            "guard_turned_away": float(frame["out_of_distribution"].mean())}


def paired(base: pd.DataFrame, candidate: pd.DataFrame) -> Callable[[np.ndarray], dict[str, float]]:
    """Candidate minus shipped on the same images, for the lesion bootstrap."""
    def statistics(idx: np.ndarray) -> dict[str, float]:
        a, b = figures(base.iloc[idx]), figures(candidate.iloc[idx])
        return {name: b[name] - a[name] for name in LIMITS}
    return statistics


def ham_condition(base: pd.DataFrame, candidate: pd.DataFrame, resamples: int) -> dict:
    joined = base.merge(candidate[["image"]], on="image")
    if len(joined) != len(candidate) or len(joined) != len(base):
        raise DataError(f"the shipped and candidate predictions cover different images ({len(base)} and "
                        f"{len(candidate)}, {len(joined)} shared): evaluate both on the same folder and labels.")
    candidate = candidate.set_index("image").loc[base["image"]].reset_index()
    statistics = paired(base, candidate)
    difference = statistics(np.arange(len(base)))
    return {"shipped": figures(base), "candidate": figures(candidate), "difference": difference,
            "interval": cluster_bootstrap(statistics, base["lesion_id"].to_numpy(), n_resamples=resamples),
            "lines": {name: {"limit": limit, "passes": bool(difference[name] >= limit),
                             "margin": difference[name] - limit} for name, limit in LIMITS.items()}}


def ship_rule(shipped: dict[str, Path], candidate: dict[str, Path], ood: dict, resamples: int = 1000) -> dict:
    missing = [name for name in (*HAM_CONDITIONS, "inner") if name not in candidate] + \
              [name for name in HAM_CONDITIONS if name not in shipped]
    if missing:
        raise DataError(f"missing conditions {missing}: the rule needs --shipped low= sharp= and --candidate "
                        "low= sharp= inner= (external= is reported when given).")
    report = {"ham_test": {name: ham_condition(predictions(shipped[name]), predictions(candidate[name]), resamples)
                           for name in HAM_CONDITIONS}}
    inner = figures(predictions(candidate["inner"]))
    report["inner_check"] = inner | ({"shipped": figures(predictions(shipped["inner"]))} if "inner" in shipped else {})
    if "external" in candidate:
        report["external"] = figures(predictions(candidate["external"]))
    photos = ood["per_category"]["photo"]["rejected"]
    report["non_lesions"] = {"rejected": ood["out_of_distribution"]["rejected"], "photos_rejected": photos,
                             "per_category": {c: v["rejected"] for c, v in ood["per_category"].items()}}
    lines = {"inner melanoma sensitivity >= 0.75": inner["melanoma_sensitivity"] - INNER_MELANOMA_SENSITIVITY,
             "inner guard turns away <= 10%": INNER_GUARD - inner["guard_turned_away"],
             "non-lesion set rejected >= 98%": ood["out_of_distribution"]["rejected"] - NON_LESIONS,
             "non-lesion photos rejected >= 95%": photos - PHOTOS}
    for name in HAM_CONDITIONS:
        lines[f"HAM test {name} lesions turned away <= 3%"] = HAM_GUARD - report["ham_test"][name]["candidate"]["guard_turned_away"]
        for line, verdict in report["ham_test"][name]["lines"].items():
            lines[f"HAM test {name}: {line} difference >= {verdict['limit']}"] = verdict["margin"]
    report["lines"] = {name: {"margin": float(margin), "passes": bool(margin >= 0)} for name, margin in lines.items()}
    report["passes"] = all(v["passes"] for v in report["lines"].values())
    # the tie-break between passing recipes
    report["mean_balanced_accuracy"] = float(np.mean([report["ham_test"]["low"]["candidate"]["balanced_accuracy"],
                                                      inner["balanced_accuracy"]]))
    return report


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.ship_rule", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shipped", type=named_path, nargs="+", required=True, metavar="NAME=DIR")
    p.add_argument("--candidate", type=named_path, nargs="+", required=True, metavar="NAME=DIR")
    p.add_argument("--ood", type=Path, required=True, help="the candidate's train.guard.ood_eval ood.json")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--resamples", type=int, default=1000)
    args = p.parse_args(argv)
    if not args.ood.is_file():
        raise DataError(f"{args.ood} not found: run python -m train.guard.ood_eval on the candidate first.")
    report = ship_rule(dict(args.shipped), dict(args.candidate), json.loads(args.ood.read_text()), args.resamples)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for name, line in report["lines"].items():
        print(f"{'pass' if line['passes'] else 'FAIL'}  {name}  (margin {line['margin']:+.4f})")
    print(f"{'meets' if report['passes'] else 'does not meet'} the ship rule -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
