"""The deployable graph: the trained classifier plus its class activation maps and out-of-distribution score.

The head is GAP -> Dense, so applying the same Dense layer at every position of the last feature map gives
per-class activation maps (CAM, Zhou et al. 2016) whose spatial mean is exactly the logits: explanation
costs no gradients and no second pass. The OOD score is the Mahalanobis distance (Lee et al. 2018) of an
early layer's feature statistics -- per-channel mean and standard deviation of ``OOD_LAYER``, a texture and
colour summary -- to the nearest training class centre in a whitened principal subspace. It runs on-device
inside the same graph; its statistics come from ``python -m train.guard.ood``. Early-layer statistics were
chosen over the pooled top features, which the fine-tuned head makes nearly blind to solid colours,
gradients and noise.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import numpy as np

from train.model.network import BACKBONE_NAME
from train.model.predict import Run, model_inputs
from train.segmentation.decoder import OUTLINE, TAPS

OOD_FILE = "ood.npz"
OOD_JSON = "ood.json"
OOD_LAYER = "block_6_expand_relu"
LATE = "late_"  # prefix of the arrays of the optional second guard, on the pooled top features (``--late``)
NEGATIVE = "negative_"  # prefix of the outlier-exposure part's arrays (``--negatives``, train/guard/negatives.py)


def load_ood_stats(model_dir: Path) -> dict[str, np.ndarray] | None:
    """The arrays written by ``python -m train.guard.ood`` (projection, centres, with ``--per-source`` the
    centres' scales), or None if not fitted yet."""
    path = model_dir / OOD_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def load_ood_summary(model_dir: Path) -> dict | None:
    """Threshold and provenance written by ``python -m train.guard.ood`` (None if not fitted yet)."""
    path = model_dir / OOD_JSON
    return json.loads(path.read_text()) if path.is_file() else None


def explained_model(classifier: keras.Model, ood: dict[str, np.ndarray] | None = None,
                    include_features: bool = False, outline: keras.Model | None = None) -> keras.Model:
    """Same weights as ``classifier``; dict outputs ``logits``, ``cams`` (N, h, w, classes) and, with OOD
    statistics, ``ood_distance`` (N,). ``include_features`` adds the statistics the OOD guard is fitted on;
    ``outline`` (train/segmentation/decoder.py) adds the lesion probability of every input pixel, (N, size, size),
    from the same backbone pass."""
    backbone = classifier.get_layer(BACKBONE_NAME)
    head = classifier.get_layer("logits")
    inputs = keras.Input(classifier.input_shape[1:], name="image")
    decoder_taps = [backbone.get_layer(name).output for name, _ in TAPS] if outline is not None else []
    taps = keras.Model(backbone.input, [backbone.get_layer(OOD_LAYER).output, backbone.output, *decoder_taps])
    early, feature_map, *outline_taps = taps(inputs, training=False)
    cams = head(feature_map)
    outputs = {"logits": keras.ops.mean(cams, axis=(1, 2)), "cams": cams}
    if outline is not None:
        outputs[OUTLINE] = keras.ops.sigmoid(outline(outline_taps))[..., 0]
    mean = keras.ops.mean(early, axis=(1, 2))
    std = keras.ops.sqrt(keras.ops.maximum(keras.ops.mean(keras.ops.square(early), axis=(1, 2)) - mean**2, 0.0))
    statistics = keras.ops.concatenate([mean, std], axis=-1)
    pooled = keras.ops.mean(feature_map, axis=(1, 2))  # what the head reads
    if ood is not None:
        outputs["ood_distance"] = _nearest_centre(statistics, ood)
        if f"{LATE}projection" in ood:  # a second guard on the pooled features, in the first one's units: either may reject
            late = _nearest_centre(pooled, layer_stats(ood, LATE)) * float(ood[f"{LATE}weight"])
            outputs["ood_distance"] = keras.ops.maximum(outputs["ood_distance"], late)
        if f"{NEGATIVE}weights" in ood:  # outlier exposure (train/guard/negatives.py): a not-a-lesion logit, same units
            logit = keras.ops.matmul(keras.ops.concatenate([statistics, pooled], axis=-1),
                                     keras.ops.convert_to_tensor(ood[f"{NEGATIVE}weights"][:, None], "float32"))[:, 0]
            negative = keras.ops.softplus(logit + float(ood[f"{NEGATIVE}bias"])) * float(ood[f"{NEGATIVE}scale"])
            outputs["ood_distance"] = keras.ops.maximum(outputs["ood_distance"], negative)
    if include_features:
        outputs["ood_features"] = statistics
        outputs["late_features"] = pooled
    return keras.Model(inputs, outputs, name="lesion_classifier_explained")


def layer_stats(ood: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """One layer's part of the guard's arrays (the late guard's are stored under ``LATE``-prefixed names)."""
    return {k[len(prefix):]: v for k, v in ood.items() if k.startswith(prefix)}


def _nearest_centre(features, ood: dict[str, np.ndarray]):
    projected = keras.ops.matmul(features, keras.ops.convert_to_tensor(ood["projection"], "float32"))
    centres = keras.ops.convert_to_tensor(ood["centres"], "float32")
    squared = keras.ops.sum(keras.ops.square(projected[:, None, :] - centres[None]), axis=-1)
    if "scales" in ood:  # a guard with a threshold per source: each centre's distance in its source's units
        squared = squared * keras.ops.convert_to_tensor(np.square(ood["scales"])[None], "float32")
    return keras.ops.sqrt(keras.ops.min(squared, axis=1))


def explained_outputs(run: Run, paths: list[str], ood: dict | None = None, include_features: bool = False,
                      change: Callable[[np.ndarray, int], np.ndarray] | None = None) -> Iterator[dict[str, np.ndarray]]:
    """The explained model's outputs for ``paths``, one dict per chunk of files (CAMs take memory); ``change``
    alters the pixels first (``model_inputs``)."""
    model = explained_model(run.model, ood, include_features)
    for x in model_inputs(paths, run.prep, change):
        yield {k: np.asarray(v) for k, v in model.predict(x, batch_size=64, verbose=0).items()}
