"""Metrics and calibration against values worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from train.calibration.calibrate import choose_operating_point, fit_temperature
from train.data.loading import CLASSES
from train.evaluation.metrics import (
    binary_auc,
    classification_metrics,
    expected_calibration_error,
    softmax,
)

# 3 classes, 6 images. Predictions (argmax): 0,0,1,1,2,0 ; truth: 0,0,1,2,2,2
Y = np.array([0, 0, 1, 2, 2, 2])
P = np.array([
    [0.8, 0.1, 0.1],
    [0.6, 0.3, 0.1],
    [0.2, 0.7, 0.1],
    [0.1, 0.5, 0.4],
    [0.1, 0.2, 0.7],
    [0.5, 0.1, 0.4],
])


def test_hand_computed_classification_metrics():
    m = classification_metrics(Y, P, ("a", "b", "c"))
    # recalls: a 2/2, b 1/1, c 1/3 -> balanced accuracy (1 + 1 + 1/3) / 3
    assert m["balanced_accuracy"] == pytest.approx((1 + 1 + 1 / 3) / 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 1, 0], [1, 1, 1]]
    # precision a = 2/3 (one c predicted as a), b = 1/2, c = 1/1
    assert m["per_class"]["a"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["b"]["precision"] == pytest.approx(1 / 2)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))
    assert m["per_class"]["c"]["support"] == 3
    # specificity: of the 4 non-a images one (a c) is called a -> 3/4; non-b: 1 of 5 called b; non-c: none called c
    assert m["per_class"]["a"]["specificity"] == pytest.approx(3 / 4)
    assert m["per_class"]["b"]["specificity"] == pytest.approx(4 / 5)
    assert m["per_class"]["c"]["specificity"] == pytest.approx(1.0)


def test_auc_by_hand_with_ties():
    # positives score 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.5=0.5 -> 1/2, 0.5>0.1) = 3.5/4
    assert binary_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.5, 0.5, 0.1])) == pytest.approx(3.5 / 4)
    assert np.isnan(binary_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_ece_by_hand():
    # two images, both confidence 0.8, one right one wrong: |0.5 - 0.8| = 0.3
    probs = np.array([[0.8, 0.2], [0.8, 0.2]])
    assert expected_calibration_error(np.array([0, 1]), probs) == pytest.approx(0.3)


def test_temperature_recovers_the_temperature_that_generated_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 7))
    true_probs = softmax(logits, 2.5)
    y = np.array([rng.choice(7, p=p) for p in true_probs])
    assert fit_temperature(logits, y) == pytest.approx(2.5, rel=0.1)


def test_operating_point_reaches_the_sensitivity_with_the_best_specificity():
    mel, nv = CLASSES.index("mel"), CLASSES.index("nv")
    y = np.array([mel] * 10 + [nv] * 10)
    probs = np.zeros((20, 7))
    scores = np.r_[np.linspace(0.95, 0.5, 10), np.linspace(0.6, 0.0, 10)]
    probs[:, mel] = scores
    probs[:, nv] = 1 - scores
    point = choose_operating_point(probs, y, 0.9)
    # 9 of 10 melanomas need score >= 0.55; negatives at 0.6 (and nothing else) sit above it
    assert point["threshold"] == pytest.approx(0.55)
    assert point["validation_sensitivity"] == pytest.approx(0.9)
    assert point["validation_specificity"] == pytest.approx(0.9)


def test_top1_agreement_counts_exact_ties_as_agreement_and_real_flips_as_not():
    from export.agreement import agreement

    keras = np.array([[0.5, 0.5, 0.0], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    browser = np.array([[0.5, 0.5 + 1e-9, 0.0], [0.6, 0.3, 0.1], [0.4, 0.5, 0.1]])
    result = agreement(keras, browser)
    assert result["top1_agreement"] == pytest.approx(1.0)
    flipped = agreement(keras, np.array([[0.5, 0.5, 0.0], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1]]))
    assert flipped["top1_agreement"] == pytest.approx(2 / 3)
    assert flipped["max_abs_diff"] == pytest.approx(0.3)


def test_melanoma_floor_lowers_the_threshold_until_the_lower_bound_reaches_it():
    from train.calibration.calibrate import melanoma_sensitivity_lower_bound

    mel, bcc, nv = CLASSES.index("mel"), CLASSES.index("bcc"), CLASSES.index("nv")
    # bcc is caught easily (score 0.9); the 40 melanomas spread from 0.8 down to 0.02
    y = np.array([bcc] * 60 + [mel] * 40 + [nv] * 100)
    scores = np.r_[np.full(60, 0.9), np.linspace(0.8, 0.02, 40), np.linspace(0.5, 0.0, 100)]
    probs = np.zeros((200, 7))
    probs[:, mel] = scores
    probs[:, nv] = 1 - scores
    without = choose_operating_point(probs, y, 0.9)
    floored = choose_operating_point(probs, y, 0.9, melanoma_floor=0.85)
    assert without["validation_melanoma_sensitivity"] < 0.85  # 90% of all malignant, but melanoma lags
    assert floored["threshold"] < without["threshold"]
    assert floored["validation_melanoma_lower_bound"] >= 0.85
    assert floored["validation_specificity"] < without["validation_specificity"]  # the price, in false alarms
    # one-sided 95% Wilson, by hand (z = 1.645): (0.95 + z^2/80 - z*sqrt(0.95*0.05/40 + z^2/6400)) / (1 + z^2/40)
    assert melanoma_sensitivity_lower_bound(38, 40) == pytest.approx(0.8597, abs=5e-4)


def test_balanced_accuracy_leaves_out_classes_only_predicted():
    # truth has classes 0 and 1; class 2 is only predicted: recalls 1/2 (class 0) and 1/1 (class 1)
    from train.evaluation.metrics import balanced_accuracy, sensitivity_specificity

    assert balanced_accuracy(np.array([0, 0, 1]), np.array([0, 2, 1])) == pytest.approx(0.75)
    # 3 positives, 2 flagged; 2 negatives, 1 flagged
    rates = sensitivity_specificity(np.array([1, 1, 1, 0, 0]), np.array([1, 1, 0, 1, 0]))
    assert rates == {"sensitivity": pytest.approx(2 / 3), "specificity": pytest.approx(1 / 2)}
    assert np.isnan(sensitivity_specificity(np.array([0, 0]), np.array([1, 0]))["sensitivity"])
