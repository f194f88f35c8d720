"""The ISIC submission format, the official scorer, and skin tone (ITA) around the lesion."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from skimage.color import lab2rgb, rgb2lab
from PIL import Image

from tests.conftest import HAM_FIXTURES
from train.data.loading import CLASSES
from train.evaluation import submission
from train.evaluation.isic import ISIC_COLUMNS, PredictionsError, isic_probabilities, official_scores, read_predictions
from train.evaluation.metrics import classification_metrics
from train.evaluation.skin_tone import (MIN_GROUP_IMAGES, group_metrics, ita, ita_group, measure_images,
                                        segmentation_check, skin_ita, skin_tone_table)

RNG = np.random.default_rng(3)


def random_case(n: int = 400):
    labels = RNG.integers(0, len(CLASSES), n)
    probs = RNG.dirichlet(np.ones(len(CLASSES)), n)
    ids = [f"ISIC_{i:07d}" for i in range(n)]
    return ids, labels, probs


def test_the_official_balanced_accuracy_equals_ours_without_ties():
    ids, labels, probs = random_case()
    official = official_scores(ids, labels, isic_probabilities(ids, probs))
    assert official["tied_images"] == 0
    assert official["balanced_accuracy"] == pytest.approx(classification_metrics(labels, probs, CLASSES)
                                                          ["balanced_accuracy"], abs=1e-9)
    # with classes absent from the truth (the external test part has three), both average the classes present
    present = np.where(labels < 3, CLASSES.index("nv"), labels)
    official = official_scores(ids, present, isic_probabilities(ids, probs))
    assert sorted(official["per_class"]) == sorted({CLASSES[i] for i in present})
    assert official["balanced_accuracy"] == pytest.approx(classification_metrics(present, probs, CLASSES)
                                                          ["balanced_accuracy"], abs=1e-9)


def test_an_exact_tie_is_wrong_for_the_scorer_and_the_first_class_for_us():
    ids, labels, probs = random_case()
    # a tie between the true class and another, on an image of a class with 50-ish images
    row = int(np.flatnonzero(labels == 0)[0])
    probs[row] = 0.0
    probs[row, [0, 1]] = 0.5  # argmax picks index 0, the true class: right for us, "undecided" for the scorer
    ours = classification_metrics(labels, probs, CLASSES)["balanced_accuracy"]
    official = official_scores(ids, labels, isic_probabilities(ids, probs))
    assert official["tied_images"] == 1
    assert ours - official["balanced_accuracy"] == pytest.approx(1 / (len(CLASSES) * (labels == 0).sum()), abs=1e-9)


def test_evaluate_writes_predictions_that_round_trip_through_the_official_scorer(fixture_evaluation):
    out = fixture_evaluation
    labels = HAM_FIXTURES / "metadata.csv"
    metrics = json.loads((out / "metrics.json").read_text())
    table = pd.read_csv(out / "predictions.csv")
    assert list(table.columns[:10]) == ["image", "lesion_id", "dx", *ISIC_COLUMNS]
    assert len(table) == metrics["n_images"] == 28
    np.testing.assert_allclose(table[list(ISIC_COLUMNS)].sum(axis=1), 1.0, atol=1e-5)
    assert (table["referred"] == (table["malignancy_score"] >= metrics["operating_point"]["threshold"])).all()
    # the file, read back and scored again, gives what metrics.json says
    again = submission.score_file(out / "predictions.csv", labels)
    assert again["balanced_accuracy"] == pytest.approx(metrics["isic"]["balanced_accuracy"], abs=1e-12)
    assert metrics["isic"]["balanced_accuracy"] == pytest.approx(metrics["balanced_accuracy"], abs=1e-9)
    tone = metrics["skin_tone"]
    assert tone["masks"] == {"ham10000": 28} and sum(g["n_images"] for g in tone["groups"].values()) == 28
    for group in tone["groups"].values():
        ba = group["balanced_accuracy"]
        assert ba["too_few_images"] == (ba["interval"] is None or ba["interval"][1] - ba["interval"][0] > 0.3
                                        or group["n_images"] < MIN_GROUP_IMAGES)


@pytest.mark.parametrize("change,message", [
    (lambda t: t.drop(columns="DF"), "missing class column(s) DF"),
    (lambda t: pd.concat([t, t.iloc[[3]]]), "row 30: image ISIC_0024334 appears twice"),
    (lambda t: t.assign(MEL=t["MEL"].where(t.index != 4, 1.5)), "row 6 (ISIC_0024339): every probability must be"),
    (lambda t: t.assign(NV=t["NV"].where(t.index != 0, t["NV"] + 0.2)), "row 2 (ISIC_0024309): the seven probabilities add up to"),
])
def test_a_bad_predictions_file_is_refused_naming_the_row(tmp_path, change, message):
    ids = sorted(p.stem for p in (HAM_FIXTURES / "images").glob("*.jpg"))
    probs = RNG.dirichlet(np.ones(len(CLASSES)), len(ids))
    good = isic_probabilities(ids, probs).reset_index()
    path = tmp_path / "predictions.csv"
    change(good).to_csv(path, index=False)
    with pytest.raises(PredictionsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_predictions(path)


@pytest.mark.parametrize("lightness,b,angle,group", [
    (80.0, 10.0, 71.565, "very light"), (65.0, 15.0, 45.0, "light"), (60.0, 15.0, 33.690, "intermediate"),
    (55.0, 15.0, 18.435, "tan"), (40.0, 20.0, -26.565, "brown"), (30.0, 10.0, -63.435, "dark"),
])
def test_ita_of_synthetic_skin_patches_of_known_lab(tmp_path, lightness, b, angle, group):
    # a skin patch of one known colour with a dark "lesion" in the middle and a black vignette in the corners:
    # only the skin may count
    lab = np.zeros((150, 200, 3))
    lab[...] = (lightness, 12.0, b)
    lab[55:95, 75:125] = (20.0, 20.0, 20.0)
    lab[:12, :12] = (2.0, 0.0, 0.0)
    rgb = (np.clip(lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)
    path = tmp_path / "patch.png"
    Image.fromarray(rgb).save(path)
    mask = np.zeros((150, 200), dtype=np.uint8)
    mask[55:95, 75:125] = 255
    Image.fromarray(mask).save(tmp_path / "patch_segmentation.png")
    expected = ita(np.array([[lightness, 12.0, b]]))
    assert expected == pytest.approx(angle, abs=1e-3) and ita_group(expected) == group
    # the skin as stored (8-bit sRGB moves L*a*b* a little): what the measure must find, lesion and vignette ignored
    stored = ita(rgb2lab(rgb[100:101, 150:151] / 255.0).reshape(1, 3))
    assert stored == pytest.approx(angle, abs=2.0)
    for mask_file in (tmp_path / "patch_segmentation.png", None):  # the true mask, and Otsu's
        measured = skin_ita(path, mask_file)
        assert measured["ita"] == pytest.approx(stored, abs=0.01) and ita_group(measured["ita"]) == group


def test_the_models_outline_masks_the_lesion_where_an_image_has_no_mask(tmp_path):
    """The ISIC part has no masks: the model's outline (a probability map over the centre square) takes the lesion
    out of the skin; HAM10000's mask comes first where there is one, Otsu's only without either."""
    lab = np.zeros((150, 200, 3))
    lab[...] = (70.0, 10.0, 15.0)
    lab[15:135, 30:170] = (35.0, 15.0, 30.0)  # a large brown lesion inside the centre square (columns 25-175)
    rgb = (np.clip(lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "ISIC_0000001.png")
    skin = ita(rgb2lab(rgb[10:11, 10:11] / 255.0).reshape(1, 3))
    outline = np.zeros((160, 160), np.float32)
    outline[16:144, 5:155] = 1.0  # rows 15-135, columns 30-170 of the photo, on the 150 px square from column 25
    nothing = np.zeros_like(outline)
    with_outline = skin_ita(tmp_path / "ISIC_0000001.png", None, outline)
    assert with_outline["mask"] == "outline" and with_outline["ita"] == pytest.approx(skin, abs=0.01)
    # an outline that marks no lesion leaves the lesion, most of the frame, counted as skin
    assert skin_ita(tmp_path / "ISIC_0000001.png", None, nothing)["ita"] != pytest.approx(skin, abs=0.01)
    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((150, 200), np.uint8)
    mask[15:135, 30:170] = 255
    paths = {"ISIC_0000001": tmp_path / "ISIC_0000001.png"}
    assert measure_images(paths, None, {"ISIC_0000001": outline})["mask"].tolist() == ["outline"]
    assert measure_images(paths, None)["mask"].tolist() == ["otsu"]
    Image.fromarray(mask).save(masks / "ISIC_0000001_segmentation.png")
    assert measure_images(paths, masks, {"ISIC_0000001": nothing})["mask"].tolist() == ["ham10000"]


def test_the_segmentation_check_compares_otsus_ita_with_the_true_masks_image_by_image():
    images, masks = HAM_FIXTURES / "images", HAM_FIXTURES / "masks"
    ids = sorted(p.stem for p in images.glob("*.jpg"))
    check = segmentation_check(ids, images, masks)
    pairs = [(skin_ita(images / f"{i}.jpg", masks / f"{i}_segmentation.png")["ita"], skin_ita(images / f"{i}.jpg", None)["ita"])
             for i in ids]
    true, otsu = np.array([p for p in pairs if None not in p]).T
    assert check["n_images"] == len(ids) and 0 < check["dice_median"] <= 1
    assert check["ita_difference_median"] == pytest.approx(np.median(otsu - true))
    assert check["same_group_share"] == pytest.approx(np.mean([ita_group(a) == ita_group(b) for a, b in zip(true, otsu)]))


def test_the_skin_tone_table_counts_every_image_in_one_group():
    n = 120
    frame = pd.DataFrame({"image": [f"im{i}" for i in range(n)], "lesion_id": [f"l{i // 2}" for i in range(n)],
                          "dx": RNG.choice(CLASSES, n), "referred": RNG.random(n) > 0.5,
                          "out_of_distribution": RNG.random(n) > 0.9})
    probs = RNG.dirichlet(np.ones(len(CLASSES)), n)
    for i, code in enumerate(CLASSES):
        frame[code.upper()] = probs[:, i]
    itas = pd.DataFrame({"image": frame["image"], "ita": np.linspace(-40, 80, n), "mask": "otsu"})
    table = skin_tone_table(frame, itas, n_resamples=50)
    assert sum(g["n_images"] for g in table["groups"].values()) == n
    assert sum(q["n_images"] for q in table["quarters"].values()) == n
    assert table["groups"]["dark"]["guard_rejected"]["value"] == pytest.approx(
        frame["out_of_distribution"][itas["ita"] < -30].mean())


def test_each_skin_tone_figure_is_judged_by_its_own_count():
    # 200 images, 5 of them melanomas, every answer right: every interval is a point, yet 5 melanomas are too
    # few to show a sensitivity while 200 images show a balanced accuracy
    dx = ["mel"] * 5 + ["nv"] * 195
    frame = pd.DataFrame({"image": [f"ISIC_{i:07d}" for i in range(200)], "lesion_id": None, "dx": dx,
                          "referred": [d == "mel" for d in dx], "out_of_distribution": False})
    for c in CLASSES:
        frame[c.upper()] = [float(d == c) for d in dx]
    group = group_metrics(frame, n_resamples=50)
    assert group["malignant_sensitivity"]["interval"] == [1.0, 1.0]
    assert group["malignant_sensitivity"]["too_few_images"] and group["melanoma_sensitivity"]["too_few_images"]
    assert not group["balanced_accuracy"]["too_few_images"] and not group["malignant_specificity"]["too_few_images"]
