"""Where training runs: TensorFlow's own distribution strategies, chosen by name.

- ``one``: the default strategy, one device (what training always did; its results are unchanged);
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over the local accelerators (GPUs when present, else the
  logical CPU devices), one replica each, gradients all-reduced every step;
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` across machines described by ``TF_CONFIG``
  (every worker runs the same command);
- ``auto``: ``mirrored`` when more than one device is visible, else ``one``.

Batch and learning rate: ``--batch-size`` is per replica, so the global batch is ``batch_size x replicas``.
The rates are the recipe's rates for one replica's batch and are multiplied by the replica count (the linear
scaling rule, Goyal et al. 2017, "Accurate, Large Minibatch SGD"), so that each image moves the weights about
as much as on one device; the cosine schedule's one-epoch warm-up is what that paper pairs it with.
"""
from __future__ import annotations

import json
import os

import tensorflow as tf

from train.data.loading import DataError

STRATEGIES: tuple[str, ...] = ("auto", "one", "mirrored", "multiworker")


def replica_devices() -> list[str]:
    """The devices a mirrored strategy replicates over: the logical GPUs, or else the logical CPUs."""
    return [d.name for d in (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))]


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    if name not in STRATEGIES:
        raise DataError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    devices = replica_devices()
    if name == "auto":
        name = "mirrored" if len(devices) > 1 else "one"
    if name == "one":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    config = os.environ.get("TF_CONFIG")
    if not config:
        raise DataError("--strategy multiworker needs TF_CONFIG (the cluster's worker addresses and this worker's "
                        "index); see the README section 'Training on a GPU machine or a cluster'.")
    try:
        json.loads(config)
    except json.JSONDecodeError as err:
        raise DataError(f"TF_CONFIG is not valid JSON ({err}); it must describe the cluster and this task.") from err
    return tf.distribute.MultiWorkerMirroredStrategy()


def learning_rate_scale(strategy: tf.distribute.Strategy) -> int:
    """The linear scaling rule: rates are multiplied by the number of replicas (see the module docstring)."""
    return strategy.num_replicas_in_sync
