"""train.studies.paired: candidate-minus-base figures on the same images, as the shipped model is judged."""
from __future__ import annotations

import numpy as np
import pytest

from train.data.loading import CLASSES
from train.evaluation.intervals import cluster_bootstrap
from train.studies.paired import paired_differences, photo_to_photo, shipped_scores

MEL, NV, BCC = CLASSES.index("mel"), CLASSES.index("nv"), CLASSES.index("bcc")


def one_hot(labels: list[int], confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(labels), len(CLASSES)), (1 - confidence) / (len(CLASSES) - 1))
    probs[np.arange(len(labels)), labels] = confidence
    return probs


def test_shipped_scores_read_the_operating_point_and_the_argmax():
    y = np.array([MEL, MEL, NV, NV, BCC])
    probs = one_hot([MEL, NV, NV, MEL, BCC])
    scores = shipped_scores(y, probs, threshold=0.5)
    assert scores["melanoma_sensitivity"] == 0.5  # one of two melanomas scores above the threshold
    assert scores["malignant_specificity"] == 0.5  # one of two naevi is flagged
    assert scores["balanced_accuracy"] == pytest.approx((0.5 + 0.5 + 1) / 3)


def test_differences_are_candidate_minus_base_and_zero_for_the_same_model():
    y = np.array([MEL, MEL, NV, NV, BCC, BCC])
    base = one_hot([MEL, NV, NV, MEL, BCC, NV])
    better = one_hot(list(y))
    same = paired_differences(y, base, base, 0.5, 0.5)(np.arange(len(y)))
    assert all(value == 0 for value in same.values())
    gain = paired_differences(y, base, better, 0.5, 0.5)(np.arange(len(y)))
    assert gain["balanced_accuracy"] == pytest.approx(1 - (0.5 + 0.5 + 0.5) / 3)
    assert gain["melanoma_sensitivity"] == pytest.approx(0.5) and gain["malignant_specificity"] == pytest.approx(0.5)


def test_a_paired_interval_is_narrower_than_the_unpaired_spread():
    # Both models miss the same hard images; only 10 images differ. Resampling lesions moves both scores
    # together, so the difference's interval stays tight while each score alone swings widely.
    rng = np.random.default_rng(0)
    y = rng.choice([MEL, NV, BCC], size=300)
    base_pred = np.where(rng.random(300) < 0.7, y, NV)
    candidate_pred = base_pred.copy()
    candidate_pred[np.flatnonzero(base_pred != y)[:10]] = y[base_pred != y][:10]
    groups = np.arange(300) // 2
    statistics = paired_differences(y, one_hot(list(base_pred)), one_hot(list(candidate_pred)), 0.5, 0.5)
    paired = cluster_bootstrap(statistics, groups, n_resamples=200)["balanced_accuracy"]
    alone = cluster_bootstrap(lambda idx: shipped_scores(y[idx], one_hot(list(base_pred[idx])), 0.5), groups,
                              n_resamples=200)["balanced_accuracy"]
    assert paired[0] > 0  # every one of the 10 changes is a fix
    assert paired[1] - paired[0] < alone[1] - alone[0]


def malignant_probs(scores: list[float]) -> np.ndarray:
    """Probabilities whose malignancy score (akiec + bcc + mel) is each of ``scores``."""
    probs = np.zeros((len(scores), len(CLASSES)))
    probs[:, MEL] = scores
    probs[:, NV] = 1 - np.asarray(scores)
    return probs


def test_photo_to_photo_figures_follow_the_lesions_a_resample_draws():
    lesions = np.array(["a", "a", "b", "b", "c"])
    y = np.array([MEL, MEL, NV, NV, NV])
    steady = malignant_probs([0.6, 0.6, 0.1, 0.1, 0.2])
    shaky = malignant_probs([0.6, 0.2, 0.1, 0.3, 0.2])  # lesion a straddles 0.5 (0.4 apart), b moves 0.2
    assert photo_to_photo(steady, np.array([[0, 1], [2, 3]]), 0.5) == {"photo_margin": 0.0, "crossing_rate": 0.0}
    shaky_figures = photo_to_photo(shaky, np.array([[0, 1], [2, 3]]), 0.5)
    assert shaky_figures["crossing_rate"] == 0.5 and shaky_figures["photo_margin"] == pytest.approx(0.39)
    statistics = paired_differences(y, steady, shaky, 0.5, 0.5, lesions)
    assert statistics(np.arange(5))["crossing_rate"] == 0.5
    # a resample that drew lesion b twice and a not at all: only b's pair counts, twice
    drawn_b_twice = statistics(np.array([2, 3, 2, 3, 4]))
    assert drawn_b_twice["crossing_rate"] == 0.0 and drawn_b_twice["photo_margin"] == pytest.approx(0.2)


def test_without_same_lesion_photos_there_are_no_photo_to_photo_figures():
    y = np.array([MEL, NV, NV])
    statistics = paired_differences(y, one_hot([MEL, NV, NV]), one_hot([MEL, NV, MEL]), 0.5, 0.5,
                                    np.array(["a", "b", "c"]))
    assert set(statistics(np.arange(3))) == {"balanced_accuracy", "macro_auc", "malignant_specificity",
                                             "melanoma_sensitivity"}
