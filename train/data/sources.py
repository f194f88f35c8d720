"""Extra training sources (``python -m train --extra-data DIR``): labelled dermoscopy folders from other clinics.

HAM10000 comes from two clinics (Vienna, Queensland); its validation and test splits measure the model on the
dermatoscopes it trained on. An extra source adds photos from elsewhere to the *training* side only. Each
source is split once, lesion-grouped and class-stratified, into ``train`` (added to training), ``val`` (the inner
check: the guard's per-source threshold and the trials' measure of the external gap) and ``test`` (the
external test part, scored by ``make evaluate`` as the ``external`` condition and nothing else). The split is
a committed file, so every run and every report sees the same external test images:

    python -m train.data.sources ../shared/data/isic2017_256   # writes train/data/splits/isic2017_256{,_test}.csv

A source folder holds ``labels.csv`` (``image_id,dx[,lesion_id,...]``, HAM10000's class names; an empty lesion
id is its own lesion) and the images, in ``images/`` or beside it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from train.cli import reports_data_errors
from train.data.loading import CLASSES, DataError, Dataset, load_labelled_images
from train.data.split import grouped_split

SPLITS_DIR = Path(__file__).parent / "splits"
LABELS_NAME = "labels.csv"
HAM10000 = "ham10000"  # the ``origin`` of the main data set's rows
# Shares of each class's images dealt to the external test part and to the inner check; the rest trains.
EXTERNAL_TEST_FRACTION = 0.4
INNER_CHECK_FRACTION = 0.15


def source_name(folder: Path) -> str:
    """The name a source's split files and reports go by: its folder's name."""
    return Path(folder).resolve().name


def split_path(folder: Path) -> Path:
    return SPLITS_DIR / f"{source_name(folder)}.csv"


def test_labels_path(folder: Path) -> Path:
    """The external test part's labels, in the form ``python -m train.evaluation.evaluate --labels`` reads."""
    return SPLITS_DIR / f"{source_name(folder)}_test.csv"


def inner_labels_path(folder: Path) -> Path:
    """The inner check's labels (the source's validation part), in the same form: what a trial of a recipe
    that does not train on the source is judged by, where the external test part must choose nothing."""
    return SPLITS_DIR / f"{source_name(folder)}_inner.csv"


def load_source(folder: Path) -> Dataset:
    """A labelled extra source; its rows carry ``origin`` (the source's name) and ``source`` ``base``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"Extra data folder not found: {folder}. Pass a folder that holds {LABELS_NAME} and the images.")
    labels = folder / LABELS_NAME
    if not labels.is_file():
        raise DataError(f"{folder} has no {LABELS_NAME}: an extra training source must be labelled "
                        f"(columns image_id,dx[,lesion_id] with the classes {','.join(CLASSES)}).")
    images = folder / "images" if (folder / "images").is_dir() else folder
    dataset = load_labelled_images(images, labels)
    dataset.frame["source"] = "base"
    dataset.frame["origin"] = source_name(folder)
    return dataset


def create_split(folder: Path, seed: int = 42) -> pd.DataFrame:
    """Split a source lesion-grouped and class-stratified; write the split, the external test labels and the
    inner check's labels."""
    frame = load_source(folder).frame
    split = grouped_split(frame, val_fraction=INNER_CHECK_FRACTION, test_fraction=EXTERNAL_TEST_FRACTION, seed=seed)
    SPLITS_DIR.mkdir(parents=True, exist_ok=True)
    split.to_csv(split_path(folder), index=False)
    for part, path in (("test", test_labels_path(folder)), ("val", inner_labels_path(folder))):
        split[split["split"] == part][["image_id", "dx", "lesion_id"]].to_csv(path, index=False)
    return split


def source_split(folder: Path) -> pd.DataFrame:
    """The committed split of a source; it must list exactly the source's images."""
    path = split_path(folder)
    if not path.is_file():
        raise DataError(f"No split file for the extra source {folder} ({path} is missing). Create it once with "
                        f"`python -m train.data.sources {folder}` and commit it, so that its external test part "
                        "stays the same for every run.")
    return pd.read_csv(path, dtype={"lesion_id": str})


def extra_frame(folders: tuple[str, ...] | list[str], ham_ids: pd.Series) -> pd.DataFrame:
    """Every extra source's rows with their committed ``split``; an image id that HAM10000 or another source
    also has is a leak (the same photo could sit in training and in a test split) and an error."""
    frames = []
    seen = set(ham_ids)
    for folder in folders:
        frame = load_source(Path(folder)).frame
        leaked = sorted(seen & set(frame["image_id"]))
        if leaked:
            raise DataError(f"{len(leaked)} image ids of {folder} are also in HAM10000 or an earlier --extra-data "
                            f"folder (e.g. {leaked[:3]}): the same photo could train and be tested. Remove them from "
                            f"{Path(folder) / LABELS_NAME}; nothing was trained.")
        seen |= set(frame["image_id"])
        split = source_split(Path(folder))
        if set(split["image_id"]) != set(frame["image_id"]):
            raise DataError(f"The split file {split_path(Path(folder))} lists other images than {folder} "
                            f"({len(split)} vs {len(frame)}). Recreate it with `python -m train.data.sources {folder}`.")
        frames.append(frame.merge(split[["image_id", "split"]], on="image_id"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def class_mix(train_rows: pd.DataFrame, sampled: np.ndarray) -> dict:
    """What the training side holds, per class: images per origin, and the share of the stream each class gets
    (``sampled``: the sampler's probabilities over CLASSES, train/data/inputs.py)."""
    counts = train_rows.groupby(["origin", "dx"]).size()
    return {"images": {origin: {dx: int(n) for dx, n in counts[origin].items()}
                       for origin in counts.index.get_level_values(0).unique()},
            "stream_share": {c: float(p) for c, p in zip(CLASSES, sampled)}}


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.data.sources", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help=f"an extra source: {LABELS_NAME} and its images")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    split = create_split(args.folder, args.seed)
    table = split.groupby(["split", "dx"]).size().unstack(fill_value=0)
    print(table.to_string())
    print(f"{split['lesion_id'].nunique()} lesions -> {split_path(args.folder)}, external test labels -> "
          f"{test_labels_path(args.folder)}, inner check labels -> {inner_labels_path(args.folder)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
