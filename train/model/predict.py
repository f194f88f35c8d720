"""Load a trained run (model.keras + its config and calibration) and run it over image files."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from train.data.arrays import resized_pixels
from train.data.loading import DataError, load_training_data
from train.data.preprocess import Preprocessing, normalise

BATCH_FILES = 512
VIEW_SETS: dict[int, tuple[str, ...]] = {
    1: ("identity",),
    2: ("identity", "flip_lr"),
    4: ("identity", "flip_lr", "flip_ud", "rot180"),
    8: ("identity", "flip_lr", "flip_ud", "rot180", "transpose", "rot90", "rot270", "transverse"),
}


@dataclass
class Run:
    model_dir: Path
    model: object
    prep: Preprocessing
    config: dict
    calibration: dict


def load_run(model_dir: Path) -> Run:
    """The training output folder of ``python -m train``; a clear error if something is missing."""
    import keras

    for name in ("model.keras", "config.json", "calibration.json"):
        if not (model_dir / name).is_file():
            raise DataError(f"{model_dir / name} not found. Train a model first (python -m train) or pass --model.")
    config = json.loads((model_dir / "config.json").read_text())
    fields = config["preprocessing"]
    prep = Preprocessing(**{**fields, "mean": tuple(fields["mean"]), "std": tuple(fields["std"])})
    model = keras.saving.load_model(model_dir / "model.keras", compile=False)
    return Run(model_dir, model, prep, config, json.loads((model_dir / "calibration.json").read_text()))


def model_inputs(paths: list[str], prep: Preprocessing,
                 change: Callable[[np.ndarray, int], np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """Normalised model inputs, a few hundred files at a time (the whole test split would need ~1 GB).
    ``change(pixels, first_index)`` alters each chunk's 0..255 pixels before normalising (augmentation)."""
    for i in range(0, len(paths), BATCH_FILES):
        pixels = resized_pixels(paths[i : i + BATCH_FILES], prep)
        yield normalise(change(pixels, i) if change else pixels, prep).numpy()


def view(x: np.ndarray, name: str) -> np.ndarray:
    """One of the 8 symmetries of the square (N, H, W, C); dermoscopy has no canonical orientation."""
    ops = {
        "identity": lambda a: a,
        "flip_lr": lambda a: a[:, :, ::-1],
        "flip_ud": lambda a: a[:, ::-1],
        "rot180": lambda a: a[:, ::-1, ::-1],
        "transpose": lambda a: a.transpose(0, 2, 1, 3),
        "rot90": lambda a: a.transpose(0, 2, 1, 3)[:, ::-1],
        "rot270": lambda a: a.transpose(0, 2, 1, 3)[:, :, ::-1],
        "transverse": lambda a: a.transpose(0, 2, 1, 3)[:, ::-1, ::-1],
    }
    return np.ascontiguousarray(ops[name](x))


def logits_by_view(run: Run, paths: list[str], views: tuple[str, ...] = ("identity",)) -> dict[str, np.ndarray]:
    """Raw logits (N, classes) of every requested view."""
    out: dict[str, list[np.ndarray]] = {v: [] for v in views}
    for x in model_inputs(paths, run.prep):
        for v in views:
            out[v].append(run.model.predict(view(x, v), batch_size=64, verbose=0))
    return {v: np.concatenate(chunks) for v, chunks in out.items()}


def run_logits(run: Run, paths: list[str]) -> np.ndarray:
    """Raw logits (N, classes) of the images as given: the one view the browser runs."""
    return logits_by_view(run, paths)["identity"]


def run_split_file(run: Run) -> Path:
    """The split CSV the run was trained on: written next to the model, or the one ``--split`` named."""
    split_file = run.model_dir / "split.csv" if (run.model_dir / "split.csv").is_file() else Path(run.config["split"])
    if not split_file.is_file():
        raise DataError(f"Split file {split_file} not found; it is written by python -m train next to the model.")
    return split_file


def validation_probabilities(model_dir: Path, data: Path | None = None) -> tuple[Run, pd.DataFrame, np.ndarray]:
    """A run, its validation split (the sharpest copy of each image, as it was validated) and their calibrated
    probabilities."""
    from train.calibration.calibrate import calibrated_probabilities

    run = load_run(model_dir)
    val = split_frame(run, data)
    val = val[val["split"] == "val"].reset_index(drop=True)
    if val.empty:
        raise DataError(f"The split of {model_dir} has no validation images.")
    return run, val, calibrated_probabilities(run_logits(run, val["path"].tolist()), run.calibration)


def split_frame(run: Run, data: Path | None = None, sharpest: bool = True) -> pd.DataFrame:
    """The run's data set with a ``split`` column (train/val/test) from the split CSV it was trained on; with
    ``sharpest`` the images come from the override folder the run was trained with, where it has them."""
    split_file = run_split_file(run)
    override = run.config.get("override_images") if sharpest else None
    frame = load_training_data(data or Path(run.config["data"]), Path(override) if override else None).frame
    return frame.merge(pd.read_csv(split_file)[["image_id", "split"]], on="image_id")
