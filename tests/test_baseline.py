"""search.baseline: gbm — gradient boosting fitted and scored on the trials' own rows, in the
objective's terms, shown beside the trials and never the run's model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.baseline import CANDIDATES, fit_baseline, unscored_reason, versus
from nnlab.cli import app
from nnlab.data.load import load_data
from nnlab.spec.loader import load_spec

runner = CliRunner()


def test_a_classification_baseline_is_scored_on_the_validation_rows(write):
    spec = load_spec(write("s.yaml", "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n"))
    data = load_data(spec)
    record = fit_baseline(data, "val_accuracy", "max", None, None, spec.seed)
    assert record["model"] == "HistGradientBoosting" and record["candidates"] == CANDIDATES
    assert 0.8 <= record["score"] <= 1.0 and record["score"] == record["metrics"]["val_accuracy"]
    assert record["metrics"]["val_loss"] > 0 and 0 <= record["metrics"]["val_f1"] <= 1
    assert record["seconds"] > 0 and set(record["params"]) == {"learning_rate", "max_leaf_nodes",
                                                                "min_samples_leaf", "l2_regularization"}
    again = fit_baseline(data, "val_accuracy", "max", None, None, spec.seed)
    assert again["params"] == record["params"] and again["score"] == record["score"]  # (seeded)


def test_a_regression_baseline_scores_the_loss_in_the_fitted_space_and_metrics_in_the_targets_units(write):
    spec = load_spec(write("s.yaml", "data: {source: 'sklearn:diabetes', target_transform: standardize}\n"
                                     "model: {kind: mlp}\ntrain: {metrics: [mae, r2]}\n"))
    data = load_data(spec)
    record = fit_baseline(data, "val_r2", "max", "mse", None, spec.seed)
    metrics = record["metrics"]
    assert 0.2 < record["score"] < 0.7 and record["score"] == metrics["val_r2"]
    assert metrics["val_loss"] < 2 < metrics["val_mae"]  # (standardized loss; MAE in the target's units, ~45)
    assert metrics["val_rmse"] == pytest.approx(math.sqrt(metrics["val_mse"]))


def test_with_folds_the_baseline_is_scored_on_the_trials_folds(write):
    from nnlab.data.splits import fold_indices

    spec = load_spec(write("s.yaml", "data: {source: 'sklearn:wine', folds: 3}\nmodel: {kind: mlp}\n"))
    data = load_data(spec)
    y = np.concatenate([data.y_train, data.y_val])
    folds = fold_indices(y, data.task, 3, spec.seed)
    record = fit_baseline(data, "val_loss", "min", None, folds, spec.seed)
    assert record["score"] == record["metrics"]["val_loss"] and record["metrics"]["val_accuracy"] > 0.8


def test_what_has_no_baseline_says_why_and_the_closing_line_compares():
    assert "several targets" in unscored_reason("val_loss", [("a", "regression"), ("b", "regression")])
    assert "val_pr_auc has no baseline score" in unscored_reason("val_pr_auc", [])
    assert unscored_reason("val_auc", []) is None
    assert "a baseline for tables" in unscored_reason("val_accuracy", [], "images")
    line = versus({"score": 0.84}, 0.86, "val_accuracy", "max")
    assert line == ("the best trial's val_accuracy 0.86 is ahead of the gradient-boosting baseline's 0.84 "
                    "(search.baseline)")
    assert "behind" in versus({"score": 10.0}, 12.0, "val_loss", "min")
    assert versus({}, 0.5, "val_loss", "min") is None


def test_compare_shows_the_baseline_as_a_row_of_its_own(tmp_path, make_run):
    from nnlab.runs import files

    run_dir = make_run(tmp_path, "r", [0.3, 0.2])
    summary = files.read_json(run_dir / files.SUMMARY)
    summary["baseline"] = {"model": "HistGradientBoosting", "score": 0.25, "metrics": {"val_loss": 0.25},
                           "params": {"learning_rate": 0.1}, "candidates": 6, "seconds": 1.5}
    files.write_json(run_dir / files.SUMMARY, summary)
    out = runner.invoke(app, ["compare", str(run_dir), "--format", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    baseline = [r for r in rows if r["trial_id"] == "baseline"]
    assert baseline and baseline[0]["status"] == "baseline" and baseline[0]["score"] == 0.25
    # its own hyperparameters in columns of their own, never in the network's learning_rate column
    assert baseline[0]["hyperparameters"] == {"model": "HistGradientBoosting", "gbm_learning_rate": 0.1}
    out = runner.invoke(app, ["compare", str(tmp_path), "--format", "csv"])
    header = out.output.splitlines()[0].split(",")
    assert header.index("baseline_score") == header.index("best_score") + 1


@pytest.mark.slow
def test_a_sweep_with_a_baseline_keeps_it_through_a_resume(write, tmp_path):
    from nnlab.engine.sweep import run
    from nnlab.progress import Reporter

    spec_file = write("s.yaml", "name: b\ndata: {source: 'sklearn:iris'}\nmodel: {kind: mlp, layers: 1, units: 4}\n"
                                "train: {epochs: 1}\nsearch: {max_trials: 1, baseline: gbm}\n")
    said = []
    reporter = Reporter(quiet=True)
    reporter.say = lambda text, *a, **k: said.append(str(text))
    result = run(load_spec(spec_file), tmp_path / "runs", reporter=reporter)
    assert result.exit_code == 0
    baseline = result.summary.baseline
    assert baseline["score"] > 0 and baseline["model"] == "HistGradientBoosting"
    assert any("the gradient-boosting baseline's" in line for line in said)
    assert result.summary.best_model_trial != "baseline"
    more = run(load_spec(spec_file, ["search.max_trials=2"]), tmp_path / "runs", reporter=Reporter(quiet=True))
    assert more.summary.baseline == baseline  # (fitted once per run)
