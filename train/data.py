"""Find and validate labelled lesion images in the layouts users actually have.

Layouts accepted:
- shared / HAM-style: ``metadata.csv`` (or ``HAM10000_metadata.csv``) next to ``images/``;
- Kaggle: ``HAM10000_metadata.csv`` + ``HAM10000_images_part_1/`` and ``HAM10000_images_part_2/``;
- ISIC 2018 Task 3: a folder of ``<image>.jpg`` + a one-hot CSV ``image,MEL,NV,BCC,AKIEC,BKL,DF,VASC``.

Every problem is either a ``DataError`` with one message that says what is wrong and what to do, or a
counted, logged exclusion; nothing is dropped silently.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

CLASSES: tuple[str, ...] = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
ISIC_COLUMNS: tuple[str, ...] = ("MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC")
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
METADATA_NAMES: tuple[str, ...] = ("metadata.csv", "HAM10000_metadata.csv", "metadata_full.csv")
IMAGE_FOLDERS: tuple[str, ...] = ("images", "HAM10000_images_part_1", "HAM10000_images_part_2")

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Input data that cannot be used as given; the message says what to do."""


@dataclass
class Dataset:
    """One row per image: ``image_id``, ``path``, ``dx``, ``label`` (index into CLASSES), ``lesion_id``."""

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


def labels_from_csv(labels_file: Path) -> pd.DataFrame:
    """Read a HAM-style (``image_id,dx``) or ISIC-style one-hot CSV into ``image_id, dx[, lesion_id]``."""
    labels_file = Path(labels_file)
    if not labels_file.is_file():
        raise DataError(f"Labels file not found: {labels_file}. Pass the metadata or ground-truth CSV.")
    table = _read_csv(labels_file)
    if {"image_id", "dx"} <= set(table.columns):
        out = table.copy()
        out["dx"] = out["dx"].astype(str).str.strip().str.lower()
    elif {"image", *ISIC_COLUMNS} <= set(table.columns):
        onehot = table[list(ISIC_COLUMNS)].to_numpy(dtype=float)
        bad = (onehot.sum(axis=1) != 1) | ~((onehot == 0) | (onehot == 1)).all(axis=1)
        if bad.any():
            rows = table.loc[bad, "image"].head(5).tolist()
            raise DataError(
                f"{int(bad.sum())} rows of {labels_file} are not one-hot (e.g. {rows}); "
                "each row needs exactly one 1 among MEL,NV,BCC,AKIEC,BKL,DF,VASC."
            )
        out = pd.DataFrame(
            {"image_id": table["image"], "dx": [ISIC_COLUMNS[i].lower() for i in onehot.argmax(axis=1)]}
        )
    else:
        raise DataError(
            f"{labels_file} has columns {list(table.columns)}; expected HAM10000 metadata "
            "(image_id,dx,...) or ISIC 2018 ground truth (image,MEL,NV,BCC,AKIEC,BKL,DF,VASC)."
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
    return out


def find_metadata(data_dir: Path) -> Path:
    """The HAM metadata CSV inside a data folder (shared or Kaggle layout)."""
    for name in METADATA_NAMES:
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataError(
        f"No metadata CSV in {data_dir} (looked for {', '.join(METADATA_NAMES)}). Point --data at the "
        "HAM10000 folder that holds the metadata CSV and the image folder(s)."
    )


def load_labelled_images(images_dir: Path, labels_file: Path) -> Dataset:
    """Join a labels CSV with the images on disk; labelled ids without an image are an error."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DataError(f"Image folder not found: {images_dir}. Pass the folder that holds the .jpg files.")
    labels = labels_from_csv(labels_file)
    folders = [images_dir / name for name in IMAGE_FOLDERS if (images_dir / name).is_dir()] or [images_dir]
    index = _index_images(folders)
    if not index:
        raise DataError(f"No .jpg/.jpeg/.png images in {images_dir}.")
    missing = [i for i in labels["image_id"] if i not in index]
    if missing:
        raise DataError(
            f"{len(missing)} labelled images are missing from {images_dir} (e.g. {missing[:3]}). "
            "Check the folder is complete or pass a labels file that lists only the images you have."
        )
    frame = labels.copy()
    frame["path"] = [str(index[i]) for i in frame["image_id"]]
    frame["label"] = [CLASSES.index(d) for d in frame["dx"]]
    if "lesion_id" not in frame.columns:
        frame["lesion_id"] = frame["image_id"]
    unlabelled = len(index) - len(frame)
    excluded = {"images without a label": unlabelled} if unlabelled > 0 else {}
    if unlabelled > 0:
        log.warning("%d images in %s have no label and are not used", unlabelled, images_dir)
    return Dataset(frame.reset_index(drop=True), excluded)


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
