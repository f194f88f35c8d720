"""python -m train --data DIR --out DIR [options]: train, calibrate and save a lesion classifier."""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields

import numpy as np

from train.data.augment import ACQUISITION
from train.data.loading import DataError
from train.model.config import TrainConfig
from train.model.distribute import STRATEGIES
from train.model.fit import train


def acquisition_changes(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in ACQUISITION]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of acquisition changes; use "
                                         f"some of {','.join(ACQUISITION)}")
    return names


def consistency_weight(text: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        weight = float("nan")
    if not np.isfinite(weight) or weight < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a weight: give a number >= 0 (e.g. 1; 0 turns it off)")
    return weight


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share of the stream: give a number between 0 and 1 "
                                         "(e.g. 0.25), both excluded")
    return value


def epoch_count(text: str) -> int:
    try:
        epochs = int(text)
    except ValueError:
        epochs = -1
    if epochs < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of epochs: give a whole number >= 0 (0: no late epochs)")
    return epochs


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig(data="", out="")
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__)
    p.add_argument("--data", required=True, help="HAM10000 folder (shared or Kaggle layout) or ISIC 2019 training folder")
    p.add_argument("--out", required=True, help="folder for the model, config, logs and calibration")
    p.add_argument("--alpha", type=float, default=defaults.alpha, help="MobileNetV2 width (0.35, 0.5, 0.75, 1.0)")
    p.add_argument("--size", type=int, default=defaults.size, help="square input size in pixels")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--head-epochs", type=int, default=defaults.head_epochs)
    p.add_argument("--fine-tune-epochs", type=int, default=defaults.fine_tune_epochs)
    p.add_argument("--head-lr", type=float, default=defaults.head_lr)
    p.add_argument("--fine-tune-lr", type=float, default=defaults.fine_tune_lr)
    p.add_argument("--fine-tune-from", default=defaults.fine_tune_from,
                   help="first backbone layer (name prefix) to fine-tune, '' for all")
    p.add_argument("--schedule", choices=("cosine", "plateau"), default=defaults.schedule,
                   help="fine-tuning learning rate: warm-up + cosine decay, or constant with ReduceLROnPlateau")
    p.add_argument("--ema", type=float, default=defaults.ema,
                   help="momentum of the weight moving average that is validated and saved (0: off)")
    p.add_argument("--imbalance", choices=("weights", "sampling", "none"), default=defaults.imbalance)
    p.add_argument("--dropout", type=float, default=defaults.dropout)
    p.add_argument("--patience", type=int, default=defaults.patience)
    p.add_argument("--monitor", choices=("raw", "adjusted"), default=defaults.monitor,
                   help="validation balanced accuracy that picks the checkpoint and drives early stopping: of the "
                        "raw argmax, or after the class-balance correction the saved model applies")
    p.add_argument("--mask-weight", type=float, default=defaults.mask_weight,
                   help="weight of the loss on class-activation-map mass outside the lesion mask (0: off)")
    p.add_argument("--consistency", type=consistency_weight, default=defaults.consistency, metavar="WEIGHT",
                   help="weight of a loss that asks two photos of one training lesion for the same answer (symmetric "
                        "KL of their predictions; train/model/consistency.py); batches become same-lesion pairs, "
                        "class balance unchanged (0: off)")
    p.add_argument("--consistency-epochs", type=epoch_count, default=defaults.consistency_epochs, metavar="EPOCHS",
                   help="turn the --consistency term on late: only in this many more epochs after fine-tuning, "
                        "starting from its best checkpoint (the earlier phases train exactly as without it)")
    p.add_argument("--late-lr", type=float, default=defaults.late_lr, help="learning rate of the --consistency-epochs")
    p.add_argument("--init-from", default=defaults.init_from, metavar="RUN",
                   help="start from this finished run's model (its model.keras): fine-tuning for --fine-tune-epochs "
                        "(the head phase skipped), or with --consistency-epochs only the late epochs")
    p.add_argument("--distil", type=consistency_weight, default=defaults.distil, metavar="WEIGHT",
                   help="learning without forgetting: on HAM10000 training images, add WEIGHT x the divergence from "
                        "--teacher's softened answers (train/model/distillation.py); other sources learn from labels (0: off)")
    p.add_argument("--teacher", default=defaults.teacher, metavar="RUN",
                   help="with --distil: the finished run whose answers are kept (e.g. models/ham10000)")
    p.add_argument("--distil-temperature", type=float, default=defaults.distil_temperature,
                   help="temperature of the softened answers --distil compares")
    p.add_argument("--extra-share", type=share, default=defaults.extra_share, metavar="SHARE",
                   help="with --extra-data: the extra sources' share of the sampled stream (classes balanced within "
                        "each source); default: one class-balanced pool")
    p.add_argument("--colour-constancy", type=int, default=defaults.colour_constancy, metavar="P",
                   help="Shades of Gray white balance of every input with Minkowski norm P (6, as the ISIC 2019 "
                        "winners), the same in training, evaluation and the page; 0: off")
    p.add_argument("--masks", default=defaults.masks,
                   help="folder of <image_id>_segmentation.png lesion masks (default DATA/masks)")
    p.add_argument("--override-images", default=defaults.override_images,
                   help="second image folder whose files replace DATA's images of the same id (e.g. sharper copies: "
                        "../shared/data/ham10000_224_subset/images); used for training, validation and the guard")
    p.add_argument("--extra-data", action="append", default=[], metavar="DIR",
                   help="a labelled folder from another clinic (labels.csv + images; repeatable) whose committed "
                        "split's training part joins training; HAM10000's validation and test splits stay as they are "
                        "(train/data/sources.py: python -m train.data.sources DIR writes the split once)")
    p.add_argument("--aspect", action="store_true",
                   help="random aspect-ratio changes of every training image (height and width zoomed apart), "
                        "so that photos squashed from another shape look like the rest")
    p.add_argument("--optics", action="store_true",
                   help="random dermatoscope white balance, tone curve and dark circular rim of every training image, "
                        "for instruments other than HAM10000's two")
    p.add_argument("--acquisition", action="store_true",
                   help="random down-then-up scaling, blur, sharpening, sensor noise and JPEG re-compression of "
                        "the training stream, so that sharp and blurry sources look alike to the network")
    p.add_argument("--acquisition-changes", type=acquisition_changes, default=defaults.acquisition_changes,
                   help=f"comma-separated subset of {','.join(ACQUISITION)} that --acquisition applies "
                        "(for ablations; default all)")
    p.add_argument("--strategy", choices=STRATEGIES, default=defaults.strategy,
                   help="'one' device; 'mirrored' over the local GPUs (else logical CPUs); 'multiworker' across the "
                        "machines in TF_CONFIG; 'auto': mirrored when more than one device is visible. --batch-size is "
                        "per replica and the learning rates are multiplied by the replica count")
    p.add_argument("--stream", action="store_true",
                   help="decode image files inside the tf.data pipeline instead of holding the decoded set in memory")
    p.add_argument("--cache", default=defaults.cache,
                   help="with --stream: cache the decoded images to files with this prefix (read in order, shuffled "
                        "among a bounded buffer)")
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic ops and augmentation order (slower; for comparing runs)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--backbone-weights", default=defaults.backbone_weights,
                   help="'imagenet' (download), a .h5 file for offline use, or 'none'")
    p.add_argument("--backbone-style", choices=("keras", "torchvision"), default=None,
                   help="weights family; guessed from the file name when omitted")
    p.add_argument("--split", default=None, help="split CSV to reuse or create (default OUT/split.csv)")
    p.add_argument("--melanoma-floor", type=float, default=defaults.melanoma_floor,
                   help="the operating point must also catch at least this share of melanomas on validation, "
                        "with 95%% confidence (one-sided Wilson lower bound); default: no melanoma floor")
    p.add_argument("--calibrate-with-inner", action="store_true",
                   help="with --extra-data: fit the class-balance correction, temperature and operating point on "
                        "HAM10000's validation split and each extra source's inner check together (each reported apart)")
    args = vars(p.parse_args(argv))
    if args["calibrate_with_inner"] and not args["extra_data"]:
        p.error("--calibrate-with-inner adds the extra sources' inner checks to calibration: give them with --extra-data")
    if args["cache"] and (not args["stream"] or args["deterministic"]):
        p.error("--cache caches the streamed decode: it needs --stream, and --deterministic reads the images in an "
                "order drawn up front, which a cache read in order cannot serve")
    if args["consistency"] and args["cache"]:
        p.error("--consistency draws its pairs in an order fixed up front, which a cache read in order cannot serve: "
                "drop --cache")
    if args["consistency"] and args["batch_size"] % 2:
        p.error(f"--consistency trains on pairs of photos: --batch-size must be even, not {args['batch_size']}")
    if args["consistency_epochs"] and not args["consistency"]:
        p.error("--consistency-epochs runs the pair term in late epochs: give its weight with --consistency W")
    if args["init_from"] and not (args["consistency_epochs"] or args["fine_tune_epochs"]):
        p.error("--init-from starts fine-tuning or the late epochs from a finished run: give --fine-tune-epochs or "
                "--consistency-epochs")
    if args["distil"] and not args["teacher"]:
        p.error("--distil keeps a finished run's answers: name it with --teacher RUN (e.g. models/ham10000)")
    if args["teacher"] and not args["distil"]:
        p.error("--teacher names the run --distil learns from: give the term's weight with --distil W")
    if args["distil"] and args["stream"]:
        p.error("--distil scores the decoded training images with the teacher before training: drop --stream")
    if args["distil"] and args["consistency"]:
        p.error("--distil and --consistency each replace the loss: use one of them")
    if not args["distil_temperature"] > 0:
        p.error(f"--distil-temperature must be above 0, not {args['distil_temperature']}")
    if args["extra_share"] is not None and not args["extra_data"]:
        p.error("--extra-share sets the extra sources' share of the stream: give them with --extra-data DIR")
    if args["extra_share"] is not None and (args["consistency"] or args["imbalance"] != "sampling"):
        p.error("--extra-share balances the class-balanced sampler's sources: it needs --imbalance sampling and "
                "no --consistency")
    if args["acquisition_changes"] != defaults.acquisition_changes and not args["acquisition"]:
        p.error("--acquisition-changes picks among the changes that --acquisition applies: add --acquisition")
    args["fine_tune_from"] = args["fine_tune_from"] or None
    args["extra_data"] = tuple(args["extra_data"])
    if args["backbone_weights"] == "none":
        args["backbone_weights"] = None
    return TrainConfig(**{f.name: args[f.name] for f in fields(TrainConfig) if f.name in args})


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        train(parse_args(argv))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
