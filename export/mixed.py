"""Mixed weights: which pointwise (1x1) convolutions can be stored in one byte per weight.

MobileNetV2 keeps most of its parameters in its 34 pointwise convolutions. TF.js's converter can store any
weight in uint8 (affine, one scale per tensor) and the rest in float16. Storing all of them in uint8 moves
answers (reports/quantization.md), but the layers differ tenfold in how much their rounding matters, so the
choice is made layer by layer on validation:

1. simulate what the converter does to one layer: the exported graph has each convolution's batch norm
   folded into the kernel (export/folding.py), so the folded kernel is quantized and dequantized with
   tensorflowjs' own functions and unfolded back into the Keras layer;
   every other weight is rounded to float16, as the export stores it;
2. score each layer alone by the mean change of the calibrated probabilities it causes, on every
   ``RANKING_STRIDE``-th image (a ranking needs no more, and 34 full passes would take an hour on 2 cores;
   the mean, because the largest change over a few hundred images is one image's accident);
3. rank the layers by sensitivity per weight: each layer stored in uint8 saves one byte per weight, so a
   large layer that moves answers as little as a small one is worth more (a first ranking by sensitivity
   alone stopped at 17 layers and 3.14 MB, two thirds of them small layers that saved little);
4. store the best-ranked layers in uint8, as many as keep the answers a user sees (``user_rule``) in every
   condition (the 200x150 copies and the sharp crops, as the browser check judges them; pooled, the sharp
   crops' margin once hid a failing count of referral flips on the copies): the longest such prefix of the
   ranking is found by bisection, which assumes that adding a layer never brings the answers back (the
   figures of every length tried are printed and reported).

The simulation chooses; the browser decides: export scores the converted candidate in Chromium like every
other quantization and ships it only if it passes the same rule there.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from export.agreement import answer_agreement
from export.folding import batch_norm_pairs, batch_norm_scale, folded_weights
from train.calibration.calibrate import calibrated_probabilities
from train.model.network import BACKBONE_NAME

MIN_TOP1_AGREEMENT = 0.99
MIN_REFERRAL_AGREEMENT = 0.995
MAX_BALANCED_ACCURACY_DROP = 0.005
MAX_AUC_DROP = 0.002
MAX_PROBABILITY_DIFF = 0.10
RANKING_STRIDE = 6


def user_rule(candidate: dict, reference: dict) -> bool:
    """The shipping rule (rows with agreement figures against the float32 model, and accuracy figures)."""
    return (candidate["top1_agreement"] >= MIN_TOP1_AGREEMENT
            and candidate["referral_agreement"] >= MIN_REFERRAL_AGREEMENT
            and reference["balanced_accuracy"] - candidate["balanced_accuracy"] <= MAX_BALANCED_ACCURACY_DROP
            and reference["macro_auc"] - candidate["macro_auc"] <= MAX_AUC_DROP
            and candidate["max_abs_diff"] <= MAX_PROBABILITY_DIFF)


def pointwise_layers(classifier) -> list[str]:
    """Names of the backbone's 1x1 convolutions that are followed by a batch norm (folded at export)."""
    backbone = _backbone(classifier)
    convolutions = [backbone.get_layer(name) for name in batch_norm_pairs(backbone)]
    return [conv.name for conv in convolutions
            if conv.__class__.__name__ == "Conv2D" and tuple(conv.kernel.shape[:2]) == (1, 1)]


def _backbone(classifier):
    return classifier.get_layer(BACKBONE_NAME)


@functools.cache
def converter_quantization():
    """tensorflowjs' own quantization module, loaded by file: importing the package runs its __init__, which
    imports TensorFlow Decision Forests, which needs IPython whenever stdout is captured (as under pytest)."""
    import importlib.util

    spec = importlib.util.find_spec("tensorflowjs")
    path = Path(spec.submodule_search_locations[0]) / "quantization.py"
    module_spec = importlib.util.spec_from_file_location("tensorflowjs_quantization", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def simulated_uint8_kernel(classifier, name: str) -> np.ndarray:
    """The layer's kernel as the browser would compute with it stored in uint8 (batch norm folded in)."""
    quantization = converter_quantization()
    backbone = _backbone(classifier)
    bn = batch_norm_pairs(backbone)[name]
    folded, _ = folded_weights(backbone.get_layer(name), bn)
    data, meta = quantization.quantize_weights(folded, np.uint8)
    return quantization.dequantize_weights(data, meta) / batch_norm_scale(bn)


def apply_uint8(classifier, layers: list[str]) -> None:
    """Give ``layers`` the kernels the browser computes with when they are stored in uint8 (in place)."""
    backbone = _backbone(classifier)
    kernels = {name: simulated_uint8_kernel(classifier, name) for name in layers}
    for name, kernel in kernels.items():
        backbone.get_layer(name).kernel.assign(kernel)


def uint8_layer_names(weight_names: list[str]) -> list[str]:
    """The layers whose folded kernels a converted graph stores in uint8, from its weight names
    (``.../<layer>_<n>/convolution/ReadVariableOp``)."""
    return [name.rsplit("/convolution/", 1)[0].rsplit("/", 1)[-1].rsplit("_", 1)[0] for name in weight_names]


def choose_uint8_layers(classifier, conditions: dict[str, tuple[list[np.ndarray], np.ndarray]], calibration: dict,
                        log=print) -> tuple[dict, dict[str, np.ndarray]]:
    """The layers to store in uint8, chosen as the module docstring says on each condition's validation images
    (normalised batches and labels); returns them with each layer's sensitivity and the simulated figures,
    per condition, of every prefix length tried; and the float32 model's calibrated probabilities of each
    condition's images, the reference every export is judged against."""
    from train.data.loading import CLASSES
    from train.evaluation.metrics import classification_metrics

    threshold = calibration["operating_point"]["threshold"]
    backbone = _backbone(classifier)
    layers = pointwise_layers(classifier)
    size = {name: int(np.prod(backbone.get_layer(name).kernel.shape)) for name in layers}
    uint8_kernels = {name: simulated_uint8_kernel(classifier, name) for name in layers}
    float32_weights = classifier.get_weights()

    def probabilities(batches: list[np.ndarray]) -> np.ndarray:
        logits = np.concatenate([classifier.predict(x, batch_size=64, verbose=0) for x in batches])
        return calibrated_probabilities(logits, calibration)

    def scored(condition: str, probs: np.ndarray) -> dict:
        metrics = classification_metrics(conditions[condition][1], probs, CLASSES)
        return {"balanced_accuracy": metrics["balanced_accuracy"], "macro_auc": metrics["macro_auc"],
                **answer_agreement(references[condition], probs, threshold)}

    references = {c: probabilities(batches) for c, (batches, _) in conditions.items()}
    float32 = {c: scored(c, references[c]) for c in conditions}
    # every other weight is stored in float16, as in the export
    classifier.set_weights([w.astype(np.float16).astype(np.float32) if w.dtype == np.float32 else w
                            for w in float32_weights])
    float16_kernels = {name: backbone.get_layer(name).kernel.numpy() for name in layers}

    def with_uint8(names: list[str], batches: list[np.ndarray]) -> np.ndarray:
        for name in names:
            backbone.get_layer(name).kernel.assign(uint8_kernels[name])
        try:
            return probabilities(batches)
        finally:
            for name in names:
                backbone.get_layer(name).kernel.assign(float16_kernels[name])

    try:
        sample = [x[::RANKING_STRIDE] for batches, _ in conditions.values() for x in batches]
        baseline = probabilities(sample)
        sensitivity = {}
        for name in layers:
            sensitivity[name] = float(np.abs(with_uint8([name], sample) - baseline).mean())
            log(f"  {name}: alone in uint8 moves a probability by {sensitivity[name]:.5f} on average")
        ranked = sorted(layers, key=lambda name: sensitivity[name] / size[name])
        tried = {0: {c: scored(c, with_uint8([], batches)) for c, (batches, _) in conditions.items()}}
        low, high = 0, len(ranked)  # the longest passing prefix lies in [low, high]
        while low < high:
            k = (low + high + 1) // 2
            tried[k] = {c: scored(c, with_uint8(ranked[:k], batches)) for c, (batches, _) in conditions.items()}
            passed = all(user_rule(tried[k][c], float32[c]) for c in conditions)
            log(f"  the first {k} layers: " + "; ".join(
                f"{c}: top-1 {f['top1_agreement']:.4f}, referral {f['referral_agreement']:.4f}, max |dp| "
                f"{f['max_abs_diff']:.4f}, balanced accuracy {f['balanced_accuracy']:.4f}" for c, f in tried[k].items())
                + f" -> {'passes' if passed else 'fails'}")
            low, high = (k, high) if passed else (low, k - 1)
    finally:
        classifier.set_weights(float32_weights)
    chosen = ranked[:low]
    parameters = sum(size[name] for name in chosen)
    log(f"  {len(chosen)} of {len(layers)} pointwise layers in uint8 ({parameters:,} weights)")
    return {"layers": chosen, "n_pointwise": len(layers), "uint8_parameters": parameters,
            "sensitivity": sensitivity, "ranking_images": int(sum(len(x) for x in sample)),
            "simulated": tried[low], "simulated_float32": float32,
            "tried": {str(k): figures for k, figures in sorted(tried.items())}}, references
