"""Keras preprocessing layers that augment the training stream only (never validation/test/export)."""
from __future__ import annotations

import keras


def geometric_augmenter(seed: int) -> keras.Sequential:
    """Dermoscopy has no canonical orientation, so any rotation/flip is a valid view of the same lesion;
    zoom stands in for random crops. Any channel count: a lesion mask stacked on the image moves with it."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
            keras.layers.RandomRotation(0.5, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomZoom((-0.25, 0.05), fill_mode="reflect", seed=seed + 2),
        ],
        name="augment_geometry",
    )


def colour_augmenter(seed: int) -> keras.layers.Layer:
    """Colour jitter stands in for differences between dermatoscopes (RGB only)."""
    return keras.layers.RandomColorJitter(
        value_range=(0, 255),
        brightness_factor=0.15,
        contrast_factor=0.15,
        saturation_factor=(0.4, 0.6),
        hue_factor=0.03,
        seed=seed + 3,
    )
