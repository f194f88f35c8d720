"""MobileNetV2 backbone + global-average-pooling + linear head that outputs logits.

The head stays GAP -> Dense so class activation maps need no gradients (explanations, later), and the
model outputs logits so temperature scaling can be applied outside it.
"""
from __future__ import annotations

from pathlib import Path

import keras

from train.data.loading import CLASSES, DataError
from train.data.preprocess import (
    KERAS_MEAN,
    KERAS_STD,
    TORCH_MEAN,
    TORCH_STD,
    Preprocessing,
)

BACKBONE_NAME = "backbone"


def backbone_style(weights: str | None, style: str | None) -> str:
    """'torchvision' for the converted torchvision file (needs torch preprocessing), else 'keras'."""
    if style:
        return style
    return "torchvision" if weights and "torchvision" in Path(weights).name else "keras"


def preprocessing_for(style: str, size: int, colour_constancy: int = 0) -> Preprocessing:
    if style == "torchvision":
        return Preprocessing(size=size, mean=TORCH_MEAN, std=TORCH_STD, colour_constancy=colour_constancy)
    return Preprocessing(size=size, mean=KERAS_MEAN, std=KERAS_STD, colour_constancy=colour_constancy)


def _symmetric_padding(layer: keras.layers.Layer) -> keras.layers.Layer:
    # torchvision pads stride-2 convolutions by one pixel on every side; Keras pads bottom/right only.
    config = layer.get_config()
    if isinstance(layer, keras.layers.ZeroPadding2D):
        config["padding"] = ((1, 1), (1, 1))
    return layer.__class__.from_config(config)


def build_backbone(alpha: float, size: int, weights: str | None, style: str) -> keras.Model:
    """ImageNet MobileNetV2 without top. ``weights``: 'imagenet' (download), a .h5 path, or None."""
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise DataError(
            f"Backbone weights file not found: {weights}. Pass an existing .h5 (e.g. ../shared/weights/...) "
            "or 'imagenet' to download them."
        )
    shape = (size, size, 3)
    if style == "torchvision":
        stock = keras.applications.MobileNetV2(alpha=alpha, include_top=False, weights=None, input_shape=shape)
        base = keras.models.clone_model(stock, clone_function=_symmetric_padding)
        if weights == "imagenet":
            raise DataError("torchvision-style weights need a file path (--backbone-weights PATH).")
        if weights:
            base.load_weights(weights)
    else:
        base = keras.applications.MobileNetV2(alpha=alpha, include_top=False, weights=weights, input_shape=shape)
    base.name = BACKBONE_NAME
    return base


def build_classifier(
    alpha: float, size: int, weights: str | None, style: str, dropout: float = 0.2
) -> keras.Model:
    base = build_backbone(alpha, size, weights, style)
    inputs = keras.Input((size, size, 3), name="image")
    # training=False is overridden by fit() in Keras 3; set_trainable() is what keeps BN in inference mode.
    features = base(inputs, training=False)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    dropped = keras.layers.Dropout(dropout, name="dropout")(pooled)
    logits = keras.layers.Dense(len(CLASSES), name="logits")(dropped)
    return keras.Model(inputs, logits, name="lesion_classifier")


def set_trainable(model: keras.Model, fine_tune_from: str | None, train_backbone: bool) -> None:
    """Freeze the backbone, or unfreeze it from layer ``fine_tune_from`` (a name prefix) onwards.

    BatchNormalization layers always stay frozen: in Keras 3 the outer ``fit(training=True)`` overrides the
    ``training=False`` the backbone was called with, and a frozen BN layer is the one that stays in
    inference mode. Updating BN statistics on small augmented batches collapsed validation accuracy.
    """
    base = model.get_layer(BACKBONE_NAME)
    base.trainable = train_backbone
    if not train_backbone:
        return
    start = 0
    if fine_tune_from:
        starts = [i for i, layer in enumerate(base.layers) if layer.name.startswith(fine_tune_from)]
        if not starts:
            raise DataError(f"--fine-tune-from {fine_tune_from!r} matches no backbone layer (e.g. 'block_12').")
        start = starts[0]
    for i, layer in enumerate(base.layers):
        if i < start or isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
