"""Outlier exposure for the guard (``python -m train.guard.ood --negatives DIR``): it learns what a lesion is not.

The distance guard knows only how far a photo lies from the lesions it was fitted on; fitted on several clinics'
lesions, that region grows until ordinary photos fit inside it (the ISIC-fitted guard let 7.5% of the non-lesion
set through, issue #43). Outlier exposure (Hendrycks et al. 2019) adds images that are *not* lesions to the fit:
a logistic regression (scikit-learn) on the guard's two feature sets -- the early layer's colour and texture
statistics and the pooled top features the head reads -- separates every source's lesion photos from the
negatives. Its logit is one more part of the guard, beside the distance: a photo either part rejects is
rejected. Being linear, it folds into one weight vector and a bias that the exported graph applies
(train/model/explained.py).

The negatives are a fitting set only: never in validation, calibration or the evaluation set
(``train.guard.ood_set``); a negative that is also one of the lesion images is refused.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from train.data.loading import IMAGE_SUFFIXES, DataError
from train.model.explained import NEGATIVE


def negative_images(folder: Path) -> list[Path]:
    """The image files of a negatives folder (``images/`` inside it, or the folder itself)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"Negatives folder not found: {folder}. Pass a folder of photos that are not skin lesions "
                        "(e.g. ../shared/data/not_lesions_imagenet_sample).")
    images = folder / "images" if (folder / "images").is_dir() else folder
    files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{images} holds no images ({', '.join(IMAGE_SUFFIXES)}): the guard needs photos that are not lesions "
                        "to learn from; nothing was fitted.")
    return files


def digest(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def refuse_leaks(negatives: list[Path], lesion_paths: list[str]) -> None:
    """A negative that is one of the lesion images (by name or by content) would teach the guard to turn that
    lesion away: refuse it, naming the files."""
    ids = {Path(p).stem for p in lesion_paths}
    by_name = [n for n in negatives if n.stem in ids]
    contents = {digest(n): n for n in negatives}
    by_content = [contents[d] for d in {digest(p) for p in lesion_paths} & set(contents)]
    leaked = sorted(set(by_name) | set(by_content))
    if leaked:
        raise DataError(f"{len(leaked)} negative image(s) are also lesion images of the guard's fit or validation "
                        f"(e.g. {', '.join(str(p) for p in leaked[:3])}): remove them from the negatives folder; "
                        "nothing was fitted.")


def fit_outlier_exposure(lesions: np.ndarray, negatives: np.ndarray, regularisation: float = 0.1) -> dict:
    """A class-balanced logistic regression, not-a-lesion vs lesion, on standardised features, folded into one
    weight vector and bias on the raw features (so the graph needs no separate scaler)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([lesions, negatives]).astype(np.float64)
    y = np.r_[np.zeros(len(lesions)), np.ones(len(negatives))]
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=2000).fit(scaler.transform(x), y)
    weights = model.coef_[0] / scaler.scale_
    bias = model.intercept_[0] - float(scaler.mean_ @ weights)
    return {f"{NEGATIVE}weights": weights.astype(np.float32), f"{NEGATIVE}bias": np.float32(bias)}


def joined_features(features: dict[str, np.ndarray]) -> np.ndarray:
    """What the logistic regression reads: the early statistics and the pooled features side by side."""
    return np.concatenate([features["early"], features["late"]], axis=1)


def negative_logit(features: dict[str, np.ndarray], stats: dict) -> np.ndarray:
    """The not-a-lesion logit of the early statistics and pooled features, as the exported graph computes it."""
    return joined_features(features) @ stats[f"{NEGATIVE}weights"] + stats[f"{NEGATIVE}bias"]


def negative_part(logit: np.ndarray) -> np.ndarray:
    """The logit as a positive score that grows with it (softplus), comparable with a distance once scaled."""
    return np.logaddexp(0.0, logit)
