"""The deployable graph: CAM outputs that are the logits' spatial decomposition, and the OOD score."""
from __future__ import annotations

import numpy as np
import pytest

from train.guard.ood import fit_projection, guard_score, ood_distance, per_source_scales
from train.model.explained import explained_model
from train.model.network import build_classifier
from train.studies.explain_eval import centred_gaussian, heatmap_scores, normalised_cam


@pytest.fixture(scope="module")
def classifier():
    return build_classifier(0.35, 64, None, "keras")


def test_explained_model_keeps_the_logits_and_their_maps(classifier):
    x = np.random.default_rng(0).normal(size=(3, 64, 64, 3)).astype("float32")
    out = explained_model(classifier, include_features=True).predict(x, verbose=0)
    np.testing.assert_allclose(out["logits"], classifier.predict(x, verbose=0), atol=1e-4)
    assert out["cams"].shape == (3, 2, 2, 7)
    np.testing.assert_allclose(out["cams"].mean(axis=(1, 2)), out["logits"], atol=1e-5)
    assert "ood_distance" not in out


def test_ood_distance_in_the_graph_matches_numpy(classifier):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 64, 64, 3)).astype("float32")
    features = explained_model(classifier, include_features=True).predict(x, verbose=0)["ood_features"]
    stats = fit_projection(features, rng.integers(0, 7, 40), components=8)
    graph = explained_model(classifier, stats).predict(x[:5], verbose=0)["ood_distance"]
    np.testing.assert_allclose(graph, ood_distance(features[:5], stats), rtol=1e-3)
    # a guard with a threshold per source scales each centre's distance
    scaled = {**stats, "scales": rng.uniform(0.5, 2.0, len(stats["centres"])).astype("float32")}
    graph = explained_model(classifier, scaled).predict(x[:5], verbose=0)["ood_distance"]
    np.testing.assert_allclose(graph, ood_distance(features[:5], scaled), rtol=1e-3)
    assert not np.allclose(graph, ood_distance(features[:5], stats), rtol=1e-3)


def test_a_guard_with_a_late_part_scores_the_larger_of_its_two_distances_in_the_graph_as_in_numpy(classifier):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 64, 64, 3)).astype("float32")
    out = explained_model(classifier, include_features=True).predict(x, verbose=0)
    features = {"early": out["ood_features"], "late": out["late_features"]}
    labels = rng.integers(0, 7, 40)
    early = fit_projection(features["early"], labels, components=8)
    late = fit_projection(features["late"], labels, components=8)
    d_early, d_late = ood_distance(features["early"], early), ood_distance(features["late"], late)
    # a weight at which each part decides for some images
    weight = np.float32(np.median(d_early / d_late))
    stats = {**early, **{f"late_{k}": v for k, v in late.items()}, "late_weight": weight}
    expected = guard_score(features, stats)
    np.testing.assert_allclose(expected, np.maximum(d_early, weight * d_late), rtol=1e-6)
    assert (d_early > weight * d_late).any() and (d_early < weight * d_late).any()
    graph = explained_model(classifier, stats).predict(x, verbose=0)["ood_distance"]
    np.testing.assert_allclose(graph, expected, rtol=1e-3)


def test_a_threshold_per_source_keeps_a_broad_source_from_loosening_the_guard_for_the_other():
    rng = np.random.default_rng(3)
    classes = rng.integers(0, 3, 3000)
    narrow = rng.normal(size=(3000, 10)) + classes[:, None]  # source 0 (HAM10000's role)
    broad = rng.normal(size=(3000, 10)) * 3 + 12 + classes[:, None]  # source 1, other instruments
    features, sources = np.concatenate([narrow, broad]), np.repeat([0, 1], 3000)
    val = {"ham": rng.normal(size=(500, 10)) + 1, "other": rng.normal(size=(500, 10)) * 3 + 13}
    # far from both sources' lesions: nearer the narrow one, but outside it by more than its own spread
    outliers = rng.normal(size=(500, 10)) + 6
    pooled = fit_projection(features, np.tile(classes, 2), components=10)
    groups = np.tile(classes, 2) + 7 * sources
    own = per_source_scales(fit_projection(features, groups, components=10), np.unique(groups) // 7,
                            val, {"ham": 0, "other": 1}, 0.98)
    assert np.allclose(own["scales"][:3], 1.0) and (own["scales"][3:] < 1).all()
    outliers_rejected = []
    for stats in (pooled, own):
        threshold = max(np.quantile(ood_distance(v, stats), 0.98) for v in val.values())
        rejected = {k: (ood_distance(v, stats) > threshold).mean() for k, v in val.items()}
        assert max(rejected.values()) <= 0.02 + 1e-9  # each source's lesions pass at the quantile
        outliers_rejected.append((ood_distance(outliers, stats) > threshold).mean())
    assert outliers_rejected[1] > 0.95 > outliers_rejected[0]


def test_mahalanobis_guard_separates_a_shifted_distribution():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 7, 2000)
    train = rng.normal(size=(2000, 20)) + labels[:, None] * 0.5
    stats = fit_projection(train, labels, components=10)
    inside = ood_distance(rng.normal(size=(200, 20)) + 1.0, stats)
    outside = ood_distance(rng.normal(size=(200, 20)) * 3 + 8.0, stats)
    threshold = np.quantile(ood_distance(train, stats), 0.98)
    assert (inside > threshold).mean() < 0.1
    assert (outside > threshold).mean() > 0.95


def test_heatmap_scores_by_hand():
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    heatmap = np.zeros((4, 4))
    heatmap[0, 0], heatmap[3, 3] = 3.0, 1.0
    inside, hit = heatmap_scores(heatmap, mask)
    assert inside == pytest.approx(0.75)
    assert hit
    assert heatmap_scores(heatmap.T[::-1, ::-1] * 0 + np.eye(4)[::-1], mask) == (pytest.approx(0.0), False)


def test_centred_gaussian_peaks_in_the_middle_and_cam_is_normalised():
    g = centred_gaussian(10, 0.25)
    assert np.unravel_index(g.argmax(), g.shape) in {(4, 4), (4, 5), (5, 4), (5, 5)}
    cam = normalised_cam(np.array([[0.0, 2.0], [4.0, -1.0]], dtype=np.float32), 8)
    assert cam.shape == (8, 8)
    assert cam.min() == pytest.approx(0.0) and cam.max() == pytest.approx(1.0)
    assert cam[7, 0] > cam[0, 7]  # the high corner stays high
