"""The ISIC challenge's submission format and its official scorer (``isic-challenge-scoring``, Apache-2.0).

A predictions file (``predictions.csv``, written by ``python -m train.evaluation.evaluate``) holds one row per
image: its id, its lesion where known, the seven calibrated probabilities under the challenge's column names
in its order, the malignancy score and referral, and the guard's verdict. It is what a researcher re-scores,
splits by subgroup or compares image by image without running the model.

The scorer's CSV reader (5.6.0, the last release for Python < 3.13) calls ``DataFrame.applymap``, which
pandas 3 removed, so the probabilities go to its scoring class as a data frame built here, after the same
checks its reader makes (and ones it does not: rows summing to 1). Its truth reader is used as it is, so its
weighting rule (one ISIC 2018 test image counts 0) applies unchanged.
"""
from __future__ import annotations

import io
import math
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from train.data.loading import CLASSES, DataError

# the challenge's columns, in its order, and our class code for each
ISIC_COLUMNS = {"MEL": "mel", "NV": "nv", "BCC": "bcc", "AKIEC": "akiec", "BKL": "bkl", "DF": "df", "VASC": "vasc"}
SUM_TOLERANCE = 1e-4


class PredictionsError(DataError):
    """A predictions file the scorer must not read: the message names the row."""


def isic_probabilities(image_ids: list[str], probabilities: np.ndarray) -> pd.DataFrame:
    """``probabilities`` (rows over train.data.loading.CLASSES) as the challenge's columns, by image."""
    order = [CLASSES.index(code) for code in ISIC_COLUMNS.values()]
    return pd.DataFrame(probabilities[:, order], index=pd.Index(image_ids, name="image"), columns=list(ISIC_COLUMNS))


def predictions_frame(image_ids: list[str], lesion_ids: list[str] | None, labels: np.ndarray | None,
                      probabilities: np.ndarray, malignancy: np.ndarray, threshold: float,
                      ood_distance: np.ndarray | None, ood_threshold: float | None) -> pd.DataFrame:
    """One row per image: id, lesion id, true class (where known), the seven probabilities in the ISIC
    order, the malignancy score, the referral decision and the guard's distance and verdict."""
    frame = isic_probabilities(image_ids, probabilities).reset_index()
    frame.insert(1, "lesion_id", lesion_ids if lesion_ids is not None else "")
    frame.insert(2, "dx", [CLASSES[i] for i in labels] if labels is not None else "")
    frame["malignancy_score"] = malignancy
    frame["referred"] = malignancy >= threshold
    frame["ood_distance"] = ood_distance if ood_distance is not None else np.nan
    frame["out_of_distribution"] = ood_distance > ood_threshold if ood_distance is not None else False
    return frame


def read_predictions(path: Path) -> pd.DataFrame:
    """The probabilities of a predictions (or submission) file, by image, checked: every ISIC column present,
    ids unique, each value a number in 0..1 and each row summing to 1; PredictionsError naming the row
    otherwise."""
    try:
        table = pd.read_csv(path, dtype={"image": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PredictionsError(f"{path}: cannot be read as CSV ({err}).") from err
    if "image" not in table.columns:
        raise PredictionsError(f"{path}: no 'image' column; a predictions file starts image,{','.join(ISIC_COLUMNS)}.")
    missing = [c for c in ISIC_COLUMNS if c not in table.columns]
    if missing:
        raise PredictionsError(f"{path}: missing class column(s) {', '.join(missing)}; it needs all of "
                               f"{', '.join(ISIC_COLUMNS)}.")
    table["image"] = table["image"].str.replace(r"\.jpe?g$", "", case=False, regex=True)
    duplicated = table["image"][table["image"].duplicated()]
    if len(duplicated):
        row = int(duplicated.index[0]) + 2  # +1 for the header, +1 for counting from 1
        raise PredictionsError(f"{path}, row {row}: image {duplicated.iloc[0]} appears twice; give each image one row.")
    values = table[list(ISIC_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    for i, (image, row) in enumerate(zip(table["image"], values.to_numpy(dtype=float)), start=2):
        if np.isnan(row).any() or (row < 0).any() or (row > 1).any():
            raise PredictionsError(f"{path}, row {i} ({image}): every probability must be a number from 0 to 1 "
                                   f"(got {', '.join(map(str, table.loc[i - 2, list(ISIC_COLUMNS)]))}).")
        if abs(row.sum() - 1) > SUM_TOLERANCE:
            raise PredictionsError(f"{path}, row {i} ({image}): the seven probabilities add up to {row.sum():.6f}, "
                                   "not 1.")
    return values.set_axis(pd.Index(table["image"], name="image"))


def _plain(value):
    """JSON-safe: NaN (a class absent from the truth) as None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    value = float(value)
    return None if math.isnan(value) else value


def official_scores(image_ids: list[str], labels: np.ndarray, predictions: pd.DataFrame) -> dict:
    """The official scorer's balanced accuracy and per-class figures for ``predictions`` (isic_probabilities'
    frame) against the true ``labels`` of ``image_ids``. Its balanced accuracy takes the argmax over all seven
    columns and counts an exact tie as wrong; its per-class sensitivity and specificity threshold each
    probability at 0.5. Its per-class scoring fails on a class absent from the truth (an ROC with no positives),
    so per-class figures and their macro average cover the classes present, as ours do."""
    from isic_challenge_scoring import metrics
    from isic_challenge_scoring.classification import ClassificationScore
    from isic_challenge_scoring.load_csv import parse_truth_csv, sort_rows, validate_rows

    truth = pd.DataFrame(0.0, index=pd.Index(image_ids, name="image"), columns=list(ISIC_COLUMNS))
    for column, code in ISIC_COLUMNS.items():
        truth.loc[labels == CLASSES.index(code), column] = 1.0
    truth_probabilities, weights = parse_truth_csv(io.StringIO(truth.to_csv()))
    prediction = predictions.reindex(columns=truth_probabilities.columns).astype(float)
    validate_rows(truth_probabilities, prediction)
    sort_rows(truth_probabilities)
    sort_rows(prediction)
    present = [c for c in truth_probabilities.columns if truth_probabilities[c].gt(0.5).any()]
    per_class = pd.DataFrame([ClassificationScore._category_score(truth_probabilities[c], prediction[c],
                                                                  weights.score_weight, c) for c in present])
    top = prediction.to_numpy()
    return {
        "scorer": f"isic-challenge-scoring {version('isic-challenge-scoring')}",
        "balanced_accuracy": _plain(metrics.balanced_multiclass_accuracy(truth_probabilities, prediction,
                                                                         weights.score_weight)),
        "macro_average": _plain(per_class.mean(axis="index").to_dict()),
        "per_class": {ISIC_COLUMNS[c]: _plain(per_class.loc[c].to_dict()) for c in present},
        "tied_images": int(((top == top.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum()),
        "zero_weight_images": int((weights["score_weight"] == 0).sum()),
    }
