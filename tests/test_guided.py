"""Mask-guided training: the loss measures the map as the site shows it, masks move with their images, and a
guided run on fixtures trains the same shipped classifier."""
from __future__ import annotations

import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import HAM_FIXTURES
from train.__main__ import main as train_main
from train.data.loading import DataError
from train.data.preprocess import Preprocessing
from train.model.config import TrainConfig
from train.model.fit import train, training_stream
from train.model.guided import LOSS_SIDE, guided_trainer, mask_paths, outside_mask_share
from train.model.network import build_classifier


def _centre_mask() -> tf.Tensor:
    mask = np.zeros((1, LOSS_SIDE, LOSS_SIDE, 1), np.float32)
    mask[:, 12:28, 12:28] = 1.0  # the centre cell of a 5x5 map and half of each neighbour
    return tf.constant(mask)


def _one_hot_map(row: int, col: int, classes: int = 2, logit_class: int = 0) -> np.ndarray:
    cams = np.zeros((1, 5, 5, classes), np.float32)
    cams[0, row, col, :] = 1.0
    cams[0, :, :, logit_class] += 5.0  # makes ``logit_class`` the probable one without changing its shape
    return cams


def test_evidence_on_the_lesion_costs_little_and_evidence_beside_it_costs_nearly_all():
    inside = float(outside_mask_share(_centre_mask(), tf.constant(_one_hot_map(2, 2)))[0])
    beside = float(outside_mask_share(_centre_mask(), tf.constant(_one_hot_map(0, 4)))[0])
    assert inside < 0.15
    assert beside > 0.95


def test_the_penalty_weights_classes_by_the_networks_own_probabilities():
    cams = _one_hot_map(2, 2, classes=2, logit_class=0)
    cams[0, :, :, 1] = 0.0
    cams[0, 0, 4, 1] = 1.0  # the improbable class looks beside the lesion
    loss = float(outside_mask_share(_centre_mask(), tf.constant(cams))[0])
    p_second = float(tf.nn.softmax(cams.mean(axis=(1, 2)))[0, 1])
    assert p_second < 0.01
    assert loss < 0.15 + p_second


def test_trainer_shares_the_classifiers_weights_and_its_maps_average_to_the_logits():
    keras.utils.set_random_seed(0)
    classifier = build_classifier(0.35, 64, None, "keras")
    trainer = guided_trainer(classifier)
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)
    out = trainer(x, training=False)
    np.testing.assert_allclose(out["logits"], classifier(x, training=False), atol=1e-5)
    np.testing.assert_allclose(np.mean(out["cams"], axis=(1, 2)), out["logits"], atol=1e-4)
    assert {id(w) for w in trainer.weights} == {id(w) for w in classifier.weights}


def test_each_mask_moves_with_its_image_through_the_augmentation():
    # The lesion is a bright off-centre square that the mask marks exactly: after flips, rotations and zoom
    # the target mask must still sit on the bright pixels.
    size, n = 64, 16
    pixels = np.full((n, size, size, 3), 40, np.uint8)
    masks = np.zeros((n, size, size, 1), np.uint8)
    pixels[:, 4:28, 8:30] = 220
    masks[:, 4:28, 8:30] = 255
    labels = np.arange(n) % 2
    prep = Preprocessing(size=size, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    config = TrainConfig(data="", out="", batch_size=n, imbalance="none", seed=3)
    stream, _ = training_stream(pixels, labels, config, prep, masks)
    x, targets = next(iter(stream))
    target = targets["cams"].numpy()[..., 0]
    bright = tf.image.resize(tf.reduce_mean(x, axis=-1, keepdims=True), (LOSS_SIDE, LOSS_SIDE), method="area")
    bright = bright.numpy()[..., 0] > 130
    agreement = ((target > 0.5) == bright).mean(axis=(1, 2))
    assert agreement.min() > 0.9
    moved = [np.abs(target[i] - target[0]).mean() for i in range(1, n)]
    assert max(moved) > 0.05  # the views differ, so the agreement is not a property of one fixed placement


def test_missing_masks_are_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="mask folder"):
        mask_paths(tmp_path / "nowhere", ["ISIC_1"])
    (tmp_path / "ISIC_1_segmentation.png").write_bytes(b"")
    with pytest.raises(DataError, match="1 of 2 training images have no lesion mask"):
        mask_paths(tmp_path, ["ISIC_1", "ISIC_2"])


def test_mask_guidance_refuses_class_weights_up_front(tmp_path):
    config = TrainConfig(data=str(HAM_FIXTURES), out=str(tmp_path), imbalance="weights", mask_weight=1.0)
    with pytest.raises(DataError, match="--imbalance sampling"):
        train(config)


@pytest.mark.slow
def test_a_guided_run_on_fixtures_saves_the_plain_classifier(tmp_path):
    out = tmp_path / "model"
    code = train_main(["--data", str(HAM_FIXTURES), "--out", str(out), "--alpha", "0.35", "--size", "64",
                       "--head-epochs", "1", "--fine-tune-epochs", "1", "--batch-size", "8",
                       "--backbone-weights", "none", "--mask-weight", "1", "--monitor", "adjusted",
                       "--schedule", "cosine"])
    assert code == 0
    model = keras.models.load_model(out / "model.keras")
    assert model.output_shape == (None, 7)
    config = json.loads((out / "config.json").read_text())
    assert config["mask_weight"] == 1.0 and config["monitor"] == "adjusted"
    log = (out / "training_log.csv").read_text().splitlines()
    assert "cams_loss" in log[0] and "val_balanced_accuracy_adjusted" in log[0] and len(log) == 3
    # The cosine phase has no ReduceLROnPlateau; its row must still line up with the head phase's header.
    for row in csv.DictReader(log):
        assert None not in row and None not in row.values()
        assert 0 < float(row["learning_rate"]) <= np.float32(1e-3) and 0 <= float(row["val_balanced_accuracy"]) <= 1


def test_a_guided_run_without_masks_stops_before_training(tmp_path, capsys):
    code = train_main(["--data", str(HAM_FIXTURES), "--out", str(tmp_path / "model"), "--masks", str(tmp_path / "none"),
                       "--mask-weight", "1", "--backbone-weights", "none", "--size", "32", "--alpha", "0.35"])
    assert code == 2 and "Lesion mask folder" in capsys.readouterr().err
    assert not (tmp_path / "model" / "model.keras").exists()
