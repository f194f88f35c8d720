"""The whole chain on fixtures, through the real commands: train -> evaluate -> export -> browser."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from export.browser_scoring import score_in_browser
from export.classes import BODY_SITES
from export.tfjs import weight_files
from tests.conftest import HAM_FIXTURES, ROOT, SHARP_FIXTURES
from train.__main__ import main as train_main
from train.calibration.change_margin import main as change_margin_main
from train.calibration.combine import main as combine_main
from train.evaluation.evaluate import main as evaluate_main
from train.evaluation.learning_curve import main as learning_curve_main
from train.guard.ood import main as ood_main
from train.studies.explain_eval import main as explain_main
from train.studies.paired import main as paired_main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "model"
    out.mkdir()
    # an earlier run's log in the folder (as in the committed models/ham10000): a fresh run replaces it
    (out / "training_log.csv").write_text("epoch,loss\n0,9.9\n1,9.8\n2,9.7\n")
    code = train_main(["--data", str(HAM_FIXTURES), "--out", str(out), "--alpha", "0.35", "--size", "64",
                       "--head-epochs", "1", "--fine-tune-epochs", "1", "--batch-size", "8",
                       "--backbone-weights", "none", "--override-images", str(SHARP_FIXTURES), "--acquisition"])
    assert code == 0
    assert ood_main(["--model", str(out), "--components", "8"]) == 0
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def exported(trained, reports, tmp_path_factory):
    """Export with --quantize auto: all three quantizations are scored in Chromium on the validation split.

    In a subprocess, as a user runs it: it starts its own Playwright, which cannot nest in the test session's.
    """
    site_model = tmp_path_factory.mktemp("site") / "model"
    result = subprocess.run([sys.executable, "-m", "export", "--model", str(trained), "--out", str(site_model),
                             "--reports", str(reports)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return site_model


def test_training_writes_a_loadable_model_and_its_records(trained):
    import keras

    for name in ("model.keras", "config.json", "calibration.json", "val_metrics.json", "training_log.csv",
                 "split.csv", "test_labels.csv"):
        assert (trained / name).is_file(), name
    model = keras.saving.load_model(trained / "model.keras", compile=False)
    assert model.output_shape == (None, 7)
    log = (trained / "training_log.csv").read_text().splitlines()
    assert len(log) == 3  # header + head epoch + fine-tune epoch
    calibration = json.loads((trained / "calibration.json").read_text())
    assert calibration["temperature"] > 0
    assert calibration["operating_point"]["validation_sensitivity"] >= 0.9
    assert len(calibration["class_bias"]) == 7 and 0 <= calibration["prior_strength"] <= 2
    ood = json.loads((trained / "ood.json").read_text())
    assert ood["components"] == 8 and ood["threshold"] > 0
    # fitted on both copies of the images that have two, and on a camera/source change of each
    train_ids = set(pd.read_csv(trained / "split.csv").query("split == 'train'")["image_id"])
    n_sharp = len(train_ids & {p.stem for p in SHARP_FIXTURES.glob("*.jpg")})
    assert ood["fit_n"] == 2 * len(train_ids) + n_sharp
    assert set(ood["val_rejection_rate"]) == {"sharpest", "base"}
    config = json.loads((trained / "config.json").read_text())
    assert config["override_images"] == str(SHARP_FIXTURES) and config["acquisition"] is True


def test_evaluate_writes_metrics_and_figures(trained, tmp_path):
    out = tmp_path / "eval"
    assert evaluate_main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                          "--out", str(out), "--model", str(trained)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("n_images", "balanced_accuracy", "accuracy", "macro_auc", "per_class", "melanoma", "malignant", "ece"):
        assert key in metrics
    assert metrics["n_images"] == 28
    assert set(metrics["per_class"]["mel"]) >= {"recall", "precision", "f1", "support", "auc"}
    intervals = metrics["confidence_intervals"]
    assert intervals["resampled"] == "images" and intervals["n_resampled"] == 28  # one image per fixture lesion
    assert 0 <= intervals["balanced_accuracy"][0] <= intervals["balanced_accuracy"][1] <= 1
    assert (out / "confusion_matrix.png").stat().st_size > 1000
    assert (out / "classification_report.png").stat().st_size > 1000


def check_guard_summary(ood: dict, n: int, threshold: float) -> None:
    assert ood["n"] == n and ood["threshold"] == pytest.approx(threshold, rel=1e-6)
    assert 0 <= ood["rejected_fraction"] <= 1 and ood["rejected_fraction"] * n == pytest.approx(round(ood["rejected_fraction"] * n))


def test_evaluate_reports_the_guard_and_a_paired_source(trained, tmp_path):
    out = tmp_path / "sharp"
    assert evaluate_main(["--images", str(SHARP_FIXTURES), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                          "--missing", "skip", "--paired-images", str(HAM_FIXTURES / "images"),
                          "--out", str(out), "--model", str(trained)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    threshold = json.loads((trained / "ood.json").read_text())["threshold"]
    assert metrics["n_images"] == 15 and metrics["excluded"] == {"labelled images not in the folder": 13}
    check_guard_summary(metrics["ood"], 15, threshold)
    paired = metrics["paired"]
    assert paired["images"] == str(HAM_FIXTURES / "images")
    assert 0 <= paired["balanced_accuracy"] <= 1 and set(paired["recall"]) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    check_guard_summary(paired["ood"], 15, threshold)


def test_evaluate_names_a_paired_folder_that_lacks_images(trained, tmp_path, capsys):
    code = evaluate_main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                          "--paired-images", str(SHARP_FIXTURES), "--out", str(tmp_path), "--model", str(trained)])
    assert code == 2 and "13 of the scored images are not in the paired folder" in capsys.readouterr().err


def test_learning_curve_and_overfitting_gap_are_written(trained, tmp_path):
    out = tmp_path / "training"
    assert learning_curve_main(["--model", str(trained), "--out", str(out)]) == 0
    assert (out / "learning_curve.png").stat().st_size > 5000
    report = json.loads((out / "overfitting.json").read_text())
    assert report["epochs_run"] == 2 and report["head_epochs"] == 1 and 1 <= report["checkpoint_epoch"] <= 2
    assert report["learning_rate_changes"] == [[2, pytest.approx(1e-4)]]  # 1e-3 for the head, then 1e-4
    split = pd.read_csv(trained / "split.csv")
    assert set(report["conditions"]) == {"low", "sharp"}
    low = report["conditions"]["low"]
    assert low["train_sample"]["n"] == (split["split"] == "train").sum()
    assert low["validation"]["n"] == (split["split"] == "val").sum()
    assert low["gap"]["balanced_accuracy"] == pytest.approx(
        low["train_sample"]["balanced_accuracy"] - low["validation"]["balanced_accuracy"])


def test_explain_eval_scores_heatmaps_against_the_masks(trained, tmp_path):
    out = tmp_path / "explain"
    assert explain_main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                         "--masks", str(HAM_FIXTURES / "masks"), "--out", str(out), "--model", str(trained)]) == 0
    report = json.loads((out / "explain.json").read_text())
    assert report["n_images"] == 28
    for scores in (report["cam"], *report["centred_gaussian"].values()):
        assert 0 <= scores["inside_mask_mass"] <= 1 and 0 <= scores["pointing_game"] <= 1
    # the fixture lesions that the Gaussian's central peak misses (three of them), by definition all misses
    off = report["off_centre_lesions"]
    assert off["n_images"] >= 1 and off["centred_gaussian"]["sigma_0.15"]["pointing_game"] == 0
    assert (out / "examples.png").stat().st_size > 1000


def test_explain_eval_names_a_missing_mask(trained, tmp_path, capsys):
    code = explain_main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                         "--masks", str(tmp_path), "--out", str(tmp_path / "out"), "--model", str(trained)])
    assert code == 2 and "_segmentation.png" in capsys.readouterr().err


def test_export_writes_model_metadata_and_quantization_report(trained, exported, reports):
    metadata = json.loads((exported / "metadata.json").read_text())
    comparison = json.loads((reports / "quantization.json").read_text())
    names = [r["quantization"] for r in comparison["candidates"]]
    # mixed is scored when at least one layer passed the simulation (a random fixture backbone may give none)
    assert names[:3] == ["float32", "float16", "uint8"] and names[3:] == (["mixed"] if comparison[
        "mixed_uint8_layers"]["layers"] else [])
    assert comparison["chosen"] == metadata["quantization"]
    assert all(set(r["conditions"]) == {"low", "sharp"} for r in comparison["candidates"])
    assert comparison["rule"]["min_referral_agreement_with_keras"] == 0.995
    sizes = {r["quantization"]: r["model_bytes"] for r in comparison["candidates"]}
    assert sizes["uint8"] < sizes.get("mixed", sizes["uint8"] + 1) < sizes["float16"] < sizes["float32"]
    assert metadata["model_bytes"] == sizes[metadata["quantization"]]
    assert [c["code"] for c in metadata["classes"]] == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert metadata["preprocessing"]["size"] == 64
    assert set(metadata["sha256"]) == {"model.json", *(f.name for f in weight_files(exported))}
    assert metadata["dataset"]["licence"] == "CC BY-NC-SA 4.0"
    assert set(metadata["outputs"]) == {"logits", "cams", "ood_distance"}
    assert metadata["ood"] == json.loads((trained / "ood.json").read_text())
    assert metadata["class_bias"] == json.loads((trained / "calibration.json").read_text())["class_bias"]
    assert metadata["dataset"]["localizations"] == list(BODY_SITES)
    assert metadata["change"] is None  # the fixtures have one photo per lesion: no margin (see below)


def test_metadata_only_ships_the_test_intervals_and_keeps_the_weights_version(trained, exported, tmp_path):
    site_model = tmp_path / "model"
    shutil.copytree(exported, site_model)
    metadata_file = site_model / "metadata.json"
    first = json.loads(metadata_file.read_text())
    # as if exported on an earlier day: the version names the weights, so a rewrite for them keeps it
    first.update(model_version=f"2020-01-01-{first['weights_sha256'][:8]}", created="2020-01-01")
    metadata_file.write_text(json.dumps(first))
    weights = {f.name: f.read_bytes() for f in site_model.iterdir() if f.name != "metadata.json"}
    evaluation = tmp_path / "eval"
    assert evaluate_main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                          "--out", str(evaluation), "--model", str(trained)]) == 0
    result = subprocess.run([sys.executable, "-m", "export", "--model", str(trained), "--out", str(site_model),
                             "--metadata-only", "--test-metrics", f"low={evaluation / 'metrics.json'}"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = json.loads(metadata_file.read_text())
    assert (metadata["model_version"], metadata["created"]) == ("2020-01-01-" + first["weights_sha256"][:8], "2020-01-01")
    assert metadata["quantization"] == first["quantization"]
    intervals = json.loads((evaluation / "metrics.json").read_text())["confidence_intervals"]
    assert metadata["metrics"]["test"]["low"]["confidence_intervals"] == intervals
    assert {f.name: f.read_bytes() for f in site_model.iterdir() if f.name != "metadata.json"} == weights
    # no exported model to rewrite the metadata of: one clear error
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run([sys.executable, "-m", "export", "--model", str(trained), "--out", str(empty),
                             "--metadata-only"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "holds no exported model" in result.stderr


def test_change_margin_says_why_it_cannot_be_measured(trained, capsys):
    assert change_margin_main(["--model", str(trained)]) == 2
    assert "No lesion has two images" in capsys.readouterr().err
    assert not (trained / "change_margin.json").exists()


def test_combination_says_why_no_rule_can_be_chosen(trained, capsys):
    assert combine_main(["--model", str(trained)]) == 2
    assert "No lesion in the validation split has two images" in capsys.readouterr().err
    assert not (trained / "combination.json").exists()


def test_evaluate_scores_each_image_with_its_lesions_combined_result(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "combination.json").write_text(json.dumps({"rule": "mean_logits"}))
    # the fixtures hold one image per lesion: pair them up into 14 two-photo "lesions"
    labels = pd.read_csv(HAM_FIXTURES / "metadata.csv")
    labels["lesion_id"] = [f"L{i // 2}" for i in range(len(labels))]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "eval"
    assert evaluate_main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(tmp_path / "labels.csv"),
                          "--out", str(out), "--model", str(run)]) == 0
    by_lesion = json.loads((out / "metrics.json").read_text())["by_lesion"]
    assert by_lesion["rule"] == "mean_logits"
    assert by_lesion["n_lesions"] == 14 and by_lesion["n_multi_photo_lesions"] == 14
    assert by_lesion["lesions_counted_once"]["n_images"] == 14 and by_lesion["multi_photo_images"]["n_images"] == 28
    assert 0 <= by_lesion["balanced_accuracy"] <= 1 and set(by_lesion["malignant"]) == {"sensitivity", "specificity"}
    low, high = by_lesion["gain_interval"]["balanced_accuracy"]
    assert low <= high


def test_browser_evaluation_reports_the_guard_like_keras(trained, exported, tmp_path):
    out = tmp_path / "browser"
    result = subprocess.run([sys.executable, "-m", "train.evaluation.evaluate", "--runtime", "browser", "--model", str(exported),
                             "--images", str(HAM_FIXTURES / "images"), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                             "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    check_guard_summary(metrics["ood"], 28, json.loads((trained / "ood.json").read_text())["threshold"])


def test_browser_gives_seven_probabilities_summing_to_one(exported, browser):
    paths = [str(p) for p in sorted((HAM_FIXTURES / "images").glob("*.jpg"))[:4]]
    probs = score_in_browser(exported, paths, browser=browser)
    assert probs.shape == (4, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_tampered_weight_file_is_refused(exported, browser, tmp_path):
    tampered = tmp_path / "model"
    shutil.copytree(exported, tampered)
    shard = weight_files(tampered)[0]
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="does not match metadata.json"):
        score_in_browser(tampered, [str(next((HAM_FIXTURES / "images").glob("*.jpg")))], browser=browser)


def test_paired_comparison_of_a_run_with_itself_finds_no_difference(trained, tmp_path):
    out = tmp_path / "paired.json"
    assert paired_main([str(trained), str(trained), "--out", str(out), "--resamples", "20"]) == 0
    report = json.loads(out.read_text())
    assert report["n_images"] == (pd.read_csv(trained / "split.csv")["split"] == "val").sum()
    assert report["scores"]["base"] == report["scores"]["candidate"]
    assert all(value == 0 for value in report["difference"].values())
    assert all(interval == [0, 0] for interval in report["interval"].values())


def test_paired_comparison_refuses_runs_on_different_splits(trained, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(trained, other)
    split = pd.read_csv(other / "split.csv")
    split.loc[split.index[0], "split"] = "test" if split.loc[split.index[0], "split"] != "test" else "val"
    split.to_csv(other / "split.csv", index=False)
    assert paired_main([str(trained), str(other), "--out", str(tmp_path / "p.json")]) == 2
    assert "not trained on the same split.csv" in capsys.readouterr().err
