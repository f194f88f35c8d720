"""The one preprocessing rule, shared by training, evaluation, export metadata and the browser.

Rule (the browser's inference module implements the same steps from ``metadata.json``):
1. decode, honour EXIF orientation, drop alpha (composite on white), convert to RGB;
2. crop the centred square whose side is the shorter image side;
3. while the square is at least twice the model input, halve it with bilinear resampling (half-pixel
   centres: an exact 2x2 box average for even sides, so large photos are not aliased);
4. bilinear-resize (half-pixel centres, as ``tf.image.resize`` and TF.js ``resizeBilinear(.., false, true)``)
   to the model input;
5. with ``colour_constancy`` p > 0, Shades of Gray white balance of the model-sized square (below);
6. normalise channels: ``(pixel - mean) / std`` with pixels in 0..255.

One deliberate exception: in the browser a centre square wider than 1024 px (phone photos) is first shrunk
to 1024 px by the canvas' high-quality resampler, since an 8000 px image as a float tensor would need
~770 MB. Data-set images (HAM10000 originals are 600x450) never reach that limit, so parity is exact there.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

from train.data.loading import DataError

# Normalisations of the two backbone families (pixels in 0..255).
KERAS_MEAN = (127.5, 127.5, 127.5)
KERAS_STD = (127.5, 127.5, 127.5)
TORCH_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
TORCH_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


@dataclass(frozen=True)
class Preprocessing:
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop: str = "center_square"
    resize: str = "bilinear_halving"
    colour_constancy: int = 0  # Minkowski norm p of Shades of Gray (0: off); runs saved before it read as off

    def to_dict(self) -> dict:
        return asdict(self)


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file to an HxWx3 uint8 array; unreadable files raise a DataError naming the file."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError as err:
        raise DataError(f"Image file not found: {path}.") from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"Cannot decode image {path} ({err}). Replace or remove the file.") from err


def center_square(image: tf.Tensor) -> tf.Tensor:
    """The centred square crop of an HxWxC (or NxHxWxC) tensor, side = shorter side."""
    shape = tf.shape(image)
    h, w = shape[-3], shape[-2]
    side = tf.minimum(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[..., top : top + side, left : left + side, :]


def resize_square(square: tf.Tensor, size: int) -> tf.Tensor:
    """Halve while at least twice ``size``, then bilinear to ``size`` (float32 out)."""
    x = tf.cast(square, tf.float32)
    side = int(square.shape[-2]) if square.shape[-2] is not None else None
    if side is None:
        raise ValueError("resize_square needs a static square side")
    while side >= 2 * size:
        side //= 2
        x = tf.image.resize(x, (side, side), method="bilinear")
    return tf.image.resize(x, (size, size), method="bilinear")


def shades_of_gray(x: tf.Tensor, power: int) -> tf.Tensor:
    """Shades of Gray colour constancy (Finlayson & Trezzi 2004), as the ISIC 2019 winners used it (Gessert et al.
    2020, p = 6): each image's illuminant is the Minkowski p-mean of each channel, and each channel is scaled so
    that the illuminant becomes grey of the same length. Pixels 0..255 in and out, (..., H, W, 3); a black image
    stays black. The browser's classifier.js applies the same steps (tests/test_parity.py)."""
    x = tf.cast(x, tf.float32)
    # on 0..1, so that 255^p never meets float32's range or a float16 GPU texture
    illuminant = tf.pow(tf.reduce_mean(tf.pow(x / 255.0, power), axis=(-3, -2), keepdims=True), 1.0 / power)
    grey = tf.norm(illuminant, axis=-1, keepdims=True) / np.sqrt(3.0)
    return tf.clip_by_value(x * grey / tf.maximum(illuminant, 1e-6), 0.0, 255.0)


def normalise(x: tf.Tensor, prep: Preprocessing) -> tf.Tensor:
    """Model input from 0..255 pixels of the model's size (after any augmentation, so white balance undoes a
    random colour cast as it would a camera's)."""
    x = tf.cast(x, tf.float32)
    if prep.colour_constancy:
        x = shades_of_gray(x, prep.colour_constancy)
    return (x - tf.constant(prep.mean)) / tf.constant(prep.std)


def model_input(image: np.ndarray, prep: Preprocessing) -> np.ndarray:
    """Full eval-time rule for one decoded RGB image -> size x size x 3 float32 model input."""
    square = center_square(tf.convert_to_tensor(image))
    return normalise(resize_square(square, prep.size), prep).numpy()


def load_model_input(path: str | Path, prep: Preprocessing) -> np.ndarray:
    return model_input(read_rgb(path), prep)
