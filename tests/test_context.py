"""Patient context folded into the estimate (train/context/, site/js/inference/context-fusion.js): encoding and refusals,
exact image-only results without context, honest fitting, the evaluation block, and JS/Python parity."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.conftest import HAM_FIXTURES, ROOT
from tests.test_site import open_app
from train.context import __main__ as context_cli
from train.context.encoding import ContextError, Encoding, checked_context, context_matrix, encode, encoding_for
from train.context.fusion import context_evidence, fit_context_model, fuse, recalibrate
from train.context.scoring import context_figures, decided
from train.data.loading import CLASSES
from train.evaluation import evaluate
from train.evaluation.decision_metrics import evaluation_metrics, headline_values

MODEL = ROOT / "models" / "ham10000"
SHIPPED = json.loads((MODEL / "context.json").read_text())
ENCODING = Encoding.from_json(SHIPPED["encoding"])
RNG = np.random.default_rng(5)


def random_contexts(n: int) -> list[dict]:
    """Contexts with every field given or absent at random, as a page would send them."""
    ages = RNG.integers(0, 121, n)
    return [{"age": int(a) if RNG.random() < 0.7 else None,
             "sex": RNG.choice(ENCODING.sexes) if RNG.random() < 0.7 else None,
             "site": RNG.choice(ENCODING.sites) if RNG.random() < 0.7 else None} for a in ages]


@pytest.mark.parametrize("given,message", [
    ({"age": -1}, "age -1 is not a number of years from 0 to 120"),
    ({"age": 121}, "age 121 is not"),
    ({"age": "forty"}, "age 'forty' is not"),
    ({"sex": "other"}, "sex 'other' is not one of female, male or unknown"),
    ({"site": "palm"}, "body site 'palm' is not one the training data has"),
])
def test_a_context_value_that_cannot_be_used_is_refused(given, message):
    with pytest.raises(ContextError, match=message):
        checked_context(ENCODING, **given)


def test_unknown_empty_and_nan_are_absent_not_guessed():
    for absent in (None, "", "unknown", float("nan")):
        assert not encode(ENCODING, checked_context(ENCODING, age=absent, sex=absent, site=absent)).any()
    row = encode(ENCODING, checked_context(ENCODING, age=54.0, sex="female", site="back"))
    assert row.sum() == 3 and row[ENCODING.blocks["age"]][np.searchsorted(ENCODING.age_edges, 54, "right")] == 1


def test_a_site_the_training_split_never_had_is_not_in_the_encoding():
    assert encoding_for(["back", "face", "unknown", "back"]).sites == ("back", "face")


def test_without_context_the_result_is_the_image_result_bit_for_bit():
    probs = RNG.dirichlet(np.ones(len(CLASSES)), 50).astype(np.float32).astype(np.float64)
    x = np.zeros((50, ENCODING.width))
    assert np.array_equal(fuse(probs, x, SHIPPED), probs)
    assert np.array_equal(context_evidence(x, SHIPPED), np.zeros_like(probs))
    # rows with context change, the others in the same call do not
    x[::2] = context_matrix(ENCODING, pd.DataFrame({"age": [60.0] * 25, "sex": ["male"] * 25, "localization": ["back"] * 25}))
    fused = fuse(probs, x, SHIPPED)
    assert np.array_equal(fused[1::2], probs[1::2]) and not np.allclose(fused[::2], probs[::2])


def test_recalibration_follows_context_that_tells_apart_what_the_photo_cannot():
    # synthetic: age decides between two classes the photo cannot tell apart
    encoding = Encoding((50,), ("female", "male"), ("back",))
    n = 2000
    mel, nv = CLASSES.index("mel"), CLASSES.index("nv")
    y = np.where(RNG.random(n) < 0.5, mel, nv)
    old = (y == mel) ^ (RNG.random(n) < 0.1)
    frame = pd.DataFrame({"age": np.where(old, 70.0, 30.0), "sex": "unknown", "localization": "unknown"})
    x = context_matrix(encoding, frame)
    model = fit_context_model(x, y, encoding, c=1.0, n_classes=len(CLASSES))
    probs = np.full((n, len(CLASSES)), 1e-3)
    probs[:, [mel, nv]] = (1 - 5e-3) / 2
    point = {"target_sensitivity": 0.9, "melanoma_floor": None}
    fusion = recalibrate(model, probs, x, y, point)
    assert fusion["weight"] > 0.5
    assert (fuse(probs, x, fusion).argmax(axis=1) == y).mean() > 0.85


def test_the_bootstrap_figures_equal_the_library_ones():
    y = RNG.integers(0, len(CLASSES), 300)
    probs = RNG.dirichlet(np.ones(len(CLASSES)), 300)
    point = {"threshold": 0.4}
    expected = headline_values(evaluation_metrics(y, probs, point))
    assert decided(y, probs, point) == pytest.approx({k: expected[k] for k in decided(y, probs, point)}, abs=1e-12)


def test_the_context_model_sees_no_validation_or_test_lesion():
    train, val, _ = context_cli.split_frames(MODEL, None)
    test = pd.read_csv(MODEL / "test_labels.csv")
    assert set(train["lesion_id"]).isdisjoint(val["lesion_id"]) and set(train["lesion_id"]).isdisjoint(test["lesion_id"])
    assert val["image_id"].tolist() == pd.read_csv(MODEL / "val_labels.csv")["image_id"].tolist()


def test_the_committed_fusion_is_what_the_command_fits_and_its_verdict_follows_the_rule(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.keras", "config.json", "calibration.json", "split.csv", "val_labels.csv", "val_logits.npz",
                 "combination.json"):
        shutil.copy(MODEL / name, run / name)
    assert context_cli.main(["--model", str(run), "--report", str(tmp_path / "report")]) == 0
    fitted = json.loads((run / "context.json").read_text())
    for key in ("coefficients", "intercept"):
        # lbfgs stops at its tolerance: the thread count of the BLAS under load moves the last digits (1e-7 seen)
        np.testing.assert_allclose(fitted[key], SHIPPED[key], rtol=1e-6, atol=1e-5)
    assert [fitted[k] for k in ("weight", "temperature")] == pytest.approx([SHIPPED[k] for k in ("weight", "temperature")])
    assert fitted["operating_point"]["threshold"] == pytest.approx(SHIPPED["operating_point"]["threshold"])
    assert fitted["ship"] == SHIPPED["ship"]
    validation = fitted["validation"]
    expected = (validation["gain_interval"]["balanced_accuracy"][0] > 0
                and min(validation["recall_change"].values()) >= -context_cli.MAX_RECALL_DROP)
    assert fitted["ship"]["passed"] == expected
    report = json.loads((tmp_path / "report" / "validation.json").read_text())
    assert set(report["validation"]) >= {"all", "age_only", "sex_only", "site_only", "randomly_missing", "by_lesion"}


def test_a_run_without_a_model_is_one_clear_error(tmp_path, capsys):
    assert context_cli.main(["--model", str(tmp_path)]) == 2
    assert "model.keras not found. Train a model first" in capsys.readouterr().err


def test_evaluate_scores_the_context_beside_the_image_alone(fixture_evaluation):
    metrics = json.loads((fixture_evaluation / "metrics.json").read_text())
    block = metrics["with_context"]
    assert block["shipped"] is SHIPPED["ship"]["passed"]
    assert block["all"]["image_only"]["balanced_accuracy"] == pytest.approx(metrics["balanced_accuracy"])
    assert block["images_with_context"]["all"] == metrics["n_images"] == 28


def test_nobodys_context_given_scores_exactly_the_image_figures():
    n = 300
    y = RNG.integers(0, len(CLASSES), n)
    probs = RNG.dirichlet(np.ones(len(CLASSES)), n)
    lesions = np.array([f"L{i // 2}" for i in range(n)])
    figures = context_figures(y, probs, np.zeros((n, ENCODING.width)), SHIPPED, ENCODING, {"threshold": 0.4},
                              lesions, {"age": 0.1, "sex": 0.1, "site": 0.1}, rule="mean_logits")
    for name in ("all", "age_only", "randomly_missing", "by_lesion"):
        block = figures[name]
        assert block["with_context"] == block["image_only"] and set(block["gain"].values()) == {0.0}
        assert all(interval == [0.0, 0.0] for interval in block["gain_interval"].values())


def test_evaluate_refuses_a_bad_context_value_naming_the_image(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    table = pd.read_csv(HAM_FIXTURES / "metadata.csv")
    table.loc[3, "age"] = 130
    table.to_csv(bad, index=False)
    assert evaluate.main(["--images", str(HAM_FIXTURES / "images"), "--labels", str(HAM_FIXTURES / "metadata.csv"),
                          "--context", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert f"image {table.loc[3, 'image_id']}: age 130" in capsys.readouterr().err


FUSE = """async ([probabilities, contexts, fusion]) => {
  const m = await import('./js/inference/context-fusion.js');
  return probabilities.map((p, i) => m.fuseContext(p, contexts[i], fusion));
}"""


def test_the_page_fuses_as_python_does_and_leaves_an_absent_context_alone(page, site_url):
    open_app(page, site_url)
    fusion = page.evaluate("() => fetch('model/metadata.json').then((r) => r.json()).then((m) => m.context)")
    assert fusion["coefficients"] == SHIPPED["coefficients"]
    probs = RNG.dirichlet(np.ones(len(CLASSES)) * 0.5, 200)
    contexts = random_contexts(200)
    fused_js = np.array(page.evaluate(FUSE, [probs.tolist(), contexts, fusion]))
    x = np.array([encode(ENCODING, checked_context(ENCODING, **c)) for c in contexts])
    np.testing.assert_allclose(fused_js, fuse(probs, x, SHIPPED), rtol=0, atol=1e-6)
    absent = [i for i, c in enumerate(contexts) if not any(v is not None for v in c.values())]
    assert absent and all(fused_js[i].tolist() == probs[i].tolist() for i in absent)


@pytest.mark.parametrize("given,message", [
    ({"age": 130}, "Age “130” is not a whole number of years from 0 to 120."),
    ({"sex": "other"}, "Sex “other” is not one of female, male or unknown."),
    ({"site": "palm"}, "Body site “palm” is not one the training data has"),
])
def test_the_page_refuses_a_context_value_it_cannot_use(page, site_url, given, message):
    open_app(page, site_url)
    said = page.evaluate("""async ([context]) => {
      const m = await import('./js/inference/context-fusion.js');
      const fusion = await fetch('model/metadata.json').then((r) => r.json()).then((d) => d.context);
      try { m.fuseContext([1, 0, 0, 0, 0, 0, 0], context, fusion); return null; } catch (err) { return [err.name, err.field, err.message]; }
    }""", [given])
    assert said is not None and said[1] == next(iter(given)) and said[2].startswith(message)


def test_the_page_says_the_answer_comes_from_the_photo_alone_while_the_fusion_is_not_shipped(page, site_url):
    open_app(page, site_url)
    hint = page.locator("#context-use")
    if SHIPPED["ship"]["passed"]:
        pytest.fail("the fusion ships: this test must check the page folds the context in")
    assert "comes from the photo alone" in hint.inner_text() and "did not improve it on validation" in hint.inner_text()
    page.locator("#context-use a").click()
    page.wait_for_url("**/model-card.html#patient-context")
    assert page.locator("#patient-context").is_visible()
    rows = page.locator("#context-gain tbody tr")
    assert rows.count() == 5
