"""What the lesion history relies on from training, export and the build: the photo-to-photo noise margin,
the body-site list, and file:// bundles of the history page."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from build import FILE_BUNDLES, module_bundle
from export.classes import BODY_SITES
from tests.conftest import HAM_FIXTURES, ROOT, SHARED_DATA
from train.calibration.change_margin import change_margin, same_lesion_pairs
from train.data.loading import DataError


def test_pairs_are_every_two_images_of_one_lesion():
    pairs = same_lesion_pairs(pd.Series(["a", "b", "a", "c", "a", "b"]))
    assert sorted(map(tuple, pairs.tolist())) == [(0, 2), (0, 4), (1, 5), (2, 4)]


def test_margin_is_the_quantile_of_same_lesion_differences_and_counts_crossings():
    lesions = pd.Series(["a", "a", "b", "b", "c", "c", "d"])
    scores = np.array([0.10, 0.20, 0.25, 0.35, 0.0, 0.8, 0.9])
    summary = change_margin(scores, lesions, threshold=0.3, quantile=0.5)
    assert summary["margin"] == pytest.approx(0.1)  # median of 0.1, 0.1, 0.8
    assert summary["crossing_rate"] == pytest.approx(2 / 3)  # b and c straddle 0.3, a does not
    assert summary["n_pairs"] == 3 and summary["n_lesions"] == 3


def test_margin_needs_a_lesion_with_two_images():
    with pytest.raises(DataError, match="No lesion has two images"):
        change_margin(np.array([0.1, 0.2]), pd.Series(["a", "b"]), threshold=0.3)


def test_body_sites_are_ham10000_localizations():
    assert set(pd.read_csv(HAM_FIXTURES / "metadata.csv")["localization"]) <= set(BODY_SITES)
    assert set(pd.read_csv(SHARED_DATA / "metadata.csv")["localization"]) == set(BODY_SITES)


@pytest.mark.parametrize("entry", sorted(FILE_BUNDLES))
def test_file_bundles_declare_each_name_once(entry):
    """The modules of a file:// bundle share one scope: two modules declaring one name would break it."""
    bundle = module_bundle(ROOT / "site" / "js" / entry)
    names = re.findall(r"^(?:async )?(?:function|class|const|let) (\w+)", bundle, re.M)
    assert len(names) > 10
    assert [n for n in set(names) if names.count(n) > 1] == []
    assert not re.search(r"^(import|export) ", bundle, re.M)
