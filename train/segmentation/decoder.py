"""A light U-Net-style decoder on the shipped classifier's frozen backbone: the lesion's outline in the same graph.

The decoder reads five backbone layers, from the 80x80 first expansion to the 5x5 top (whose mask-guided
features already know where the lesion is), and adds about 100k weights: well inside the issue's +0.5 MB.
The backbone is shared and never trained here, so the classifier's logits are unchanged bit for bit
(tests/test_segmentation.py) and the same backbone pass serves classification, explanation, guard and outline.
"""
from __future__ import annotations

from pathlib import Path

import keras

from train.model.network import BACKBONE_NAME

# (layer, channels its 1x1 reduction keeps), finest first; at a 160 px input: 80, 40, 20, 10 and 5 cells across.
TAPS = (
    ("block_1_expand_relu", 16),
    ("block_3_expand_relu", 24),
    ("block_6_expand_relu", 32),
    ("block_13_expand_relu", 48),
    ("out_relu", 32),
)
# Channels of the separable convolution that merges each scale with the coarser path, coarsest merge first.
MERGE = (64, 48, 32, 16)
OUTLINE_FILE = "outline.keras"
OUTLINE = "outline"  # the exported graph's output: lesion probability per input pixel, (N, size, size)


def backbone_taps(classifier: keras.Model) -> keras.Model:
    """The classifier's backbone with the decoder's layers as outputs (same layers, same weights)."""
    backbone = classifier.get_layer(BACKBONE_NAME)
    return keras.Model(backbone.input, [backbone.get_layer(name).output for name, _ in TAPS], name="outline_taps")


def build_decoder(classifier: keras.Model) -> keras.Model:
    """Tap tensors -> lesion logit per input pixel (N, size, size, 1); only this model's weights train."""
    taps = backbone_taps(classifier)
    inputs = [keras.Input(t.shape[1:], name=name) for t, (name, _) in zip(taps.outputs, TAPS)]
    reduced = [keras.layers.Conv2D(keep, 1, activation="relu", name=f"reduce_{name}")(x)
               for x, (name, keep) in zip(inputs, TAPS)]
    path = reduced[-1]
    for skip, width in zip(reversed(reduced[:-1]), MERGE):
        path = keras.layers.UpSampling2D(2, interpolation="bilinear")(path)
        path = keras.layers.Concatenate()([path, skip])
        path = keras.layers.SeparableConv2D(width, 3, padding="same", activation="relu")(path)
    # The logit's bias is added after the resize (the same numbers: bilinear weights sum to 1): a one-channel
    # convolution with its bias is fused by the converter into a FusedConv2D with a (1, 1, 1, 1) bias, which TF.js
    # refuses to run ("FusedConv2D only supports rank-1 bias").
    logit = keras.layers.Conv2D(1, 1, use_bias=False, name="outline_logit")(path)
    size = classifier.input_shape[1]
    logit = keras.layers.Resizing(size, size, interpolation="bilinear", name="outline_resize")(logit)
    return keras.Model(inputs, OutlineBias(name="outline_bias")(logit), name="outline_decoder")


@keras.saving.register_keras_serializable(package="lesion_lens")
class OutlineBias(keras.layers.Layer):
    """One learned number added to every pixel's logit."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(), initializer="zeros", name="bias")

    def call(self, inputs):
        return inputs + self.bias


def outline_model(classifier: keras.Model, decoder: keras.Model) -> keras.Model:
    """Normalised image -> lesion probability (N, size, size, 1): what training fits and evaluation scores."""
    inputs = keras.Input(classifier.input_shape[1:], name="image")
    probability = keras.ops.sigmoid(decoder(backbone_taps(classifier)(inputs, training=False)))
    return keras.Model(inputs, probability, name="outline")


def load_outline(model_dir: Path) -> keras.Model | None:
    """The run's fitted decoder (``python -m train.segmentation``), or None if it has none yet."""
    path = Path(model_dir) / OUTLINE_FILE
    return keras.saving.load_model(path, compile=False) if path.is_file() else None
