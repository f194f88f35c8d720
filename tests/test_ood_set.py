"""The OOD evaluation set is built from offline material, every image readable and labelled."""
from __future__ import annotations

import pandas as pd
from PIL import Image

from tests.conftest import HAM_FIXTURES
from train.guard.ood_set import main


def test_ood_set_has_photos_synthetics_and_lesions_that_must_pass(tmp_path):
    out = tmp_path / "ood"
    assert main(["--out", str(out), "--lesion-images", str(HAM_FIXTURES / "images"),
                 "--lesion-labels", str(HAM_FIXTURES / "metadata.csv"), "--n-lesions", "2"]) == 0
    manifest = pd.read_csv(out / "manifest.csv")
    counts = manifest.groupby("category").size()
    assert {"photo", "solid", "noise", "gradient", "text", "screenshot"} <= set(counts.index)
    assert counts["photo"] >= 100  # bundled sample photos and crops of them
    lesions = manifest[manifest["expected"] == "accept"]
    assert len(lesions) == 10 and set(lesions["category"].str.split("-").str[0]) == {"lesion"}
    assert set(manifest["expected"]) == {"accept", "reject"}
    for f in manifest["file"].sample(20, random_state=0):
        with Image.open(out / f) as image:
            assert image.mode == "RGB" and min(image.size) >= 100


def test_half_a_lesion_source_is_a_clear_error(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--lesion-images", str(HAM_FIXTURES / "images")]) == 2
    assert "give both" in capsys.readouterr().err
