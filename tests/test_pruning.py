"""search.pruning: median — the rule on curves written to a run folder (no training), and a real sweep
that prunes, records, resumes and reports pruned trials (slow)."""

from __future__ import annotations

import json

import pytest

from nnlab.engine.pruning import STARTUP_TRIALS, WARMUP_EPOCHS, MedianRule, mean_curve
from nnlab.runs import files
from nnlab.runs.folder import RunFolder


def write_trial(run_dir, trial_id: str, curve: list[float], **extras):
    history = [{"loss": curve, "val_loss": curve}]
    files.write_json(run_dir / files.TUNER_DIR / f"trial_{trial_id}" / files.TRIAL_PROGRESS,
                     {"worker": None, "reason": None, "pruned": None, **extras, "history": history})


def test_the_median_rule_waits_for_startup_trials_and_warmup_epochs(tmp_path):
    rule = MedianRule(RunFolder(tmp_path), "val_loss", "min")
    for i in range(STARTUP_TRIALS - 1):
        write_trial(tmp_path, f"{i:02d}", [1.0, 0.5, 0.3, 0.2])
    rule.refresh()
    assert rule.verdict(3, 9.0) is None  # too few completed trials yet
    write_trial(tmp_path, "04", [1.0, 0.5, 0.3, 0.2])
    (tmp_path / files.TUNER_DIR / "trial_05").mkdir()  # a trial still running: no file yet
    rule.refresh()
    assert len(rule.curves) == STARTUP_TRIALS
    assert rule.verdict(WARMUP_EPOCHS - 2, 9.0) is None  # still warming up
    reason = rule.verdict(2, 0.9)
    assert reason and "epoch 3" in reason and "median 0.3" in reason
    assert rule.verdict(2, 0.3) is None  # as good as the median: kept
    assert rule.verdict(2, 0.29) is None


def test_only_completed_curves_count_and_direction_is_respected(tmp_path):
    for i in range(STARTUP_TRIALS):
        write_trial(tmp_path, f"{i:02d}", [0.5, 0.6, 0.7, 0.8])
    write_trial(tmp_path, "10", [0.1, 0.1], pruned="pruned at epoch 2")
    write_trial(tmp_path, "11", [0.0], reason="loss became nan")
    rule = MedianRule(RunFolder(tmp_path), "val_loss", "max")  # (as if higher were better)
    rule.refresh()
    assert sorted(rule.curves) == [f"{i:02d}" for i in range(STARTUP_TRIALS)]
    assert rule.verdict(1, 0.59) and rule.verdict(1, 0.6) is None
    assert rule.verdict(6, 0.0) is None  # no completed trial ran that long: nothing to compare with
    rule.refresh()  # files already read are not read again
    assert len(rule.seen) == STARTUP_TRIALS + 2


def test_a_trials_curve_is_the_mean_of_its_executions():
    assert mean_curve([{"val_loss": [1.0, 2.0, 3.0]}, {"val_loss": [3.0, 4.0]}], "val_loss") == [2.0, 3.0]
    assert mean_curve([{"loss": [1.0]}], "val_loss") == []


PRUNING_SPEC = """
name: {name}
seed: 3
data: {{source: "sklearn:digits", validation_split: 0.25}}
model:
  kind: mlp
  layers: 1
  units: 16
train:
  epochs: 6
  batch_size: 128
  learning_rate: {{float: [0.00001, 0.03], log: true}}
search:
  tuner: {tuner}
  objective: val_accuracy
  max_trials: 12
  pruning: median
  refit: false
"""


@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["random", "bayesian"])
def test_a_sweep_prunes_records_and_reports_pruned_trials(tmp_path, tuner):
    from typer.testing import CliRunner

    from nnlab.cli import app

    spec = tmp_path / "spec.yaml"
    spec.write_text(PRUNING_SPEC.format(name="p", tuner=tuner))
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "p"
    summary = json.loads((run_dir / files.SUMMARY).read_text())
    records = files.read_trials(run_dir / files.TRIALS, summary["hyperparameter_names"], summary["metric_names"])
    pruned = [r for r in records if r.status == "pruned"]
    assert summary["status"] == "completed" and summary["trials"] == 12
    assert pruned and summary["pruned"] == len(pruned), result.output
    assert summary["completed"] + summary["pruned"] == 12
    for r in pruned:
        assert r.epochs < 6 and r.score is not None and "median" in r.reason
        assert r.number > STARTUP_TRIALS  # never before the startup trials completed
    assert summary["best_trial"] not in {r.trial_id for r in pruned}
    assert "pruned after" in result.output
    compared = runner.invoke(app, ["compare", str(tmp_path / "runs"), "--format", "json"])
    assert json.loads(compared.output)[0]["pruned"] == len(pruned)
    # resuming a finished search keeps every pruned trial as it was
    again = runner.invoke(app, ["run", str(spec), "--runs-dir", str(tmp_path / "runs")])
    assert again.exit_code == 0, again.output
    again_records = files.read_trials(run_dir / files.TRIALS, summary["hyperparameter_names"],
                                      summary["metric_names"])
    assert [r.trial_id for r in again_records if r.status == "pruned"] == [r.trial_id for r in pruned]
