"""The training input pipeline: class-balanced sampling, augmentation, and where the pixels come from.

``--stream``: images are read and decoded inside the tf.data pipeline, by the same preprocessing rule, instead
of being held decoded in memory. Memory then depends on the batch and prefetch sizes, not on the number of
images: for data sets larger than HAM10000 (the ISIC archive has tens of thousands of images).

``--deterministic``: every random choice is a function of the run seed and the position in the run, not of
the state that each iterator over a tf.data pipeline advances (a distribution strategy makes Keras peek at a
batch through an iterator of its own before training): the order of the images is drawn with numpy up front
and the augmentation layers are reseeded per batch."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from train.data.arrays import resized_pixels
from train.data.augment import (
    acquisition_augment,
    optics_augment,
    colour_augmenter,
    geometric_augmenter,
)
from train.data.loading import CLASSES, DataError
from train.data.pairs import interleaved, partner_indices
from train.data.preprocess import Preprocessing, normalise
from train.model.config import TrainConfig
from train.model.guided import loss_masks

VALIDATION_BATCH = 64


def file_decoder(prep: Preprocessing, channels: int = 3, rounded: bool = True) -> Callable[[tf.Tensor], tf.Tensor]:
    """A tf.data map function: file path -> size x size x ``channels`` pixels by train/data/preprocess.py's rule,
    exactly as the in-memory path stores them (uint8 when ``rounded``, as the training images and masks are;
    float32 0..255 otherwise, as validation images are before normalising)."""
    dtype = tf.uint8 if rounded else tf.float32

    def load(path: tf.Tensor) -> np.ndarray:
        pixels = resized_pixels([path.numpy().decode()], prep)[0, ..., :channels]
        return pixels.round().astype(np.uint8) if rounded else pixels

    def decode(path: tf.Tensor) -> tf.Tensor:
        pixels = tf.py_function(load, [path], dtype)
        pixels.set_shape((prep.size, prep.size, channels))
        return pixels

    return decode


def validation_inputs(paths: list[str], prep: Preprocessing) -> tf.data.Dataset:
    """Normalised validation batches decoded on the fly, in file order (predictions line up with labels)."""
    return (tf.data.Dataset.from_tensor_slices(np.asarray(paths, dtype=str))
            .map(file_decoder(prep, rounded=False), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(VALIDATION_BATCH).map(lambda x: normalise(x, prep)).prefetch(2))


OPTICS_SEED = 7919  # added to the run seed for the optics draws (any constant apart from the other streams')
SHUFFLE_BUFFER = 2048  # images a cached stream shuffles among (a cache is read in order)


def sampling_weights(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The classes present and their sampling probabilities. Classes are sampled in proportion to the square
    root of their counts rather than uniformly: uniform sampling would repeat the ~80 training
    dermatofibromas ~60x per nevus epoch and overfit them."""
    counts = np.bincount(labels, minlength=len(CLASSES))
    present = np.flatnonzero(counts)
    return present, np.sqrt(counts[present]) / np.sqrt(counts[present]).sum()


def sampling_groups(labels: np.ndarray, sources: np.ndarray | None = None,
                    extra_share: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the class-balanced sampler draws from: each image's group, the groups present and their sampling
    probabilities. Without ``extra_share`` a group is a class (``sampling_weights``). With it (``--extra-share``),
    a group is a class of one source (``sources``: 0 for HAM10000, 1.. for the extra sources): the extra sources
    together get ``extra_share`` of the stream, split between them by their image counts, and HAM10000 the rest,
    with each source's classes weighted within it as ``sampling_weights`` weighs them. Group numbers are
    ``source * classes + class``, so HAM10000's groups are its class numbers either way."""
    if extra_share is None:
        present, weights = sampling_weights(labels)
        return labels, present, weights
    if sources is None or len(sources) != len(labels):
        raise DataError("--extra-share needs the source of every training image.")
    if not (sources > 0).any():
        raise DataError("--extra-share sets the share of the extra sources in the stream: give them with --extra-data.")
    groups = sources * len(CLASSES) + labels
    counts = np.bincount(sources)
    extra_images = counts[1:].sum()
    present, weights = [], []
    for source in np.flatnonzero(counts):
        share = 1.0 - extra_share if source == 0 else extra_share * counts[source] / extra_images
        classes, within = sampling_weights(labels[sources == source])
        present.extend(source * len(CLASSES) + classes)
        weights.extend(share * within)
    return groups, np.asarray(present), np.asarray(weights)


def class_shares(groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each class's share of the stream, from the groups' sampling probabilities."""
    return np.bincount(groups % len(CLASSES), weights=weights, minlength=len(CLASSES))


def served_order(labels: np.ndarray, config: TrainConfig, n: int, sources: np.ndarray | None = None) -> np.ndarray:
    """``--deterministic``: the first ``n`` image indices the stream serves, drawn with numpy from the run
    seed by the same rule as the tf.data path (groups by ``sampling_groups`` over reshuffled passes of each
    group, or reshuffled passes over all images)."""
    rng = np.random.default_rng(config.seed)

    def passes(indices: np.ndarray) -> Iterator[int]:
        while True:
            yield from rng.permutation(indices)

    if config.imbalance != "sampling":
        return np.fromiter(passes(np.arange(len(labels))), dtype=np.int64, count=n)
    groups, present, weights = sampling_groups(labels, sources, config.extra_share)
    cycles = {g: passes(np.flatnonzero(groups == g)) for g in present}
    return np.array([next(cycles[g]) for g in rng.choice(present, size=n, p=weights)], dtype=np.int64)


def paired_order(labels: np.ndarray, lesions: np.ndarray | None, config: TrainConfig, n: int) -> np.ndarray:
    """``--consistency``: ``n`` image indices, anchors drawn as ``served_order`` draws images, each followed by
    its partner (train/data/pairs.py)."""
    if lesions is None or len(lesions) != len(labels):
        raise DataError("--consistency needs the lesion id of every training image, to pair photos of one lesion.")
    anchors = served_order(labels, config, n // 2)  # --consistency refuses --extra-share: pairs sample by class
    return interleaved(anchors, partner_indices(lesions, anchors, np.random.default_rng([config.seed, 1])))


def served_in_order(columns: tuple, order: np.ndarray) -> tf.data.Dataset:
    """The columns' rows in ``order``, looked up in numpy (the arrays stay out of the graph)."""
    columns = tuple(np.char.encode(c) if c.dtype.kind == "U" else c for c in columns)

    def row(i: tf.Tensor) -> tuple:
        values = tf.numpy_function(lambda k: tuple(c[k] for c in columns), [i], [tf.as_dtype(c.dtype) for c in columns])
        for value, column in zip(values, columns):
            value.set_shape(column.shape[1:])
        return tuple(values)

    return tf.data.Dataset.from_tensor_slices(order).map(row)


def augmentation_seed_states(layers: tuple) -> list:
    """The seed-generator state variables of Keras random layers (created on a first call)."""
    for layer in layers:
        layer(tf.zeros((1, 8, 8, 3)), training=True)
    return [v for layer in layers for v in layer.non_trainable_variables if v.path.endswith("seed_generator_state")]


def training_stream(
    images: np.ndarray, labels: np.ndarray, config: TrainConfig, prep: Preprocessing, masks: np.ndarray | None = None,
    batch_size: int | None = None, first_batch: int = 0, batches: int | None = None, lesions: np.ndarray | None = None,
    sources: np.ndarray | None = None, targets: np.ndarray | None = None,
) -> tuple[tf.data.Dataset, int]:
    """Shuffled (or class-balanced) augmented batches of ``batch_size`` (default ``config.batch_size``);
    returns the dataset and steps per epoch.

    ``images`` (and ``masks``) are decoded uint8 arrays, or with ``config.stream`` their file paths, decoded in
    the pipeline after the shuffle, so both give the same batches. With ``config.cache`` the decoded images
    are cached to that file prefix and shuffled among ``SHUFFLE_BUFFER`` (a different, still seeded, order).
    With ``config.acquisition`` every image also gets random camera/source changes (train/data/augment.py) after
    the colour jitter (and before them, with ``config.optics``, dermatoscope white balance, tone curve and rim),
    drawn from the run seed and the batch number (counted from ``first_batch``, so that a
    later phase does not replay an earlier one's draws). With ``masks`` the targets are ``{"logits": labels,
    "cams": masks}``, each mask moved with its image. With ``config.deterministic`` the order of the first
    ``batches`` batches (default: the whole run, as the config plans it) is drawn up front (``served_order``).
    With ``config.consistency`` that order is always drawn up front, for half a batch of images each, and every
    image is followed by a partner of its lesion (``lesions``, train/data/pairs.py). ``sources`` (0 for HAM10000,
    1.. for extra sources) with ``config.extra_share`` balances the sources (``sampling_groups``). ``targets``,
    when given, is what the stream serves in the label's place (``--distil``'s packed targets,
    train/model/distillation.py); ``labels`` still decides the sampling."""
    batch_size = batch_size or config.batch_size
    geometry, colour = geometric_augmenter(config.seed, config.aspect), colour_augmenter(config.seed)
    served = labels if targets is None else targets
    columns = (images, served) if masks is None else (images, served, masks)
    steps = int(np.ceil(len(labels) / batch_size))
    decoders = (file_decoder(prep), None, file_decoder(prep, channels=1))

    def decoded(dataset: tf.data.Dataset) -> tf.data.Dataset:
        if not config.stream:
            return dataset
        return dataset.map(lambda *c: tuple(d(x) if d else x for d, x in zip(decoders, c)),
                           num_parallel_calls=tf.data.AUTOTUNE)

    def shuffled(subset: tuple, seed: int) -> tf.data.Dataset:
        dataset = tf.data.Dataset.from_tensor_slices(subset)
        if config.stream and config.cache:
            return decoded(dataset).cache(f"{config.cache}-{seed}").shuffle(min(len(subset[1]), SHUFFLE_BUFFER),
                                                                          seed=seed).repeat()
        return decoded(dataset.shuffle(len(subset[1]), seed=seed).repeat())

    if config.deterministic or config.consistency:
        batches = batches or (config.head_epochs + config.fine_tune_epochs) * steps + 1  # +1: a peeked batch
        order = paired_order(labels, lesions, config, batches * batch_size) if config.consistency else \
            served_order(labels, config, batches * batch_size, sources)
        stream = decoded(served_in_order(columns, order[first_batch * batch_size:])).repeat()
    elif config.imbalance == "sampling":
        groups, present, weights = sampling_groups(labels, sources, config.extra_share)
        per_group = [shuffled(tuple(column[groups == g] for column in columns), config.seed + g) for g in present]
        stream = tf.data.Dataset.sample_from_datasets(per_group, weights=weights.tolist(), seed=config.seed)
    else:
        stream = shuffled(columns, config.seed)

    def camera(x: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
        x = colour(x, training=True)
        if config.optics:
            # its own seed pair, so the acquisition changes draw what they draw without it
            x = optics_augment(x, tf.stack([tf.constant(config.seed + OPTICS_SEED, tf.int64), batch]))
        if config.acquisition:
            x = acquisition_augment(x, tf.stack([tf.constant(config.seed, tf.int64), batch]), config.acquisition_changes)
        return normalise(x, prep)

    seed_states = augmentation_seed_states((geometry, colour)) if config.deterministic else []

    def reseeded(batch: tf.Tensor) -> list:
        # The layers' draws follow their seed state, which every iterator over the stream advances (a
        # distribution strategy makes Keras peek at a batch): keyed to the batch number, the same batch gets the
        # same draws however the stream is read. (The tf.Variable's own assign: Keras' returns the assigned
        # value, not an op to order on.)
        return [state.value.assign(tf.stack([tf.constant(config.seed * 1000 + i, tf.int64), batch]))
                for i, state in enumerate(seed_states)]

    def augment(batch: tf.Tensor, x: tf.Tensor, y: tf.Tensor, m: tf.Tensor | None = None) -> tuple:
        with tf.control_dependencies(reseeded(batch)):
            return augment_batch(batch, x, y, m)

    def augment_batch(batch: tf.Tensor, x: tf.Tensor, y: tf.Tensor, m: tf.Tensor | None = None) -> tuple:
        if m is None:
            return camera(geometry(x, training=True), batch), y
        moved = geometry(tf.concat([tf.cast(x, tf.float32), tf.cast(m, tf.float32)], axis=-1), training=True)
        return camera(moved[..., :3], batch), {"logits": y, "cams": loss_masks(moved[..., 3:])}

    # The augmentation layers draw from seed state they update per call: run in parallel, which batch draws
    # which numbers depends on thread timing; --deterministic runs them in order.
    stream = stream.batch(batch_size).enumerate(start=first_batch).map(
        lambda batch, columns: augment(batch, *columns),
        num_parallel_calls=None if config.deterministic else tf.data.AUTOTUNE)
    return stream.prefetch(2), steps
