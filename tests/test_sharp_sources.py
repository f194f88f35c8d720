"""The shipped model and its guard treat a sharp photo like the 200x150 copy of the same lesion."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import HAM_FIXTURES, ROOT, SHARP_FIXTURES

MODEL = ROOT / "models" / "ham10000"
SHARP = sorted(SHARP_FIXTURES.glob("*.jpg"))
LOW = [HAM_FIXTURES / "images" / p.name for p in SHARP]


@pytest.fixture(scope="module")
def scores():
    from train.evaluation.evaluate import keras_scores

    return {name: keras_scores(MODEL, [str(p) for p in paths]) for name, paths in (("sharp", SHARP), ("low", LOW))}


def rejected(s) -> np.ndarray:
    return s.ood_distance > s.ood_threshold


def test_guard_turns_away_as_many_sharp_crops_as_their_200x150_copies(scores):
    # Fitted on the 200x150 copies alone, the guard rejected 90% of the sharp crops and 2% of the copies.
    assert len(SHARP) == 15
    assert abs(rejected(scores["sharp"]).mean() - rejected(scores["low"]).mean()) <= 1 / 15
    assert rejected(scores["sharp"]).sum() <= 1
