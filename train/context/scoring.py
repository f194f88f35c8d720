"""What the patient context changes: the fused figures against the image-only ones on the same images, with a
lesion-bootstrap interval of the gain, for all fields, each field alone, and fields missing at a given rate."""
from __future__ import annotations

import numpy as np

from train.calibration.calibrate import is_malignant, malignancy_score
from train.calibration.combine import combine_groups, lesion_rows
from train.data.loading import CLASSES
from train.context.encoding import FIELDS, Encoding
from train.context.fusion import fuse
from train.evaluation.decision_metrics import evaluation_metrics, headline_values
from train.evaluation.intervals import cluster_bootstrap


def decided(y: np.ndarray, probs: np.ndarray, point: dict) -> dict[str, float]:
    """The figures the bootstrap resamples (the ones without a ranking), as evaluation_metrics computes them
    (a test holds them equal). By hand with numpy: scikit-learn checks its inputs on every call, which makes
    the 14,000 calls of one report take five minutes instead of seconds."""
    flagged = malignancy_score(probs) >= point["threshold"]
    predicted = probs.argmax(axis=1)
    present = np.unique(y)
    malignant, melanoma = is_malignant(y), y == CLASSES.index("mel")
    rate = lambda mask, said: float(said[mask].mean()) if mask.any() else np.nan  # noqa: E731
    return {"balanced_accuracy": float(np.mean([rate(y == c, predicted == c) for c in present])),
            "malignant_sensitivity": rate(malignant, flagged), "malignant_specificity": rate(~malignant, ~flagged),
            "melanoma_sensitivity": rate(melanoma, flagged)}


def summary(metrics: dict) -> dict:
    return {**headline_values(metrics), "recall": {c: v["recall"] for c, v in metrics["per_class"].items()}}


def comparison(y: np.ndarray, image: np.ndarray, fused: np.ndarray, image_point: dict, fused_point: dict,
               lesion_ids: np.ndarray, n_resamples: int = 1000) -> dict:
    """Image-only and fused figures, each at its own operating point, the gain and its 95% lesion-bootstrap
    interval, and each class's sensitivity change."""
    before, after = summary(evaluation_metrics(y, image, image_point)), summary(evaluation_metrics(y, fused, fused_point))
    keys = [k for k in before if k != "recall"]

    def gain(idx: np.ndarray) -> dict[str, float]:
        a, b = decided(y[idx], image[idx], rows(image_point, idx)), decided(y[idx], fused[idx], rows(fused_point, idx))
        return {k: b[k] - a[k] for k in a}

    return {"image_only": before, "with_context": after, "gain": {k: after[k] - before[k] for k in keys},
            "gain_interval": cluster_bootstrap(gain, lesion_ids, n_resamples=n_resamples),
            "recall_change": {c: after["recall"][c] - before["recall"][c] for c in CLASSES
                              if before["recall"][c] is not None and after["recall"][c] is not None}}


def rows(point: dict, idx: np.ndarray) -> dict:
    """The operating point of some rows: a threshold may be one per row (``decision_point``)."""
    threshold = point["threshold"]
    return {**point, "threshold": threshold[idx] if np.ndim(threshold) else threshold}


def decision_point(fusion: dict, image_point: dict, x: np.ndarray) -> dict:
    """Each row's threshold: the fusion's where any context is given, else the image's (the page shows the image's
    result, decided as always, when nothing is given)."""
    return {"threshold": np.where(x.any(axis=1), fusion["operating_point"]["threshold"], image_point["threshold"])}


def only(x: np.ndarray, encoding: Encoding, field: str) -> np.ndarray:
    """``x`` with every field but ``field`` removed."""
    kept = np.zeros_like(x)
    kept[:, encoding.blocks[field]] = x[:, encoding.blocks[field]]
    return kept


def randomly_missing(x: np.ndarray, encoding: Encoding, rates: dict[str, float], seed: int = 0) -> np.ndarray:
    """``x`` with each field removed at its own rate, independently per row."""
    rng = np.random.default_rng(seed)
    out = x.copy()
    for field, rate in rates.items():
        out[rng.random(len(x)) < rate, encoding.blocks[field]] = 0.0
    return out


def context_figures(y: np.ndarray, image: np.ndarray, x: np.ndarray, fusion: dict, encoding: Encoding,
                    image_point: dict, lesion_ids: np.ndarray, missing_rates: dict[str, float],
                    rule: str | None = None) -> dict:
    """``comparison`` for all fields, each field alone and fields missing at ``missing_rates``; with the
    combination ``rule``, also per lesion (each counted once; the photos combined first, then fused once)."""
    variants = {"all": x, **{f"{f}_only": only(x, encoding, f) for f in FIELDS},
                "randomly_missing": randomly_missing(x, encoding, missing_rates)}
    out = {name: comparison(y, image, fuse(image, v, fusion), image_point, decision_point(fusion, image_point, v),
                            lesion_ids) for name, v in variants.items()}
    out["randomly_missing"]["rates"] = missing_rates
    out["images_with_context"] = {name: int(v.any(axis=1).sum()) for name, v in variants.items()}
    if rule:
        combined = combine_groups(image, lesion_ids, rule)
        first = lesion_rows(lesion_ids)
        out["by_lesion"] = {"rule": rule, "n_lesions": int(len(first)),
                            **comparison(y[first], combined[first], fuse(combined, x, fusion)[first], image_point,
                                         decision_point(fusion, image_point, x[first]), lesion_ids[first])}
    return out
