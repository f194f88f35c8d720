"""One model for every clinic (#43): learning without forgetting, source-balanced sampling, fine-tuning from a
finished run, and the guard that has seen what a lesion is not (outlier exposure)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import train.data.sources as sources
from tests.conftest import FIXTURES, HAM_FIXTURES, ROOT
from train.__main__ import main as train_main
from train.data.inputs import class_shares, sampling_groups, served_order
from train.data.loading import CLASSES
from train.guard.ood import guard_score, main as ood_main, ood_features
from train.model.config import TrainConfig
from train.model.distillation import distilled_cross_entropy, packed_targets
from train.model.explained import explained_outputs, load_ood_stats
from train.model.predict import load_run

EXTRA_FIXTURES = FIXTURES / "isic_extra"
NEGATIVES = ROOT.parent / "shared" / "data" / "not_lesions_imagenet_sample"
TINY = ["--alpha", "0.35", "--size", "64", "--head-epochs", "1", "--fine-tune-epochs", "1", "--batch-size", "8",
        "--backbone-weights", "none"]


def test_distillation_weight_zero_is_the_plain_cross_entropy_exactly():
    rng = np.random.default_rng(0)
    labels, logits = rng.integers(0, 7, 64), rng.normal(size=(64, 7)).astype(np.float32) * 3
    targets = packed_targets(labels, rng.integers(0, 2, 64), rng.normal(size=(64, 7)) * 3)
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    zero = keras.ops.mean(distilled_cross_entropy(0.0)(targets, logits))
    assert np.asarray(zero) == np.asarray(plain)  # bit for bit, not approximately


def test_the_teacher_term_applies_to_flagged_rows_only_and_vanishes_when_student_equals_teacher():
    rng = np.random.default_rng(1)
    labels, logits = rng.integers(0, 7, 8), rng.normal(size=(8, 7)).astype(np.float32)
    teacher = rng.normal(size=(8, 7)).astype(np.float32)
    flags = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    plain = np.asarray(distilled_cross_entropy(0.0)(packed_targets(labels, flags, teacher), logits))
    with_term = np.asarray(distilled_cross_entropy(2.0)(packed_targets(labels, flags, teacher), logits))
    assert np.array_equal(with_term[flags == 0], plain[flags == 0])
    assert (with_term[flags == 1] > plain[flags == 1]).all()
    same = np.asarray(distilled_cross_entropy(2.0)(packed_targets(labels, flags, logits), logits))
    np.testing.assert_allclose(same, plain, atol=1e-6)


def test_source_balanced_sampling_serves_each_source_its_share_with_classes_balanced_within():
    labels = np.r_[np.repeat([0, 4, 5], [50, 100, 800]), np.repeat([4, 5], [30, 120])]
    origin = np.r_[np.zeros(950, int), np.ones(150, int)]
    groups, present, weights = sampling_groups(labels, origin, 0.3)
    assert np.isclose(weights.sum(), 1) and np.isclose(weights[present >= len(CLASSES)].sum(), 0.3)
    within_ham = weights[present < len(CLASSES)] / 0.7
    np.testing.assert_allclose(within_ham, np.sqrt([50, 100, 800]) / np.sqrt([50, 100, 800]).sum())
    served = served_order(labels, TrainConfig(data="", out="", seed=3, extra_share=0.3), 40000, origin)
    assert abs((origin[served] == 1).mean() - 0.3) < 0.01
    np.testing.assert_allclose(np.bincount(labels[served], minlength=7) / len(served), class_shares(present, weights),
                               atol=0.01)
    # without a share the sampler is today's pooled class balance
    assert np.array_equal(sampling_groups(labels)[0], labels)


@pytest.fixture(scope="module")
def splits_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("splits")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "SPLITS_DIR", folder)
        sources.create_split(EXTRA_FIXTURES)
        yield folder


def model_digest(run: Path) -> str:
    return hashlib.sha256((run / "model.keras").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def runs(splits_dir, tmp_path_factory):
    """A tiny teacher, then a student fine-tuned from it on the mixed stream with its answers kept."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "SPLITS_DIR", splits_dir)
        assert train_main(["--data", str(HAM_FIXTURES), "--out", str(root / "teacher"), *TINY, "--mask-weight", "1"]) == 0
        before = model_digest(root / "teacher")
        assert train_main(["--data", str(HAM_FIXTURES), "--out", str(root / "student"), *TINY, "--mask-weight", "1",
                           "--extra-data", str(EXTRA_FIXTURES), "--init-from", str(root / "teacher"),
                           "--teacher", str(root / "teacher"), "--distil", "1", "--extra-share", "0.3"]) == 0
        assert model_digest(root / "teacher") == before
    return root


@pytest.mark.slow
def test_a_distilled_student_starts_from_the_run_skips_the_head_and_leaves_the_teacher_unchanged(runs):
    config = json.loads((runs / "student" / "config.json").read_text())
    assert config["distil"] == 1 and config["extra_share"] == 0.3 and config["init_from"] == str(runs / "teacher")
    assert not (runs / "student" / "head.weights.h5").exists()  # phase 1 skipped
    assert np.isclose(config["class_mix"]["source_share"]["isic_extra"], 0.3)
    log = pd.read_csv(runs / "student" / "training_log.csv")
    assert list(log["epoch"]) == [1]  # the one fine-tuning epoch, numbered after the head's


def negatives_folder(folder: Path, n: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):  # stripes and noise: nothing like a lesion close-up
        pixels = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
        pixels[:, ::7] = rng.integers(0, 255, 3, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo{i}.jpg")
    return folder


@pytest.fixture(scope="module")
def negatives_guard(runs, splits_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("guarded") / "model"
    shutil.copytree(runs / "student", run)
    negatives = negatives_folder(tmp_path_factory.mktemp("negatives"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "SPLITS_DIR", splits_dir)
        assert ood_main(["--model", str(run), "--components", "4", "--negatives", str(negatives),
                         "--val-quantile", "0.95"]) == 0
    return run, negatives


@pytest.mark.slow
def test_the_guard_with_negatives_in_the_exported_graph_equals_numpy(negatives_guard):
    run_dir, negatives = negatives_guard
    run, stats = load_run(run_dir), load_ood_stats(run_dir)
    assert "negative_weights" in stats
    paths = [str(p) for p in sorted((HAM_FIXTURES / "images").glob("*.jpg"))[:5]] + [str(p) for p in sorted(negatives.iterdir())[:3]]
    graph = np.concatenate([c["ood_distance"] for c in explained_outputs(run, paths, stats)])
    np.testing.assert_allclose(graph, guard_score(ood_features(run, paths), stats), rtol=1e-4)


@pytest.mark.slow
def test_negatives_are_fitted_on_never_validated_or_calibrated_on(negatives_guard, runs, splits_dir):
    run_dir, negatives = negatives_guard
    guard = json.loads((run_dir / "ood.json").read_text())
    assert guard["negatives"]["n"] == len(list(negatives.iterdir()))
    n_val = len(pd.read_csv(run_dir / "val_labels.csv"))
    inner = pd.read_csv(splits_dir / "isic_extra.csv").query("split == 'val'")
    assert guard["val_n"] == {"sharpest": n_val, "base": n_val, "isic_extra": len(inner)}
    # the calibration is the training run's: the guard does not touch it
    assert (run_dir / "calibration.json").read_text() == (runs / "student" / "calibration.json").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["empty", "leak"])
def test_bad_negatives_are_refused_with_one_message_and_nothing_fitted(case, runs, splits_dir, tmp_path, capsys):
    run = tmp_path / "model"
    shutil.copytree(runs / "student", run)
    before = (run / "ood.npz").read_bytes() if (run / "ood.npz").exists() else None
    negatives = negatives_folder(tmp_path / "negatives", n=0 if case == "empty" else 3)
    if case == "leak":  # a HAM10000 image the guard fits or validates on, under another name
        lesion = pd.read_csv(run / "split.csv").query("split == 'val'")["image_id"].iloc[0]
        shutil.copy(HAM_FIXTURES / "images" / f"{lesion}.jpg", negatives / "holiday.jpg")
    assert ood_main(["--model", str(run), "--components", "4", "--negatives", str(negatives)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and ("holds no images" if case == "empty" else "holiday.jpg") in err
    assert (run / "ood.npz").read_bytes() == before if before else not (run / "ood.npz").exists()


@pytest.mark.skipif(not NEGATIVES.is_dir(), reason="needs ../shared/data/not_lesions_imagenet_sample")
def test_the_negatives_share_no_image_with_the_guard_evaluation_set(tmp_path):
    from train.guard.ood_set import build_ood_set

    build_ood_set(tmp_path / "ood_set")
    manifest = pd.read_csv(tmp_path / "ood_set" / "manifest.csv")

    def thumbnail(path: Path) -> np.ndarray:
        image = Image.open(path).convert("L")
        side = min(image.size)  # the centre square both pipelines read
        left, top = (image.width - side) // 2, (image.height - side) // 2
        return np.asarray(image.crop((left, top, left + side, top + side)).resize((16, 16)), float)

    evaluation = np.stack([thumbnail(tmp_path / "ood_set" / f) for f in manifest["file"]])
    for negative in sorted((NEGATIVES / "images").iterdir()):
        closest = np.abs(evaluation - thumbnail(negative)).mean(axis=(1, 2)).min()
        assert closest > 4, f"{negative.name} is (nearly) an image of the evaluation set"


def test_specificity_at_ninety_percent_sensitivity_reads_the_roc_not_the_operating_point():
    from train.studies.ship_rule import specificity_at_sensitivity

    malignant = np.r_[np.ones(10, bool), np.zeros(10, bool)]
    score = np.r_[np.linspace(0.5, 1, 10), np.linspace(0, 0.52, 10)]  # 9 of 10 malignant above every benign
    assert specificity_at_sensitivity(malignant, score) == 1.0
    assert np.isclose(specificity_at_sensitivity(malignant, score, 1.0), 0.9)  # all ten: one benign lies above 0.5


def test_the_ship_rule_compares_image_by_image_and_names_each_failing_line(tmp_path):
    from train.studies.ship_rule import PROBABILITY_COLUMNS, ship_rule

    rng = np.random.default_rng(0)
    dx = np.repeat(["bcc", "bkl", "mel", "nv"], 30)

    def write(name: str, correct: float) -> Path:
        truth = np.array([CLASSES.index(d) for d in dx])
        said = np.where(rng.random(len(dx)) < correct, truth, CLASSES.index("nv"))
        probs = np.full((len(dx), 7), 0.01)
        probs[np.arange(len(dx)), said] = 0.94
        frame = pd.DataFrame(probs, columns=PROBABILITY_COLUMNS).assign(
            image=[f"img{i}" for i in range(len(dx))], lesion_id=[f"l{i // 2}" for i in range(len(dx))], dx=dx,
            malignancy_score=probs[:, [0, 1, 4]].sum(axis=1), out_of_distribution=False)
        frame["referred"] = frame["malignancy_score"] > 0.5
        (tmp_path / name).mkdir()
        frame.to_csv(tmp_path / name / "predictions.csv", index=False)
        return tmp_path / name

    shipped = {"low": write("base", 0.9), "sharp": write("base_sharp", 0.9)}
    candidate = {"low": write("cand", 0.6), "sharp": write("cand_sharp", 0.9), "inner": write("inner", 0.9)}
    ood = {"out_of_distribution": {"rejected": 0.99}, "per_category": {"photo": {"rejected": 0.9}}}
    report = ship_rule(shipped, candidate, ood, resamples=20)
    failed = {name for name, line in report["lines"].items() if not line["passes"]}
    assert "non-lesion photos rejected >= 95%" in failed and "HAM test low: balanced_accuracy difference >= -0.02" in failed
    assert not any(name.startswith("HAM test sharp: bcc") for name in failed) and not report["passes"]
    low = report["ham_test"]["low"]
    assert low["interval"]["balanced_accuracy"][0] <= low["difference"]["balanced_accuracy"] <= low["interval"]["balanced_accuracy"][1]


@pytest.mark.parametrize("options, message", [
    (["--distil", "1"], "--teacher"),
    (["--teacher", "models/ham10000"], "--distil W"),
    (["--distil", "-1", "--teacher", "models/ham10000"], "is not a weight"),
    (["--extra-share", "0.3"], "--extra-data"),
    (["--extra-share", "1.5", "--extra-data", "x"], "between 0 and 1"),
    (["--distil", "1", "--teacher", "t", "--stream"], "drop --stream"),
])
def test_option_mistakes_get_one_message_before_anything_trains(options, message, capsys):
    from train.__main__ import parse_args

    with pytest.raises(SystemExit) as exit_:
        parse_args(["--data", "d", "--out", "o", *options])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_teacher_of_another_network_is_refused(tmp_path):
    from train.data.loading import DataError
    from train.model.distillation import teacher_logits

    (tmp_path / "model.keras").write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps({"size": 224, "alpha": 1.0}))
    with pytest.raises(DataError, match="give the same --size"):
        teacher_logits(tmp_path, np.zeros((1, 160, 160, 3), np.uint8), 1.0, 160)
    with pytest.raises(DataError, match="not found"):
        teacher_logits(tmp_path / "nowhere", np.zeros((1, 160, 160, 3), np.uint8), 1.0, 160)


@pytest.mark.slow
def test_calibrating_with_the_inner_check_fits_on_both_validation_sources(runs, splits_dir, tmp_path):
    from train.calibration.calibrate import calibrate, training_prior
    from train.calibration.recalibrate import main as recalibrate_main
    from train.model.predict import run_logits, split_frame

    run_dir = tmp_path / "model"
    shutil.copytree(runs / "student", run_dir)
    assert recalibrate_main(["--model", str(run_dir), "--with-inner"]) == 0
    run = load_run(run_dir)
    assert run.config["calibrate_with_inner"] is True
    frame = split_frame(run)
    inner = sources.extra_frame(run.config["extra_data"], frame["image_id"]).query("split == 'val'")
    val = frame[frame["split"] == "val"]
    logits = np.concatenate([run_logits(run, val["path"].tolist()), run_logits(run, inner["path"].tolist())])
    labels = np.r_[val["label"], inner["label"]]
    trained = np.r_[frame.query("split == 'train'")["label"],
                    sources.extra_frame(run.config["extra_data"], frame["image_id"]).query("split == 'train'")["label"]]
    expected = calibrate(logits, labels, training_prior(np.bincount(trained.astype(int), minlength=7), "sampling"))
    assert run.calibration["operating_point"]["threshold"] == pytest.approx(expected["operating_point"]["threshold"])
    assert run.calibration["temperature"] == pytest.approx(expected["temperature"], rel=1e-4)
    metrics = json.loads((run_dir / "val_metrics.json").read_text())
    assert metrics["inner_check"]["isic_extra"]["n_images"] == len(inner)


def test_calibrating_with_the_inner_check_needs_an_extra_source(capsys):
    from train.__main__ import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--out", "o", "--calibrate-with-inner"])
    assert "--extra-data" in capsys.readouterr().err
