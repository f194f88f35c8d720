"""Training at scale: a mirrored strategy over two replicas, and images decoded inside the input pipeline."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import HAM_FIXTURES, ROOT
from train.data.arrays import resized_pixels
from train.data.inputs import training_stream
from train.data.loading import DataError, load_training_data
from train.model.config import TrainConfig
from train.model.distribute import distribution_strategy
from train.model.guided import mask_paths, resized_masks
from train.model.network import preprocessing_for

pytestmark = pytest.mark.slow
WEIGHTS_035 = ROOT.parent / "shared" / "weights" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"

# Two logical CPU devices must be configured before TensorFlow starts, hence a fresh interpreter per run.
TWO_REPLICA_RUN = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from train.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def train_with_two_logical_cpus(out, *options: str) -> None:
    # ImageNet weights: from a random backbone every output is near-uniform and any two runs would "agree"
    args = ["--data", str(HAM_FIXTURES), "--out", str(out), "--alpha", "0.35", "--size", "48", "--head-epochs", "1",
            "--fine-tune-epochs", "1", "--backbone-weights", str(WEIGHTS_035), "--dropout", "0", "--deterministic",
            "--mask-weight", "1", "--acquisition", *options]
    result = subprocess.run([sys.executable, "-c", TWO_REPLICA_RUN, *args], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("options", [(), ("--consistency", "1"), ("--consistency", "1", "--consistency-epochs", "1")],
                         ids=["plain", "consistency", "late-consistency"])
def test_mirrored_training_on_two_replicas_matches_one_device(tmp_path, options):
    import keras

    assert WEIGHTS_035.is_file(), f"{WEIGHTS_035} missing: the test needs the shared ImageNet weights"
    # Same global batch of 8 and the same effective rates: 2 replicas x 4 images at the recipe's rates (x2 by
    # the linear scaling rule) against one device x 8 images at twice the rates given by hand. With
    # --consistency each replica's 4 images are 2 whole same-lesion pairs.
    train_with_two_logical_cpus(tmp_path / "mirrored", "--strategy", "mirrored", "--batch-size", "4", *options)
    train_with_two_logical_cpus(tmp_path / "one", "--strategy", "one", "--batch-size", "8",
                                "--head-lr", "2e-3", "--fine-tune-lr", "2e-4", "--late-lr", "2e-5", *options)
    mirrored = json.loads((tmp_path / "mirrored" / "config.json").read_text())
    one = json.loads((tmp_path / "one" / "config.json").read_text())
    assert (mirrored["replicas"], mirrored["global_batch_size"], mirrored["learning_rate_scale"]) == (2, 8, 2)
    assert (one["replicas"], one["global_batch_size"], one["learning_rate_scale"]) == (1, 8, 1)
    weights = [keras.saving.load_model(tmp_path / run / "model.keras", compile=False).get_weights()
               for run in ("mirrored", "one")]
    # the replicas' gradients are summed in another order than one device's: float rounding only (the
    # largest difference seen is ~1e-8; weights are of order 0.01-10)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for run in ("mirrored", "one"):
        calibration = json.loads((tmp_path / run / "calibration.json").read_text())
        assert calibration["temperature"] > 0
    val = [json.loads((tmp_path / run / "val_metrics.json").read_text()) for run in ("mirrored", "one")]
    assert val[0]["macro_auc"] == pytest.approx(val[1]["macro_auc"], abs=1e-6)
    assert val[0]["balanced_accuracy"] == val[1]["balanced_accuracy"]


def first_batch(config: TrainConfig, images, masks):
    frame = load_training_data(HAM_FIXTURES).frame
    stream, _ = training_stream(images, frame["label"].to_numpy(), config, preprocessing_for("keras", config.size), masks)
    x, y = next(iter(stream))
    return np.asarray(x), np.asarray(y["logits"]), np.asarray(y["cams"])


def test_streamed_first_batch_is_exactly_the_in_memory_one():
    config = TrainConfig(data=str(HAM_FIXTURES), out="", size=64, batch_size=8, acquisition=True, deterministic=True)
    prep = preprocessing_for("keras", config.size)
    frame = load_training_data(HAM_FIXTURES).frame
    masks = mask_paths(HAM_FIXTURES / "masks", frame["image_id"].tolist())
    in_memory = first_batch(config, resized_pixels(frame["path"].tolist(), prep).round().astype(np.uint8),
                            resized_masks(masks, prep))
    config.stream = True
    streamed = first_batch(config, frame["path"].to_numpy(str), np.asarray(masks, dtype=str))
    for a, b in zip(in_memory, streamed):
        assert a.shape == b.shape and np.array_equal(a, b)
    assert in_memory[0].shape == (8, 64, 64, 3)


def test_cached_stream_writes_its_cache(tmp_path):
    config = TrainConfig(data=str(HAM_FIXTURES), out="", size=48, batch_size=8, stream=True,
                         cache=str(tmp_path / "decoded"), imbalance="none")
    frame = load_training_data(HAM_FIXTURES).frame
    stream, steps = training_stream(frame["path"].to_numpy(str), frame["label"].to_numpy(), config,
                                    preprocessing_for("keras", 48))
    batches = list(stream.take(steps + 1))  # past one pass, so the cache is complete and read back
    assert len(batches) == steps + 1 and batches[0][0].shape == (8, 48, 48, 3)
    assert any(p.name.startswith("decoded-") for p in tmp_path.iterdir())


def test_multiworker_without_a_cluster_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DataError, match="needs TF_CONFIG"):
        distribution_strategy("multiworker")


def test_auto_is_one_device_when_one_is_visible():
    import tensorflow as tf

    assert distribution_strategy("auto") is tf.distribute.get_strategy()


def test_training_with_stream_gives_the_in_memory_model(tmp_path):
    import keras

    from train.__main__ import main as train_main

    for run, extra in (("memory", []), ("stream", ["--stream"])):
        assert train_main(["--data", str(HAM_FIXTURES), "--out", str(tmp_path / run), "--alpha", "0.35", "--size", "48",
                           "--head-epochs", "1", "--fine-tune-epochs", "1", "--batch-size", "8", "--deterministic",
                           "--backbone-weights", str(WEIGHTS_035), "--mask-weight", "1", *extra]) == 0
    assert json.loads((tmp_path / "stream" / "config.json").read_text())["stream"] is True
    weights = [keras.saving.load_model(tmp_path / run / "model.keras", compile=False).get_weights()
               for run in ("memory", "stream")]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
