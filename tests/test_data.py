"""Loader: the three layouts users have, and one clear error for each kind of bad input."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from tests.conftest import HAM_FIXTURES, SHARP_FIXTURES
from train.data.loading import (
    CLASSES,
    ISIC_COLUMNS,
    DataError,
    labels_from_csv,
    load_ham10000,
    load_labelled_images,
    load_training_data,
)
from train.data.preprocess import read_rgb

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


def test_override_folder_replaces_images_by_id_and_counts_strangers(tmp_path):
    extra = tmp_path / "sharp"
    shutil.copytree(SHARP_FIXTURES, extra)
    shutil.copy(next(extra.glob("*.jpg")), extra / "ISIC_9999999.jpg")  # an id the metadata does not label
    data = load_training_data(HAM_FIXTURES, override=extra)
    sharp_ids = {p.stem for p in SHARP_FIXTURES.glob("*.jpg")}
    assert len(data) == 28 and len(sharp_ids) == 15
    overridden = data.frame[data.frame["source"] == "override"]
    assert set(overridden["image_id"]) == sharp_ids
    assert all(path.startswith(str(extra)) for path in overridden["path"])
    assert all(path.startswith(str(HAM_FIXTURES)) for path in data.frame.loc[data.frame["source"] == "base", "path"])
    assert data.excluded == {"override images without a label": 1}
    assert read_rgb(overridden["path"].iloc[0]).shape == (224, 224, 3)


def test_without_override_every_image_is_from_the_base_folder():
    assert set(load_training_data(HAM_FIXTURES).frame["source"]) == {"base"}


def test_missing_override_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="Override image folder not found: .*nowhere.*leave the option out"):
        load_training_data(HAM_FIXTURES, override=tmp_path / "nowhere")


def test_a_partial_folder_is_scored_on_what_it_holds_only_when_asked():
    with pytest.raises(DataError, match="13 labelled images are missing"):
        load_labelled_images(SHARP_FIXTURES, HAM_FIXTURES / "metadata.csv")
    data = load_labelled_images(SHARP_FIXTURES, HAM_FIXTURES / "metadata.csv", missing="skip")
    assert len(data) == 15
    assert data.excluded == {"labelled images not in the folder": 13}


def test_a_folder_holding_none_of_the_labelled_images_is_an_error(tmp_path):
    (tmp_path / "other.jpg").write_bytes((next(SHARP_FIXTURES.glob("*.jpg"))).read_bytes())
    with pytest.raises(DataError, match="None of the images labelled"):
        load_labelled_images(tmp_path, HAM_FIXTURES / "metadata.csv", missing="skip")


def isic2019_folder(tmp_path):
    """A small ISIC 2019 training layout made from the fixtures: every class, plus an SCC and an UNK image."""
    (tmp_path / "ISIC_2019_Training_Input").mkdir()
    images = sorted((HAM_FIXTURES / "images").glob("*.jpg"))
    for p in images:
        shutil.copy(p, tmp_path / "ISIC_2019_Training_Input" / p.name)
    columns = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
    ours = {"mel": "MEL", "nv": "NV", "bcc": "BCC", "akiec": "AK", "bkl": "BKL", "df": "DF", "vasc": "VASC"}
    dx = dict(zip(META["image_id"], META["dx"]))
    column_of = {p.stem: ours[dx[p.stem]] for p in images}
    column_of[images[0].stem], column_of[images[1].stem] = "SCC", "UNK"
    truth = pd.DataFrame([{"image": i, **{c: float(c == col) for c in columns}} for i, col in column_of.items()])
    truth.to_csv(tmp_path / "ISIC_2019_Training_GroundTruth.csv", index=False)
    # lesion ids for all but two images, as in the real metadata (where some are missing)
    lesions = META.set_index("image_id")["lesion_id"]
    pd.DataFrame({"image": [p.stem for p in images[2:-2]], "lesion_id": [lesions[p.stem] for p in images[2:-2]],
                  "age_approx": 50}).to_csv(tmp_path / "ISIC_2019_Training_Metadata.csv", index=False)
    return tmp_path, images, dx


def test_isic2019_layout_maps_ak_to_akiec_and_counts_what_has_no_class(tmp_path):
    folder, images, dx = isic2019_folder(tmp_path)
    data = load_training_data(folder)
    assert len(data) == 26
    assert data.excluded == {"SCC images (no matching class)": 1, "UNK images (no matching class)": 1}
    assert set(data.frame["image_id"]) == {p.stem for p in images[2:]}
    assert all(data.frame["dx"] == [dx[i] for i in data.frame["image_id"]])  # AK -> akiec included
    assert "akiec" in set(data.frame["dx"])
    lesions = data.frame.set_index("image_id")["lesion_id"]
    assert lesions[images[-1].stem] == images[-1].stem  # no lesion id: its own lesion
    assert lesions[images[2].stem] == META.set_index("image_id")["lesion_id"][images[2].stem]
    assert set(data.frame["source"]) == {"base"}


def test_isic2019_rows_must_be_one_hot_over_all_nine_columns(tmp_path):
    folder, _, _ = isic2019_folder(tmp_path)
    truth = pd.read_csv(folder / "ISIC_2019_Training_GroundTruth.csv")
    truth.loc[3, "SCC"] = 1.0
    truth.to_csv(folder / "ISIC_2019_Training_GroundTruth.csv", index=False)
    with pytest.raises(DataError, match="1 rows of .* are not one-hot.*MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK"):
        load_training_data(folder)
