"""Decode and preprocess a list of image files into model-sized arrays."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from train.data.preprocess import Preprocessing, center_square, read_rgb, resize_square

CHUNK = 256


def resized_pixels(paths: list[str], prep: Preprocessing) -> np.ndarray:
    """N x size x size x 3 float32 pixels (0..255, not normalised), by the shared preprocessing rule.

    Images of the same shape are resized together, which makes the 10k-image data set take seconds.
    """
    out = np.empty((len(paths), prep.size, prep.size, 3), dtype=np.float32)
    decoded = [read_rgb(p) for p in paths]
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(decoded):
        by_shape.setdefault(image.shape, []).append(i)
    for indices in by_shape.values():
        for start in range(0, len(indices), CHUNK):
            chunk = indices[start : start + CHUNK]
            batch = center_square(tf.convert_to_tensor(np.stack([decoded[i] for i in chunk])))
            out[chunk] = resize_square(batch, prep.size).numpy()
    return out

