"""python -m export.parity: the same real images through Keras and through the shipped browser module.

Reports top-1 agreement and the largest absolute difference of any class probability, and for the
explanation and the OOD guard: whether the heatmap of the predicted class peaks in the same cell, the
largest difference of the min-max-normalised heatmaps, and the largest relative OOD-distance difference.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from export.browser_scoring import browser_outputs
from export.agreement import agreement
from export.mixed import apply_uint8
from train.data.loading import DataError, load_labelled_images

def explanation_agreement(keras_cams: np.ndarray, browser_cams: np.ndarray, classes: np.ndarray) -> dict:
    """Same peak cell and largest difference of the min-max-normalised maps of each image's class."""
    def normalised(cams: np.ndarray) -> np.ndarray:
        maps = cams[np.arange(len(cams)), :, :, classes].reshape(len(cams), -1)
        lo, hi = maps.min(1, keepdims=True), maps.max(1, keepdims=True)
        return (maps - lo) / np.where(hi > lo, hi - lo, 1)

    k, b = normalised(keras_cams), normalised(browser_cams)
    return {"cam_peak_agreement": float((k.argmax(1) == b.argmax(1)).mean()),
            "cam_max_abs_diff": float(np.abs(k - b).max())}


def shipped_reference(keras_model: Path, site_model: Path):
    """The training run with the layers the export stores in uint8 rounded as the browser rounds them.

    That rounding is by design (export/mixed.py, judged by the quantization report); a reference that
    shares it leaves the runtime and the preprocessing as the only differences to measure."""
    from train.model.predict import load_run

    run = load_run(keras_model)
    apply_uint8(run.model, json.loads((Path(site_model) / "metadata.json").read_text()).get("uint8_layers", []))
    return run


def parity(keras_model: Path, site_model: Path, paths: list[str], browser=None) -> dict:
    from train.calibration.calibrate import calibrated_probabilities
    from train.model.explained import explained_outputs, load_ood_stats

    run = shipped_reference(keras_model, site_model)
    ood = load_ood_stats(keras_model)
    chunks = list(explained_outputs(run, paths, ood))
    keras_probs = calibrated_probabilities(np.concatenate([c["logits"] for c in chunks]), run.calibration)
    keras_cams = np.concatenate([c["cams"] for c in chunks])
    shown = browser_outputs(site_model, paths, browser=browser)
    result = agreement(keras_probs, shown["probabilities"])
    result.update(explanation_agreement(keras_cams, shown["cams"], keras_probs.argmax(1)))
    if ood is not None:
        keras_ood = np.concatenate([c["ood_distance"] for c in chunks])
        result["ood_max_relative_diff"] = float(np.max(np.abs(shown["ood_distance"] - keras_ood) / keras_ood))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.parity", description=__doc__)
    p.add_argument("--model", type=Path, default=Path("models/ham10000"), help="training output folder (Keras)")
    p.add_argument("--site-model", type=Path, default=Path("site/model"), help="exported TF.js model folder")
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--labels", type=Path, required=True, help="labels CSV naming the images to use")
    p.add_argument("--n", type=int, default=200, help="first N images of the labels file")
    p.add_argument("--missing", choices=("error", "skip"), default="error",
                   help="labelled images absent from --images: an error, or left out (a partial folder)")
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = p.parse_args(argv)
    try:
        paths = load_labelled_images(args.images, args.labels, missing=args.missing).frame["path"].tolist()[: args.n]
        result = parity(args.model, args.site_model, paths)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result["quantization"] = json.loads((args.site_model / "metadata.json").read_text())["quantization"]
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    print(f"{result['n_images']} images: top-1 agreement {result['top1_agreement']:.4f}, "
          f"max |dp| {result['max_abs_diff']:.5f}, mean |dp| {result['mean_abs_diff']:.6f}; heatmap peak agreement "
          f"{result['cam_peak_agreement']:.4f}, max heatmap diff {result['cam_max_abs_diff']:.4f}; OOD max relative diff "
          f"{result.get('ood_max_relative_diff', float('nan')):.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
