"""What one training run is asked to do: every option of python -m train, recorded in the run's config.json."""
from __future__ import annotations

from dataclasses import dataclass

from train.data.augment import ACQUISITION


@dataclass
class TrainConfig:
    data: str
    out: str
    alpha: float = 1.0
    size: int = 160
    batch_size: int = 32
    head_epochs: int = 2
    fine_tune_epochs: int = 12
    head_lr: float = 1e-3
    fine_tune_lr: float = 1e-4
    fine_tune_from: str | None = "block_8"
    schedule: str = "plateau"
    ema: float = 0.0
    imbalance: str = "sampling"
    dropout: float = 0.2
    patience: int = 4
    monitor: str = "raw"
    mask_weight: float = 0.0
    consistency: float = 0.0  # weight of the same-lesion pair divergence (train/model/consistency.py)
    consistency_epochs: int = 0  # >0: the pair term only in this many epochs after fine-tuning, from its best checkpoint
    late_lr: float = 1e-5  # learning rate of those late epochs
    init_from: str | None = None  # a finished run whose model starts fine-tuning (phase 1 skipped) or the late epochs
    masks: str | None = None
    override_images: str | None = None
    extra_data: tuple[str, ...] = ()  # labelled folders from other clinics, training side only (train/data/sources.py)
    extra_share: float | None = None  # the extra sources' share of the sampled stream (None: pooled class balance)
    distil: float = 0.0  # weight of the teacher's softened answers on HAM10000 images (train/model/distillation.py)
    teacher: str | None = None  # the finished run that gives them (normally the shipped model)
    distil_temperature: float = 2.0
    aspect: bool = False  # random aspect-ratio changes (train/data/augment.py)
    acquisition: bool = False
    acquisition_changes: tuple[str, ...] = tuple(ACQUISITION)  # which of them, for ablations
    colour_constancy: int = 0  # Shades of Gray white balance with this Minkowski norm, in training and the page (0: off)
    optics: bool = False  # random dermatoscope white balance, tone curve and rim (train/data/augment.py)
    strategy: str = "auto"
    stream: bool = False
    cache: str | None = None
    deterministic: bool = False
    seed: int = 42
    backbone_weights: str | None = "imagenet"
    backbone_style: str | None = None
    split: str | None = None
    min_sensitivity: float = 0.90
    calibrate_with_inner: bool = False  # calibration and operating point on HAM10000 validation + extra inner checks
    melanoma_floor: float | None = None
