"""Lesion-grouped, class-stratified train/validation/test split, written to CSV and reused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from train.data.loading import DataError

SPLITS: tuple[str, ...] = ("train", "val", "test")


def grouped_split(
    frame: pd.DataFrame, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 42
) -> pd.DataFrame:
    """Assign every lesion (all its images) to one split, per class, so each split keeps class ratios.

    Within a class, lesions are shuffled with ``seed`` and dealt to test, then validation, until each
    holds its fraction of that class's *images*; the rest go to training.
    """
    lesion_dx = frame.groupby("lesion_id")["dx"].nunique()
    if (lesion_dx > 1).any():
        raise DataError(f"Lesions with more than one diagnosis: {lesion_dx[lesion_dx > 1].index[:5].tolist()}.")
    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    for dx in sorted(frame["dx"].unique()):
        sizes = frame[frame["dx"] == dx].groupby("lesion_id").size().sort_index()
        lesions = sizes.index.to_numpy()[rng.permutation(len(sizes))]
        total = sizes.sum()
        filled = {"test": 0, "val": 0}
        targets = {"test": test_fraction * total, "val": val_fraction * total}
        for lesion in lesions:
            side = next((s for s in ("test", "val") if filled[s] < targets[s] - 0.5), "train")
            if side != "train":
                filled[side] += int(sizes[lesion])
            assignment[lesion] = side
    out = frame[["image_id", "lesion_id", "dx"]].copy()
    out["split"] = out["lesion_id"].map(assignment)
    return out


def load_or_create_split(frame: pd.DataFrame, path: Path, seed: int = 42) -> pd.DataFrame:
    """Reuse the split CSV at ``path`` if it covers exactly these images; create it if absent."""
    path = Path(path)
    if path.is_file():
        split = pd.read_csv(path)
        if set(split["image_id"]) != set(frame["image_id"]):
            raise DataError(
                f"The split file {path} lists other images than the data set ({len(split)} vs {len(frame)}). "
                "Pass --split with a new file name to create a fresh split for this data."
            )
        return split
    split = grouped_split(frame, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    split.to_csv(path, index=False)
    return split
