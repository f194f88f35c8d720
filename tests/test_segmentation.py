"""The lesion outline: a decoder on the frozen backbone that leaves the classifier bit-identical, and the
evaluation command that scores it against reference masks."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from export.tfjs import deployable_model
from train.evaluation import segmentation as evaluation
from train.model.explained import explained_model, load_ood_stats
from train.model.predict import load_run, model_inputs
from train.segmentation import __main__ as fit_command
from train.segmentation.decoder import OUTLINE, build_decoder

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / "ham10000"
FIXTURES = ROOT / "tests" / "fixtures" / "ham10000"


@pytest.fixture(scope="module")
def shipped():
    return load_run(SHIPPED)


@pytest.fixture(scope="module")
def inputs(shipped):
    paths = sorted(str(p) for p in (FIXTURES / "images").glob("*.jpg"))[:6]
    return next(model_inputs(paths, shipped.prep))


@pytest.mark.parametrize("graph", [explained_model, deployable_model], ids=["keras", "exported"])
def test_the_outline_leaves_every_classifier_output_bit_identical(shipped, inputs, graph):
    ood = load_ood_stats(SHIPPED)
    decoder = build_decoder(shipped.model)
    without = graph(shipped.model, ood).predict(inputs, verbose=0)
    with_outline = graph(shipped.model, ood, outline=decoder).predict(inputs, verbose=0)
    assert set(with_outline) == set(without) | {OUTLINE}
    for name, values in without.items():
        assert np.array_equal(values, with_outline[name]), name
    size = shipped.prep.size
    assert with_outline[OUTLINE].shape == (len(inputs), size, size)
    assert ((with_outline[OUTLINE] >= 0) & (with_outline[OUTLINE] <= 1)).all()


def test_the_decoder_fits_the_weight_budget(shipped):
    assert build_decoder(shipped.model).count_params() * 4 <= 0.5e6  # +0.5 MB even stored in float32


def test_fitting_the_outline_never_changes_the_classifier(tmp_path, shipped, inputs):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.keras", "config.json", "calibration.json"):
        shutil.copy2(SHIPPED / name, run / name)
    split = pd.read_csv(FIXTURES / "metadata.csv")[["image_id", "lesion_id", "dx"]]
    split["split"] = np.where(np.arange(len(split)) % 2, "train", "val")  # the fixtures are test images otherwise
    split.to_csv(run / "split.csv", index=False)
    before = (run / "model.keras").read_bytes()
    assert fit_command.main(["--model", str(run), "--data", str(FIXTURES), "--epochs", "1", "--batch-size", "4"]) == 0
    assert (run / "model.keras").read_bytes() == before
    summary = json.loads((run / "outline.json").read_text())
    assert summary["training_images"] > 0 and summary["validation_images"] > 0
    assert 0 <= summary["validation_jaccard"] <= 1
    after = keras.saving.load_model(run / "model.keras", compile=False)
    assert np.array_equal(after.predict(inputs, verbose=0), shipped.model.predict(inputs, verbose=0))
    assert (run / "outline.keras").is_file()


def square(side: int, top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros((side, side), bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_image_scores_and_the_isic_threshold():
    truth = square(100, 0, 0, 40)
    assert evaluation.image_scores(truth, truth) == {"jaccard": 1.0, "dice": 1.0, "thresholded_jaccard": 1.0}
    half = evaluation.image_scores(truth, square(100, 0, 20, 40))  # overlap 800 of a union 2400
    assert half["jaccard"] == pytest.approx(1 / 3)
    assert half["dice"] == pytest.approx(0.5)
    assert half["thresholded_jaccard"] == 0.0  # below 0.65 counts as 0
    close = evaluation.image_scores(truth, square(100, 0, 4, 40))  # 36/44
    assert close["thresholded_jaccard"] == pytest.approx(36 / 44)


@pytest.mark.parametrize("mode, scale", [("L", 255), ("L", 1), ("I;16", 65535)])
def test_reference_masks_of_any_size_and_grey_levels(tmp_path, mode, scale):
    mask = np.zeros((30, 40), np.uint16)
    mask[10:20, 10:30] = scale
    path = tmp_path / f"x{mode.replace(';', '')}{scale}_segmentation.png"
    image = Image.fromarray(mask.astype(np.uint16 if mode == "I;16" else np.uint8))
    assert image.mode == mode
    image.resize((80, 60), Image.Resampling.NEAREST).save(path)
    resized = evaluation.reference_mask(path, (150, 200))
    assert resized.shape == (150, 200)
    assert resized[75, 100] and not resized[10, 10]
    assert resized.mean() == pytest.approx(1 / 6, abs=0.01)


def test_a_square_crop_takes_the_centre_square_of_its_frames_mask(tmp_path):
    mask = np.zeros((150, 200), np.uint8)
    mask[:, 25:100] = 255  # the left half of the frame's centre square (columns 25-175)
    path = tmp_path / "x_segmentation.png"
    Image.fromarray(mask).save(path)
    square = evaluation.reference_mask(path, (224, 224))
    assert square.shape == (224, 224)
    assert square[:, :100].all() and not square[:, 124:].any()


def run_evaluation(tmp_path, images: Path, masks: Path, capsys) -> tuple[int, str]:
    status = evaluation.main(["--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "out"),
                              "--model", str(SHIPPED)])
    return status, capsys.readouterr().err


def one_image(tmp_path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy2(FIXTURES / "images" / "ISIC_0024309.jpg", images)
    return images


def test_a_missing_mask_folder_or_one_without_masks_is_one_clear_error(tmp_path, capsys):
    images = one_image(tmp_path)
    status, err = run_evaluation(tmp_path, images, tmp_path / "nowhere", capsys)
    assert status == 2 and "Mask folder not found" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no masks here")
    status, err = run_evaluation(tmp_path, images, tmp_path / "empty", capsys)
    assert status == 2 and "holds no <image_id>_segmentation.png files" in err
    assert not (tmp_path / "out").exists()


def test_a_mask_that_is_not_an_image_or_of_another_shape_is_one_clear_error(tmp_path, capsys):
    images = one_image(tmp_path)
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "ISIC_0024309_segmentation.png").write_text("not a picture")
    status, err = run_evaluation(tmp_path, images, masks, capsys)
    assert status == 2 and "is not an image" in err and "ISIC_0024309_segmentation.png" in err
    Image.new("L", (100, 100), 255).save(masks / "ISIC_0024309_segmentation.png")
    status, err = run_evaluation(tmp_path, images, masks, capsys)
    assert status == 2 and "must have its image's aspect ratio" in err
    assert not (tmp_path / "out").exists()


def test_the_measures_study_on_reference_masks(tmp_path):
    from train.studies import lesion_measures as study

    out = tmp_path / "measures.json"
    assert study.main(["--images", str(FIXTURES / "images"), "--masks", str(FIXTURES / "masks"),
                       "--labels", str(FIXTURES / "metadata.csv"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    separation = report["separation_melanoma_vs_nevus"]["reference"]
    assert separation["melanomas"] > 0 and separation["nevi"] > 0
    for name in study.SEPARATING:
        low, high = separation[name]["ci95"]
        assert 0 <= low <= separation[name]["auc"] <= high <= 1
    assert report["skin_tone_ita_against_reference_mask"]["otsu"]["images"] > 20


def test_an_outline_equal_to_the_reference_agrees_perfectly():
    from train.studies.lesion_measures import agreement

    rows = pd.DataFrame([{"image_id": f"i{k}", "source": source, "empty": False, "area_px": 100 + k * k,
                          "diameter_px": 10 + k, "asymmetry": k / 10, "compactness": 1 + k / 7, "colours": k % 3,
                          **{f"colour {c}": (k + j) % 2 == 0 for j, c in enumerate(study_colours())}}
                         for k in range(6) for source in ("reference", "outline")])
    result = agreement(rows)
    assert result["images"] == 6 and result["same_colours_present"] == 1.0
    assert result["area_px"]["spearman"] == pytest.approx(1.0)
    assert result["area_px"]["median_relative_difference"] == 0.0
    assert result["compactness"]["median_absolute_difference"] == 0.0


def study_colours():
    from train.segmentation.measures import COLOURS

    return list(COLOURS)


@pytest.mark.browser
def test_the_page_outline_equals_python_on_real_photos(tmp_path, browser):
    """The decoder make outline fitted, exported as the page runs it (float32), through classifier.js in Chromium."""
    import subprocess
    import sys

    from export.browser_scoring import browser_outputs

    out = tmp_path / "model"
    result = subprocess.run([sys.executable, "-m", "export", "--model", str(SHIPPED), "--out", str(out),
                             "--quantize", "float32", "--reports", str(tmp_path / "reports")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    paths = [str(p) for p in [*sorted((FIXTURES / "images").glob("*.jpg"))[:6],
                              *sorted((ROOT / "tests" / "fixtures" / "ham10000_sharp" / "images").glob("*.jpg"))[:4]]]
    shown = browser_outputs(out, paths, browser=browser)["outline"]
    expected = evaluation.keras_outlines(SHIPPED, paths)
    for path, page_map, python_map in zip(paths, shown, expected):
        side = min(Image.open(path).size)  # the centre square the outline covers
        page_mask, python_mask = (evaluation.outline_on_square(m, side) for m in (page_map, python_map))
        assert python_mask.any(), path
        assert (page_mask & python_mask).sum() / (page_mask | python_mask).sum() >= 0.99, path
