"""Images and their lesion masks for the outline decoder: each training-split image in both conditions a user's
photo may look like (the 200x150 copy and, where the data set has one, the sharp 224 px crop).

A sharp crop is the centre square of the 200x150 copy's frame (../shared/data/README.md), so one mask serves
both: the shared preprocessing rule crops its centre square and resizes it exactly as it does the image.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from train.data.arrays import resized_pixels
from train.data.loading import DataError
from train.model.guided import mask_paths, resized_masks
from train.model.predict import Run, split_frame


@dataclass(frozen=True)
class MaskedImages:
    pixels: np.ndarray  # (N, size, size, 3) uint8, before normalising
    masks: np.ndarray  # (N, size, size, 1) uint8, 255 = lesion
    lesions: np.ndarray  # (N,) lesion id, for bootstrap intervals and for keeping a lesion's copies together


def split_images(run: Run, splits: tuple[str, ...], data: Path | None = None,
                 max_images: int | None = None) -> dict[str, pd.DataFrame]:
    """``image_id``, ``lesion_id``, ``path`` of each split's images in both conditions (200x150 rows first); the
    data set is read once in each condition for all the splits."""
    every_low = split_frame(run, data, sharpest=False)
    every_sharp = split_frame(run, data, sharpest=True).set_index("image_id")["path"]
    frames = {}
    for split in splits:
        low = every_low[every_low["split"] == split]
        if low.empty:
            raise DataError(f"The split of {run.model_dir} names no {split} images in {data or run.config['data']}. "
                            "Pass --data with the folder the run was trained on.")
        if max_images:
            low = low.sample(n=min(max_images, len(low)), random_state=0)
        sharp = every_sharp.reindex(low["image_id"]).reset_index()
        sharp = sharp[sharp["path"].to_numpy() != low["path"].to_numpy()]
        frames[split] = pd.concat([low[["image_id", "lesion_id", "path"]],
                                   sharp.merge(low[["image_id", "lesion_id"]], on="image_id")], ignore_index=True)
    return frames


def masked_images(frame: pd.DataFrame, run: Run, masks_dir: Path) -> MaskedImages:
    """Decoded, cropped and resized images with their masks (a DataError names missing masks)."""
    masks = mask_paths(masks_dir, frame["image_id"].tolist())
    pixels = resized_pixels(frame["path"].tolist(), run.prep).round().astype(np.uint8)
    return MaskedImages(pixels, resized_masks(masks, run.prep), frame["lesion_id"].to_numpy(str))
