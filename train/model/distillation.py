"""Learning without forgetting (``--distil W --teacher RUN``): keep HAM10000's answers while learning other clinics.

Training on another clinic's photos moves the network on HAM10000's classes too (bcc and bkl recall fell when the
ISIC images joined, issue #43). Li & Hoiem's "learning without forgetting" keeps the old answers as a target: the
teacher (a finished run, normally the shipped model) scores each HAM10000 training image once, before training,
on the clean image, and on those images the loss adds ``W`` x T^2 x KL(teacher_T || student_T), the divergence
of the softened (temperature T) distributions (Hinton et al. 2015; T^2 keeps the term's gradient scale independent
of T). Images of other sources learn from their labels alone. The teacher's logits are fixed numbers computed
before the first step, so the teacher cannot change while the student trains.

The stream then carries a packed float target per image instead of the bare label: column 0 the label,
column 1 whether the term applies (1 for HAM10000 images), columns 2.. the teacher's logits.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import ops

from train.data.loading import DataError
from train.data.preprocess import normalise

LABEL, FLAG, TEACHER = 0, 1, 2  # columns of a packed target


def packed_targets(labels: np.ndarray, flags: np.ndarray, teacher_logits: np.ndarray) -> np.ndarray:
    """(n, 2 + classes) float32: label, distillation flag (0 or 1), the teacher's logits (0 where the flag is 0)."""
    if not (len(labels) == len(flags) == len(teacher_logits)):
        raise ValueError("labels, flags and teacher logits must have one row per image")
    return np.column_stack([labels, flags, np.where(np.asarray(flags)[:, None] > 0, teacher_logits, 0.0)]).astype(np.float32)


def softened_divergence(teacher_logits: "keras.KerasTensor", logits: "keras.KerasTensor",
                        temperature: float) -> "keras.KerasTensor":
    """T^2 x KL(softmax(teacher/T) || softmax(student/T)) per row."""
    log_t = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_s = ops.log_softmax(logits / temperature, axis=-1)
    return temperature ** 2 * ops.sum(ops.exp(log_t) * (log_t - log_s), axis=-1)


def distilled_cross_entropy(weight: float, temperature: float = 2.0) -> Callable:
    """Per-image loss on packed targets: sparse cross-entropy of the label, plus ``weight`` x the softened
    divergence from the teacher on the rows flagged for it. At weight 0 it is the cross-entropy exactly."""
    def loss(targets: "keras.KerasTensor", logits: "keras.KerasTensor") -> "keras.KerasTensor":
        labels = ops.cast(targets[:, LABEL], "int32")
        ce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        if not weight:
            return ce
        return ce + weight * targets[:, FLAG] * softened_divergence(targets[:, TEACHER:], logits, temperature)
    loss.__name__ = "distilled_cross_entropy"
    return loss


def teacher_logits(run: Path, images: np.ndarray, alpha: float, size: int, batch: int = 256) -> np.ndarray:
    """The teacher run's logits of decoded ``images`` (uint8, the student's input size), computed once, each
    image normalised by the teacher's own preprocessing (a student with colour constancy keeps the answers its
    teacher gives to the images as the teacher sees them)."""
    from train.model.predict import load_run

    if not (Path(run) / "model.keras").is_file():
        raise DataError(f"{Path(run) / 'model.keras'} not found: --teacher needs a finished run's folder "
                        "(python -m train --out), e.g. models/ham10000 for the shipped model.")
    config = json.loads((Path(run) / "config.json").read_text()) if (Path(run) / "config.json").is_file() else {}
    if config.get("size", size) != size or config.get("alpha", alpha) != alpha:
        raise DataError(f"--teacher {run} takes {config.get('size')} px at width {config.get('alpha')}; this run "
                        f"trains {size} px at width {alpha}: give the same --size and --alpha.")
    teacher = load_run(Path(run))
    return np.concatenate([teacher.model.predict(normalise(images[i:i + batch], teacher.prep).numpy(), verbose=0)
                           for i in range(0, len(images), batch)]) if len(images) \
        else np.zeros((0, teacher.model.output_shape[-1]))
