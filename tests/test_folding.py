"""Batch norms folded at export: the folded model computes what the trained one does, and the shipped graph
runs every convolution as one fused kernel (but the one export leaves unfolded)."""
from __future__ import annotations

import json
from collections import Counter

import keras
import numpy as np

from export.folding import FoldedBatchNorm, fold_batch_norms
from export.tfjs import UNFOLDED
from tests.conftest import HAM_FIXTURES, ROOT
from train.model.predict import load_run, model_inputs
from train.segmentation.decoder import MERGE, TAPS


def trained_like_batch_norm(layer: keras.layers.BatchNormalization, rng: np.random.Generator) -> None:
    n = layer.gamma.shape[0]
    layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.5, n), rng.uniform(0.2, 2, n)])


def test_folding_keeps_the_function_and_leaves_a_shared_convolution_alone():
    rng = np.random.default_rng(0)
    inputs = keras.Input((12, 12, 4))
    x = keras.layers.Conv2D(6, 1, use_bias=False, name="expand")(inputs)
    x = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization(name="expand_BN")(x))
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False, name="dw")(x)
    x = keras.layers.BatchNormalization(name="dw_BN")(x)
    x = keras.layers.Conv2D(5, 1, use_bias=True, name="project")(x)
    projected = keras.layers.BatchNormalization(name="project_BN")(x)
    # a convolution whose output is also used elsewhere cannot carry its batch norm
    shared = keras.layers.Conv2D(5, 1, name="shared")(inputs)
    outputs = keras.layers.Add()([projected, keras.layers.BatchNormalization(name="shared_BN")(shared), shared])
    model = keras.Model(inputs, outputs)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            trained_like_batch_norm(layer, rng)
        elif layer.weights:
            layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])

    folded = fold_batch_norms(model)
    x = rng.normal(size=(3, 12, 12, 4)).astype("float32")
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    kinds = {layer.name: layer for layer in folded.layers}
    assert all(isinstance(kinds[n], FoldedBatchNorm) for n in ("expand_BN", "dw_BN", "project_BN"))
    assert all(kinds[n].use_bias for n in ("expand", "dw", "project"))
    assert isinstance(kinds["shared_BN"], keras.layers.BatchNormalization)
    kept = fold_batch_norms(model, keep=("dw",))
    assert isinstance(kept.get_layer("dw_BN"), keras.layers.BatchNormalization) and not kept.get_layer("dw").use_bias
    np.testing.assert_allclose(kept.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    # the trained model is untouched
    assert not model.get_layer("expand").use_bias and isinstance(model.get_layer("dw_BN"), keras.layers.BatchNormalization)


def test_the_shipped_classifier_folded_gives_the_same_logits_on_real_images():
    run = load_run(ROOT / "models" / "ham10000")
    folded = fold_batch_norms(run.model)
    backbone = folded.get_layer("backbone")
    assert sum(isinstance(layer, FoldedBatchNorm) for layer in backbone.layers) == 52  # every one of them
    paths = sorted(str(p) for p in (HAM_FIXTURES / "images").glob("*.jpg"))[:8]
    x = next(model_inputs(paths, run.prep))
    expected = run.model.predict(x, verbose=0)
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected, atol=1e-4 * np.abs(expected).max())


def graph_ops(model_dir) -> Counter:
    nodes = json.loads((model_dir / "model.json").read_text())["modelTopology"]["node"]
    return Counter(node["op"] for node in nodes if node["op"] != "Const")


def test_the_shipped_graph_runs_each_convolution_as_one_fused_kernel_but_the_unfolded_one():
    ops = graph_ops(ROOT / "site" / "model")
    # MobileNetV2's 35 regular convolutions and 17 depthwise ones, each with its bias (and ReLU6) fused in, but
    # the one left unfolded: a depthwise convolution, then its batch norm's multiply and add, then ReLU6
    assert UNFOLDED == ("expanded_conv_depthwise",)
    # the outline decoder (train/segmentation/decoder.py): five 1x1 reductions and four separable convolutions'
    # pointwise halves fused with their bias and ReLU; their depthwise halves carry no bias; the one-channel logit
    # is a plain convolution, its bias added after the resize (a fused one TF.js refuses to run)
    assert "outline" in json.loads((ROOT / "site" / "model" / "metadata.json").read_text())["outputs"]
    decoder = {"_FusedConv2D": len(TAPS) + len(MERGE), "DepthwiseConv2dNative": len(MERGE), "Conv2D": 1}
    assert ops["_FusedConv2D"] == 35 + decoder["_FusedConv2D"] and ops["FusedDepthwiseConv2dNative"] == 16
    assert ops["DepthwiseConv2dNative"] == 1 + decoder["DepthwiseConv2dNative"] and ops["Mul"] == ops["Relu6"] == 1
    assert ops["Conv2D"] == decoder["Conv2D"] and "AddN" not in ops


def test_the_benchmark_reference_runs_the_same_kernels_as_the_shipped_graph(tmp_path):
    from export.studies.bench import reference_model

    metadata = json.loads((ROOT / "site" / "model" / "metadata.json").read_text())
    # a freshly built network's identity batch norms would leave it unfused convolutions and ReLU6 kernels
    assert graph_ops(reference_model(tmp_path, metadata)) == graph_ops(ROOT / "site" / "model")
