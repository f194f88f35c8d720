"""python -m train.evaluation.submission --images DIR --out FILE.csv [--labels FILE] [--runtime keras|browser]

Writes an ISIC challenge submission (``image,MEL,NV,BCC,AKIEC,BKL,DF,VASC``, calibrated probabilities) for every
image in a folder, labelled or not, with the shipped model (or --model). With --labels (ISIC one-hot or
HAM10000 metadata CSV) the file is also scored by the official scorer (isic-challenge-scoring) and its
balanced accuracy is printed. --score FILE.csv scores an existing submission or predictions file instead.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.cli import reports_data_errors
from train.data.loading import CLASSES, DataError, images_by_id, labels_from_csv
from train.evaluation.evaluate import DEFAULT_BROWSER_MODEL, DEFAULT_KERAS_MODEL, browser_scores, keras_scores
from train.evaluation.isic import isic_probabilities, official_scores, read_predictions


def score_file(predictions_file: Path, labels_file: Path) -> dict:
    """The official scorer's figures for a submission or predictions file against a labels CSV."""
    predictions = read_predictions(predictions_file)
    labels, _ = labels_from_csv(labels_file)
    known = labels.set_index("image_id")["dx"].map(CLASSES.index)
    extra = predictions.index.difference(known.index)
    missing = known.index.difference(predictions.index)
    if len(extra) or len(missing):
        raise DataError(f"{predictions_file} and {labels_file} list different images ({len(missing)} labelled "
                        f"without a prediction, e.g. {list(missing[:3])}; {len(extra)} predicted without a label, "
                        f"e.g. {list(extra[:3])}).")
    ids = list(predictions.index)
    return official_scores(ids, known.loc[ids].to_numpy(), predictions)


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluation.submission", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, help="folder of images to predict (no labels needed)")
    p.add_argument("--out", type=Path, help="submission CSV to write")
    p.add_argument("--labels", type=Path, default=None, help="labels CSV: score the file with the official scorer")
    p.add_argument("--score", type=Path, default=None, help="score this existing submission/predictions CSV")
    p.add_argument("--runtime", choices=("keras", "browser"), default="keras")
    p.add_argument("--model", type=Path, default=None,
                   help=f"model folder (default {DEFAULT_KERAS_MODEL} for keras, {DEFAULT_BROWSER_MODEL} for browser)")
    args = p.parse_args(argv)
    if args.score is None and (args.images is None or args.out is None):
        p.error("give --images and --out (predict a folder), or --score FILE with --labels")
    if args.score is not None and args.labels is None:
        p.error("--score needs --labels")
    target = args.score
    if target is None:
        index = images_by_id(args.images)
        ids = sorted(index)
        score = keras_scores if args.runtime == "keras" else browser_scores
        model = args.model or (DEFAULT_KERAS_MODEL if args.runtime == "keras" else DEFAULT_BROWSER_MODEL)
        scores = score(model, [str(index[i]) for i in ids])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        isic_probabilities(ids, scores.probabilities).to_csv(args.out)
        print(f"wrote {len(ids)} predictions to {args.out}")
        target = args.out
    if args.labels is not None:
        result = score_file(target, args.labels)
        print(f"official ISIC scorer ({result['scorer']}): balanced accuracy {result['balanced_accuracy']:.4f}, "
              f"macro AUC {result['macro_average']['auc']:.4f} over {len(result['per_class'])} classes present")
    return 0

if __name__ == "__main__":
    sys.exit(main())
