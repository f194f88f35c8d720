"""Extra training sources (--extra-data): the committed external split, what trains, what is refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import train.data.arrays as arrays
import train.data.sources as sources
from tests.conftest import FIXTURES, HAM_FIXTURES, ROOT
from train.__main__ import main as train_main
from train.data.inputs import served_order
from train.data.loading import CLASSES, DataError, load_labelled_images
from train.data.preprocess import Preprocessing
from train.guard.ood import main as ood_main
from train.model.config import TrainConfig
from train.model.guided import mask_paths, no_mask_file, outside_mask_share, resized_masks

EXTRA_FIXTURES = FIXTURES / "isic_extra"
ISIC = ROOT.parent / "shared" / "data" / "isic2017_256"
TINY = ["--alpha", "0.35", "--size", "64", "--head-epochs", "1", "--fine-tune-epochs", "1", "--batch-size", "8",
        "--backbone-weights", "none"]


def test_empty_lesion_ids_are_each_their_own_lesion():
    frame = load_labelled_images(EXTRA_FIXTURES / "images", EXTRA_FIXTURES / "labels.csv").frame
    lone = frame[frame["image_id"] != frame["lesion_id"]]
    assert len(lone) == 2 and lone["lesion_id"].nunique() == 1  # the one lesion with two photos
    assert frame["lesion_id"].nunique() == len(frame) - 1


@pytest.mark.skipif(not ISIC.is_dir(), reason="needs ../shared/data/isic2017_256")
def test_the_committed_external_split_is_lesion_grouped_stratified_and_covers_the_folder():
    split = sources.source_split(ISIC)
    labels = load_labelled_images(ISIC / "images", ISIC / "labels.csv").frame
    assert set(split["image_id"]) == set(labels["image_id"])
    assert (split.groupby("lesion_id")["split"].nunique() == 1).all()
    share = split.groupby("dx")["split"].apply(lambda s: (s == "test").mean())
    assert np.allclose(share, sources.EXTERNAL_TEST_FRACTION, atol=0.02), share
    for part, path in (("test", sources.test_labels_path(ISIC)), ("val", sources.inner_labels_path(ISIC))):
        assert set(pd.read_csv(path)["image_id"]) == set(split.loc[split["split"] == part, "image_id"]), part


@pytest.fixture(scope="module")
def splits_dir(tmp_path_factory):
    """The fixture source's split, written where training looks for it (a temporary SPLITS_DIR)."""
    folder = tmp_path_factory.mktemp("splits")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "SPLITS_DIR", folder)
        split = sources.create_split(EXTRA_FIXTURES)
        # every part non-empty, so that the test can tell them apart
        assert set(split["split"]) == {"train", "val", "test"}, split
        yield folder


@pytest.fixture(scope="module")
def read_files(splits_dir, tmp_path_factory):
    """A tiny mask-guided run with the extra source, then its guard; every image file they decode, in order."""
    out = tmp_path_factory.mktemp("run") / "model"
    seen: list[str] = []
    real = arrays.read_rgb
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "SPLITS_DIR", splits_dir)
        patch.setattr(arrays, "read_rgb", lambda path: seen.append(Path(path).stem) or real(path))
        assert train_main(["--data", str(HAM_FIXTURES), "--out", str(out), *TINY, "--mask-weight", "1",
                           "--extra-data", str(EXTRA_FIXTURES), "--aspect"]) == 0
        assert ood_main(["--model", str(out), "--components", "4"]) == 0
    return out, seen


def part(splits_dir: Path, name: str) -> set[str]:
    split = pd.read_csv(splits_dir / "isic_extra.csv")
    return set(split.loc[split["split"] == name, "image_id"])


@pytest.mark.slow
def test_external_test_images_never_enter_training_calibration_or_the_guard(read_files, splits_dir):
    out, seen = read_files
    assert part(splits_dir, "train") <= set(seen)  # the training part does train (and fits the guard)
    assert part(splits_dir, "val") <= set(seen)  # the inner check is scored and bounds the guard's threshold
    assert not part(splits_dir, "test") & set(seen)
    metrics = json.loads((out / "val_metrics.json").read_text())
    assert metrics["inner_check"]["isic_extra"]["n_images"] == len(part(splits_dir, "val"))
    guard = json.loads((out / "ood.json").read_text())
    assert guard["sources"] == [str(EXTRA_FIXTURES)] and "isic_extra" in guard["val_rejection_rate"]
    # HAM10000's own validation and test splits are untouched by the extra source
    extra_ids = set(pd.read_csv(splits_dir / "isic_extra.csv")["image_id"])
    for name in ("val_labels.csv", "test_labels.csv"):
        assert not set(pd.read_csv(out / name)["image_id"]) & extra_ids


@pytest.mark.slow
def test_a_per_source_guard_with_a_late_part_has_centres_and_a_threshold_for_each_source(read_files, splits_dir, tmp_path, monkeypatch):
    out, _ = read_files
    copy = tmp_path / "model"
    shutil.copytree(out, copy)
    monkeypatch.setattr(sources, "SPLITS_DIR", splits_dir)
    assert ood_main(["--model", str(copy), "--components", "4", "--per-source", "--late"]) == 0
    guard = json.loads((copy / "ood.json").read_text())
    assert guard["per_source"] and guard["late"]
    assert set(guard["val_rejection_rate"]) == {"sharpest", "base", "isic_extra"}
    with np.load(copy / "ood.npz") as stats:
        centres, scales = stats["centres"], stats["scales"]
        # the late part has its own centres per source, scaled the same way, and a weight into the early units
        assert stats["late_centres"].shape[0] == len(stats["late_scales"]) == len(centres)
        assert stats["late_projection"].shape[0] == 1280 and float(stats["late_weight"]) > 0
    ham = pd.read_csv(copy / "split.csv").query("split == 'train'")["dx"].nunique()
    extra = pd.read_csv(splits_dir / "isic_extra.csv").query("split == 'train'")["dx"].nunique()
    assert len(centres) == len(scales) == ham + extra
    assert np.array_equal(scales[:ham], np.ones(ham))  # HAM10000's distances are the unit of the threshold


@pytest.mark.slow
def test_the_merged_class_mix_is_what_the_square_root_sampler_serves(read_files, splits_dir):
    out, _ = read_files
    mix = json.loads((out / "config.json").read_text())["class_mix"]
    ham = pd.read_csv(out / "split.csv").query("split == 'train'")
    extra = pd.read_csv(splits_dir / "isic_extra.csv").query("split == 'train'")
    assert mix["images"]["ham10000"] == ham["dx"].value_counts().to_dict()
    assert mix["images"]["isic_extra"] == extra["dx"].value_counts().to_dict()
    counts = pd.concat([ham["dx"], extra["dx"]]).value_counts().reindex(CLASSES, fill_value=0).to_numpy()
    expected = np.sqrt(counts) / np.sqrt(counts).sum()
    assert np.allclose([mix["stream_share"][c] for c in CLASSES], expected)
    labels = np.repeat(np.arange(len(CLASSES)), counts)
    served = labels[served_order(labels, TrainConfig(data="", out="", seed=3), 40000)]
    assert np.allclose(np.bincount(served, minlength=len(CLASSES)) / len(served), expected, atol=0.01)


def test_maskless_images_add_nothing_to_the_mask_term(tmp_path):
    no_mask = no_mask_file(tmp_path)
    prep = Preprocessing(size=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    assert (resized_masks([str(no_mask)], prep) == 255).all()
    cams = tf.random.normal((3, 5, 5, 7), seed=1)
    full = tf.ones((3, 40, 40, 1))
    assert np.allclose(outside_mask_share(full, cams).numpy(), 0.0)
    assert outside_mask_share(tf.zeros((3, 40, 40, 1)), cams).numpy().min() > 0.5  # the term is live otherwise
    paths = mask_paths(HAM_FIXTURES / "masks", ["ISIC_0024309", "ISIC_0014423"], {"ISIC_0014423": no_mask})
    assert paths == [str(HAM_FIXTURES / "masks" / "ISIC_0024309_segmentation.png"), str(no_mask)]
    with pytest.raises(DataError, match="no lesion mask"):  # an image not known to be maskless still needs one
        mask_paths(HAM_FIXTURES / "masks", ["ISIC_0024309", "ISIC_0014423"])


def test_aspect_option_zooms_height_and_width_apart():
    from train.data.augment import geometric_augmenter

    square = np.zeros((1, 64, 64, 1), np.float32)
    square[:, 16:48, 16:48] = 1.0

    def ratios(aspect: bool) -> np.ndarray:
        zoom = geometric_augmenter(5, aspect).layers[2]
        out = []
        for _ in range(20):
            moved = zoom(square, training=True).numpy()[0, ..., 0] > 0.5
            out.append(moved.any(axis=1).sum() / moved.any(axis=0).sum())
        return np.array(out)

    assert np.allclose(ratios(False), 1.0, atol=0.07)
    assert np.abs(ratios(True) - 1.0).max() > 0.1


def run_refused(tmp_path: Path, folder: Path, capsys) -> str:
    out = tmp_path / "run"
    assert train_main(["--data", str(HAM_FIXTURES), "--out", str(out), *TINY, "--extra-data", str(folder)]) == 2
    assert not (out / "model.keras").exists() and not (out / "head.weights.h5").exists()
    return capsys.readouterr().err


def copy_source(tmp_path: Path, labels: pd.DataFrame) -> Path:
    folder = tmp_path / "clinic"
    shutil.copytree(EXTRA_FIXTURES / "images", folder / "images")
    labels.to_csv(folder / "labels.csv", index=False)
    return folder


def test_a_folder_without_labels_is_refused(tmp_path, capsys):
    (tmp_path / "clinic" / "images").mkdir(parents=True)
    assert "has no labels.csv" in run_refused(tmp_path, tmp_path / "clinic", capsys)


def test_a_label_outside_the_seven_classes_is_refused(tmp_path, capsys):
    labels = pd.read_csv(EXTRA_FIXTURES / "labels.csv")
    labels.loc[0, "dx"] = "scc"
    assert "Unknown diagnosis labels ['scc']" in run_refused(tmp_path, copy_source(tmp_path, labels), capsys)


def test_an_image_id_that_ham10000_also_has_is_refused(tmp_path, capsys, splits_dir, monkeypatch):
    monkeypatch.setattr(sources, "SPLITS_DIR", splits_dir)
    labels = pd.read_csv(EXTRA_FIXTURES / "labels.csv")
    folder = copy_source(tmp_path, labels)
    shutil.copy(HAM_FIXTURES / "images" / "ISIC_0024309.jpg", folder / "images")
    labels = pd.concat([labels, pd.DataFrame({"image_id": ["ISIC_0024309"], "dx": ["nv"]})])
    labels.to_csv(folder / "labels.csv", index=False)
    err = run_refused(tmp_path, folder, capsys)
    assert "also in HAM10000" in err and "ISIC_0024309" in err


def test_a_source_without_its_committed_split_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sources, "SPLITS_DIR", tmp_path / "none")
    assert "python -m train.data.sources" in run_refused(tmp_path, EXTRA_FIXTURES, capsys)
