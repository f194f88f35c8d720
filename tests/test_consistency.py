"""Same-lesion consistency training (--consistency): real same-lesion pairs from the training split only, a
loss that is zero for agreeing photos and grows with their disagreement, and runs that stay reproducible."""
from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from tests.conftest import HAM_FIXTURES, ROOT, SHARED_DATA
from train.__main__ import main as train_main
from train.__main__ import parse_args
from train.data.inputs import paired_order, training_stream
from train.data.loading import CLASSES, load_training_data
from train.data.pairs import interleaved, partner_indices
from train.model.config import TrainConfig
from train.model.consistency import consistent_cross_entropy, pair_divergence
from train.model.network import preprocessing_for

WEIGHTS_035 = ROOT.parent / "shared" / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"


def test_partners_are_other_photos_of_the_same_lesion_or_the_image_itself():
    lesions = np.array(["a", "b", "a", "c", "a", "b"])
    anchors = np.tile(np.arange(6), 200)
    partners = partner_indices(lesions, anchors, np.random.default_rng(0))
    assert (lesions[partners] == lesions[anchors]).all()
    several = lesions[anchors] != "c"
    assert (partners[several] != anchors[several]).all() and (partners[~several] == 3).all()
    assert set(partners[anchors == 0]) == {2, 4}  # every other photo of the lesion is drawn
    assert (partner_indices(lesions, anchors, np.random.default_rng(0)) == partners).all()
    assert list(interleaved(np.array([0, 1]), np.array([2, 5]))) == [0, 2, 1, 5]


def test_the_run_pairs_real_photos_of_training_lesions_and_nothing_from_validation_or_test():
    assert SHARED_DATA.is_dir(), f"{SHARED_DATA} missing: the test needs the shared HAM10000 metadata"
    frame = load_training_data(SHARED_DATA).frame
    split = pd.read_csv(ROOT / "models" / "ham10000" / "split.csv")
    frame = frame.merge(split[["image_id", "split"]], on="image_id")
    train_rows = frame[frame["split"] == "train"].reset_index(drop=True)
    photos = train_rows["lesion_id"].value_counts()
    assert ((photos > 1).sum(), photos[photos > 1].sum()) == (1372, 3165)  # the count of the split
    config = TrainConfig(data="", out="", consistency=1.0, seed=7)
    order = paired_order(train_rows["label"].to_numpy(), train_rows["lesion_id"].to_numpy(str), config, 64_000)
    anchors, partners = train_rows.iloc[order[0::2]], train_rows.iloc[order[1::2]]
    held_out = set(frame.loc[frame["split"] != "train", "image_id"])
    assert not held_out & (set(anchors["image_id"]) | set(partners["image_id"]))
    assert (anchors["lesion_id"].to_numpy() == partners["lesion_id"].to_numpy()).all()
    several = anchors["lesion_id"].map(photos).to_numpy() > 1
    assert (anchors["image_id"].to_numpy()[several] != partners["image_id"].to_numpy()[several]).all()
    assert 0.3 < several.mean() < 0.6  # about the share of multi-photo lesions' images, not only them
    # partners carry their anchor's class, so the class mix is the balanced sampler's: sqrt of the counts
    counts = np.bincount(train_rows["label"], minlength=len(CLASSES))
    drawn = np.bincount(anchors["label"], minlength=len(CLASSES)) / len(anchors)
    np.testing.assert_allclose(drawn, np.sqrt(counts) / np.sqrt(counts).sum(), atol=0.01)


def test_the_training_stream_serves_pairs_side_by_side():
    frame = load_training_data(HAM_FIXTURES).frame
    labels = frame["label"].to_numpy()
    lesions = np.array([f"L{label}" for label in labels])  # every class one lesion: all photos have partners
    config = TrainConfig(data="", out="", size=32, batch_size=8, consistency=1.0)
    stream, _ = training_stream(np.arange(len(labels), dtype=np.uint8)[:, None, None, None] * np.ones(
        (1, 32, 32, 3), np.uint8), labels, config, preprocessing_for("keras", 32), lesions=lesions)
    for _, y in stream.take(3):
        y = np.asarray(y)
        assert len(y) == 8 and (y[0::2] == y[1::2]).all()


def test_the_pair_loss_is_zero_for_agreeing_photos_and_grows_with_their_difference():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 7)).astype("float32")
    step = rng.normal(size=(1, 7)).astype("float32")
    same = np.asarray(pair_divergence(np.concatenate([logits, logits])))
    assert same == pytest.approx([0.0], abs=1e-6)
    apart = [float(np.asarray(pair_divergence(np.concatenate([logits, logits + k * step])))[0]) for k in (0.5, 1, 2, 4)]
    assert all(a < b for a, b in zip(apart, apart[1:])) and apart[0] > 0
    # a constant added to every logit is the same distribution: no penalty
    assert np.asarray(pair_divergence(np.concatenate([logits, logits + 3.0]))) == pytest.approx([0.0], abs=1e-5)


def test_the_loss_is_cross_entropy_plus_the_weighted_pair_divergence():
    logits = np.array([[2.0, 0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0, 0]], np.float32)
    labels = np.array([0, 0])
    ce = np.asarray(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    divergence = float(np.asarray(pair_divergence(logits))[0])
    np.testing.assert_allclose(np.asarray(consistent_cross_entropy(0.0)(labels, logits)), ce, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(consistent_cross_entropy(2.0)(labels, logits)), ce + 2 * divergence, rtol=1e-6)


@pytest.mark.parametrize("weight", ["-1", "abc", "nan"])
def test_a_negative_or_unknown_weight_is_refused(weight, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--out", "o", "--consistency", weight])
    assert f"'{weight}' is not a weight" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [(["--batch-size", "7"], "must be even"),
                                            (["--stream", "--cache", "c"], "drop --cache")])
def test_options_that_cannot_serve_pairs_are_refused(extra, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--out", "o", "--consistency", "1", *extra])
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_a_short_consistency_run_is_deterministic_and_streams_the_same(tmp_path):
    assert WEIGHTS_035.is_file(), f"{WEIGHTS_035} missing: the test needs the shared ImageNet weights"
    runs = {"one": [], "two": [], "stream": ["--stream"]}
    for run, extra in runs.items():
        assert train_main(["--data", str(HAM_FIXTURES), "--out", str(tmp_path / run), "--alpha", "0.35", "--size", "48",
                           "--head-epochs", "1", "--fine-tune-epochs", "1", "--batch-size", "8", "--deterministic",
                           "--backbone-weights", str(WEIGHTS_035), "--mask-weight", "1", "--acquisition",
                           "--consistency", "1", *extra]) == 0
    assert json.loads((tmp_path / "one" / "config.json").read_text())["consistency"] == 1.0
    weights = {run: keras.saving.load_model(tmp_path / run / "model.keras", compile=False).get_weights() for run in runs}
    for a, b in zip(weights["one"], weights["two"]):
        assert np.array_equal(a, b)
    for a, b in zip(weights["one"], weights["stream"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("extra, message", [
    (["--consistency", "1", "--consistency-epochs", "-2"], "'-2' is not a number of epochs"),
    (["--consistency", "1", "--consistency-epochs", "two"], "'two' is not a number of epochs"),
    (["--consistency-epochs", "2"], "give its weight with --consistency W"),
    (["--consistency", "1", "--init-from", "runs/x", "--fine-tune-epochs", "0"],
     "give --fine-tune-epochs or --consistency-epochs"),
])
def test_bad_late_consistency_options_are_refused(extra, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--out", "o", *extra])
    assert message in capsys.readouterr().err


def pair_terms(run) -> list[float]:
    return pd.read_csv(run / "training_log.csv")["logits_pair_term"].tolist()


@pytest.mark.slow
def test_the_late_pair_term_is_off_until_fine_tuning_ends_and_on_after_and_reproducible(tmp_path):
    assert WEIGHTS_035.is_file(), f"{WEIGHTS_035} missing: the test needs the shared ImageNet weights"
    short = ["--data", str(HAM_FIXTURES), "--alpha", "0.35", "--size", "48", "--batch-size", "8", "--deterministic",
             "--backbone-weights", str(WEIGHTS_035), "--mask-weight", "1", "--consistency", "1"]
    runs = {"one": [], "two": [], "stream": ["--stream"]}
    for run, extra in runs.items():
        assert train_main([*short, "--out", str(tmp_path / run), "--head-epochs", "1", "--fine-tune-epochs", "1",
                           "--consistency-epochs", "2", *extra]) == 0
    terms = pair_terms(tmp_path / "one")
    assert terms[:2] == [0.0, 0.0] and all(t > 0 for t in terms[2:]) and len(terms) == 4
    weights = {run: keras.saving.load_model(tmp_path / run / "model.keras", compile=False).get_weights() for run in runs}
    assert all(np.array_equal(a, b) for a, b in zip(weights["one"], weights["two"]))
    for a, b in zip(weights["one"], weights["stream"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # the same late epochs started from the finished run: only they are trained, the term on in each
    assert train_main([*short, "--out", str(tmp_path / "late"), "--init-from", str(tmp_path / "one"),
                       "--consistency-epochs", "1"]) == 0
    assert len(pair_terms(tmp_path / "late")) == 1 and pair_terms(tmp_path / "late")[0] > 0
    assert not (tmp_path / "late" / "head.weights.h5").exists()


def test_a_late_phase_from_a_different_network_is_refused(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.keras").write_bytes(b"")
    (tmp_path / "run" / "config.json").write_text(json.dumps({"alpha": 1.0, "size": 160, "dropout": 0.2}))
    assert train_main(["--data", str(HAM_FIXTURES), "--out", str(tmp_path / "late"), "--alpha", "0.35", "--size", "48",
                       "--backbone-weights", str(WEIGHTS_035), "--consistency", "1", "--consistency-epochs", "1",
                       "--init-from", str(tmp_path / "run")]) == 2
    assert "is a different network: alpha 1.0 there, 0.35 here, size 160 there, 48 here" in capsys.readouterr().err
