"""Several photos of one lesion, one answer: the combination rules, their choice and a combined visit's noise."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from train.calibration.calibrate import calibrated_probabilities, malignancy_score
from train.calibration.combine import (
    choose_rule,
    combination_summary,
    combine,
    combine_groups,
    lesion_rows,
    multi_photo_mask,
    visit_noise,
)
from train.data.loading import DataError
from train.evaluation.evaluate import Scores, by_lesion_metrics

CALIBRATION = {"class_bias": [0.3, -0.2, 0.1, 0.5, -0.4, 0.0, 0.2], "temperature": 1.7}


def test_mean_of_logits_from_probabilities_keeps_the_calibration():
    logits = np.random.default_rng(0).normal(0, 3, size=(3, 7))
    probs = calibrated_probabilities(logits, CALIBRATION)
    # the mean of the raw logits, then the class-balance correction and temperature of a single photo
    expected = calibrated_probabilities(logits.mean(axis=0, keepdims=True), CALIBRATION)[0]
    np.testing.assert_allclose(combine(probs, "mean_logits"), expected, atol=1e-12)


def test_mean_of_probabilities_by_hand():
    probs = np.array([[0.5, 0.5, 0, 0, 0, 0, 0], [0.1, 0.3, 0.6, 0, 0, 0, 0]])
    np.testing.assert_allclose(combine(probs, "mean_probabilities"), [0.3, 0.4, 0.3, 0, 0, 0, 0])
    # a probability of exactly 0 (float32 underflow) is floored before its log: the result stays finite
    assert combine(probs, "mean_logits").sum() == pytest.approx(1.0)


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="Unknown combination rule 'median'"):
        combine(np.full((2, 7), 1 / 7), "median")


def test_each_image_gets_its_lesions_combination_and_single_photos_stay():
    probs = np.random.default_rng(1).dirichlet(np.ones(7), size=5)
    groups = np.array(["a", "b", "a", "c", "a"])
    out = combine_groups(probs, groups, "mean_probabilities")
    np.testing.assert_allclose(out[[0, 2, 4]], np.tile(probs[[0, 2, 4]].mean(axis=0), (3, 1)))
    np.testing.assert_allclose(out[[1, 3]], probs[[1, 3]])
    assert list(lesion_rows(groups)) == [0, 1, 3]
    assert list(multi_photo_mask(groups)) == [True, False, True, False, True]


def scores(multi_ba: dict[str, float], log_loss: dict[str, float]) -> dict:
    return {r: {"multi_photo_lesions": {"balanced_accuracy": multi_ba[r], "log_loss": log_loss[r]}} for r in multi_ba}


def test_a_tie_within_the_bootstrap_goes_to_the_better_calibrated_rule():
    s = scores({"mean_logits": 0.77, "mean_probabilities": 0.78}, {"mean_logits": 0.80, "mean_probabilities": 0.81})
    assert choose_rule(s, {"mean_logits": [-0.02, 0.0]}, "mean_probabilities") == "mean_logits"
    # an interval that excludes 0: the more accurate rule wins despite its log loss
    assert choose_rule(s, {"mean_logits": [-0.03, -0.001]}, "mean_probabilities") == "mean_probabilities"


def noisy_lesions(n_lesions: int = 300, photos: int = 3, spread: float = 1.0, seed: int = 0):
    """Calibrated probabilities of ``photos`` photos per lesion: a lesion centre plus Gaussian logit noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2, size=(n_lesions, 7))
    logits = np.repeat(centres, photos, axis=0) + rng.normal(0, spread, size=(n_lesions * photos, 7))
    labels = np.repeat(centres.argmax(axis=1), photos)
    return calibrated_probabilities(logits, {"class_bias": [0] * 7, "temperature": 1.0}), labels, \
        pd.Series(np.repeat([f"L{i}" for i in range(n_lesions)], photos))


def test_derived_single_photo_noise_matches_the_measured_pairs_and_shrinks_with_more_photos():
    probs, labels, lesions = noisy_lesions()
    summary = combination_summary(probs, labels, lesions, threshold=0.4)
    derived = {row["photos"]: row for row in summary["visit_change"]}
    measured = summary["single_photo_measured"]
    # the model behind the derivation reproduces what can be measured (one photo against another)
    assert derived[1]["margin"] == pytest.approx(measured["margin"], rel=0.1)
    assert derived[1]["crossing_rate"] == pytest.approx(measured["crossing_rate"], abs=0.03)
    assert derived[1]["margin"] > derived[2]["margin"] > derived[3]["margin"] > derived[4]["margin"]
    assert derived[1]["crossing_rate"] > derived[4]["crossing_rate"]
    assert summary["rule"] in ("mean_logits", "mean_probabilities")


def test_no_multi_photo_lesion_is_a_clear_error():
    probs, labels, _ = noisy_lesions(n_lesions=10, photos=1)
    with pytest.raises(DataError, match="No lesion in the validation split has two images"):
        combination_summary(probs, labels, pd.Series([f"L{i}" for i in range(10)]), threshold=0.4)
    with pytest.raises(DataError, match="No lesion has two images"):
        visit_noise(probs, np.arange(10), 0.4, "mean_logits")


def test_by_lesion_scores_every_image_with_its_lesions_answer():
    # lesion A (akiec): two photos say akiec, one says nv -> combined akiec for all three; lesion B (nv): one photo
    p = np.full((4, 7), 0.02)
    p[0, 0] = p[1, 0] = 0.88
    p[2, 5] = 0.60
    p[2, 0] = 0.28
    p[3, 5] = 0.88
    y = np.array([0, 0, 0, 5])
    lesions = np.array(["A", "A", "A", "B"])
    s = Scores(p, None, {}, None, combine_groups(p, lesions, "mean_logits"), "mean_logits")
    op = {"threshold": 0.5, "classes": ["mel", "bcc", "akiec"]}
    out = by_lesion_metrics(y, s, lesions, op)
    assert out["balanced_accuracy"] == 1.0  # per image it is (2/3 + 1) / 2
    assert out["n_lesions"] == 2 and out["n_multi_photo_lesions"] == 1 and out["rule"] == "mean_logits"
    assert out["lesions_counted_once"]["n_images"] == 2
    assert out["multi_photo_images"]["n_images"] == 3
    assert out["multi_photo_images"]["per_image"]["balanced_accuracy"] == pytest.approx(2 / 3)
    assert out["malignant"]["sensitivity"] == 1.0
    assert malignancy_score(s.combined)[2] > 0.5
