"""Mask-guided training: the class activation maps are taught to put their evidence on the lesion.

The site explains a prediction with the class activation map (CAM) of the head, and that map is only as
useful as the classifier's reliance on the lesion itself. Trained on labels alone, MobileNetV2 draws much of
its evidence from the skin around the lesion (a model trained without masks put half its map's mass outside
the mask on the test split; `runs/compare/1.0-160-unguided`).
With ``--mask-weight W`` the loss gains W times the share of each CAM's mass outside the HAM10000 lesion mask
("right for the right reasons", Ross et al. 2017), measured as the site and ``train.studies.explain_eval`` show the
map: bilinear upsampling, then min-max normalisation. Classes are weighted by the network's own (detached)
probabilities, so the penalty lands mostly on the class it would display. The map still explains the
network exactly -- its spatial mean is the logits -- the network has just learnt to look at the lesion.
Only training-split masks are used; validation and test masks stay out of training.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from train.data.arrays import resized_pixels
from train.data.loading import DataError
from train.data.preprocess import Preprocessing

MASK_SUFFIX = "_segmentation.png"
LOSS_SIDE = 40  # the CAM and the mask are compared at this resolution (5x5 maps upsample smoothly to it)


NO_MASK_NAME = "no_mask.png"


def no_mask_file(folder: Path) -> Path:
    """A mask that calls the whole image lesion, for images that have none (the extra sources): the term's
    outside-the-lesion share is then exactly 0 whatever the map, so those images train on the label alone."""
    path = Path(folder) / NO_MASK_NAME
    path.write_bytes(tf.io.encode_png(tf.fill((8, 8, 1), tf.constant(255, tf.uint8))).numpy())
    return path


def mask_paths(masks_dir: Path, image_ids: list[str], maskless: dict[str, Path] | None = None) -> list[str]:
    """``<masks_dir>/<image_id>_segmentation.png`` for every id, or ``maskless[id]`` for the ids known to have
    none; a DataError if the folder or any other mask is missing."""
    maskless = maskless or {}
    if not masks_dir.is_dir():
        raise DataError(f"Lesion mask folder {masks_dir} not found. Mask-guided training (--mask-weight) needs "
                        f"the HAM10000 segmentations as <image_id>{MASK_SUFFIX}; pass --masks DIR or --mask-weight 0.")
    paths = [maskless.get(image_id) or masks_dir / f"{image_id}{MASK_SUFFIX}" for image_id in image_ids]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} of {len(paths)} training images have no lesion mask in {masks_dir} "
                        f"(e.g. {', '.join(missing[:3])}); add them or train with --mask-weight 0.")
    return [str(p) for p in paths]


def resized_masks(paths: list[str], prep: Preprocessing) -> np.ndarray:
    """N x size x size x 1 uint8 masks (255 = lesion), cropped and resized exactly like their images."""
    return resized_pixels(paths, prep)[..., :1].round().astype(np.uint8)


def outside_mask_share(masks: tf.Tensor, cams: tf.Tensor) -> tf.Tensor:
    """Per-image loss: the probability-weighted share of each class map's mass outside the lesion.

    ``masks``: (N, LOSS_SIDE, LOSS_SIDE, 1) in [0, 1]; ``cams``: (N, h, w, classes) class activation maps.
    """
    up = tf.image.resize(cams, (LOSS_SIDE, LOSS_SIDE), method="bilinear")
    low = tf.reduce_min(up, axis=(1, 2), keepdims=True)
    high = tf.reduce_max(up, axis=(1, 2), keepdims=True)
    heat = (up - low) / (high - low + 1e-6)
    outside = tf.reduce_sum(heat * (1.0 - masks), axis=(1, 2)) / (tf.reduce_sum(heat, axis=(1, 2)) + 1e-6)
    weights = tf.stop_gradient(tf.nn.softmax(tf.reduce_mean(cams, axis=(1, 2))))
    return tf.reduce_sum(weights * outside, axis=-1)


def loss_masks(masks: tf.Tensor) -> tf.Tensor:
    """(N, size, size, 1) masks in 0..255 -> the (N, LOSS_SIDE, LOSS_SIDE, 1) lesion share per cell."""
    return tf.image.resize(tf.cast(masks, tf.float32) / 255.0, (LOSS_SIDE, LOSS_SIDE), method="area")


def guided_trainer(classifier: keras.Model) -> keras.Model:
    """The classifier's own layers with a second output, the CAMs, for the mask loss (weights are shared)."""
    features = classifier.get_layer("pool").input
    cams = classifier.get_layer("logits")(features)
    return keras.Model(classifier.input, {"logits": classifier.output, "cams": cams}, name="mask_guided_trainer")
