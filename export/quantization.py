"""The quantization comparison: every export scored in Chromium against the Keras model, in every evaluation
condition, and the rule that picks the one that ships (see export/__main__.py and export/mixed.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from export.metadata import build_metadata
from export.agreement import answer_agreement
from export.mixed import (
    MAX_AUC_DROP,
    MAX_BALANCED_ACCURACY_DROP,
    MAX_PROBABILITY_DIFF,
    MIN_REFERRAL_AGREEMENT,
    MIN_TOP1_AGREEMENT,
    user_rule,
)
from export.tfjs import QUANTIZATIONS, ExportError, convert_run, weight_bytes
from train.data.loading import CLASSES, load_labelled_images
from train.evaluation.metrics import classification_metrics

Condition = tuple[list[str], np.ndarray]  # image paths and their labels


def split_conditions(train_dir: Path, data: Path | None, split: str = "val") -> dict[str, Condition]:
    """A split (``val`` or ``test``) as 200x150 copies (``low``) and, where the run had them, as sharp crops."""
    config = json.loads((train_dir / "config.json").read_text())
    labels = train_dir / f"{split}_labels.csv"
    frames = {"low": load_labelled_images(data or Path(config["data"]), labels).frame}
    if config.get("override_images"):
        frames["sharp"] = load_labelled_images(Path(config["override_images"]), labels, missing="skip").frame
    return {name: (frame["path"].tolist(), frame["label"].to_numpy()) for name, frame in frames.items()}


def uint8_layer_choice(train_dir: Path, conditions: dict[str, Condition]) -> tuple[dict, dict[str, np.ndarray]]:
    """export/mixed.py's choice, simulated in Keras on every condition's validation images, and the Keras
    model's calibrated probabilities of those images."""
    from export.mixed import choose_uint8_layers
    from train.model.predict import load_run, model_inputs

    run = load_run(train_dir)
    print(f"mixed: choosing the uint8 layers on {sum(len(paths) for paths, _ in conditions.values())} validation "
          "images", flush=True)
    inputs = {name: (list(model_inputs(paths, run.prep)), labels) for name, (paths, labels) in conditions.items()}
    return choose_uint8_layers(run.model, inputs, run.calibration)


def score_export(model_dir: Path, condition: Condition, keras_probs: np.ndarray, threshold: float,
                 guard: float | None) -> dict:
    from export.browser_scoring import browser_outputs

    paths, labels = condition
    out = browser_outputs(model_dir, paths)
    metrics = classification_metrics(labels, out["probabilities"], CLASSES)
    row = {"balanced_accuracy": metrics["balanced_accuracy"], "macro_auc": metrics["macro_auc"],
           "accuracy": metrics["accuracy"], "n_images": metrics["n_images"],
           **answer_agreement(keras_probs, out["probabilities"], threshold)}
    if guard is not None:
        row["guard_rejects"] = float((out["ood_distance"] > guard).mean())
    return row


def compare_quantizations(train_dir: Path, conditions: dict[str, Condition], workdir: Path) -> tuple[list[dict], dict]:
    """Every quantization scored in Chromium in every condition against the Keras model; and the mixed
    export's layer choice."""
    choice, keras = uint8_layer_choice(train_dir, conditions)
    threshold = json.loads((train_dir / "calibration.json").read_text())["operating_point"]["threshold"]
    rows = []
    for name in [q for q in QUANTIZATIONS if q != "mixed" or choice["layers"]]:  # no layer passed: no mixed export
        out = workdir / name
        convert_run(train_dir, out, name, tuple(choice["layers"]) if name == "mixed" else ())
        metadata = build_metadata(train_dir, out, name, None)
        (out / "metadata.json").write_text(json.dumps(metadata))
        guard = (metadata.get("ood") or {}).get("threshold")
        row = {"quantization": name, "model_bytes": weight_bytes(out),
               "conditions": {c: score_export(out, conditions[c], keras[c], threshold, guard) for c in conditions}}
        rows.append(row)
        print(f"{name}: {row['model_bytes']:,} bytes; " + "; ".join(
            f"{c}: balanced accuracy {r['balanced_accuracy']:.4f}, top-1 {r['top1_agreement']:.4f}, referral "
            f"{r['referral_agreement']:.4f}, max |dp| {r['max_abs_diff']:.4f}" for c, r in row["conditions"].items()),
            flush=True)
    return rows, choice


def passes(row: dict, rows: list[dict]) -> bool:
    """``user_rule`` against the float32 export, in every condition."""
    ref = next(r for r in rows if r["quantization"] == "float32")
    return all(user_rule(figures, ref["conditions"][c]) for c, figures in row["conditions"].items())


def choose_quantization(rows: list[dict]) -> str:
    """The smallest export that passes the rule in every condition."""
    ok = [r for r in rows if passes(r, rows)]
    if not ok:
        raise ExportError("No quantization (not even float32) matches the Keras model in the browser; "
                          "check preprocessing parity before shipping.")
    return min(ok, key=lambda r: r["model_bytes"])["quantization"]


RULE = (f"the smallest export that, in every condition, gives the Keras model's top class on >= "
        f"{MIN_TOP1_AGREEMENT:.0%} and its referral decision on >= {MIN_REFERRAL_AGREEMENT:.1%} of images, "
        f"balanced accuracy within {MAX_BALANCED_ACCURACY_DROP} and macro AUC within {MAX_AUC_DROP} of float32, "
        f"and moves no probability by more than {MAX_PROBABILITY_DIFF}")
RULE_CHANGE = ("Until this rule, every probability had to stay within 0.02 of Keras. No weight stored in uint8 can "
               "meet that, and it judged a change a user never acts on; the referral decision (the malignancy score "
               "against the operating point) and the top class are what a user acts on, so the rule now counts "
               "those, image by image, and bounds the largest probability change at 0.10.")


def write_quantization_report(rows: list[dict], chosen: str, choice: dict, reports: Path) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "quantization.json").write_text(json.dumps({"chosen": chosen, "rule": {
        "min_top1_agreement_with_keras": MIN_TOP1_AGREEMENT, "min_referral_agreement_with_keras": MIN_REFERRAL_AGREEMENT,
        "max_balanced_accuracy_drop": MAX_BALANCED_ACCURACY_DROP, "max_macro_auc_drop": MAX_AUC_DROP,
        "max_abs_diff_vs_keras": MAX_PROBABILITY_DIFF, "text": RULE, "why_it_changed": RULE_CHANGE},
        "mixed_uint8_layers": choice, "candidates": rows}, indent=2))
    lines = ["| quantization | weight bytes | condition | images | val balanced accuracy | val macro AUC | top-1 "
             "agreement with Keras | referral agreement | max abs diff vs Keras | guard rejects | passes | shipped |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for c, f in r["conditions"].items():
            lines.append(f"| {r['quantization']} | {r['model_bytes']:,} | {c} | {f['n_images']} | {f['balanced_accuracy']:.4f} "
                         f"| {f['macro_auc']:.4f} | {f['top1_agreement']:.4f} | {f['referral_agreement']:.4f} "
                         f"| {f['max_abs_diff']:.4f} | {f.get('guard_rejects', float('nan')):.2%} "
                         f"| {'yes' if passes(r, rows) else 'no'} | {'yes' if r['quantization'] == chosen else ''} |")
    layers = ", ".join(f"`{name}`" for name in choice["layers"])
    (reports / "quantization.md").write_text(
        "# Quantization, scored in headless Chromium (TF.js) on the validation split\n\n" + "\n".join(lines)
        + f"\n\nRule: {RULE}.\n\n{RULE_CHANGE}\n\n"
        f"Mixed: {len(choice['layers'])} of the {choice['n_pointwise']} pointwise convolutions in uint8 "
        f"({choice['uint8_parameters']:,} weights), chosen by export/mixed.py on the validation images of both "
        f"conditions: {layers}.\n")
