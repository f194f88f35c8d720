"""The camera/source augmentation: each change does what it says, draws are seeded, and together they span
the 200x150 copies and the sharp crops of the same lesions."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import HAM_FIXTURES, SHARP_FIXTURES
from train.data.arrays import resized_pixels
from train.data.augment import ACQUISITION, OPTICS, _acquire_one, acquisition_augment, optics_augment
from train.data.preprocess import KERAS_MEAN, KERAS_STD, Preprocessing

PREP = Preprocessing(160, KERAS_MEAN, KERAS_STD)
NAMES = tuple(ACQUISITION)  # draws come in (apply, value) pairs, in this order
TWINS = sorted(SHARP_FIXTURES.glob("*.jpg"))[:6]


@pytest.fixture(scope="module")
def sharp() -> np.ndarray:
    return resized_pixels([str(p) for p in TWINS], PREP)


@pytest.fixture(scope="module")
def low() -> np.ndarray:
    return resized_pixels([str(HAM_FIXTURES / "images" / p.name) for p in TWINS], PREP)


def detail(images: np.ndarray) -> np.ndarray:
    """Per-image high-frequency energy: the standard deviation of the Laplacian of the grey image."""
    grey = np.asarray(images, dtype=np.float64).mean(axis=-1)
    lap = 4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1] - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:]
    return lap.std(axis=(1, 2))


def only(name: str, value: float) -> tf.Tensor:
    """Draws that apply change ``name`` alone, at ``value`` (0..1 across its range)."""
    draws = np.ones(2 * len(NAMES), dtype=np.float32)  # an apply draw of 1 never applies
    i = NAMES.index(name)
    draws[2 * i : 2 * i + 2] = (0.0, value)
    return tf.constant(draws)


def apply(image: np.ndarray, draws: tf.Tensor, noise: np.ndarray | None = None) -> np.ndarray:
    noise = np.zeros_like(image) if noise is None else noise
    return _acquire_one(tf.constant(image), draws, tf.constant(noise, tf.float32)).numpy()


def test_no_change_drawn_leaves_the_image_as_it_is(sharp):
    assert np.array_equal(apply(sharp[0], tf.ones(2 * len(NAMES))), sharp[0])


@pytest.mark.parametrize("name", ["rescale", "blur"])
def test_rescaling_and_blur_remove_detail(sharp, name):
    strongest = 0.0 if name == "rescale" else 1.0
    out = np.stack([apply(x, only(name, strongest)) for x in sharp])
    assert (detail(out) < 0.6 * detail(sharp)).all()


def test_sharpening_adds_detail(low):
    out = np.stack([apply(x, only("sharpen", 1.0)) for x in low])
    assert (detail(out) > 1.5 * detail(low)).all()


def test_noise_has_the_drawn_strength(sharp):
    noise = np.random.default_rng(0).normal(size=sharp[0].shape).astype(np.float32)
    out = apply(sharp[0], only("noise", 1.0), noise)
    assert np.std(out - sharp[0]) == pytest.approx(ACQUISITION["noise"][1][1], rel=0.1)


def test_jpeg_recompression_changes_pixels_a_little(sharp):
    out = apply(sharp[0], only("jpeg", 0.0))
    assert 0.3 < np.abs(out - sharp[0]).mean() < 8


def test_batches_are_reproducible_per_seed_and_stay_in_range(sharp):
    first = acquisition_augment(sharp, tf.constant([7, 0], tf.int64)).numpy()
    again = acquisition_augment(sharp, tf.constant([7, 0], tf.int64)).numpy()
    other = acquisition_augment(sharp, tf.constant([7, 1], tf.int64)).numpy()
    assert first.shape == sharp.shape and first.dtype == np.float32
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.min() >= 0 and first.max() <= 255


def test_random_changes_of_sharp_crops_span_their_200x150_copies(sharp, low):
    # The point of the augmentation: a sharp crop's augmented views include ones as soft as its 200x150 copy
    # and ones at least as detailed, so the network cannot tell the two sources apart by sharpness.
    views = np.stack([detail(acquisition_augment(sharp, tf.constant([3, k], tf.int64)).numpy()) for k in range(24)])
    assert (views.min(axis=0) < detail(low)).all()
    assert (views.max(axis=0) >= detail(sharp)).all()


def test_an_ablation_applies_only_the_chosen_changes_with_the_full_runs_draws(sharp):
    seed = tf.constant([5, 2], tf.int64)
    rescaled = acquisition_augment(sharp, seed, changes=("rescale",)).numpy()
    drawn = tf.random.stateless_uniform([len(sharp), 2 * len(NAMES)], seed=seed).numpy()
    applied = drawn[:, 0] < ACQUISITION["rescale"][0]
    assert applied.any() and not applied.all()  # the seed draws both cases
    for image, out, rescale in zip(sharp, rescaled, applied):
        # exactly the images whose rescale draw applies change, and only by losing detail (no noise, no JPEG)
        assert np.array_equal(out, image) != rescale
        assert detail(out[None])[0] <= detail(image[None])[0] + 1e-6
    assert np.array_equal(acquisition_augment(sharp, seed, changes=()).numpy(), sharp.astype(np.float32))


def test_the_command_line_checks_the_ablated_changes():
    from train.__main__ import parse_args

    config = parse_args(["--data", "d", "--out", "o", "--acquisition", "--acquisition-changes", "rescale, jpeg"])
    assert config.acquisition_changes == ("rescale", "jpeg")
    assert parse_args(["--data", "d", "--out", "o"]).acquisition_changes == NAMES
    for wrong in (["--acquisition", "--acquisition-changes", "rescale,focus"], ["--acquisition-changes", "blur"]):
        with pytest.raises(SystemExit):
            parse_args(["--data", "d", "--out", "o", *wrong])


def test_optics_changes_are_reproducible_per_seed_and_stay_in_range(sharp):
    first = optics_augment(sharp, tf.constant([7, 0], tf.int64)).numpy()
    assert np.array_equal(first, optics_augment(sharp, tf.constant([7, 0], tf.int64)).numpy())
    assert not np.array_equal(first, optics_augment(sharp, tf.constant([7, 1], tf.int64)).numpy())
    assert first.shape == sharp.shape and first.min() >= 0 and first.max() <= 255


def test_optics_tint_dim_and_rim_at_their_rates_and_keep_the_centres_brightness():
    grey = np.full((400, 64, 64, 3), 128.0, np.float32)
    out = optics_augment(grey, tf.constant([3, 4], tf.int64)).numpy()
    centre, corner = out[:, 32, 32], out[:, 0, 0]
    tinted = np.ptp(centre, axis=1) > 0.5
    rimmed = corner.mean(axis=1) < 0.9 * centre.mean(axis=1)
    assert abs(tinted.mean() - OPTICS["white_balance"][0]) < 0.08
    assert abs(rimmed.mean() - OPTICS["vignette"][0]) < 0.08
    # the rim leaves the centre alone, and the gains keep its geometric mean where the tone curve puts grey
    low, high = OPTICS["gamma"][1]
    brightness = np.exp(np.log(centre).mean(axis=1))
    assert (brightness >= 255 * (128 / 255) ** np.exp(high) - 0.5).all()
    assert (brightness <= 255 * (128 / 255) ** np.exp(low) + 0.5).all()
    assert np.allclose(brightness[~tinted], centre[~tinted, 0], atol=1e-3)


def test_the_command_line_turns_the_optics_changes_on():
    from train.__main__ import parse_args

    assert parse_args(["--data", "d", "--out", "o", "--optics"]).optics
    assert not parse_args(["--data", "d", "--out", "o"]).optics
