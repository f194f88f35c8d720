"""Augmentation of the training stream only (never validation/test/export): Keras preprocessing layers for
geometry and colour, tf ops for the camera/source changes."""
from __future__ import annotations

from collections.abc import Collection

import keras
import tensorflow as tf


ZOOM = (-0.25, 0.05)


def geometric_augmenter(seed: int, aspect: bool = False) -> keras.Sequential:
    """Dermoscopy has no canonical orientation, so any rotation/flip is a valid view of the same lesion;
    zoom stands in for random crops. Any channel count: a lesion mask stacked on the image moves with it.
    With ``aspect`` height and width are zoomed apart (up to 1.4:1): the ISIC Archive copies were squashed
    to squares from originals of other shapes, and a model should not learn the squash as a sign of source."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
            keras.layers.RandomRotation(0.5, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomZoom(ZOOM, ZOOM if aspect else None, fill_mode="reflect", seed=seed + 2),
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


# How often each acquisition change is applied, and its range. Spans the shared data's two sources: the
# 200x150 copies (blurred by a 3x downscale, then upsampled to the model input) and sharp crops of the
# originals, plus what phone and dermatoscope cameras add (noise, in-camera sharpening, JPEG).
ACQUISITION = {
    "rescale": (0.5, (0.45, 1.0)),   # probability, intermediate side as a share of the input side (the 200x150
                                     # copies look like ~0.93, measured by Laplacian energy)
    "blur": (0.25, (0.4, 1.5)),      # Gaussian sigma in pixels
    "sharpen": (0.25, (0.3, 1.5)),   # unsharp-mask amount (sigma 1)
    "noise": (0.25, (1.0, 8.0)),     # Gaussian noise sigma in 0..255 pixel units
    "jpeg": (0.3, (40.0, 95.0)),     # JPEG re-compression quality
}
BLUR_RADIUS = 4


def _gaussian_blur(image: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    """Separable Gaussian blur of one HxWx3 image, borders reflected (zero padding would darken them)."""
    taps = tf.range(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / sigma))
    kernel = tf.tile((kernel / tf.reduce_sum(kernel))[:, None, None, None], [1, 1, 3, 1])
    padded = tf.pad(image[None], [[0, 0], [BLUR_RADIUS] * 2, [BLUR_RADIUS] * 2, [0, 0]], mode="REFLECT")
    rows = tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(rows, tf.transpose(kernel, [1, 0, 2, 3]), [1, 1, 1, 1], "VALID")[0]


def _draw(u: tf.Tensor, name: str) -> tuple[tf.Tensor, tf.Tensor]:
    """Whether change ``name`` applies (u[0] below its probability) and its value (u[1] mapped into range)."""
    probability, (low, high) = ACQUISITION[name]
    return u[0] < probability, low + u[1] * (high - low)


def _acquire_one(image: tf.Tensor, u: tf.Tensor, noise: tf.Tensor,
                 changes: Collection[str] = tuple(ACQUISITION)) -> tf.Tensor:
    # A change left out of ``changes`` keeps its draws, so the others see the same draws as in a full run.
    size = image.shape[0]
    apply, share = _draw(u[0:2], "rescale")
    if "rescale" in changes:
        side = tf.cast(tf.round(share * size), tf.int32)
        image = tf.cond(apply, lambda: tf.image.resize(tf.image.resize(image, [side, side], method="area"),
                                                       [size, size], method="bilinear"), lambda: image)
    apply, sigma = _draw(u[2:4], "blur")
    if "blur" in changes:
        image = tf.cond(apply, lambda: _gaussian_blur(image, sigma), lambda: image)
    apply, amount = _draw(u[4:6], "sharpen")
    if "sharpen" in changes:
        image = tf.cond(apply, lambda: image + amount * (image - _gaussian_blur(image, tf.constant(1.0))),
                        lambda: image)
    apply, sigma = _draw(u[6:8], "noise")
    if "noise" in changes:
        image = image + tf.where(apply, sigma, 0.0) * noise
    image = tf.clip_by_value(image, 0.0, 255.0)  # sharpening and noise overshoot; JPEG wants 0..255
    apply, quality = _draw(u[8:10], "jpeg")
    if "jpeg" in changes:
        image = tf.cond(apply, lambda: 255.0 * tf.image.adjust_jpeg_quality(image / 255.0, tf.cast(quality, tf.int32)),
                        lambda: image)
    return image


def acquisition_augment(images: tf.Tensor, seed: tf.Tensor, changes: Collection[str] = tuple(ACQUISITION)) -> tf.Tensor:
    """Random camera/source changes of a batch (N, H, W, 3) of 0..255 pixels, each image drawn on its own:
    down-then-up scaling, blur, sharpening, sensor noise, JPEG re-compression (``changes`` picks which of
    ``ACQUISITION``, for ablations). ``seed`` (2 integers, e.g. the run seed and the batch number) makes it
    reproducible. Sharp and blurry sources then look alike to the network, so it cannot learn "sharp means
    nevus" from which source covers which class more."""
    images = tf.cast(images, tf.float32)
    n = tf.shape(images)[0]
    draws = tf.random.stateless_uniform([n, 10], seed=seed)
    noise = tf.random.stateless_normal(tf.shape(images), seed=tf.reverse(seed, [0]))
    return tf.map_fn(lambda args: _acquire_one(*args, changes), (images, draws, noise),
                     fn_output_signature=tf.TensorSpec(images.shape[1:], tf.float32))


# Dermatoscope optics and illumination, drawn per image: probability and range of each. Other clinics'
# instruments differ in white balance and tone curve, and contact dermoscopy leaves a dark circular rim whose
# size varies with the lens; HAM10000's two sources cover few of these.
OPTICS = {
    "white_balance": (0.5, 0.08),     # probability, standard deviation of each channel's log gain
    "gamma": (0.3, (-0.3, 0.3)),      # probability, range of the log of the tone-curve exponent
    "vignette": (0.3, (0.55, 0.95)),  # probability, radius (share of the half-diagonal) where the rim starts
}


def optics_augment(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Random dermatoscope changes of a batch (N, H, W, 3) of 0..255 pixels, each image drawn on its own:
    per-channel white-balance gains (their geometric mean kept at 1, so brightness stays), a tone-curve
    exponent, and a dark rim from a radius on (its strength up to black, its centre moved up to a tenth of the
    side). ``seed`` (2 integers) makes it reproducible."""
    images = tf.cast(images, tf.float32)
    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    u = tf.random.stateless_uniform([n, 8], seed=seed)
    gains = tf.random.stateless_normal([n, 3], seed=tf.reverse(seed, [0])) * OPTICS["white_balance"][1]
    gains = tf.where(u[:, :1] < OPTICS["white_balance"][0], gains - tf.reduce_mean(gains, 1, keepdims=True), 0.0)
    images = tf.clip_by_value(images * tf.exp(gains)[:, None, None, :], 0.0, 255.0)
    low, high = OPTICS["gamma"][1]
    exponent = tf.exp(tf.where(u[:, 1] < OPTICS["gamma"][0], low + u[:, 2] * (high - low), 0.0))
    images = 255.0 * tf.pow(images / 255.0, exponent[:, None, None, None])
    low, high = OPTICS["vignette"][1]
    start = low + u[:, 4] * (high - low)
    strength = tf.where(u[:, 3] < OPTICS["vignette"][0], 0.5 + 0.5 * u[:, 5], 0.0)
    rows = tf.linspace(-1.0, 1.0, height)[None, :, None] - 0.2 * (u[:, 6, None, None] - 0.5)
    columns = tf.linspace(-1.0, 1.0, width)[None, None, :] - 0.2 * (u[:, 7, None, None] - 0.5)
    radius = tf.sqrt((tf.square(rows) + tf.square(columns)) / 2.0)  # 1 at the corners of a centred rim
    rim = tf.clip_by_value((radius - start[:, None, None]) / (1.0 - start[:, None, None]), 0.0, 1.0)
    shade = 1.0 - strength[:, None, None] * rim * rim * (3.0 - 2.0 * rim)  # smooth step from the radius out
    return images * shade[..., None]
