"""Loader: the three layouts users have, and one clear error for each kind of bad input."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from tests.conftest import HAM_FIXTURES
from train.data import CLASSES, ISIC_COLUMNS, DataError, labels_from_csv, load_ham10000, load_labelled_images
from train.preprocess import read_rgb

META = pd.read_csv(HAM_FIXTURES / "metadata.csv")


def copy_fixtures(tmp_path, image_folder="images", metadata_name="metadata.csv"):
    (tmp_path / image_folder).mkdir(parents=True)
    for p in (HAM_FIXTURES / "images").glob("*.jpg"):
        shutil.copy(p, tmp_path / image_folder / p.name)
    META.to_csv(tmp_path / metadata_name, index=False)
    return tmp_path


def test_shared_layout_loads_every_image_with_its_label():
    data = load_ham10000(HAM_FIXTURES)
    assert len(data) == len(META) == 28
    assert set(data.frame["dx"]) == set(CLASSES)
    row = data.frame.iloc[0]
    assert CLASSES[row["label"]] == row["dx"]
    assert data.excluded == {}


def test_kaggle_layout_with_two_image_parts(tmp_path):
    (tmp_path / "HAM10000_images_part_1").mkdir()
    (tmp_path / "HAM10000_images_part_2").mkdir()
    for i, p in enumerate(sorted((HAM_FIXTURES / "images").glob("*.jpg"))):
        shutil.copy(p, tmp_path / f"HAM10000_images_part_{1 + i % 2}" / p.name)
    META.to_csv(tmp_path / "HAM10000_metadata.csv", index=False)
    data = load_ham10000(tmp_path)
    assert len(data) == 28
    assert data.frame["path"].str.contains("part_2").sum() == 14


def test_isic_one_hot_layout(tmp_path):
    truth = pd.DataFrame({"image": META["image_id"]})
    for col in ISIC_COLUMNS:
        truth[col] = (META["dx"] == col.lower()).astype(float)
    truth.to_csv(tmp_path / "truth.csv", index=False)
    data = load_labelled_images(HAM_FIXTURES / "images", tmp_path / "truth.csv")
    assert list(data.frame["dx"]) == list(META["dx"])


def test_not_one_hot_rows_are_an_error(tmp_path):
    truth = pd.DataFrame({"image": ["a"], **{c: [1.0] for c in ISIC_COLUMNS}})
    truth.to_csv(tmp_path / "truth.csv", index=False)
    with pytest.raises(DataError, match="not one-hot"):
        labels_from_csv(tmp_path / "truth.csv")


def test_missing_image_is_a_clear_error(tmp_path):
    copy_fixtures(tmp_path)
    (tmp_path / "images" / f"{META['image_id'][3]}.jpg").unlink()
    with pytest.raises(DataError, match=f"1 labelled images are missing.*{META['image_id'][3]}"):
        load_ham10000(tmp_path)


def test_unknown_label_is_a_clear_error(tmp_path):
    copy_fixtures(tmp_path)
    meta = META.copy()
    meta.loc[0, "dx"] = "scc"
    meta.to_csv(tmp_path / "metadata.csv", index=False)
    with pytest.raises(DataError, match=r"Unknown diagnosis labels \['scc'\]"):
        load_ham10000(tmp_path)


def test_duplicate_image_ids_are_a_clear_error(tmp_path):
    copy_fixtures(tmp_path, "HAM10000_images_part_1", "HAM10000_metadata.csv")
    (tmp_path / "HAM10000_images_part_2").mkdir()
    first = next((tmp_path / "HAM10000_images_part_1").glob("*.jpg"))
    shutil.copy(first, tmp_path / "HAM10000_images_part_2" / first.name)
    with pytest.raises(DataError, match=f"{first.stem}' exists twice"):
        load_ham10000(tmp_path)


def test_duplicate_label_rows_are_a_clear_error(tmp_path):
    pd.concat([META, META.head(1)]).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(DataError, match="listed more than once"):
        labels_from_csv(tmp_path / "m.csv")


def test_missing_data_folder_says_where_to_get_the_data(tmp_path):
    with pytest.raises(DataError, match="Data folder not found.*HAM10000"):
        load_ham10000(tmp_path / "nowhere")


def test_folder_without_metadata_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="No metadata CSV"):
        load_ham10000(tmp_path)


def test_corrupt_jpeg_is_a_clear_error(tmp_path):
    good = next((HAM_FIXTURES / "images").glob("*.jpg")).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(good[:200])
    with pytest.raises(DataError, match="Cannot decode image .*cut.jpg"):
        read_rgb(tmp_path / "cut.jpg")


def test_unlabelled_images_are_counted_not_silently_dropped(tmp_path):
    copy_fixtures(tmp_path)
    META.iloc[1:].to_csv(tmp_path / "metadata.csv", index=False)
    data = load_ham10000(tmp_path)
    assert len(data) == 27
    assert data.excluded == {"images without a label": 1}
