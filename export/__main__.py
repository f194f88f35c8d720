"""python -m export: trained Keras model -> TF.js graph model + metadata.json in the site's model folder.

With --quantize auto (the default) four exports are scored in Chromium on the validation split, on the
200x150 copies and on the sharp crops: float32, float16, uint8, and mixed (the pointwise convolutions that
export/mixed.py finds insensitive in uint8, everything else float16). The smallest ships that, in both
conditions, keeps what a user sees (export/mixed.py's ``user_rule``): the top class of >= 99% and the
referral decision of >= 99.5% of images as the Keras model gives them, balanced accuracy within 0.005 and
macro AUC within 0.002 of float32, no probability moved by more than 0.10. The rule used to demand every
probability within 0.02, which no uint8 weight can meet and which judged a change no user acts on; the
referral decision is what a user acts on. The comparison goes to REPORTS/quantization.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from export.metadata import build_metadata
from export.quantization import (
    choose_quantization,
    compare_quantizations,
    split_conditions,
    uint8_layer_choice,
    write_quantization_report,
)
from export.tfjs import QUANTIZATIONS, ExportError, convert_run, copy_model
from train.cli import named_path
from train.data.loading import DataError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/ham10000"), help="training output folder")
    p.add_argument("--out", type=Path, default=Path("site/model"), help="the site's model folder")
    p.add_argument("--quantize", choices=("auto", *QUANTIZATIONS), default="auto")
    p.add_argument("--data", type=Path, default=None,
                   help="image folder for the validation split (default: the --data the model was trained on)")
    p.add_argument("--test-metrics", type=named_path, nargs="+", default=[], metavar="CONDITION=FILE",
                   help="metrics.json of each test evaluation condition to ship (e.g. low=... sharp=...)")
    p.add_argument("--reports", type=Path, default=Path("reports"))
    p.add_argument("--metadata-only", action="store_true",
                   help="rewrite --out's metadata.json from the model folder and the test metrics, keeping the TF.js "
                   "model already in --out (no conversion, no quantization choice)")
    args = p.parse_args(argv)
    model_file = args.model / "model.keras"
    try:
        if not model_file.is_file():
            raise DataError(f"{model_file} not found. Train first: python -m train --data DIR --out {args.model}")
        test_metrics = {}
        for condition, path in args.test_metrics:
            if not path.is_file():
                raise DataError(f"{path} not found; run python -m train.evaluation.evaluate first or drop the option.")
            test_metrics[condition] = json.loads(path.read_text())
        if args.metadata_only:
            chosen = shipped_quantization(args.out)
        else:
            chosen = export_model(args)
        metadata = keep_version(build_metadata(args.model, args.out, chosen, test_metrics), args.out / "metadata.json")
        # allow_nan=False: the browser's JSON.parse refuses NaN, so a figure that is not a number fails here, loudly
        (args.out / "metadata.json").write_text(json.dumps(metadata, indent=2, allow_nan=False))
    except (DataError, ExportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported {chosen} model ({metadata['model_bytes']:,} weight bytes) to {args.out}")
    return 0


def shipped_quantization(out: Path) -> str:
    """The quantization of the model already exported to ``out`` (for --metadata-only)."""
    path = out / "metadata.json"
    if not (out / "model.json").is_file() or not path.is_file():
        raise ExportError(f"{out} holds no exported model and metadata.json; run python -m export without "
                          "--metadata-only first.")
    return json.loads(path.read_text())["quantization"]


def keep_version(metadata: dict, previous: Path) -> dict:
    """The model version names the weights: metadata rewritten for the same weights keeps the version (and date)
    it was first exported with, so saved results stay like-for-like with the page's."""
    if previous.is_file():
        old = json.loads(previous.read_text())
        if old.get("weights_sha256") == metadata["weights_sha256"]:
            return {**metadata, "model_version": old["model_version"], "created": old["created"]}
    return metadata


def export_model(args: argparse.Namespace) -> str:
    """Converts the Keras model into ``args.out``; returns the quantization that shipped."""
    with tempfile.TemporaryDirectory() as tmp:
        if args.quantize == "auto":
            rows, choice = compare_quantizations(args.model, split_conditions(args.model, args.data), Path(tmp))
            chosen = choose_quantization(rows)
            write_quantization_report(rows, chosen, choice, args.reports)
        else:
            chosen = args.quantize
            layers = uint8_layer_choice(args.model, split_conditions(args.model, args.data))[0]["layers"] \
                if chosen == "mixed" else []
            convert_run(args.model, Path(tmp) / chosen, chosen, tuple(layers))
        copy_model(Path(tmp) / chosen, args.out)
    return chosen


if __name__ == "__main__":
    sys.exit(main())
