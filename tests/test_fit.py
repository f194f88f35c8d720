"""The fine-tuning schedule and the weight average that validation and the checkpoint judge."""
from __future__ import annotations

import keras
import numpy as np

from train.model.config import TrainConfig
from train.model.fit import fine_tune_learning_rate, head_and_fine_tune, optimizer, phase_callbacks
from train.model.network import build_classifier


def test_cosine_schedule_warms_up_for_one_epoch_then_decays_to_one_percent():
    config = TrainConfig(data="", out="", fine_tune_lr=1e-4, fine_tune_epochs=5, schedule="cosine")
    rate = fine_tune_learning_rate(config, steps=10)
    at = [float(rate(step)) for step in range(0, 51)]
    assert np.isclose(at[0], 1e-5) and np.isclose(at[10], 1e-4)
    assert all(a < b for a, b in zip(at[:10], at[1:11]))
    assert all(a > b for a, b in zip(at[10:49], at[11:50]))
    assert np.isclose(at[50], 1e-6)


def test_plateau_schedule_is_a_constant_rate():
    config = TrainConfig(data="", out="", fine_tune_lr=3e-4, schedule="plateau")
    assert fine_tune_learning_rate(config, steps=10) == 3e-4


class WeightsAtEpochEnd(keras.callbacks.Callback):
    """Records the weights each epoch ends with (the trainable ones, or with ``every_weight`` all: the trainable
    set changes between phases) and scores the epoch ``trend * epoch`` as the validation figure."""

    def __init__(self, trend: float = 1.0, every_weight: bool = False):
        super().__init__()
        self.seen, self.trend, self.every_weight = [], trend, every_weight

    def on_epoch_end(self, epoch, logs=None):
        logs["val_balanced_accuracy"] = self.trend * float(epoch)
        weights = self.model.weights if self.every_weight else self.model.trainable_weights
        self.seen.append([np.array(w) for w in weights])


def _seen_after_one_epoch(tmp_path, ema: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    tmp_path.mkdir()
    keras.utils.set_random_seed(0)
    model = build_classifier(0.35, 32, None, "keras")
    model.compile(optimizer(0.5, ema), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = [np.array(w) for w in model.trainable_weights]
    probe = WeightsAtEpochEnd()
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="val_balanced_accuracy",
                                                 mode="max", save_weights_only=True)
    config = TrainConfig(data="", out="", ema=ema)
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 32, 32, 3)), rng.integers(0, 7, 16), batch_size=4, epochs=1, verbose=0,
              callbacks=phase_callbacks(tmp_path, "p", probe, checkpoint, config, plateau=False))
    return start, probe.seen[0]


def test_validation_sees_the_moving_average_not_the_last_step(tmp_path):
    # Keras starts the average at the first step's weights (one Adam step moves a weight by at most about
    # the rate, 0.5); with momentum 0.999 it then barely follows the next three steps, which the raw weights take.
    start, averaged = _seen_after_one_epoch(tmp_path / "ema", ema=0.999)
    _, raw = _seen_after_one_epoch(tmp_path / "raw", ema=0.0)
    moved = lambda seen: max(float(np.abs(a - b).max()) for a, b in zip(seen, start))  # noqa: E731
    assert moved(raw) > 1.0
    assert moved(averaged) < 0.52


def test_fine_tuning_leaves_the_model_with_its_best_epoch_not_its_last(tmp_path):
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = build_classifier(0.35, 32, None, "keras")
    rng = np.random.default_rng(0)
    stream = tf.data.Dataset.from_tensor_slices((rng.normal(size=(8, 32, 32, 3)).astype("float32"),
                                                 rng.integers(0, 7, 8))).batch(4).repeat()
    probe = WeightsAtEpochEnd(trend=-1.0, every_weight=True)  # the head's epoch 0 scores best, fine-tuning's worse
    config = TrainConfig(data="", out=str(tmp_path), head_epochs=1, fine_tune_epochs=2, head_lr=0.5, fine_tune_lr=0.5)
    head_and_fine_tune(config, tmp_path, model, model, stream, stream, 2, None, probe,
                       dict(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
                       tf.distribute.get_strategy(), 1.0, 1)
    best, last = probe.seen[0], probe.seen[-1]
    assert max(float(np.abs(a - b).max()) for a, b in zip(best, last)) > 0.1
    for now, then in zip(model.weights, best):
        np.testing.assert_array_equal(np.array(now), then)
