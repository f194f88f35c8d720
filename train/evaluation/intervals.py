"""Bootstrap confidence intervals for evaluation metrics, resampling whole lesions.

A test split of ~1,500 images has only ~20 dermatofibromas, so a balanced accuracy quoted without its
uncertainty invites reading noise as signal. Images of one lesion are not independent (HAM10000 has up to
six per lesion), so the bootstrap draws lesions, not images, with all of a drawn lesion's images.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from train.data.pairs import rows_by_group


def cluster_bootstrap(
    statistics: Callable[[np.ndarray], dict[str, float]],
    groups: np.ndarray,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Percentile interval ``[low, high]`` of each value ``statistics(indices)`` returns.

    Each resample draws as many groups as there are, with replacement, and passes the indices of all their
    members; values that come out NaN in a resample (a class drawn with no images) are left out of that
    statistic's percentiles.
    """
    _, members = rows_by_group(groups)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_resamples):
        drawn = rng.integers(0, len(members), size=len(members))
        for name, value in statistics(np.concatenate([members[g] for g in drawn])).items():
            samples.setdefault(name, []).append(value)
    tail = 100 * (1 - level) / 2
    return {name: [float(v) for v in np.nanpercentile(values, [tail, 100 - tail])] for name, values in samples.items()}
