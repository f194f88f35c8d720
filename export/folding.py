"""Batch norms folded into the convolutions before them, so TF.js runs each block as fused kernels.

Keras 3 writes an inference-mode batch norm as a multiply and an add. The converter folds that pair into a
regular convolution, but not into a depthwise one: in the browser every depthwise convolution then ran as
four kernels (convolution, multiply, add, ReLU6), each a full pass over one of the network's largest
activations. Folding the scale into the kernel and the shift into a bias before export leaves a
convolution + bias + ReLU6 that the converter fuses into one kernel. The model computes the same function
(up to float rounding); only the graph the browser runs changes.
"""
from __future__ import annotations

import keras
import numpy as np

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


class FoldedBatchNorm(keras.layers.Layer):
    """Where a batch norm was: its work now done by the convolution before it. Takes the batch norm's call
    arguments (``training``, ``mask``), which keras.layers.Identity refuses."""

    def call(self, inputs, training=None, mask=None):
        return inputs


def batch_norm_pairs(model: keras.Model) -> dict[str, keras.layers.BatchNormalization]:
    """Convolution name -> the batch norm that alone consumes its output, over ``model`` and nested models."""
    pairs = {}
    for layer in model._flatten_layers(include_self=False):
        if not isinstance(layer, keras.layers.BatchNormalization) or len(layer._inbound_nodes) != 1:
            continue
        producer = layer.input._keras_history.operation
        if isinstance(producer, CONVOLUTIONS) and len(producer._outbound_nodes) == 1:
            pairs[producer.name] = layer
    return pairs


def batch_norm_scale(bn: keras.layers.BatchNormalization) -> np.ndarray:
    """The per-channel factor an inference-mode batch norm multiplies by."""
    return bn.gamma.numpy() / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)


def folded_weights(conv: keras.layers.Layer, bn: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of ``conv`` with ``bn`` (inference mode) folded in."""
    scale = batch_norm_scale(bn)
    kernel = conv.kernel.numpy()
    bias = conv.bias.numpy() if conv.use_bias else np.zeros_like(scale)
    # A depthwise kernel is (h, w, in, multiplier); its output channel is in * multiplier, in that order.
    shaped = scale.reshape(kernel.shape[2], -1) if isinstance(conv, keras.layers.DepthwiseConv2D) else scale
    return ((kernel * shaped).astype(np.float32),
            ((bias - bn.moving_mean.numpy()) * scale + bn.beta.numpy()).astype(np.float32))


def fold_batch_norms(model: keras.Model, keep: tuple[str, ...] = ()) -> keras.Model:
    """A copy of ``model`` in which every convolution followed only by a batch norm, but those named in
    ``keep``, carries it as its own kernel scale and bias (the batch norm becomes a FoldedBatchNorm of the same
    name). Other weights are copied."""
    pairs = {conv: bn for conv, bn in batch_norm_pairs(model).items() if conv not in keep}
    folded_bns = {bn.name for bn in pairs.values()}

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name in folded_bns:
            return FoldedBatchNorm(name=layer.name)
        config = layer.get_config()
        if layer.name in pairs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    originals = {layer.name: layer for layer in model._flatten_layers(include_self=False)}
    for layer in copy._flatten_layers(include_self=False):
        if isinstance(layer, keras.Model) or not layer.weights:
            continue
        original = originals[layer.name]
        if layer.name in pairs:
            layer.set_weights(list(folded_weights(original, pairs[layer.name])))
        else:
            layer.set_weights(original.get_weights())
    return copy
