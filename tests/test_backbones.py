"""The backbone comparison's Pareto front and the shipped-model statement, on made-up rows."""
from __future__ import annotations

from export.studies.backbones import (
    candidate_name,
    decision,
    pareto_front,
    recipe,
    training_time,
)


def row(name, accuracy, ms, bytes_=1_000_000):
    return {"name": name, "val_balanced_accuracy": accuracy, "warm_median_ms": ms, "model_bytes": bytes_,
            "training_minutes": 10.0, "head_timed": True, "fine_tune_epochs": 12, "recipe": f"recipe {name}"}


def test_pareto_front_drops_slower_and_worse_candidates():
    fast, slow_good, dominated = row("fast", 0.60, 5.0), row("good", 0.70, 20.0), row("worse", 0.65, 25.0)
    assert pareto_front([fast, slow_good, dominated]) == [fast, slow_good]


def test_decision_names_the_gap_to_the_best_and_the_fastest():
    best, shipped, fast = row("A", 0.72, 30.0), row("B", 0.715, 20.0), row("C", 0.60, 5.0)
    text = decision([best, shipped, fast], shipped)
    assert text.startswith("B ships") and "0.0050 below the best (A; up to 0.01 is given for its recipe: recipe B)" in text
    assert "The fastest, C (5.0 ms), gives up 0.1150" in text
    assert "the best of the candidates" in decision([best, shipped], best)
    assert decision([best, shipped, fast], shipped, 25.0).endswith("exceeded by A.")
    assert decision([shipped, fast], shipped, 25.0).endswith("every candidate is within it.")


def test_candidate_names_mark_the_teachable_machine_baseline():
    assert candidate_name({"alpha": 0.35, "size": 224, "fine_tune_epochs": 0}).endswith("(Teachable-Machine style)")
    assert candidate_name({"alpha": 1.0, "size": 160, "fine_tune_epochs": 12}) == "MobileNetV2 alpha 1.0 @160"
    guided = {"alpha": 1.0, "size": 160, "fine_tune_epochs": 12, "mask_weight": 1.0, "fine_tune_from": "block_4"}
    assert candidate_name(guided) == "MobileNetV2 alpha 1.0 @160, lesion-mask guided"
    assert candidate_name(guided, short=True) == "1.0 @160 mask-guided from block_4"
    # runs of one recipe that differ only in their seed
    assert candidate_name({**guided, "seed": 7}, short=True) == "1.0 @160 mask-guided from block_4, seed 7"
    assert candidate_name({"alpha": 0.35, "size": 224, "fine_tune_epochs": 0}, short=True) == "0.35 @224 (TM)"


def test_recipe_reads_older_runs_as_plateau_without_ema():
    old = {"fine_tune_epochs": 12, "fine_tune_from": "block_8", "head_epochs": 2}
    assert recipe(old) == "from block_8, plateau, 12 epochs"
    new = {**old, "schedule": "cosine", "ema": 0.99, "fine_tune_epochs": 16}
    assert recipe(new) == "from block_8, cosine + weight EMA, 16 epochs"
    assert recipe({**old, "fine_tune_epochs": 0, "head_epochs": 4}) == "head only, 4 epochs"
    assert recipe(new, epochs_run=11) == "from block_8, cosine + weight EMA, 16 epochs (early-stopped after 11)"
    assert recipe(old, epochs_run=12) == "from block_8, plateau, 12 epochs"
    guided = {**old, "mask_weight": 1.0, "monitor": "adjusted"}
    assert recipe(guided) == "from block_8, plateau + lesion-mask guidance 1, 12 epochs, checkpoint on corrected accuracy"
    assert recipe({**old, "seed": 42}) == "from block_8, plateau, 12 epochs, seed 42"


def test_training_time_marks_a_run_whose_phase_1_was_resumed():
    assert training_time(row("A", 0.7, 5.0)) == "10 min"
    assert training_time({**row("A", 0.7, 5.0), "head_timed": False}) == "10 min + phase 1 (resumed, not timed)"
