"""The shipped TF.js model in Chromium agrees with the Keras model it was exported from, on real images."""
from __future__ import annotations

import json

import pytest

from export.parity import parity
from export.tfjs import sha256_file
from tests.conftest import HAM_FIXTURES, ROOT, SHARP_FIXTURES

pytestmark = pytest.mark.browser
SITE_MODEL = ROOT / "site" / "model"


def test_shipped_model_matches_keras_on_fixture_images(browser):
    # both sources: the 200x150 copies are upsampled to the input, the sharp 224 px crops downsampled
    paths = [str(p) for p in [*sorted((HAM_FIXTURES / "images").glob("*.jpg")), *sorted(SHARP_FIXTURES.glob("*.jpg"))]]
    result = parity(ROOT / "models" / "ham10000", SITE_MODEL, paths, browser=browser)
    assert result["n_images"] == 28 + 15
    # float16 weights move probabilities by up to ~0.01, so only a near-tie may change the top class
    assert result["top1_agreement"] >= 0.95
    assert result["largest_top1_gap"] <= 0.02
    assert result["max_abs_diff"] <= 0.02
    # the heatmap and the OOD score shown in the page are the ones measured in Python
    assert result["cam_peak_agreement"] >= 0.95
    assert result["cam_max_abs_diff"] <= 0.05
    assert result["ood_max_relative_diff"] <= 0.02


def test_shipped_metadata_matches_the_shipped_files():
    metadata = json.loads((SITE_MODEL / "metadata.json").read_text())
    for name, digest in metadata["sha256"].items():
        assert sha256_file(SITE_MODEL / name) == digest, name
    assert metadata["model_bytes"] <= 5_000_000
