"""Keras preprocessing layers that augment the training stream only (never validation/test/export)."""
from __future__ import annotations

import keras


def augmenter(seed: int) -> keras.Sequential:
    """Dermoscopy has no canonical orientation, so any rotation/flip is a valid view of the same lesion;
    zoom stands in for random crops, colour jitter for differences between dermatoscopes."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
            keras.layers.RandomRotation(0.5, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomZoom((-0.25, 0.05), fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomColorJitter(
                value_range=(0, 255),
                brightness_factor=0.15,
                contrast_factor=0.15,
                saturation_factor=(0.4, 0.6),
                hue_factor=0.03,
                seed=seed + 3,
            ),
        ],
        name="augment",
    )
