"""Lesion-level bootstrap intervals."""
from __future__ import annotations

import numpy as np

from train.data.loading import CLASSES
from train.evaluation.evaluate import confidence_intervals
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.metrics import classification_metrics

GROUPS = np.array(["a", "a", "b", "b", "b", "c", "d"])


def test_resamples_keep_every_lesion_whole():
    drawn: list[np.ndarray] = []

    def record(idx: np.ndarray) -> dict[str, float]:
        drawn.append(idx)
        return {"n": float(len(idx))}

    cluster_bootstrap(record, GROUPS, n_resamples=200)
    for idx in drawn:
        counts = np.bincount(idx, minlength=len(GROUPS))
        # images of one lesion are drawn together, as often as each other
        assert counts[0] == counts[1] and counts[2] == counts[3] == counts[4]
        # as many lesions as there are, so the size varies with which lesions came up
        assert sum(counts[[0, 2, 5, 6]]) == 4
    assert len({len(idx) for idx in drawn}) > 1


def test_interval_of_a_group_mean_is_within_the_group_values_and_reproducible():
    values = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.5, 0.2])
    mean = lambda idx: {"mean": float(values[idx].mean())}  # noqa: E731
    low, high = cluster_bootstrap(mean, GROUPS, seed=3)["mean"]
    assert 0.0 <= low < values.mean() < high <= 1.0
    assert cluster_bootstrap(mean, GROUPS, seed=3)["mean"] == [low, high]
    assert cluster_bootstrap(lambda idx: {"k": 7.0}, GROUPS)["k"] == [7.0, 7.0]


def test_resamples_where_a_statistic_is_undefined_are_left_out():
    # undefined whenever lesion "d" is missing; otherwise always 1
    result = cluster_bootstrap(lambda idx: {"x": 1.0 if 6 in idx else float("nan")}, GROUPS, n_resamples=300)
    assert result["x"] == [1.0, 1.0]


def test_evaluation_intervals_bracket_the_estimate_and_say_what_was_resampled():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(7), 30)
    logits = rng.normal(size=(len(y), 7)) + 2.0 * np.eye(7)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    lesions = np.array([f"L{i // 2}" for i in range(len(y))])  # two images per lesion
    ci = confidence_intervals(y, probs, {"threshold": 0.3}, lesions, n_resamples=300)
    assert ci["resampled"] == "lesions" and ci["n_resampled"] == len(y) // 2
    recall = np.mean([np.mean(probs[y == c].argmax(axis=1) == c) for c in range(7)])
    low, high = ci["balanced_accuracy"]
    assert low < recall < high and high - low < 0.2
    assert set(ci) >= {"macro_auc", "melanoma_sensitivity", "malignant_sensitivity", "malignant_specificity"}
    by_image = confidence_intervals(y, probs, {"threshold": 0.3}, np.arange(len(y)).astype(str), n_resamples=50)
    assert by_image["resampled"] == "images" and by_image["level"] == 0.95


def test_per_class_intervals_contain_the_estimates_and_flag_classes_with_too_few_images():
    rng = np.random.default_rng(1)
    y = np.r_[np.repeat(np.arange(6), 60), np.full(6, 6)]  # class 6 ("vasc") has only 6 images
    logits = rng.normal(size=(len(y), 7)) + 2.0 * np.eye(7)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ci = confidence_intervals(y, probs, {"threshold": 0.3}, np.array([f"L{i}" for i in range(len(y))]), n_resamples=300)
    estimates = classification_metrics(y, probs, CLASSES)["per_class"]
    assert set(ci["per_class"]) == set(CLASSES)
    for code, values in ci["per_class"].items():
        for name, key in (("sensitivity", "recall"), ("specificity", "specificity"), ("precision", "precision"),
                          ("auc", "auc")):
            low, high = values[name]
            assert low <= estimates[code][key] <= high, (code, name)
    assert ci["per_class"]["vasc"]["too_few_images"]
    assert not ci["per_class"]["nv"]["too_few_images"]
