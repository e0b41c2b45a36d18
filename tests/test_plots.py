"""`nnlab plot` on fabricated runs (no training): every picture from 2 trials to hundreds, and a
hyperparameter importance that finds the hyperparameter the score depends on."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.runs import files as results
from nnlab.runs.records import TrialRecord
from nnlab.tools.plots import importance

runner = CliRunner()
PICTURES = ["learning_curves.png", "objective_vs_hyperparameters.png", "parallel_coordinates.png", "importance.png",
            "optimization_history.png", "intermediate_values.png"]


def fabricate(run_dir, trials: int, failed: int = 0, seed: int = 0):
    """A run whose val_accuracy depends on the learning rate (best near 3e-3), not on the batch size."""
    rng = random.Random(seed)
    hp_names = ["learning_rate", "units", "activation", "batch_size"]
    records = []
    for i in range(trials + failed):
        lr = 10 ** rng.uniform(-4, -1)
        score = 0.95 - 0.12 * (math.log10(lr) + 2.5) ** 2 + rng.gauss(0, 0.01)
        ok = i >= failed
        pruned = ok and i % 4 == 3  # (search.pruning stopped it after 2 epochs)
        status = "pruned" if pruned else "completed" if ok else "failed"
        records.append(TrialRecord(
            str(i), status, score=score if ok else None, best_epoch=3, epochs=2 if pruned else 3, seconds=2.0,
            reason="pruned at epoch 2" if pruned else None if ok else "loss became nan",
            hyperparameters={"learning_rate": lr, "units": rng.choice([16, 32, 64]),
                             "activation": rng.choice(["relu", "tanh"]), "batch_size": rng.choice([32, 64])},
            metrics={"val_accuracy": score} if ok else {}))
        history = {"loss": [1.0, 0.7, 0.5], "val_loss": [1.1, 0.8, 0.6], "accuracy": [0.5, 0.7, 0.8],
                   "val_accuracy": [0.45, 0.65, score if ok else 0.1]}
        if pruned:
            history = {name: values[:2] for name, values in history.items()}
        results.write_json(run_dir / results.TUNER_DIR / f"trial_{i}" / results.TRIAL_PROGRESS, {"history": [history]})
    results.write_trials(run_dir / results.TRIALS, records, hp_names, ["val_accuracy"])
    results.write_json(run_dir / results.SUMMARY, {
        "run": run_dir.name, "status": "completed", "objective": "val_accuracy", "direction": "max",
        "hyperparameter_names": hp_names, "metric_names": ["val_accuracy"]})
    (run_dir / results.SPEC_COPY).write_text("train: {learning_rate: {float: [0.0001, 0.1], log: true}}\n")
    return run_dir


@pytest.mark.parametrize("trials, failed", [(2, 1), (40, 3), (500, 0)])
def test_every_picture_is_drawn(tmp_path, trials, failed):
    run_dir = fabricate(tmp_path / "r", trials, failed)
    result = runner.invoke(app, ["plot", str(run_dir)])
    assert result.exit_code == 0, result.output
    for name in PICTURES:
        data = (run_dir / "plots" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000, name


def test_importance_finds_what_the_score_depends_on(tmp_path):
    run_dir = fabricate(tmp_path / "r", 120)
    records = results.read_trials(run_dir / results.TRIALS, ["learning_rate", "units", "activation", "batch_size"],
                                  ["val_accuracy"])
    scores, r2 = importance(records, ["learning_rate", "units", "activation", "batch_size"])
    assert max(scores, key=scores.get) == "learning_rate" and scores["learning_rate"] > 0.5
    assert r2 > 0.8
    assert importance(records[:5], ["learning_rate"]) is None  # too few trials: not estimated


def test_plot_errors_and_no_tensorflow(tmp_path):
    result = runner.invoke(app, ["plot", str(tmp_path)])
    assert result.exit_code == 2 and "not an nnlab run folder" in result.output
    run_dir = fabricate(tmp_path / "r", 3)
    code = ("import sys; from nnlab.cli import main; sys.argv = ['nnlab', 'plot', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True)
    assert out.stdout.strip().endswith("False"), out.stdout + out.stderr
