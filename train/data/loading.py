"""Find and validate labelled lesion images in the layouts users actually have.

Layouts accepted:
- shared / HAM-style: ``metadata.csv`` (or ``HAM10000_metadata.csv``) next to ``images/``;
- Kaggle: ``HAM10000_metadata.csv`` + ``HAM10000_images_part_1/`` and ``HAM10000_images_part_2/``;
- ISIC 2018 Task 3: a folder of ``<image>.jpg`` + a one-hot CSV ``image,MEL,NV,BCC,AKIEC,BKL,DF,VASC``;
- ISIC 2019 training: ``ISIC_2019_Training_GroundTruth.csv`` (one-hot ``MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK``)
  next to ``ISIC_2019_Training_Input/`` and, for the lesion-grouped split, ``ISIC_2019_Training_Metadata.csv``
  (``lesion_id``; images without one count as their own lesion). Mapping in ``ISIC2019_TO_CLASS``.

A second image folder can override images by id (``override_images``): the shared data has sharp 224 px
crops of the originals for some ids, and training on the sharpest copy of each image is what makes the model
work on real (sharp) photos. The ``source`` column says which folder each row's file came from.

Every problem is either a ``DataError`` with one message that says what is wrong and what to do, or a
counted, logged exclusion; nothing is dropped silently.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

CLASSES: tuple[str, ...] = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
ISIC_COLUMNS: tuple[str, ...] = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")
# ISIC 2019 training ground truth -> our classes. AK (actinic keratosis) is HAM10000's akiec. SCC (invasive
# squamous cell carcinoma) is not: HAM10000's akiec holds actinic keratoses and intraepithelial carcinoma
# only, so SCC images are excluded rather than taught as akiec; UNK ("none of the others") has no class.
ISIC2019_TO_CLASS: dict[str, str | None] = {"MEL": "mel", "NV": "nv", "BCC": "bcc", "AK": "akiec", "BKL": "bkl",
                                            "DF": "df", "VASC": "vasc", "SCC": None, "UNK": None}
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
METADATA_NAMES: tuple[str, ...] = ("metadata.csv", "HAM10000_metadata.csv", "metadata_full.csv")
IMAGE_FOLDERS: tuple[str, ...] = ("images", "HAM10000_images_part_1", "HAM10000_images_part_2", "ISIC_2019_Training_Input")
ISIC2019_TRUTH = "ISIC_2019_Training_GroundTruth.csv"
ISIC2019_METADATA = "ISIC_2019_Training_Metadata.csv"

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Input data that cannot be used as given; the message says what to do."""


@dataclass
class Dataset:
    """One row per image: ``image_id``, ``path``, ``dx``, ``label`` (index into CLASSES), ``lesion_id``,
    ``source`` (``base`` or ``override``)."""

    frame: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)


def _index_images(folders: list[Path]) -> dict[str, Path]:
    """Map image id (file stem) -> path over several folders; an id found twice is an error."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in folder.iterdir():
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.stem in found:
                raise DataError(
                    f"Image id {path.stem!r} exists twice: {found[path.stem]} and {path}. "
                    "Remove one copy so every image id is unique."
                )
            found[path.stem] = path
    return found


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"Cannot read the labels file {path}: {err}. Check it is a plain CSV.") from err


def _one_hot_labels(table: pd.DataFrame, mapping: dict[str, str | None],
                    labels_file: Path) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """One-hot ground truth (``image`` + one column per diagnosis) -> ``image_id, dx``. Columns mapped to
    None have no class of ours: their rows are excluded and counted, never relabelled."""
    columns = list(mapping)
    onehot = table[columns].to_numpy(dtype=float)
    bad = (onehot.sum(axis=1) != 1) | ~((onehot == 0) | (onehot == 1)).all(axis=1)
    if bad.any():
        rows = table.loc[bad, "image"].head(5).tolist()
        raise DataError(
            f"{int(bad.sum())} rows of {labels_file} are not one-hot (e.g. {rows}); "
            f"each row needs exactly one 1 among {','.join(columns)}."
        )
    dx = pd.Series([mapping[columns[i]] for i in onehot.argmax(axis=1)], index=table.index)
    excluded = {f"{column} images (no matching class)": table.loc[table[column] == 1, "image"].tolist()
                for column, target in mapping.items() if target is None}
    excluded = {reason: ids for reason, ids in excluded.items() if ids}
    for reason, ids in excluded.items():
        log.warning("%d %s in %s are not used", len(ids), reason, labels_file)
    keep = dx.notna()
    return pd.DataFrame({"image_id": table.loc[keep, "image"], "dx": dx[keep]}).reset_index(drop=True), excluded


def labels_from_csv(labels_file: Path) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Read a HAM-style (``image_id,dx``), ISIC 2018 or ISIC 2019 one-hot CSV into ``image_id, dx[, lesion_id]``,
    with the ids of the rows excluded because their diagnosis has no class here (ISIC 2019's SCC and UNK),
    by reason."""
    labels_file = Path(labels_file)
    if not labels_file.is_file():
        raise DataError(f"Labels file not found: {labels_file}. Pass the metadata or ground-truth CSV.")
    table = _read_csv(labels_file)
    excluded: dict[str, list[str]] = {}
    if {"image_id", "dx"} <= set(table.columns):
        out = table.copy()
        out["dx"] = out["dx"].astype(str).str.strip().str.lower()
    elif {"image", *ISIC2019_TO_CLASS} <= set(table.columns):
        out, excluded = _one_hot_labels(table, ISIC2019_TO_CLASS, labels_file)
    elif {"image", *ISIC_COLUMNS} <= set(table.columns):
        out, excluded = _one_hot_labels(table, {c: c.lower() for c in ISIC_COLUMNS}, labels_file)
    else:
        raise DataError(
            f"{labels_file} has columns {list(table.columns)}; expected HAM10000 metadata "
            "(image_id,dx,...), ISIC 2018 ground truth (image,MEL,NV,BCC,AKIEC,BKL,DF,VASC) or ISIC 2019 ground "
            "truth (image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK)."
        )
    unknown = sorted(set(out["dx"]) - set(CLASSES))
    if unknown:
        raise DataError(
            f"Unknown diagnosis labels {unknown} in {labels_file}; this model knows {list(CLASSES)}."
        )
    duplicated = out["image_id"][out["image_id"].duplicated()].unique().tolist()
    if duplicated:
        raise DataError(
            f"Image ids listed more than once in {labels_file}: {duplicated[:5]}. Keep one row per image."
        )
    return out, excluded


def find_metadata(data_dir: Path) -> Path:
    """The HAM metadata CSV inside a data folder (shared or Kaggle layout)."""
    for name in METADATA_NAMES:
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataError(
        f"No metadata CSV in {data_dir} (looked for {', '.join(METADATA_NAMES)}). Point --data at the "
        "HAM10000 folder that holds the metadata CSV and the image folder(s)."
    )


def load_labelled_images(images_dir: Path, labels_file: Path, missing: str = "error") -> Dataset:
    """Join a labels CSV with the images on disk. Labelled ids without an image are an error, or with
    ``missing="skip"`` left out and counted in ``excluded`` (to score the part of a split that a second,
    partial folder holds, e.g. the sharp crops)."""
    index = images_by_id(images_dir)
    labels, excluded_ids = labels_from_csv(labels_file)
    excluded = {reason: len(ids) for reason, ids in excluded_ids.items()}
    absent = [i for i in labels["image_id"] if i not in index]
    if absent and missing == "skip":
        excluded["labelled images not in the folder"] = len(absent)
        log.warning("%d labelled images are not in %s and are not scored", len(absent), images_dir)
        labels = labels[~labels["image_id"].isin(absent)]
    elif absent:
        raise DataError(
            f"{len(absent)} labelled images are missing from {images_dir} (e.g. {absent[:3]}). "
            "Check the folder is complete or pass a labels file that lists only the images you have."
        )
    if labels.empty:
        raise DataError(f"None of the images labelled in {labels_file} is in {images_dir}.")
    frame = labels.copy()
    frame["path"] = [str(index[i]) for i in frame["image_id"]]
    frame["label"] = [CLASSES.index(d) for d in frame["dx"]]
    if "lesion_id" not in frame.columns:
        frame["lesion_id"] = frame["image_id"]
    # An empty lesion id (the ISIC Archive leaves most empty) means "its own lesion", never one shared lesion
    # of every image without an id, which would merge them in splits, bootstraps and combined results.
    frame["lesion_id"] = frame["lesion_id"].where(frame["lesion_id"].notna(), frame["image_id"]).astype(str)
    unlabelled = len(set(index) - set(labels["image_id"]).union(*excluded_ids.values()))
    if unlabelled > 0:
        excluded["images without a label"] = unlabelled
        log.warning("%d images in %s have no label and are not used", unlabelled, images_dir)
    return Dataset(frame.reset_index(drop=True), excluded)


def images_by_id(folder: Path) -> dict[str, Path]:
    """Every image file in ``folder`` (or in its ``IMAGE_FOLDERS`` sub-folders, the Kaggle and ISIC layouts) by
    image id (file stem); a missing or empty folder is a DataError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"Image folder not found: {folder}. Pass the folder that holds the .jpg files.")
    index = _index_images([folder / name for name in IMAGE_FOLDERS if (folder / name).is_dir()] or [folder])
    if not index:
        raise DataError(f"No .jpg/.jpeg/.png images in {folder}.")
    return index


def override_images(dataset: Dataset, folder: Path) -> Dataset:
    """Replace the file of every image whose id also exists in ``folder`` (e.g. sharper copies of the same
    images). Ids in ``folder`` that the data set does not label are counted and logged, not used."""
    if not Path(folder).is_dir():
        raise DataError(f"Override image folder not found: {folder}. Pass the folder of sharper copies "
                        "(e.g. ../shared/data/ham10000_224_subset/images) or leave the option out.")
    index = images_by_id(folder)
    frame = dataset.frame.copy()
    replaced = frame["image_id"].isin(index.keys())
    frame.loc[replaced, "path"] = [str(index[i]) for i in frame.loc[replaced, "image_id"]]
    frame["source"] = np.where(replaced, "override", "base")
    excluded = dict(dataset.excluded)
    unknown = len(index) - int(replaced.sum())
    if unknown:
        excluded["override images without a label"] = unknown
        log.warning("%d images in %s are not in the labelled data set and are not used", unknown, folder)
    log.info("%d of %d images taken from %s", int(replaced.sum()), len(frame), folder)
    return Dataset(frame, excluded)


def load_isic2019(data_dir: Path) -> Dataset:
    """The ISIC 2019 training layout; SCC and UNK images are excluded and counted (``ISIC2019_TO_CLASS``)."""
    dataset = load_labelled_images(data_dir, data_dir / ISIC2019_TRUTH)
    frame = dataset.frame.drop(columns="lesion_id")
    metadata_file = data_dir / ISIC2019_METADATA
    lesions = (_read_csv(metadata_file)[["image", "lesion_id"]] if metadata_file.is_file()
               else pd.DataFrame({"image": [], "lesion_id": []}))
    frame = frame.merge(lesions.rename(columns={"image": "image_id"}), on="image_id", how="left")
    without = frame["lesion_id"].isna()
    if without.any():
        log.warning("%d images have no lesion_id in %s and count as their own lesion", int(without.sum()), metadata_file)
    frame["lesion_id"] = frame["lesion_id"].where(~without, frame["image_id"])
    return Dataset(frame, dataset.excluded)


def load_training_data(data_dir: Path, override: Path | None = None) -> Dataset:
    """A labelled training folder: ISIC 2019's layout if its ground truth is there, else HAM10000's."""
    data_dir = Path(data_dir)
    dataset = load_isic2019(data_dir) if (data_dir / ISIC2019_TRUTH).is_file() else load_ham10000(data_dir)
    if override is not None:
        return override_images(dataset, override)
    dataset.frame["source"] = "base"
    return dataset


def load_ham10000(data_dir: Path) -> Dataset:
    """Load a HAM10000 folder in the shared or the Kaggle layout."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(
            f"Data folder not found: {data_dir}. Download HAM10000 (Harvard Dataverse doi:10.7910/DVN/DBW86T "
            "or Kaggle 'skin-cancer-mnist-ham10000') and pass its folder with --data."
        )
    metadata = find_metadata(data_dir)
    dataset = load_labelled_images(data_dir, metadata)
    if "lesion_id" not in _read_csv(metadata).columns:
        raise DataError(f"{metadata} has no lesion_id column; it is needed to split without leakage.")
    return dataset
