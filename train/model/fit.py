"""Two-phase transfer learning: a linear head on a frozen MobileNetV2, then fine-tuning at a lower rate."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from train.calibration.calibrate import (
    calibrate,
    calibrated_probabilities,
    class_bias,
    fit_prior_strength,
    training_prior,
)
from train.data.arrays import resized_pixels
from train.data.inputs import class_shares, sampling_groups, training_stream, validation_inputs
from train.data.loading import CLASSES, DataError, load_training_data
from train.data.preprocess import Preprocessing, normalise
from train.data.sources import HAM10000, class_mix, extra_frame
from train.data.split import load_or_create_split
from train.evaluation.metrics import balanced_accuracy, classification_metrics, softmax
from train.model.config import TrainConfig
from train.model.consistency import consistent_cross_entropy, pair_term
from train.model.distillation import distilled_cross_entropy, packed_targets, teacher_logits
from train.model.distribute import distribution_strategy, learning_rate_scale
from train.model.guided import (
    guided_trainer,
    mask_paths,
    no_mask_file,
    outside_mask_share,
    resized_masks,
)
from train.model.network import (
    backbone_style,
    build_classifier,
    preprocessing_for,
    set_trainable,
)

log = logging.getLogger(__name__)


def class_weights(labels: np.ndarray, n_classes: int) -> dict[int, float]:
    """Inverse-frequency weights normalised so the average sample weight is 1."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    return {i: float(len(labels) / (n_classes * c)) if c else 0.0 for i, c in enumerate(counts)}


MONITORS = {"raw": "val_balanced_accuracy", "adjusted": "val_balanced_accuracy_adjusted"}


def predicted_logits(model: keras.Model, inputs: np.ndarray | tf.data.Dataset) -> np.ndarray:
    """Logits of in-memory inputs, or of a batched dataset of them (``--stream``)."""
    if isinstance(inputs, tf.data.Dataset):
        return model.predict(inputs, verbose=0)
    return model.predict(inputs, batch_size=64, verbose=0)


class ValidationMetrics(keras.callbacks.Callback):
    """Adds val_loss, val_balanced_accuracy, val_balanced_accuracy_adjusted and val_macro_auc to the epoch
    logs (must run first). 'adjusted' is the shipped decision rule: argmax after the class-balance correction
    with the strength that is best on validation, as ``calibrate`` will choose it for the saved model."""

    def __init__(self, classifier: keras.Model, inputs: np.ndarray | tf.data.Dataset, labels: np.ndarray,
                 prior: np.ndarray):
        super().__init__()
        self.classifier, self.inputs, self.labels, self.prior = classifier, inputs, labels, prior
        self.started = time.time()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.time()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logits = predicted_logits(self.classifier, self.inputs)
        probs = softmax(logits)
        metrics = classification_metrics(self.labels, probs, CLASSES)
        logs = logs if logs is not None else {}
        logs["val_loss"] = float(-np.log(np.clip(probs[np.arange(len(self.labels)), self.labels], 1e-12, None)).mean())
        logs["val_balanced_accuracy"] = metrics["balanced_accuracy"]
        strength = fit_prior_strength(logits, self.labels, self.prior)
        logs["val_balanced_accuracy_adjusted"] = balanced_accuracy(
            self.labels, (logits + class_bias(self.prior, strength)).argmax(axis=1))
        logs["val_macro_auc"] = metrics["macro_auc"]
        # The key ReduceLROnPlateau also writes: both phases must log the same keys, because CSVLogger appends
        # the fine-tuning rows under the header the head phase wrote (the cosine phase has no plateau callback).
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        print(
            f"epoch {epoch + 1}: loss {logs.get('loss', float('nan')):.4f}  val_loss {logs['val_loss']:.4f}  "
            f"val_balanced_accuracy {logs['val_balanced_accuracy']:.4f} (adjusted "
            f"{logs['val_balanced_accuracy_adjusted']:.4f})  val_macro_auc {logs['val_macro_auc']:.4f}  "
            f"lr {logs['learning_rate']:.2e}  {time.time() - self.started:.0f}s",
            flush=True,
        )


def fine_tune_learning_rate(config: TrainConfig, steps: int,
                            scale: float = 1.0) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """'plateau': a constant rate that ReduceLROnPlateau lowers. 'cosine': one epoch of linear warm-up from a
    tenth of the rate (freshly unfrozen early layers get large gradients), then cosine decay to 1% of it.
    ``scale``: the replica count's learning-rate multiplier (train/model/distribute.py)."""
    rate = config.fine_tune_lr * scale
    if config.schedule == "plateau":
        return rate
    return keras.optimizers.schedules.CosineDecay(
        rate / 10, decay_steps=max(config.fine_tune_epochs - 1, 1) * steps, alpha=0.01,
        warmup_target=rate, warmup_steps=steps,
    )


def optimizer(learning_rate: float | keras.optimizers.schedules.LearningRateSchedule, ema: float) -> keras.Optimizer:
    """Adam, keeping an exponential moving average of the weights when ``ema`` > 0."""
    return keras.optimizers.Adam(learning_rate, use_ema=ema > 0, ema_momentum=ema or 0.99)


def phase_callbacks(out: Path, phase: str, val: ValidationMetrics, checkpoint: keras.callbacks.ModelCheckpoint,
                    config: TrainConfig, plateau: bool) -> list[keras.callbacks.Callback]:
    # Validation, the checkpoint and early stopping run after the EMA swap, so they judge the averaged
    # weights. The backup runs last so that it keeps what ReduceLROnPlateau decided; with EMA it therefore
    # stores the averaged weights, and a resumed run continues from those (the average catches up in an epoch).
    callbacks = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema else []
    callbacks += [
        val,
        checkpoint,
        keras.callbacks.EarlyStopping(MONITORS[config.monitor], mode="max", patience=config.patience, verbose=1),
    ]
    if plateau:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(MONITORS[config.monitor], mode="max", factor=0.3,
                                                           patience=2, min_lr=1e-6, verbose=1))
    callbacks += [
        keras.callbacks.CSVLogger(str(out / "training_log.csv"), append=True),
        keras.callbacks.BackupAndRestore(str(out / "backup" / phase)),
    ]
    return callbacks


def forget_restored_epoch(model: keras.Model) -> None:
    """Keras 3 keeps the epoch BackupAndRestore resumed phase 1 from (``model._initial_epoch``) and lets it
    override the next fit's ``initial_epoch``: after a resumed phase 1, phase 2 would start at the wrong
    epoch (and a ``--fine-tune-epochs 0`` run would fine-tune anyway)."""
    model._initial_epoch = None


def validation_metrics(logits: np.ndarray, y_val: np.ndarray, calibration: dict) -> dict:
    """Validation metrics with the fitted calibration, plus what argmax of the raw logits would have scored."""
    metrics = classification_metrics(y_val, calibrated_probabilities(logits, calibration), CLASSES)
    raw = classification_metrics(y_val, softmax(logits), CLASSES)
    return {**metrics, "ece_uncalibrated": raw["ece"], "balanced_accuracy_uncalibrated": raw["balanced_accuracy"]}


def calibrate_on_validation(model: keras.Model, prep: Preprocessing, logits: np.ndarray, y_val: np.ndarray,
                            inner_rows: pd.DataFrame, logits_of: Callable[[list[str]], np.ndarray], prior: np.ndarray,
                            min_sensitivity: float, melanoma_floor: float | None,
                            with_inner: bool) -> tuple[dict, dict]:
    """The calibration (class-balance correction, temperature, operating point) fitted on HAM10000's validation
    ``logits`` and, ``with_inner``, on the extra sources' inner checks too (their logits from ``logits_of``), and
    the validation metrics, each inner check reported apart: what training and train.calibration.recalibrate
    both write."""
    fit_logits, fit_labels = logits, y_val
    if with_inner:
        fit_logits = np.concatenate([logits, logits_of(inner_rows["path"].tolist())])
        fit_labels = np.concatenate([y_val, inner_rows["label"].to_numpy()])
    calibration = calibrate(fit_logits, fit_labels, prior, min_sensitivity, melanoma_floor)
    metrics = validation_metrics(logits, y_val, calibration)
    if len(inner_rows):
        metrics["inner_check"] = inner_check(model, inner_rows, prep, calibration)
    return calibration, metrics


def inner_check(model: keras.Model, rows: pd.DataFrame, prep: Preprocessing, calibration: dict) -> dict:
    """Each extra source's inner-check images scored as the saved model will score them: the measure of the
    gap between HAM10000 and other clinics that trials may look at (the external test part stays unseen)."""
    from train.evaluation.decision_metrics import evaluation_metrics, headline_values

    out = {}
    for origin, part in rows.groupby("origin"):
        logits = predicted_logits(model, validation_inputs(part["path"].tolist(), prep))
        metrics = evaluation_metrics(part["label"].to_numpy(), calibrated_probabilities(logits, calibration),
                                     calibration["operating_point"])
        out[origin] = {"n_images": len(part), **headline_values(metrics),
                       "melanoma_specificity": metrics["melanoma"]["specificity"]}
    return out


def best_checkpoint(path: Path, config: TrainConfig) -> keras.callbacks.ModelCheckpoint:
    """Saves the weights of the best epoch so far by the monitored validation figure."""
    return keras.callbacks.ModelCheckpoint(str(path), monitor=MONITORS[config.monitor], mode="max",
                                           save_best_only=True, save_weights_only=True, verbose=1)


def compile_arguments(config: TrainConfig, consistency: float) -> dict:
    """The loss (with the pair term at weight ``consistency``, with ``--distil`` the teacher's term on packed
    targets, or plain cross-entropy) and, in runs that pair photos, the pair term as a logged metric
    (``pair_term``: 0 in the phases without it)."""
    if consistency:
        ce = consistent_cross_entropy(consistency)
    elif config.distil:
        ce = distilled_cross_entropy(config.distil, config.distil_temperature)
    else:
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    metrics = [pair_term(consistency)] if config.consistency else []
    if config.mask_weight:
        return dict(loss={"logits": ce, "cams": outside_mask_share}, loss_weights={"logits": 1.0, "cams": config.mask_weight},
                    metrics={"logits": metrics} if metrics else None)
    return dict(loss=ce, metrics=metrics or None)


def head_and_fine_tune(config: TrainConfig, out: Path, model: keras.Model, fitted: keras.Model, stream: tf.data.Dataset,
                       fine_tune_stream: tf.data.Dataset, steps: int, weights: dict | None, val: "ValidationMetrics",
                       compile_loss: dict, strategy: tf.distribute.Strategy, scale: float, replicas: int,
                       skip_head: bool = False) -> dict:
    """Phase 1 (the linear head on the frozen backbone) and phase 2 (fine-tuning), leaving ``fitted`` with the
    best checkpoint of both (best.weights.h5); returns their timings. ``skip_head``: ``fitted`` already holds a
    finished run's weights (``--init-from``), and fine-tuning starts from them."""
    timings = {}
    checkpoint = best_checkpoint(out / "best.weights.h5", config)
    head_done = out / "head.weights.h5"
    if not head_done.is_file() and not (out / "backup").is_dir():  # (also a fresh --init-from run)
        # A fresh run into a folder that holds an earlier run's records (the committed shipped model): its
        # log would otherwise be appended to (CSVLogger appends so that a resumed run keeps its epochs).
        (out / "training_log.csv").unlink(missing_ok=True)
    if skip_head:
        print("phase 1 skipped: fine-tuning starts from --init-from's weights", flush=True)
    elif head_done.is_file():
        print("phase 1 already finished in an earlier run; loading its weights", flush=True)
        fitted.load_weights(head_done)
    else:
        print(f"phase 1: linear head on the frozen backbone, {config.head_epochs} epochs", flush=True)
        set_trainable(model, None, train_backbone=False)
        with strategy.scope():
            fitted.compile(optimizer(config.head_lr * scale, config.ema), **compile_loss)
        t0 = time.time()
        fitted.fit(stream, epochs=config.head_epochs, steps_per_epoch=steps, class_weight=weights, verbose=2,
                  callbacks=phase_callbacks(out, "head", val, checkpoint, config, plateau=True))
        timings["head_seconds"] = time.time() - t0
        fitted.save_weights(head_done)

    forget_restored_epoch(fitted)
    print(f"phase 2: fine-tuning from {config.fine_tune_from or 'the first layer'}, "
          f"{config.fine_tune_epochs} epochs at lr {config.fine_tune_lr * scale} ({config.schedule} schedule, "
          f"weight EMA {config.ema or 'off'}, mask weight {config.mask_weight or 'off'}, "
          f"consistency weight {config.consistency or 'off'}, "
          f"checkpoint on {MONITORS[config.monitor]})", flush=True)
    set_trainable(model, config.fine_tune_from, train_backbone=True)
    with strategy.scope():
        fitted.compile(optimizer(fine_tune_learning_rate(config, steps, scale), config.ema), **compile_loss)
    t0 = time.time()
    history = fitted.fit(
        fine_tune_stream, epochs=config.head_epochs + config.fine_tune_epochs, initial_epoch=config.head_epochs,
        steps_per_epoch=steps, class_weight=weights, verbose=2,
        callbacks=phase_callbacks(out, "fine_tune", val, checkpoint, config, plateau=config.schedule == "plateau"),
    )
    timings["fine_tune_seconds"] = time.time() - t0
    timings["fine_tune_epochs_run"] = len(history.epoch)
    timings["fine_tune_images_per_second"] = (len(history.epoch) * steps * config.batch_size * replicas
                                              / timings["fine_tune_seconds"])
    fitted.load_weights(out / "best.weights.h5")
    return timings


def late_epochs(config: TrainConfig) -> tuple[int, int]:
    """The first and the end epoch (0-based, end excluded) of the late consistency epochs."""
    first = 0 if config.init_from else config.head_epochs + config.fine_tune_epochs
    return first, first + config.consistency_epochs


def start_from_run(model: keras.Model, run: Path, config: TrainConfig) -> None:
    """``model`` takes the weights of a finished run of the same network (``--init-from``)."""
    saved = run / "model.keras"
    if not saved.is_file():
        raise DataError(f"{saved} not found: --init-from needs a finished run's folder (python -m train --out).")
    other = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    differs = {k: (other.get(k), getattr(config, k)) for k in ("alpha", "size", "dropout") if other.get(k) != getattr(config, k)}
    if differs:
        raise DataError(f"--init-from {run} is a different network: " + ", ".join(
            f"{k} {theirs} there, {ours} here" for k, (theirs, ours) in differs.items()) + "; give the same options.")
    model.set_weights(keras.saving.load_model(saved, compile=False).get_weights())
    print(f"starting from {saved}", flush=True)


def late_consistency(config: TrainConfig, out: Path, fitted: keras.Model, stream: tf.data.Dataset, steps: int,
                     val: "ValidationMetrics", strategy: tf.distribute.Strategy, scale: float) -> dict:
    """Phase 3: ``config.consistency_epochs`` epochs with the pair term, from the weights ``fitted`` holds, at
    ``config.late_lr``; keeps the best of them by the monitored validation figure (late.weights.h5)."""
    forget_restored_epoch(fitted)
    first, end = late_epochs(config)
    print(f"phase 3: same-lesion consistency weight {config.consistency}, {config.consistency_epochs} epochs at lr "
          f"{config.late_lr * scale}, checkpoint on {MONITORS[config.monitor]} among them", flush=True)
    checkpoint = best_checkpoint(out / "late.weights.h5", config)
    with strategy.scope():
        fitted.compile(optimizer(config.late_lr * scale, config.ema), **compile_arguments(config, config.consistency))
    t0 = time.time()
    fitted.fit(stream, epochs=end, initial_epoch=first, steps_per_epoch=steps, verbose=2,
               callbacks=phase_callbacks(out, "late", val, checkpoint, config, plateau=config.schedule == "plateau"))
    fitted.load_weights(out / "late.weights.h5")
    return {"late_seconds": time.time() - t0}


def train(config: TrainConfig) -> dict:
    """Run both phases, calibrate on validation, and write the model folder ``config.out``."""
    if config.mask_weight and config.imbalance == "weights":
        raise DataError("--mask-weight cannot be combined with --imbalance weights (Keras applies class weights "
                        "to single-output models only); use --imbalance sampling.")
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribution_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    scale = learning_rate_scale(strategy)
    run_started = time.time()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    style = backbone_style(config.backbone_weights, config.backbone_style)
    prep = preprocessing_for(style, config.size, config.colour_constancy)

    dataset = load_training_data(Path(config.data), Path(config.override_images) if config.override_images else None)
    split = load_or_create_split(dataset.frame, Path(config.split or out / "split.csv"), seed=config.seed)
    frame = dataset.frame.merge(split[["image_id", "split"]], on="image_id").assign(origin=HAM10000)
    frame[frame["split"] == "test"][["image_id", "dx", "lesion_id"]].to_csv(out / "test_labels.csv", index=False)
    frame[frame["split"] == "val"][["image_id", "dx", "lesion_id"]].to_csv(out / "val_labels.csv", index=False)
    extra = extra_frame(config.extra_data, frame["image_id"]) if config.extra_data else frame.iloc[:0]
    train_rows = pd.concat([frame[frame["split"] == "train"], extra[extra["split"] == "train"]], ignore_index=True)
    val_rows, inner_rows = frame[frame["split"] == "val"], extra[extra["split"] == "val"]
    if config.extra_data:
        print(f"extra sources: {len(train_rows) - int((frame['split'] == 'train').sum())} training images from "
              f"{', '.join(config.extra_data)}; {len(inner_rows)} kept as the inner check, "
              f"{int((extra['split'] == 'test').sum())} external test images left untouched", flush=True)
    print(f"data: {len(train_rows)} train / {len(val_rows)} val images, "
          f"{int((frame['source'] == 'override').sum())} of all {len(frame)} from {config.override_images or 'no override folder'} "
          f"(test split of {int((frame['split'] == 'test').sum())} images left untouched)"
          + "".join(f"; excluded: {count} {reason}" for reason, count in dataset.excluded.items()), flush=True)
    print(f"{replicas} replica(s) ({type(strategy).__name__}): global batch {config.batch_size * replicas}, "
          f"learning rates x{scale}", flush=True)

    # Checked before the slow decode, so a missing mask fails in seconds.
    # 0 for HAM10000, then each extra source in the order given (--extra-share, --distil)
    source_of = {HAM10000: 0, **{origin: k + 1 for k, origin in enumerate(dict.fromkeys(extra.get("origin", [])))}}
    sources = train_rows["origin"].map(source_of).to_numpy(int)
    maskless = train_rows.loc[train_rows["origin"] != HAM10000, "image_id"]
    no_mask = no_mask_file(out) if config.mask_weight and len(maskless) else None
    mask_files = mask_paths(Path(config.masks) if config.masks else Path(config.data) / "masks",
                            train_rows["image_id"].tolist(), dict.fromkeys(maskless, no_mask)) if config.mask_weight else None
    y_train, y_val = train_rows["label"].to_numpy(), val_rows["label"].to_numpy()
    groups, present, shares = sampling_groups(y_train, sources, config.extra_share)
    stream_share = (class_shares(present, shares) if config.imbalance == "sampling"
                    else np.bincount(y_train, minlength=len(CLASSES)) / len(y_train))
    mix = class_mix(train_rows, stream_share)
    if config.extra_share is not None:
        mix["source_share"] = {origin: float(shares[present // len(CLASSES) == k].sum()) for origin, k in source_of.items()}
    print(f"training class mix: {mix['images']}; share of the stream: "
          + ", ".join(f"{c} {p:.3f}" for c, p in mix["stream_share"].items()), flush=True)
    t0 = time.time()
    if config.stream:
        x_train, masks = train_rows["path"].to_numpy(str), np.asarray(mask_files, dtype=str) if mask_files else None
        x_val = validation_inputs(val_rows["path"].tolist(), prep)
    else:
        x_train = resized_pixels(train_rows["path"].tolist(), prep).round().astype(np.uint8)
        x_val = normalise(resized_pixels(val_rows["path"].tolist(), prep), prep).numpy()
        masks = resized_masks(mask_files, prep) if mask_files else None
        print(f"decoded and resized in {time.time() - t0:.0f}s", flush=True)

    targets = None
    if config.distil:
        t0 = time.time()
        ham = sources == 0
        known = teacher_logits(Path(config.teacher), x_train[ham], config.alpha, config.size)
        logits = np.zeros((len(y_train), len(CLASSES)), np.float32)
        logits[ham] = known
        targets = packed_targets(y_train, ham.astype(np.float32), logits)
        print(f"distillation weight {config.distil} at temperature {config.distil_temperature}: {config.teacher}'s "
              f"answers on {int(ham.sum())} HAM10000 training images ({time.time() - t0:.0f}s); "
              f"{int((~ham).sum())} images of other sources learn from their labels alone", flush=True)
    lesions = train_rows["lesion_id"].to_numpy(str)
    if config.consistency:
        photos = train_rows["lesion_id"].value_counts()
        print(f"consistency weight {config.consistency}: {int((photos > 1).sum())} training lesions have several "
              f"photos ({int(photos[photos > 1].sum())} images); the other {int((photos == 1).sum())} images pair "
              "with an augmented copy of themselves", flush=True)
    # with late consistency the head and fine-tuning phases train exactly as the recipe without it
    early = replace(config, consistency=0.0) if config.consistency_epochs else config
    stream, steps = training_stream(x_train, y_train, early, prep, masks, batch_size=config.batch_size * replicas,
                                    lesions=lesions, sources=sources, targets=targets)
    # phase 2 reads the stream anew: its batches are numbered on from phase 1's, so it draws new changes
    fine_tune_stream, _ = training_stream(x_train, y_train, early, prep, masks, batch_size=config.batch_size * replicas,
                                          first_batch=config.head_epochs * steps, lesions=lesions, sources=sources,
                                          targets=targets)
    weights = class_weights(y_train, len(CLASSES)) if config.imbalance == "weights" else None
    prior = training_prior(np.bincount(y_train, minlength=len(CLASSES)), config.imbalance)
    # Everything that holds variables (model, optimizer, metrics) is created under the strategy's scope.
    with strategy.scope():
        model = build_classifier(config.alpha, config.size, config.backbone_weights, style, config.dropout)
        # With mask guidance fit() drives a two-output view of the same layers; ``model`` shares its weights.
        fitted = guided_trainer(model) if config.mask_weight else model
    val = ValidationMetrics(model, x_val, y_val, prior)
    compile_loss = compile_arguments(config, early.consistency)
    timings = {}

    if config.init_from:
        start_from_run(model, Path(config.init_from), config)
    if not (config.init_from and config.consistency_epochs):
        timings.update(head_and_fine_tune(early, out, model, fitted, stream, fine_tune_stream, steps, weights, val,
                                          compile_loss, strategy, scale, replicas, skip_head=bool(config.init_from)))
    if config.consistency_epochs:
        late_stream, _ = training_stream(x_train, y_train, config, prep, masks, batch_size=config.batch_size * replicas,
                                         first_batch=late_epochs(config)[0] * steps,
                                         batches=late_epochs(config)[1] * steps + 1, lesions=lesions)
        timings.update(late_consistency(config, out, fitted, late_stream, steps, val, strategy, scale))

    calibration, val_metrics = calibrate_on_validation(
        model, prep, predicted_logits(model, x_val), y_val, inner_rows,
        lambda paths: predicted_logits(model, validation_inputs(paths, prep)), prior, config.min_sensitivity,
        config.melanoma_floor, config.calibrate_with_inner)

    # A fresh, uncompiled copy: the saved file then holds no optimizer state (half the size).
    shipped = build_classifier(config.alpha, config.size, None, style, config.dropout)
    shipped.set_weights(model.get_weights())
    shipped.save(out / "model.keras")
    (out / "config.json").write_text(json.dumps(
        {**asdict(config), "backbone_style": style, "preprocessing": prep.to_dict(), "classes": list(CLASSES),
         "class_mix": mix, "replicas": replicas, "global_batch_size": config.batch_size * replicas, "learning_rate_scale": scale,
         "tensorflow": tf.__version__, "keras": keras.__version__}, indent=2))
    (out / "calibration.json").write_text(json.dumps(calibration, indent=2))
    (out / "val_metrics.json").write_text(json.dumps(val_metrics, indent=2))
    timings["total_seconds"] = time.time() - run_started
    (out / "timings.json").write_text(json.dumps(timings, indent=2))
    print(f"done: val balanced accuracy {val_metrics['balanced_accuracy']:.4f}, macro AUC "
          f"{val_metrics['macro_auc']:.4f}, temperature {calibration['temperature']:.3f}, class-balance "
          f"strength {calibration['prior_strength']}; model in {out}", flush=True)
    return val_metrics
