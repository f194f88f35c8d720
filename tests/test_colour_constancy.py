"""Shades of Gray colour constancy (#43): what it does to an image, that the page applies it exactly as training
does, and that runs saved before it existed read as without it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from export.browser_scoring import scoring_page
from train.data.preprocess import Preprocessing, center_square, normalise, read_rgb, resize_square, shades_of_gray
from train.model.predict import load_run

ROOT = Path(__file__).resolve().parent.parent
IMAGES = sorted((ROOT / "tests" / "fixtures" / "ham10000" / "images").glob("*.jpg"))[:4]
SHARP = sorted((ROOT / "tests" / "fixtures" / "ham10000_sharp" / "images").glob("*.jpg"))[:2]


def test_a_colour_cast_is_undone_and_grey_stays_grey():
    rng = np.random.default_rng(0)
    scene = rng.uniform(40, 180, (1, 32, 32, 3)).astype(np.float32)
    cast = scene * np.array([1.3, 1.0, 0.7], np.float32)  # a warm light on the same scene (nothing clips)
    balanced, reference = shades_of_gray(cast, 6).numpy(), shades_of_gray(scene, 6).numpy()
    # the same colours; only the overall brightness may differ (the grey keeps the illuminant's length)
    np.testing.assert_allclose(balanced / balanced.mean(), reference / reference.mean(), rtol=1e-4)
    assert not np.allclose(cast / cast.mean(), reference / reference.mean(), rtol=0.05)
    grey = np.full((1, 8, 8, 3), 90.0, np.float32)
    np.testing.assert_allclose(shades_of_gray(grey, 6).numpy(), grey, atol=1e-3)
    assert not shades_of_gray(np.zeros((1, 8, 8, 3), np.float32), 6).numpy().any()  # black stays black


def test_normalise_applies_it_only_when_the_run_asks():
    prep = Preprocessing(size=16, mean=(127.5,) * 3, std=(127.5,) * 3)
    x = np.random.default_rng(1).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32) * np.array([1, 0.8, 0.6], np.float32)
    plain = normalise(x, prep).numpy()
    np.testing.assert_allclose(plain, (x - 127.5) / 127.5, atol=1e-6)
    balanced = normalise(x, Preprocessing(**{**prep.to_dict(), "colour_constancy": 6})).numpy()
    np.testing.assert_allclose(balanced, (shades_of_gray(x, 6).numpy() - 127.5) / 127.5, atol=1e-6)
    assert np.abs(balanced - plain).max() > 0.1


def test_a_run_saved_before_colour_constancy_reads_as_without_it():
    config = json.loads((ROOT / "models" / "ham10000" / "config.json").read_text())
    assert "colour_constancy" not in config["preprocessing"]
    assert load_run(ROOT / "models" / "ham10000").prep.colour_constancy == 0


@pytest.mark.browser
def test_the_page_white_balances_exactly_as_training(browser):
    run = load_run(ROOT / "models" / "ham10000")
    prep = Preprocessing(**{**run.prep.to_dict(), "colour_constancy": 6})
    paths = [str(p) for p in [*IMAGES, *SHARP]]
    with scoring_page(ROOT / "site" / "model", paths, browser=browser) as page:
        shown = page.evaluate("""async ([count, prep]) => {
            const out = [];
            for (let i = 0; i < count; i++) {
                const bitmap = await window.core.decodeImage(await (await fetch(`/__images__/${i}`)).blob());
                const x = window.core.preprocess(window.classifier.tf, bitmap, prep);
                out.push(Array.from(await x.data()));
                x.dispose();
            }
            return out;
        }""", [len(paths), prep.to_dict()])
    for path, values in zip(paths, shown):
        square = center_square(tf.convert_to_tensor(read_rgb(path)))
        expected = normalise(resize_square(square, prep.size), prep).numpy()
        np.testing.assert_allclose(np.reshape(values, expected.shape), expected, atol=2e-3, err_msg=path)
        unbalanced = normalise(resize_square(square, prep.size), run.prep).numpy()
        assert np.abs(expected - unbalanced).max() > 0.02  # the test would see a page that skipped it
