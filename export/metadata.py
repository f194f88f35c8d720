"""The metadata.json the browser reads for everything training decided."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from export.classes import BODY_SITES, CLASS_INFO
from export.mixed import uint8_layer_names
from export.tfjs import model_file_digests, output_nodes, uint8_weights, weight_bytes
from train.model.explained import load_ood_summary

DATASET = {
    "name": "HAM10000",
    "citation": "Tschandl P, Rosendahl C, Kittler H. The HAM10000 dataset, a large collection of multi-source "
    "dermatoscopic images of common pigmented skin lesions. Sci Data 5, 180161 (2018).",
    "url": "https://doi.org/10.7910/DVN/DBW86T",
    "licence": "CC BY-NC-SA 4.0",
    "skew": "Dermoscopic images from Austria and Australia, mostly light skin; 67% of images are nevi.",
}
HEADLINE_KEYS = ("n_images", "balanced_accuracy", "accuracy", "macro_auc", "ece")


def headline(metrics: dict) -> dict:
    """The figures the pages quote. Per-class figures only for the classes the condition has images of (the
    external condition has three): a class without images has no sensitivity, and the page must not read one."""
    out = {k: metrics[k] for k in HEADLINE_KEYS if k in metrics}
    present = {c for c, v in metrics["per_class"].items() if v.get("support", 1)}
    out["recall"] = {c: v["recall"] for c, v in metrics["per_class"].items() if c in present}
    # confidence_intervals: the page words its risk message from the melanoma sensitivity's interval and marks the
    # classes whose per-class intervals are too wide to judge (train/evaluation/intervals.py)
    for key in ("melanoma", "malignant", "ood", "confidence_intervals"):
        if key in metrics:
            out[key] = metrics[key]
    if "confidence_intervals" in out and "per_class" in out["confidence_intervals"]:
        intervals = out["confidence_intervals"]
        out["confidence_intervals"] = {**intervals,
                                       "per_class": {c: v for c, v in intervals["per_class"].items() if c in present}}
    return out


def build_metadata(train_dir: Path, tfjs_dir: Path, quantization: str, test_metrics: dict[str, dict] | None) -> dict:
    """Everything the browser and the model card read; ``test_metrics`` maps an evaluation condition (e.g.
    ``low``, ``sharp``) to the metrics.json that ``python -m train.evaluation.evaluate`` wrote for it."""
    config = json.loads((train_dir / "config.json").read_text())
    calibration = json.loads((train_dir / "calibration.json").read_text())
    val_metrics = json.loads((train_dir / "val_metrics.json").read_text())
    digests = model_file_digests(tfjs_dir)
    weights_digest = hashlib.sha256("".join(d for name, d in digests.items() if name != "model.json").encode()).hexdigest()
    today = dt.date.today().isoformat()
    return {
        "format_version": 1,
        "model_version": f"{today}-{weights_digest[:8]}",
        "created": today,
        "classes": [{"code": c, **CLASS_INFO[c]} for c in config["classes"]],
        "preprocessing": config["preprocessing"],
        "output": "logits",
        # graph node of each output: logits, cams (per-class activation maps), ood_distance
        "outputs": output_nodes(tfjs_dir),
        "explanation": {"method": "class activation map (CAM) of the GAP -> dense head", "output": "cams"},
        "ood": load_ood_summary(train_dir),
        # probabilities = softmax((logits + class_bias) / temperature); see train/calibration/calibrate.py
        "class_bias": calibration["class_bias"],
        "prior_strength": calibration["prior_strength"],
        "temperature": calibration["temperature"],
        "operating_point": calibration["operating_point"],
        # photo-to-photo noise of the malignancy score (train/calibration/change_margin.py): the lesion history's margin
        "change": json.loads(change.read_text()) if (change := train_dir / "change_margin.json").is_file() else None,
        # how several photos of one lesion give one answer, and a combined visit's noise (train/calibration/combine.py)
        "combination": json.loads(rule.read_text()) if (rule := train_dir / "combination.json").is_file() else None,
        # age, sex and body site folded in (train/context/): coefficients, and whether the ship rule let the page use them
        "context": json.loads(fusion.read_text()) if (fusion := train_dir / "context.json").is_file() else None,
        "metrics": {"validation": headline(val_metrics), "test": {condition: headline(m) for condition, m in test_metrics.items()} if test_metrics else None},
        "backbone": {"architecture": "MobileNetV2", "alpha": config["alpha"], "weights": config["backbone_style"],
                     "fine_tune_from": config["fine_tune_from"], "input_size": config["size"]},
        "quantization": quantization,
        # layers whose (batch-norm folded) kernels are stored in uint8, read from model.json (export/mixed.py)
        "uint8_layers": uint8_layer_names(uint8_weights(tfjs_dir)) if quantization == "mixed" else [],
        "model_bytes": weight_bytes(tfjs_dir),
        "training": {"config": config,
                     "config_sha256": hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()},
        "dataset": {**DATASET, "localizations": list(BODY_SITES)},
        "licence": {"code": "MIT", "model_and_data": "CC BY-NC-SA 4.0 (model trained on HAM10000)"},
        "intended_use": "Decision support for clinicians on dermoscopic close-ups of pigmented skin lesions. "
        "Not a diagnosis.",
        "sha256": digests,
        "weights_sha256": weights_digest,
    }
