"""Mixed uint8/float16 export: the simulation does what TF.js's converter does, the converter's patterns name
exactly the chosen layers, and the shipping rule judges what a user sees."""
from __future__ import annotations

import fnmatch
import json

import numpy as np
import pytest

from export.agreement import answer_agreement
from export.mixed import (
    pointwise_layers,
    simulated_uint8_kernel,
    uint8_layer_names,
    user_rule,
)
from export.tfjs import ExportError, quantization_flags
from tests.conftest import ROOT
from train.data.loading import CLASSES
from train.evaluation.evaluate import keras_probabilities

MEL, NV = CLASSES.index("mel"), CLASSES.index("nv")


@pytest.fixture(scope="module")
def classifier():
    import keras

    return keras.saving.load_model(ROOT / "models" / "ham10000" / "model.keras", compile=False)


def test_the_34_pointwise_convolutions_are_the_candidates(classifier):
    layers = pointwise_layers(classifier)
    assert len(layers) == 34 and layers[0] == "expanded_conv_project" and layers[-1] == "Conv_1"
    assert "Conv1" not in layers  # the first (3x3) convolution stays float


def test_the_simulated_kernel_is_the_folded_kernel_rounded_to_256_levels(classifier):
    backbone = classifier.get_layer("backbone")
    kernel = backbone.get_layer("block_9_expand").kernel.numpy()
    bn = backbone.get_layer("block_9_expand_BN")
    scale = bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
    folded, simulated = kernel * scale, simulated_uint8_kernel(classifier, "block_9_expand") * scale
    step = (folded.max() - folded.min()) / 255
    assert 0 < np.abs(simulated - folded).max() <= step / 2 * 1.01
    assert len(np.unique(np.round((simulated - simulated.min()) / step))) <= 256


def test_the_converter_patterns_name_each_chosen_layer_once(classifier):
    # the shipped graph's weight names (any quantization keeps the names)
    manifest = json.loads((ROOT / "site" / "model" / "model.json").read_text())["weightsManifest"]
    names = [w["name"] for group in manifest for w in group["weights"]]
    layers = pointwise_layers(classifier)
    flags = quantization_flags("mixed", tuple(layers))
    assert flags[0] == "--quantize_float16"  # everything not named below
    patterns = flags[1].removeprefix("--quantize_uint8=").split(",")
    matched = [fnmatch.filter(names, pattern) for pattern in patterns]
    assert all(len(m) == 1 for m in matched), matched
    assert len({m[0] for m in matched}) == 34 and not any("Conv1_" in m[0] for m in matched)
    with pytest.raises(ExportError, match="needs the layers"):
        quantization_flags("mixed", ())
    # and metadata.json reads the layer names back from the converted graph's weight names
    assert uint8_layer_names([m[0] for m in matched]) == layers


def probs_with_scores(scores: list[float], top: list[int]) -> np.ndarray:
    probs = np.full((len(scores), len(CLASSES)), 0.0)
    for i, (s, t) in enumerate(zip(scores, top)):
        probs[i, MEL] = s
        probs[i, t if t != MEL else NV] += 1 - s
    return probs


def test_agreement_counts_the_referral_decision_and_the_top_class():
    reference = probs_with_scores([0.2, 0.35, 0.6, 0.9], [NV, NV, MEL, MEL])
    moved = probs_with_scores([0.25, 0.45, 0.55, 0.9], [NV, NV, MEL, MEL])  # image 2 crosses 0.4
    figures = answer_agreement(reference, moved, threshold=0.4)
    assert figures["referral_agreement"] == 0.75 and figures["top1_agreement"] == 1.0
    assert figures["max_abs_diff"] == pytest.approx(0.1)
    at_threshold = probs_with_scores([0.4], [NV])
    assert answer_agreement(at_threshold, at_threshold - 1e-9 * (np.arange(7) == MEL), 0.4)["referral_agreement"] == 1.0


def test_the_rule_judges_answers_not_the_largest_probability_change_alone():
    reference = {"balanced_accuracy": 0.80, "macro_auc": 0.95}
    good = {"balanced_accuracy": 0.798, "macro_auc": 0.949, "top1_agreement": 0.995, "referral_agreement": 0.996,
            "max_abs_diff": 0.08}
    assert user_rule(good, reference)  # the old rule (every probability within 0.02) refused this
    assert not user_rule(good | {"referral_agreement": 0.99}, reference)
    assert not user_rule(good | {"top1_agreement": 0.98}, reference)
    assert not user_rule(good | {"balanced_accuracy": 0.79}, reference)
    assert not user_rule(good | {"macro_auc": 0.947}, reference)
    assert not user_rule(good | {"max_abs_diff": 0.2}, reference)


def test_the_export_that_ships_passes_the_rule_in_every_condition():
    from export.quantization import choose_quantization

    def row(name: str, size: int, sharp_referral: float) -> dict:
        figures = {"balanced_accuracy": 0.8, "macro_auc": 0.95, "top1_agreement": 1.0, "max_abs_diff": 0.05}
        return {"quantization": name, "model_bytes": size,
                "conditions": {"low": figures | {"referral_agreement": 1.0},
                               "sharp": figures | {"referral_agreement": sharp_referral}}}

    rows = [row("float32", 9, 1.0), row("float16", 5, 0.999), row("mixed", 3, 0.99), row("uint8", 2, 0.98)]
    assert choose_quantization(rows) == "float16"  # mixed holds on the 200x150 copies only
    rows[2] = row("mixed", 3, 0.996)
    assert choose_quantization(rows) == "mixed"


def test_the_choice_is_the_longest_passing_prefix_of_the_ranking_by_sensitivity_per_weight(classifier):
    from export.mixed import choose_uint8_layers
    from tests.conftest import HAM_FIXTURES
    from train.data.loading import load_training_data
    from train.model.predict import load_run, model_inputs

    run = load_run(ROOT / "models" / "ham10000")
    frame = load_training_data(HAM_FIXTURES).frame
    inputs = list(model_inputs(frame["path"].tolist(), run.prep))
    labels = frame["label"].to_numpy()
    conditions = {"fixtures": (inputs, labels), "first half": ([inputs[0][:14]], labels[:14])}
    choice, references = choose_uint8_layers(run.model, conditions, run.calibration, log=lambda _: None)
    backbone = run.model.get_layer("backbone")
    per_weight = {name: value / np.prod(backbone.get_layer(name).kernel.shape) for name, value in choice["sensitivity"].items()}
    ranked = sorted(per_weight, key=per_weight.get)
    k = len(choice["layers"])
    assert choice["layers"] == ranked[:k] and choice["n_pointwise"] == 34
    # every length tried above the choice failed in some condition, every one at or below it passed in all
    for length, figures in choice["tried"].items():
        if int(length):
            passed = all(user_rule(figures[c], choice["simulated_float32"][c]) for c in conditions)
            assert passed == (int(length) <= k)
    assert choice["simulated_float32"]["fixtures"]["top1_agreement"] == 1.0
    # the reference is the float32 model's calibrated answer, as keras_probabilities gives it
    np.testing.assert_allclose(references["fixtures"], keras_probabilities(ROOT / "models" / "ham10000",
                                                                           frame["path"].tolist())[0], atol=1e-6)
    # the model is left as it was loaded
    reloaded = load_run(ROOT / "models" / "ham10000").model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(run.model.get_weights(), reloaded))


def test_the_test_split_bars_compare_with_keras_and_with_float16():
    from export.studies.quantization_test import checks

    float16 = {"balanced_accuracy": 0.700, "guard_rejects": 0.020}
    shipped = {"top1_agreement": 0.995, "referral_agreement": 0.997, "balanced_accuracy": 0.696, "guard_rejects": 0.024}
    assert all(checks(shipped, float16).values())
    assert not checks(shipped | {"guard_rejects": 0.026}, float16)["guard_within_0.5_points_of_float16"]
    assert not checks(shipped | {"balanced_accuracy": 0.694}, float16)["balanced_accuracy_within_0.005_of_float16"]
    assert not checks(shipped | {"referral_agreement": 0.994}, float16)["referral_agreement"]
