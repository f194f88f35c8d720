"""The split keeps every lesion on one side and keeps class ratios; the shipped split is reused as-is."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import ROOT, SHARED_DATA
from train.data.loading import DataError
from train.data.split import grouped_split, load_or_create_split


@pytest.fixture(scope="module")
def ham_metadata() -> pd.DataFrame:
    return pd.read_csv(SHARED_DATA / "metadata.csv")


def test_no_lesion_on_two_sides(ham_metadata):
    split = grouped_split(ham_metadata, seed=7)
    assert split.groupby("lesion_id")["split"].nunique().max() == 1


def test_class_ratios_are_kept(ham_metadata):
    split = grouped_split(ham_metadata, seed=7)
    shares = pd.crosstab(split["dx"], split["split"], normalize="index")
    assert shares["val"].between(0.13, 0.18).all(), shares
    assert shares["test"].between(0.13, 0.18).all(), shares
    overall = split["dx"].value_counts(normalize=True)
    for side in ("train", "val", "test"):
        side_share = split[split["split"] == side]["dx"].value_counts(normalize=True)
        assert (side_share - overall).abs().max() < 0.02


def test_same_seed_same_split_other_seed_other_split(ham_metadata):
    a, b, c = (grouped_split(ham_metadata, seed=s) for s in (1, 1, 2))
    assert a.equals(b)
    assert not a["split"].equals(c["split"])


def test_committed_split_has_no_leakage_and_covers_all_images(ham_metadata):
    split = pd.read_csv(ROOT / "models" / "ham10000" / "split.csv")
    assert set(split["image_id"]) == set(ham_metadata["image_id"])
    assert split.groupby("lesion_id")["split"].nunique().max() == 1


def test_split_file_is_reused_and_checked(ham_metadata, tmp_path):
    path = tmp_path / "split.csv"
    first = load_or_create_split(ham_metadata, path, seed=3)
    again = load_or_create_split(ham_metadata, path, seed=99)  # seed ignored: the file wins
    assert first["split"].equals(again["split"])
    with pytest.raises(DataError, match="lists other images"):
        load_or_create_split(ham_metadata.head(100), path)
