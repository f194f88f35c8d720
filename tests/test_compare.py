"""train.studies.compare puts finished runs side by side and names the best on validation."""
from __future__ import annotations

import json

from train.studies.compare import main


def fake_run(path, imbalance: str, balanced_accuracy: float):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"alpha": 1.0, "size": 160, "imbalance": imbalance,
                                                  "schedule": "cosine"}))
    (path / "calibration.json").write_text(json.dumps({"operating_point": {"validation_specificity": 0.75}}))
    (path / "val_metrics.json").write_text(json.dumps({
        "balanced_accuracy": balanced_accuracy, "macro_auc": 0.9, "accuracy": 0.8,
        "per_class": {"mel": {"recall": 0.7}}}))
    return path


def test_best_run_is_named(tmp_path, capsys):
    a = fake_run(tmp_path / "weights", "weights", 0.71)
    b = fake_run(tmp_path / "sampling", "sampling", 0.69)
    assert main([str(a), str(b), "--out", str(tmp_path / "cmp.md")]) == 0
    text = (tmp_path / "cmp.md").read_text()
    assert f"Best validation balanced accuracy: {a} (0.7100)" in text
    assert f"| {b} | 1.0000 | 160 | sampling |" in text and "| 0.6900 |" in text
    assert "| cosine |" in text and "| 0.7500 |" in text
    assert len(json.loads((tmp_path / "cmp.json").read_text())) == 2


def test_unfinished_run_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert main([str(tmp_path / "half"), "--out", str(tmp_path / "x.md")]) == 2
    assert "not a finished training run" in capsys.readouterr().err


