"""Same-lesion pairs for consistency training (``--consistency``): every image the class-balanced sampler
draws brings a second photo of its lesion.

HAM10000 holds real second views of many lesions (another angle, zoom or light, same visit): 1,372 lesions of
the training split have two or more photos. A drawn image's partner is one of its lesion's other photos, drawn
uniformly; an image whose lesion has a single photo is its own partner, and the two copies differ only by the
augmentation each gets (flips, rotation, colour and the acquisition changes are drawn per image). Partners
share their anchor's label, so a batch's class mix is the anchors' mix: the square-root balanced sampling is
unchanged. Only the rows passed in are paired: training passes its training split alone.
"""
from __future__ import annotations

import numpy as np


def rows_by_group(groups: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each row's group code (0..G-1, in sorted group order) and each group's row positions."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    return codes, np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


def partner_indices(lesion_ids: np.ndarray, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each anchor row, another row of the same lesion (uniformly), or the anchor itself if it has none."""
    codes, members = rows_by_group(lesion_ids)
    partners = np.empty_like(anchors)
    for i, anchor in enumerate(anchors):
        rows = members[codes[anchor]]
        others = rows[rows != anchor]
        partners[i] = rng.choice(others) if len(others) else anchor
    return partners


def interleaved(anchors: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """anchor 0, partner 0, anchor 1, partner 1, ...: a pair never straddles an even-sized batch (or replica)."""
    return np.stack([anchors, partners], axis=1).reshape(-1)
