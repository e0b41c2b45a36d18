"""search.ensemble: best.keras averages the top K configurations (refitted or as searched), and every
command that uses best.keras uses the ensemble. Small real sweeps (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.runs import files

pytestmark = pytest.mark.slow
runner = CliRunner()

SPEC = """
name: ens
seed: 1
data: {{source: "sklearn:diabetes"}}
model: {{kind: mlp, layers: 1, units: {{choice: [4, 8, 16]}}}}
train: {{epochs: 3, batch_size: 32, learning_rate: {{float: [0.005, 0.05], log: true}}}}
search: {{max_trials: 4, ensemble: {k}, refit: {refit}, keep: best}}
"""


def run(tmp_path, k: int, refit: bool):
    spec = tmp_path / "ens.yaml"
    spec.write_text(SPEC.format(k=k, refit=str(refit).lower()))
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "ens"
    summary = json.loads((run_dir / files.SUMMARY).read_text())
    records = files.read_trials(run_dir / files.TRIALS, summary["hyperparameter_names"], summary["metric_names"])
    ranked = sorted(records, key=lambda r: r.score)
    return run_dir, summary, ranked, result.output


def test_refitted_ensemble_is_the_mean_of_its_members(tmp_path):
    import keras

    run_dir, summary, ranked, output = run(tmp_path, 3, True)
    assert summary["ensemble"] == {"trials": [r.trial_id for r in ranked[:3]], "refit": True}
    assert summary["refit"]["trial"] == ranked[0].trial_id and output.count("refit: trial") == 3
    model = keras.saving.load_model(run_dir / files.BEST_MODEL)
    members = [model.get_layer(f"trial_{r.trial_id}") for r in ranked[:3]]
    x = np.random.default_rng(0).normal(size=(5, 10)).astype("float32")
    mean = np.mean([m(x).numpy() for m in members], axis=0)
    np.testing.assert_allclose(model(x).numpy(), mean, rtol=1e-5, atol=1e-6)
    exported = runner.invoke(app, ["export", str(run_dir), "-o", str(tmp_path / "e.keras")])
    assert exported.exit_code == 0 and "ensemble of trials" in exported.output, exported.output
    again = keras.saving.load_model(tmp_path / "e.keras")
    np.testing.assert_allclose(again(x).numpy(), mean, rtol=1e-5, atol=1e-6)
    reported = runner.invoke(app, ["report", str(run_dir)])
    assert reported.exit_code == 0
    assert "It is an ensemble (search.ensemble)" in (run_dir / "report.html").read_text()


def test_ensemble_without_refit_averages_the_trials_as_searched_and_can_be_turned_off(tmp_path):
    from nnlab.tools.apply import load_model, open_run

    run_dir, summary, ranked, _ = run(tmp_path, 2, False)
    assert summary["ensemble"] == {"trials": [r.trial_id for r in ranked[:2]], "refit": False}
    assert summary.get("refit") is None
    finished = open_run(run_dir)
    x = np.random.default_rng(1).normal(size=(4, 10)).astype("float32")
    each = [load_model(finished, r.trial_id)(x).numpy() for r in ranked[:2]]  # their kept checkpoints
    np.testing.assert_allclose(load_model(finished)(x).numpy(), np.mean(each, axis=0), rtol=1e-5, atol=1e-6)
    # back to one model on a resume: best.keras is the best trial's again, and says so
    run_dir, summary, ranked, output = run(tmp_path, 1, False)
    assert summary.get("ensemble") is None and "started" not in output
    finished = open_run(run_dir)
    np.testing.assert_allclose(load_model(finished)(x).numpy(), each[0], rtol=1e-5, atol=1e-6)
