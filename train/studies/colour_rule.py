"""python -m train.studies.colour_rule: which rule should name a lesion's dermoscopic colours? (issue #46)

The six colours of the ABCD rule with Kasmi & Mokrani's (2016) reference RGB values, each lesion pixel taking the
nearest reference in RGB and a colour counting at >= 5% of the lesion, call "red" in nearly every HAM10000 lesion
of every diagnosis: pink, skin-like lesion pixels are nearer to the reference red than to anything else when
there is no "none of these". This study scores candidate rules on a labelled split that is NOT the test split
(it refuses images that --split marks as test) with HAM10000's reference masks, on each image's centre square (the
page's measuring area), and reports per candidate:

- how often each colour is present per diagnosis, nevi also split by how they were diagnosed (HAM10000's
  digital follow-up nevi were photographed with a strong red cast: the median CIELAB a* of their skin is about
  31 against 11-17 for excised lesions, so a rule that reads the cast as a colour shows it there);
- criterion 1: no colour present in more than 90% of the lesions of every diagnosis (it would say nothing);
- criterion 2: the number of colours separates melanoma from nevus at least as well as today's rule: AUC of the
  colour count, melanoma against all nevi and against histopathology-confirmed nevi only (the same acquisition
  as the melanomas, so the camera's cast cannot do the separating), with lesion-bootstrap 95% intervals;
- criterion 3: plausibility against the dermoscopy literature, as checks: more colours, more blue-grey, black and
  white in melanomas than in (histopathology-confirmed) nevi (Seidenari S, Pellacani G, Grana C, "Computer
  description of colours in dermoscopic melanocytic lesion images reproducing clinical assessment", Br J
  Dermatol 149(3):523-529, 2003: 4.27 against 3.22 colours, black, white and blue-grey more frequent in
  melanoma), and white and red more often in basal cell carcinomas and red more often in vascular lesions than in
  those nevi.

The rule chosen is the candidate that meets criteria 1 and 2 (both AUCs at least today's point estimates) and
passes the most plausibility checks, ties broken by the AUC against histopathology-confirmed nevi. The study then
checks that train/segmentation/measures.py (the page's twin) lists exactly the chosen candidate's colours on
every image.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from train.cli import reports_data_errors
from train.data.loading import DataError, load_labelled_images
from train.data.preprocess import center_square, read_rgb, shades_of_gray
from train.evaluation.intervals import cluster_bootstrap
from train.evaluation.segmentation import mask_files, reference_squares
from train.segmentation.measures import COLOUR_PRESENT_SHARE, COLOURS, lesion_measures, rgb_to_lab

NAMES = list(COLOURS)
RGB = np.array(list(COLOURS.values()), dtype=float)
LAB = rgb_to_lab(RGB)
ALWAYS = 0.90  # criterion 1: a colour present in more than this share of every diagnosis says nothing
GROUPS = ("mel", "nv", "nv histo", "nv other", "bkl", "bcc", "akiec", "df", "vasc")


class Lesion:
    """One image's lesion pixels (RGB and CIELAB), its skin (median RGB of the square outside the outline) and,
    for the Shades of Gray candidate, the white-balanced square's lesion pixels."""

    def __init__(self, square: np.ndarray, mask: np.ndarray):
        self.square, self.mask = square, mask
        self.rgb = square[mask].astype(float)
        self.lab = rgb_to_lab(self.rgb)
        outside = square[~mask]
        self.skin_lab = rgb_to_lab(np.median(outside, axis=0)) if len(outside) else None
        self.balanced = shades_of_gray(tf.convert_to_tensor(square), 6).numpy()[mask]


def nearest_shares(points: np.ndarray, references: np.ndarray, counted: np.ndarray | None = None) -> np.ndarray:
    """Share of the lesion's pixels nearest to each reference (Euclidean), over the ``counted`` ones only."""
    distance = ((points[:, None, :] - references[None, :, :]) ** 2).sum(axis=2)
    nearest = distance.argmin(axis=1)
    if counted is not None:
        nearest = nearest[counted]
    return np.bincount(nearest, minlength=len(references)) / len(points)


def rgb_rule(radius: float = np.inf) -> Callable[[Lesion], np.ndarray]:
    def shares(lesion: Lesion) -> np.ndarray:
        within = np.sqrt(((lesion.rgb[:, None] - RGB[None]) ** 2).sum(axis=2)).min(axis=1) <= radius
        return nearest_shares(lesion.rgb, RGB, within)
    return shares


def lab_rule(radius: float = np.inf, skin_delta_e: float = 0.0, skin_chroma: tuple[float, float] | None = None,
             skin_reference: bool = False, white_above_skin: bool = False) -> Callable[[Lesion], np.ndarray]:
    """Nearest reference in CIELAB (CIE76 distance); optionally no colour beyond ``radius`` of every reference,
    no colour within ``skin_delta_e`` of the skin, the lesion's a*, b* moved by what moves the skin's to
    ``skin_chroma`` (colour relative to the skin), the skin as a seventh, colourless reference, or white only
    where the pixel is lighter (higher L*) than the skin."""
    def shares(lesion: Lesion) -> np.ndarray:
        lab, skin = lesion.lab, lesion.skin_lab
        if skin_chroma is not None and skin is not None:
            lab = lab + np.array([0.0, skin_chroma[0] - skin[1], skin_chroma[1] - skin[2]])
        if skin_reference and skin is not None:
            return nearest_shares(lab, np.vstack([LAB, skin]))[: len(LAB)]
        counted = np.sqrt(((lab[:, None] - LAB[None]) ** 2).sum(axis=2)).min(axis=1) <= radius
        if skin_delta_e > 0 and skin is not None:
            counted &= ((lesion.lab - skin) ** 2).sum(axis=1) > skin_delta_e ** 2
        if white_above_skin and skin is not None:
            white = ((lab[:, None] - LAB[None]) ** 2).sum(axis=2).argmin(axis=1) == NAMES.index("white")
            counted &= ~white | (lab[:, 0] > skin[0])
        return nearest_shares(lab, LAB, counted)
    return shares


def shades_of_gray_rule(lesion: Lesion) -> np.ndarray:
    return nearest_shares(lesion.balanced, RGB)


CANDIDATES: dict[str, tuple[str, Callable[[Lesion], np.ndarray], float]] = {
    "today": ("nearest reference in RGB, present at >= 5% (Kasmi & Mokrani 2016 references)", rgb_rule(), 0.05),
    "rgb share 10%": ("today's, present at >= 10%", rgb_rule(), 0.10),
    "rgb share 20%": ("today's, present at >= 20%", rgb_rule(), 0.20),
    "rgb radius 100": ("today's, no colour beyond RGB distance 100 of every reference", rgb_rule(100), 0.05),
    "shades of gray": ("Shades of Gray (p = 6) white balance of the square first, then today's",
                       shades_of_gray_rule, 0.05),
    "lab": ("nearest reference in CIELAB (CIE76 delta E), present at >= 5%", lab_rule(), 0.05),
    "lab share 10%": ("CIELAB, present at >= 10%", lab_rule(), 0.10),
    "lab radius 40": ("CIELAB, no colour beyond delta E 40 of every reference", lab_rule(40), 0.05),
    "lab radius 45": ("CIELAB, no colour beyond delta E 45 of every reference", lab_rule(45), 0.05),
    "lab skin 5": ("CIELAB, no colour within delta E 5 of the surrounding skin", lab_rule(skin_delta_e=5), 0.05),
    "lab skin 10": ("CIELAB, no colour within delta E 10 of the surrounding skin", lab_rule(skin_delta_e=10), 0.05),
    "lab skin 15": ("CIELAB, no colour within delta E 15 of the surrounding skin", lab_rule(skin_delta_e=15), 0.05),
    "lab skin-nearest": ("CIELAB, the skin as a seventh reference: no colour where the skin is nearest",
                         lab_rule(skin_reference=True), 0.05),
    "lab relative to skin": ("CIELAB, a* b* moved so that the skin's become (14, 0), the excised lesions' median skin",
                             lab_rule(skin_chroma=(14.0, 0.0)), 0.05),
    "lab, white above skin": ("CIELAB, white only where lighter (higher L*) than the surrounding skin",
                              lab_rule(white_above_skin=True), 0.05),
}
PLAUSIBLE = [  # (colour or "count", more in, than in), against excised nevi: same acquisition, no follow-up cast
    ("count", "mel", "nv histo"), ("blue-grey", "mel", "nv histo"), ("black", "mel", "nv histo"),
    ("white", "mel", "nv histo"), ("white", "bcc", "nv histo"), ("red", "bcc", "nv histo"), ("red", "vasc", "nv histo"),
]


def groups_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row masks of each diagnosis, nevi also split into histopathology-confirmed and the rest."""
    dx = frame["dx"].to_numpy()
    histo = frame["dx_type"].to_numpy() == "histo"
    out = {name: dx == name for name in GROUPS if " " not in name}
    out["nv histo"], out["nv other"] = (dx == "nv") & histo, (dx == "nv") & ~histo
    return {name: out[name] for name in GROUPS}


def auc_pairs(frame: pd.DataFrame, groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"mel vs nv": groups["mel"] | groups["nv"], "mel vs nv histo": groups["mel"] | groups["nv histo"]}


def score(present: np.ndarray, frame: pd.DataFrame, n_resamples: int) -> dict:
    """Prevalence per group, mean count, the criteria and the AUCs (with lesion-bootstrap intervals)."""
    groups = groups_of(frame)
    count = present.sum(axis=1)
    prevalence = {g: {c: float(present[rows, k].mean()) for k, c in enumerate(NAMES)} for g, rows in groups.items()}
    mean_count = {g: float(count[rows].mean()) for g, rows in groups.items()}
    diagnoses = [g for g in GROUPS if " " not in g]
    always = [c for c in NAMES if all(prevalence[g][c] > ALWAYS for g in diagnoses)]
    mel = groups["mel"]
    lesions = frame["lesion_id"].to_numpy(str)
    aucs = {}
    for name, rows in auc_pairs(frame, groups).items():
        idx = np.flatnonzero(rows)
        y, x = mel[idx], count[idx]

        def auc(sample: np.ndarray) -> dict[str, float]:
            return {"auc": roc_auc_score(y[sample], x[sample]) if 0 < y[sample].sum() < len(sample) else np.nan}

        aucs[name] = {"auc": float(auc(np.arange(len(idx)))["auc"]),
                      "ci95": cluster_bootstrap(auc, lesions[idx], n_resamples=n_resamples)["auc"],
                      "melanomas": int(y.sum()), "nevi": int((~y).sum())}
    checks = {}
    for colour, more, than in PLAUSIBLE:
        a, b = ((mean_count[more], mean_count[than]) if colour == "count"
                else (prevalence[more][colour], prevalence[than][colour]))
        checks[f"{colour}: {more} > {than}"] = bool(a > b)
    return {"prevalence": prevalence, "mean_colours": mean_count, "always_present": always,
            "criterion_1_no_colour_always": not always, "auc_colour_count": aucs, "plausibility": checks,
            "plausible_checks_passed": int(sum(checks.values()))}


def paired_difference(chosen: np.ndarray, today: np.ndarray, frame: pd.DataFrame, n_resamples: int) -> dict:
    """AUC of the chosen rule's colour count minus today's, on the same lesion-bootstrap resamples."""
    groups = groups_of(frame)
    lesions = frame["lesion_id"].to_numpy(str)
    out = {}
    for name, rows in auc_pairs(frame, groups).items():
        idx = np.flatnonzero(rows)
        y, a, b = groups["mel"][idx], chosen.sum(axis=1)[idx], today.sum(axis=1)[idx]

        def difference(sample: np.ndarray) -> dict[str, float]:
            if not 0 < y[sample].sum() < len(sample):
                return {"difference": np.nan}
            return {"difference": roc_auc_score(y[sample], a[sample]) - roc_auc_score(y[sample], b[sample])}

        out[name] = {"difference": float(difference(np.arange(len(idx)))["difference"]),
                     "ci95": cluster_bootstrap(difference, lesions[idx], n_resamples=n_resamples)["difference"]}
    return out


def choose(results: dict[str, dict]) -> str:
    today = results["today"]["auc_colour_count"]
    eligible = [name for name, r in results.items()
                if r["criterion_1_no_colour_always"]
                and all(r["auc_colour_count"][k]["auc"] >= today[k]["auc"] for k in today)]
    if not eligible:
        raise DataError("No candidate meets criteria 1 and 2 on this split; keep today's rule.")
    return max(eligible, key=lambda n: (results[n]["plausible_checks_passed"],
                                        results[n]["auc_colour_count"]["mel vs nv histo"]["auc"]))


def table(results: dict[str, dict]) -> str:
    """The markdown table docs/lesion-measures.md shows."""
    head = ("| Rule | AUC mel vs nv | AUC mel vs excised nv | Colours mel / nv / excised nv | Red mel / nv / "
            "excised nv / follow-up nv / bcc / vasc | White mel / excised nv / bcc | Blue-grey mel / excised nv | "
            "Black mel / excised nv | Most common colour (share, diagnosis) | Checks |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in results.items():
        p, a, m = r["prevalence"], r["auc_colour_count"], r["mean_colours"]
        pct = lambda c, g: f"{100 * p[g][c]:.0f}"  # noqa: E731
        top = max(((c, g) for c in NAMES for g in GROUPS if " " not in g), key=lambda cg: p[cg[1]][cg[0]])
        auc = lambda k: f"{a[k]['auc']:.3f} ({a[k]['ci95'][0]:.3f}-{a[k]['ci95'][1]:.3f})"  # noqa: E731
        lines.append(
            f"| {name} | {auc('mel vs nv')} | {auc('mel vs nv histo')} | {m['mel']:.2f} / {m['nv']:.2f} / "
            f"{m['nv histo']:.2f} | "
            + " / ".join(pct("red", g) for g in ("mel", "nv", "nv histo", "nv other", "bcc", "vasc"))
            + " | " + " / ".join(pct("white", g) for g in ("mel", "nv histo", "bcc"))
            + f" | {pct('blue-grey', 'mel')} / {pct('blue-grey', 'nv histo')} | {pct('black', 'mel')} / "
            f"{pct('black', 'nv histo')} | {top[0]} {pct(*top)}% ({top[1]}) | "
            f"{r['plausible_checks_passed']}/{len(PLAUSIBLE)} |")
    return "\n".join(lines)


def refuse_test_images(frame: pd.DataFrame, split: Path | None) -> None:
    if split is None or not split.is_file():
        return
    splits = pd.read_csv(split)
    test = set(splits.loc[splits["split"] == "test", "image_id"])
    used = test & set(frame["image_id"])
    if used:
        raise DataError(f"{len(used)} of these images are in {split}'s test split (e.g. {sorted(used)[:3]}): the "
                        "colour rule is chosen on validation only. Pass the validation labels.")


@reports_data_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.studies.colour_rule", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, default=Path("../shared/data/ham10000/images"))
    p.add_argument("--masks", type=Path, default=Path("../shared/data/ham10000/masks"))
    p.add_argument("--labels", type=Path, default=Path("models/ham10000/val_labels.csv"),
                   help="labels CSV (image_id, dx, lesion_id) of the validation split")
    p.add_argument("--metadata", type=Path, default=Path("../shared/data/ham10000/metadata.csv"),
                   help="HAM10000 metadata with dx_type (how each diagnosis was made)")
    p.add_argument("--split", type=Path, default=Path("models/ham10000/split.csv"),
                   help="split CSV (image_id, split): images of its test split are refused")
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--out", type=Path, default=Path("reports/segmentation/colour_rule.json"))
    args = p.parse_args(argv)
    frame = load_labelled_images(args.images, args.labels).frame.reset_index(drop=True)
    refuse_test_images(frame, args.split)
    dx_type = pd.read_csv(args.metadata).set_index("image_id")["dx_type"]
    frame["dx_type"] = frame["image_id"].map(dx_type).fillna("unknown").to_numpy()
    masks = reference_squares(frame, mask_files(frame, args.masks))
    squares = [center_square(tf.convert_to_tensor(read_rgb(path))).numpy() for path in frame["path"]]
    keep = np.array([m.any() for m in masks])
    frame = frame[keep].reset_index(drop=True)
    pairs = [(s, m) for s, m, k in zip(squares, masks, keep) if k]
    lesions = [Lesion(s, m) for s, m in pairs]
    results, presence = {}, {}
    for name, (_, rule, share) in CANDIDATES.items():
        presence[name] = np.array([rule(lesion) >= share for lesion in lesions])
        results[name] = score(presence[name], frame, args.resamples)
    chosen = choose(results)
    # the page's rule must be the chosen one: lesion_measures lists exactly its colours on every image
    implemented = np.array([[c in lesion_measures(m, s)["colours_present"] for c in NAMES] for s, m in pairs])
    disagree = int((implemented != presence[chosen]).any(axis=1).sum())
    report = {
        "labels": str(args.labels), "images": len(frame), "empty_reference_masks": int((~keep).sum()),
        "diagnoses": {g: int(rows.sum()) for g, rows in groups_of(frame).items()},
        "present_share": {n: share for n, (_, _, share) in CANDIDATES.items()},
        "candidates": {n: {"rule": d, **results[n]} for n, (d, _, _) in CANDIDATES.items()},
        "chosen": chosen,
        "chosen_minus_today_auc": paired_difference(presence[chosen], presence["today"], frame, args.resamples),
        "measures_py_matches_chosen": {"images_disagreeing": disagree, "present_share": COLOUR_PRESENT_SHARE},
        "table": table(results),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(report["table"])
    print(f"chosen: {chosen}; AUC minus today's: {json.dumps(report['chosen_minus_today_auc'])}; measures.py "
          f"disagrees with it on {disagree} images")
    return 0 if disagree == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
