"""Fine-tuning trains only what it should: BatchNorm statistics and the early backbone stay put."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from train.data.loading import DataError
from train.model.network import BACKBONE_NAME, build_classifier, set_trainable


def snapshot(layer) -> list[np.ndarray]:
    return [np.array(w) for w in layer.weights]


def test_fine_tuning_keeps_batchnorm_and_early_layers_frozen():
    model = build_classifier(0.35, 32, None, "keras")
    set_trainable(model, "block_8", train_backbone=True)
    base = model.get_layer(BACKBONE_NAME)
    bn, early, late = base.get_layer("block_10_expand_BN"), base.get_layer("block_2_expand"), base.get_layer("block_10_expand")
    before = {layer.name: snapshot(layer) for layer in (bn, early, late)}
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(8, 32, 32, 3)), rng.integers(0, 7, 8), epochs=2, verbose=0)
    for name, weights in before.items():
        after = snapshot(base.get_layer(name))
        changed = any(not np.allclose(a, b) for a, b in zip(weights, after))
        assert changed == (name == late.name), name


def test_frozen_backbone_trains_only_the_head():
    model = build_classifier(0.35, 32, None, "keras")
    set_trainable(model, None, train_backbone=False)
    assert [w.path for w in model.trainable_weights] == ["logits/kernel", "logits/bias"]


def test_unknown_fine_tune_layer_is_a_clear_error():
    model = build_classifier(0.35, 32, None, "keras")
    with pytest.raises(DataError, match="matches no backbone layer"):
        set_trainable(model, "block_99", train_backbone=True)


def test_missing_backbone_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="Backbone weights file not found"):
        build_classifier(0.35, 32, str(tmp_path / "nope.h5"), "keras")


def test_a_resumed_phase_does_not_shift_the_next_phase(tmp_path):
    from train.model.fit import forget_restored_epoch

    model = build_classifier(0.35, 32, None, "keras")
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 32, 32, 3)), rng.integers(0, 7, 8)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), save_freq="epoch", delete_checkpoint=True)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[backup, Interrupt()])
    model.fit(x, y, epochs=4, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    forget_restored_epoch(model)
    # "phase 2" with nothing left to run (as --fine-tune-epochs 0) must run no epoch
    history = model.fit(x, y, epochs=4, initial_epoch=4, verbose=0)
    assert history.epoch == []
