"""python -m train.evaluation.evaluate --images DIR --labels FILE --out DIR [--runtime keras|browser]

Scores a labelled folder with a trained model and writes OUT/metrics.json, OUT/predictions.csv (one row per
image, the ISIC challenge's columns; train/evaluation/isic.py), a confusion-matrix PNG and a
classification-report PNG. metrics.json's ``isic`` block is the official ISIC scorer's verdict on the same
predictions. ``keras`` scores the training output folder (model.keras + calibration);
``browser`` scores the shipped TF.js model through the site's own inference module in headless Chromium.
Both also report how many images the "not a lesion" guard would turn away (``ood`` in metrics.json).

Evaluation conditions: ``--missing skip`` scores the labelled images a partial folder holds (e.g. the sharp
224 px crops, which exist for 911 of the 1,503 test images) and counts the rest; ``--paired-images DIR``
scores the same images from a second folder too (e.g. their 200x150 copies), so both sources are compared
on exactly the same images (``paired`` in metrics.json).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from train.calibration.calibrate import calibrated_probabilities, malignancy_score
from train.calibration.combine import combine_groups, lesion_rows, multi_photo_mask
from train.context.encoding import Encoding, absent_rates, context_matrix, read_context_file
from train.context.scoring import context_figures
from train.data.loading import CLASSES, DataError, images_by_id, load_labelled_images
from train.evaluation.figures import (
    classification_report_figure,
    confusion_matrix_figure,
)
from train.evaluation.decision_metrics import evaluation_metrics, headline_values
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.isic import isic_probabilities, official_scores, predictions_frame
from train.evaluation.metrics import classification_metrics
from train.evaluation.segmentation import browser_outlines, keras_outlines
from train.evaluation.skin_tone import mask_path, measure_images, skin_tone_table
from train.segmentation.decoder import load_outline

DEFAULT_KERAS_MODEL = Path("models/ham10000")
DEFAULT_BROWSER_MODEL = Path("site/model")


@dataclass
class Scores:
    """What a runtime says about a list of images: calibrated probabilities, the guard's distances (None
    without a fitted guard), and the decision settings it applied."""

    probabilities: np.ndarray
    ood_distance: np.ndarray | None
    calibration: dict
    ood_threshold: float | None
    # each image's lesion's combined probabilities, by the run's rule (None: the run has no combination rule)
    combined: np.ndarray | None = None
    rule: str | None = None

    def rows(self, part: slice) -> "Scores":
        """The same scores for a slice of the images."""
        distances = None if self.ood_distance is None else self.ood_distance[part]
        combined = None if self.combined is None else self.combined[part]
        return Scores(self.probabilities[part], distances, self.calibration, self.ood_threshold, combined, self.rule)


def keras_scores(model_dir: Path, paths: list[str], groups: list[str] | None = None) -> Scores:
    """Calibrated probabilities and guard distances from a training run (model.keras + calibration.json +
    the guard's ood.npz), through the same explained graph that is exported; with ``groups`` (a lesion id
    per image) also each image's lesion's combined result, by the rule in combination.json."""
    from train.model.explained import (
        explained_outputs,
        load_ood_stats,
        load_ood_summary,
    )
    from train.model.predict import load_run

    run = load_run(model_dir)
    stats = load_ood_stats(model_dir)
    chunks = list(explained_outputs(run, paths, stats))
    logits = np.concatenate([c["logits"] for c in chunks])
    distances = np.concatenate([c["ood_distance"] for c in chunks]) if stats is not None else None
    summary = load_ood_summary(model_dir)
    probs = calibrated_probabilities(logits, run.calibration)
    rule_file = model_dir / "combination.json"
    rule = json.loads(rule_file.read_text())["rule"] if rule_file.is_file() else None
    combined = combine_groups(probs, np.asarray(groups), rule) if rule and groups is not None else None
    return Scores(probs, distances, run.calibration, summary["threshold"] if summary else None, combined, rule)


def keras_probabilities(model_dir: Path, paths: list[str]) -> tuple[np.ndarray, dict]:
    """Calibrated probabilities from a training run (model.keras + calibration.json)."""
    from train.model.predict import load_run, run_logits

    run = load_run(model_dir)
    return calibrated_probabilities(run_logits(run, paths), run.calibration), run.calibration


def browser_scores(model_dir: Path, paths: list[str], groups: list[str] | None = None) -> Scores:
    """The same as ``keras_scores`` from the shipped TF.js model in Chromium; the lesions' photos are combined
    by the site's own combine.js, by the rule in metadata.json."""
    from export.browser_scoring import browser_outputs

    metadata_file = model_dir / "metadata.json"
    if not metadata_file.is_file():
        raise DataError(f"{metadata_file} not found. Export a model first (python -m export) or pass --model.")
    metadata = json.loads(metadata_file.read_text())
    rule = (metadata.get("combination") or {}).get("rule")
    out = browser_outputs(model_dir, paths, groups=groups if rule else None)
    guard = metadata.get("ood")
    return Scores(out["probabilities"], out["ood_distance"] if guard else None,
                  {"temperature": metadata["temperature"], "operating_point": metadata["operating_point"]},
                  guard["threshold"] if guard else None, out.get("combined"), rule)


def guard_summary(scores: Scores) -> dict | None:
    """The share of images the "not a lesion" guard turns away at the shipped threshold."""
    if scores.ood_distance is None:
        return None
    return {"rejected_fraction": float((scores.ood_distance > scores.ood_threshold).mean()),
            "threshold": scores.ood_threshold, "n": len(scores.ood_distance)}


PER_CLASS_VALUES = {"sensitivity": "recall", "specificity": "specificity", "precision": "precision", "auc": "auc"}
TOO_WIDE = 0.3  # a per-class interval wider than this: too few test images to judge that class


def bootstrap_values(metrics: dict) -> dict[str, float]:
    """The headline values and, as ``CLASS/value``, each class's sensitivity, specificity, precision and AUC."""
    per_class = {f"{c}/{name}": m[key] for c, m in metrics["per_class"].items() for name, key in PER_CLASS_VALUES.items()}
    return {**headline_values(metrics), **per_class}


def confidence_intervals(y_true: np.ndarray, probs: np.ndarray, operating_point: dict, lesion_ids: np.ndarray,
                         n_resamples: int = 1000, level: float = 0.95) -> dict:
    """Lesion-level bootstrap intervals of the headline values and of the per-class values (per image when no
    lesion ids are known). A class whose widest interval exceeds ``TOO_WIDE`` is marked ``too_few_images``."""
    n_lesions = len(set(lesion_ids))
    intervals = cluster_bootstrap(
        lambda idx: bootstrap_values(evaluation_metrics(y_true[idx], probs[idx], operating_point)),
        lesion_ids, n_resamples=n_resamples, level=level)
    per_class: dict[str, dict] = {}
    for key in [k for k in intervals if "/" in k]:
        code, name = key.split("/")
        per_class.setdefault(code, {})[name] = intervals.pop(key)
    for values in per_class.values():
        values["too_few_images"] = max(high - low for low, high in values.values()) > TOO_WIDE
    return {"level": level, "method": "percentile bootstrap", "resamples": n_resamples,
            # labels without lesion ids count each image as its own lesion
            "resampled": "lesions" if n_lesions < len(lesion_ids) else "images", "n_resampled": n_lesions,
            **intervals, "per_class": per_class}


def by_lesion_metrics(y_true: np.ndarray, scores: Scores, lesion_ids: np.ndarray, operating_point: dict,
                      level: float = 0.95) -> dict:
    """Every image scored with its lesion's combined result (comparable with the per-image figures), the
    same over lesions counted once, the images of multi-photo lesions alone, and a lesion-bootstrap interval
    of the gain over scoring each photo alone."""
    combined = scores.combined
    metrics = evaluation_metrics(y_true, combined, operating_point)
    first = lesion_rows(lesion_ids)
    multi = multi_photo_mask(lesion_ids)
    once = evaluation_metrics(y_true[first], combined[first], operating_point)

    def gain(idx: np.ndarray) -> dict[str, float]:
        alone = classification_metrics(y_true[idx], scores.probabilities[idx], CLASSES)
        together = classification_metrics(y_true[idx], combined[idx], CLASSES)
        return {k: together[k] - alone[k] for k in ("balanced_accuracy", "macro_auc")}

    def headline_pair(rows: np.ndarray) -> dict:
        alone = evaluation_metrics(y_true[rows], scores.probabilities[rows], operating_point)
        together = evaluation_metrics(y_true[rows], combined[rows], operating_point)
        return {"n_images": int(rows.sum()),
                "per_image": {k: headline_values(alone)[k] for k in ("balanced_accuracy", "macro_auc")},
                "combined": {k: headline_values(together)[k] for k in ("balanced_accuracy", "macro_auc")}}

    n_multi = int(multi[first].sum())
    return {
        "rule": scores.rule,
        "balanced_accuracy": metrics["balanced_accuracy"],
        "macro_auc": metrics["macro_auc"],
        "malignant": metrics["malignant"],
        "melanoma": metrics["melanoma"],
        "n_images": metrics["n_images"],
        "n_lesions": int(len(first)),
        "n_multi_photo_lesions": n_multi,
        "lesions_counted_once": {k: once[k] for k in ("n_images", "balanced_accuracy", "macro_auc", "malignant", "melanoma")},
        "multi_photo_images": headline_pair(multi) if n_multi else None,
        "gain_interval": {"level": level, **cluster_bootstrap(gain, lesion_ids, level=level)},
        "note": None if n_multi else "every lesion has one photo among these images, so the combined result is "
                                     "the single photo's (the figures equal the per-image ones)",
    }


def context_inputs(path: Path, image_ids: pd.Series, model: Path, runtime: str
                   ) -> tuple[np.ndarray, dict, Encoding, dict[str, float]]:
    """The scored images' context features, the runtime's fusion (the run's context.json, or the exported
    metadata.json's ``context``), its encoding, and how often each field is absent in the whole context file."""
    table = read_context_file(path)
    absent = image_ids[~image_ids.isin(table.index)]
    if len(absent):
        raise DataError(f"{len(absent)} scored images have no row in the context file {path} (e.g. "
                        f"{absent.tolist()[:3]}); pass the metadata CSV of the same data set.")
    source = model / ("context.json" if runtime == "keras" else "metadata.json")
    fusion = json.loads(source.read_text()) if source.is_file() else {}
    fusion = fusion if runtime == "keras" else fusion.get("context")
    if not fusion:
        raise DataError(f"{source} holds no context fusion; fit one with python -m train.context (and export it).")
    encoding = Encoding.from_json(fusion["encoding"])
    return context_matrix(encoding, table.loc[image_ids]), fusion, encoding, absent_rates(table)


def paired_paths(image_ids: list[str], folder: Path) -> list[str]:
    """The files of the same image ids in ``folder``; every one must exist."""
    index = images_by_id(folder)
    absent = [i for i in image_ids if i not in index]
    if absent:
        raise DataError(f"{len(absent)} of the scored images are not in the paired folder {folder} "
                        f"(e.g. {absent[:3]}); pair two folders that hold the same image ids.")
    return [str(index[i]) for i in image_ids]


def skin_tone_outlines(model: Path, runtime: str, frame: pd.DataFrame, masks: Path | None) -> dict[str, np.ndarray]:
    """The model's lesion outline (id -> probability map, from this runtime) of each image without a HAM10000
    mask, for the skin tone around it; none when the model has no outline decoder (skin_tone.py then uses
    Otsu's)."""
    missing = frame[[mask_path(masks, i) is None for i in frame["image_id"]]]
    has_outline = (load_outline(model) is not None if runtime == "keras"
                   else "outline" in json.loads((model / "metadata.json").read_text()).get("outputs", {}))
    if missing.empty or not has_outline:
        return {}
    outlines = (keras_outlines if runtime == "keras" else browser_outlines)(model, missing["path"].tolist())
    return dict(zip(missing["image_id"], outlines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluation.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, type=Path, help="folder of labelled images")
    p.add_argument("--labels", required=True, type=Path, help="HAM metadata CSV (image_id,dx) or ISIC one-hot CSV")
    p.add_argument("--out", required=True, type=Path, help="folder for metrics.json and figures")
    p.add_argument("--runtime", choices=("keras", "browser"), default="keras")
    p.add_argument("--model", type=Path, default=None,
                   help=f"model folder (default {DEFAULT_KERAS_MODEL} for keras, {DEFAULT_BROWSER_MODEL} for browser)")
    p.add_argument("--missing", choices=("error", "skip"), default="error",
                   help="labelled images absent from --images: an error, or left out and counted in metrics.json")
    p.add_argument("--masks", type=Path, default=None,
                   help="HAM10000 lesion masks, for the skin tone around each lesion (else Otsu's; skin_tone.py)")
    p.add_argument("--context", type=Path, default=None,
                   help="HAM10000 metadata CSV (image_id, age, sex, localization): also score the patient-context "
                        "fusion against image-only (with_context in metrics.json; train/context/)")
    p.add_argument("--paired-images", type=Path, default=None,
                   help="also score the same image ids from this folder and report both side by side")
    args = p.parse_args(argv)
    score = keras_scores if args.runtime == "keras" else browser_scores
    model = args.model or (DEFAULT_KERAS_MODEL if args.runtime == "keras" else DEFAULT_BROWSER_MODEL)
    try:
        dataset = load_labelled_images(args.images, args.labels, missing=args.missing)
        frame = dataset.frame
        other = paired_paths(frame["image_id"].tolist(), args.paired_images) if args.paired_images else None
        started = time.time()
        lesions = frame["lesion_id"].astype(str).tolist()
        # one pass (one model load, one browser) over the images and their pairs; a lesion's photos and their
        # paired copies are two groups, never combined with each other
        both = score(model, frame["path"].tolist() + (other or []),
                     lesions + ([f"paired/{i}" for i in lesions] if other else []))
        scores, paired = both.rows(slice(0, len(frame))), both.rows(slice(len(frame), None)) if other else None
        context = context_inputs(args.context, frame["image_id"], model, args.runtime) if args.context else None
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    y_true = frame["label"].to_numpy()
    operating_point = scores.calibration["operating_point"]
    metrics = evaluation_metrics(y_true, scores.probabilities, operating_point)
    metrics["confidence_intervals"] = confidence_intervals(y_true, scores.probabilities, operating_point,
                                                           frame["lesion_id"].to_numpy())
    metrics["ood"] = guard_summary(scores)
    lesion_ids = frame["lesion_id"].astype(str).to_numpy()
    metrics["by_lesion"] = by_lesion_metrics(y_true, scores, lesion_ids, operating_point) if scores.rule else None
    if paired is not None:
        same = evaluation_metrics(y_true, paired.probabilities, operating_point)
        metrics["paired"] = {"images": str(args.paired_images), **headline_values(same),
                             "recall": {c: v["recall"] for c, v in same["per_class"].items()},
                             "ood": guard_summary(paired),
                             "by_lesion": by_lesion_metrics(y_true, paired, lesion_ids, operating_point)
                             if paired.rule else None}
    if context is not None:
        x, fusion, encoding, rates = context
        metrics["with_context"] = {
            "context_file": str(args.context),
            "fused_in": "python (train/context/fusion.py), from this runtime's image probabilities; the page's "
                        "context-fusion.js equals it to 1e-6 (tests/test_context.py)",
            "shipped": fusion["ship"]["passed"],
            **context_figures(y_true, scores.probabilities, x, fusion, encoding, operating_point, lesion_ids, rates,
                              scores.rule)}
    image_ids = frame["image_id"].tolist()
    metrics["isic"] = official_scores(image_ids, y_true, isic_probabilities(image_ids, scores.probabilities))
    predictions = predictions_frame(image_ids, frame["lesion_id"].astype(str).tolist(), y_true, scores.probabilities,
                                    malignancy_score(scores.probabilities), operating_point["threshold"],
                                    scores.ood_distance, scores.ood_threshold)
    itas = measure_images(dict(zip(image_ids, frame["path"])), args.masks,
                          skin_tone_outlines(model, args.runtime, frame, args.masks))
    predictions["skin_ita"] = itas["ita"].to_numpy()
    metrics["skin_tone"] = skin_tone_table(predictions, itas)
    metrics.update(runtime=args.runtime, seconds=round(time.time() - started, 1), excluded=dataset.excluded,
                   temperature=scores.calibration["temperature"], labels_file=str(args.labels),
                   images=str(args.images))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    predictions.to_csv(args.out / "predictions.csv", index=False)
    title = f"{args.images.name}/{args.labels.name}, {args.runtime} runtime, n={metrics['n_images']}"
    confusion_matrix_figure(np.array(metrics["confusion_matrix"]), list(CLASSES), args.out / "confusion_matrix.png", title)
    classification_report_figure(metrics["per_class"], args.out / "classification_report.png", title)
    print(f"{metrics['n_images']} images: balanced accuracy {metrics['balanced_accuracy']:.4f}, accuracy "
          f"{metrics['accuracy']:.4f}, macro AUC {metrics['macro_auc']:.4f}, melanoma sensitivity "
          f"{metrics['melanoma']['sensitivity']:.3f}, malignant sensitivity {metrics['malignant']['sensitivity']:.3f} "
          f"/ specificity {metrics['malignant']['specificity']:.3f}, ECE {metrics['ece']:.4f} -> {args.out}")
    print(f"official ISIC scorer ({metrics['isic']['scorer']}): balanced accuracy "
          f"{metrics['isic']['balanced_accuracy']:.4f} ({metrics['isic']['tied_images']} exact ties)")
    tone = metrics["skin_tone"]
    print("skin tone around the lesion (ITA groups): " + ", ".join(
        f"{name} n={g['n_images']} BA {g['balanced_accuracy']['value'] or float('nan'):.3f}"
        for name, g in tone["groups"].items()) + f"; not measured {tone['not_measured']}")
    low, high = metrics["confidence_intervals"]["balanced_accuracy"]
    print(f"95% interval of balanced accuracy (bootstrap over {metrics['confidence_intervals']['resampled']}): "
          f"{low:.4f}-{high:.4f}")
    if metrics["by_lesion"]:
        b = metrics["by_lesion"]
        print(f"each image scored with its lesion's combined result ({b['rule']}, {b['n_lesions']} lesions, "
              f"{b['n_multi_photo_lesions']} with several photos): balanced accuracy {b['balanced_accuracy']:.4f}, "
              f"macro AUC {b['macro_auc']:.4f}" + (f"; {b['note']}" if b["note"] else ""))
    else:
        print("no combination rule with this model (python -m train.calibration.combine writes one): by_lesion not scored")
    if metrics["ood"]:
        print(f"guard rejects {metrics['ood']['rejected_fraction']:.3f} of {metrics['ood']['n']} images")
    if context is not None:
        w = metrics["with_context"]["all"]
        low, high = w["gain_interval"]["balanced_accuracy"]
        print(f"with age, sex and body site: balanced accuracy {w['with_context']['balanced_accuracy']:.4f} against "
              f"{w['image_only']['balanced_accuracy']:.4f} image-only (gain 95% interval {low:+.4f} to {high:+.4f}); "
              f"fusion {'shipped' if metrics['with_context']['shipped'] else 'not shipped'}")
    if paired is not None:
        print(f"same images from {args.paired_images}: balanced accuracy {metrics['paired']['balanced_accuracy']:.4f}, "
              f"macro AUC {metrics['paired']['macro_auc']:.4f}"
              + (f", guard rejects {metrics['paired']['ood']['rejected_fraction']:.3f}" if metrics["paired"]["ood"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
