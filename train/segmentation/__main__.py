"""python -m train.segmentation --model RUN: fit the lesion-outline decoder on a finished run's frozen backbone.

The decoder (decoder.py) learns HAM10000's lesion masks of the run's training split, each image in both
conditions (200x150 copy and sharp crop), with Keras augmentation (flips, rotations, brightness) applied to
image and mask alike. The validation split chooses the epoch (early stopping on its Jaccard); the test split is
never read. Loss: binary cross-entropy plus Dice, since a small lesion's border pixels are few and cross-entropy
alone lets the outline shrink. Writes RUN/outline.keras (the decoder alone: the classifier is not touched) and
RUN/outline.json (epochs, validation Jaccard, weights, time); ``python -m export`` builds the decoder into the
same graph as the classifier.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from train.cli import add_run_arguments, reports_data_errors
from train.data.preprocess import normalise
from train.model.predict import Run, load_run
from train.segmentation.data import MaskedImages, masked_images, split_images
from train.segmentation.decoder import OUTLINE_FILE, build_decoder, outline_model

OUTLINE_JSON = "outline.json"


def dice_and_cross_entropy(truth: tf.Tensor, probability: tf.Tensor) -> tf.Tensor:
    return keras.losses.binary_crossentropy(truth, probability, axis=(1, 2, 3)) + keras.losses.dice(truth, probability)


def augmenter(seed: int) -> keras.Sequential:
    """Image and mask stacked as 4 channels, so every geometric change moves both alike."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
        keras.layers.RandomRotation(0.5, fill_mode="reflect", seed=seed + 1),
    ], name="outline_augment")


def dataset(images: MaskedImages, run: Run, batch_size: int, seed: int | None = None) -> tf.data.Dataset:
    """(normalised image, mask in 0..1) batches; with ``seed`` shuffled and augmented (training)."""
    data = tf.data.Dataset.from_tensor_slices((images.pixels, images.masks))
    if seed is not None:
        data = data.shuffle(len(images.pixels), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    geometric = augmenter(seed or 0)
    brightness = keras.layers.RandomBrightness(0.15, value_range=(0, 255), seed=(seed or 0) + 2)

    def prepare(pixels, masks):
        pixels, masks = tf.cast(pixels, tf.float32), tf.cast(masks, tf.float32) / 255.0
        if seed is not None:
            stacked = geometric(tf.concat([pixels, masks], axis=-1), training=True)
            pixels, masks = brightness(stacked[..., :3], training=True), stacked[..., 3:]
        return normalise(pixels, run.prep), masks

    return data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def fit_outline(run: Run, train: MaskedImages, val: MaskedImages, epochs: int, batch_size: int, lr: float,
                patience: int, seed: int) -> tuple[keras.Model, dict]:
    """The decoder with the best validation Jaccard, and the history of the fit."""
    keras.utils.set_random_seed(seed)
    run.model.trainable = False  # frozen: batch norms stay in inference mode and no classifier weight moves
    decoder = build_decoder(run.model)
    model = outline_model(run.model, decoder)
    jaccard = keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.5, name="jaccard")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=dice_and_cross_entropy, metrics=[jaccard])
    callbacks = [
        keras.callbacks.EarlyStopping("val_jaccard", mode="max", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau("val_jaccard", mode="max", factor=0.3, patience=1, min_lr=lr / 30),
    ]
    history = model.fit(dataset(train, run, batch_size, seed), validation_data=dataset(val, run, batch_size),
                        epochs=epochs, callbacks=callbacks, verbose=2)
    return decoder, {k: [float(v) for v in values] for k, values in history.history.items()}


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.segmentation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p)
    p.add_argument("--masks", type=Path, default=None, help="lesion masks <image_id>_segmentation.png "
                   "(default: DATA/masks)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--max-images", type=int, default=None,
                   help="at most this many 200x150 images per split (a quick check, not a shipped fit)")
    args = p.parse_args(argv)
    started = time.time()
    run = load_run(args.model)
    data = args.data or Path(run.config["data"])
    masks_dir = args.masks or data / "masks"
    train, val = (masked_images(frame, run, masks_dir)
                  for frame in split_images(run, ("train", "val"), data, args.max_images).values())
    print(f"outline: {len(train.pixels)} training and {len(val.pixels)} validation images (both conditions)")
    decoder, history = fit_outline(run, train, val, args.epochs, args.batch_size, args.lr, args.patience, args.seed)
    decoder.save(args.model / OUTLINE_FILE)
    best = int(np.argmax(history["val_jaccard"]))
    summary = {
        "validation_jaccard": history["val_jaccard"][best],
        "best_epoch": best + 1,
        "epochs_run": len(history["val_jaccard"]),
        "decoder_weights": int(decoder.count_params()),
        "training_images": len(train.pixels),
        "validation_images": len(val.pixels),
        "masks": str(masks_dir),
        "seed": args.seed,
        "max_images": args.max_images,
        "seconds": round(time.time() - started, 1),
        "history": history,
    }
    (args.model / OUTLINE_JSON).write_text(json.dumps(summary, indent=2))
    print(f"outline decoder ({summary['decoder_weights']:,} weights), validation Jaccard "
          f"{summary['validation_jaccard']:.3f} at epoch {best + 1} -> {args.model / OUTLINE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
