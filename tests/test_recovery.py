"""Damaged run folders, failure and time limits, checkpoint keeping. One small sweep is trained once
and copied for each scenario; resuming it must re-run only what is missing."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from rich.console import Console

from nnlab.engine.sweep import run
from nnlab.errors import RunError
from nnlab.progress import Reporter
from nnlab.runs import files as results
from nnlab.runs.compare import compare
from nnlab.spec.loader import load_spec

pytestmark = pytest.mark.slow

SPEC = """
name: base
data: {source: "sklearn:iris"}
model: {kind: mlp, units: {choice: [4, 8, 16]}, layers: {int: [1, 2]}}
train: {epochs: 1, batch_size: 16}
search: {max_trials: 3, keep: all}
"""


def sweep(spec_path, runs, *overrides):
    out = io.StringIO()
    reporter = Reporter(console=Console(file=out, width=200))
    result = run(load_spec(spec_path, list(overrides)), runs, reporter=reporter)
    return result, out.getvalue()


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    spec_path = folder / "base.yaml"
    spec_path.write_text(SPEC)
    result, _ = sweep(spec_path, folder / "runs")
    assert result.summary.completed == 3
    return spec_path, folder / "runs"


@pytest.fixture
def copy(base, tmp_path):
    spec_path, runs = base
    shutil.copytree(runs, tmp_path / "runs")
    return spec_path, tmp_path / "runs", tmp_path / "runs" / "base"


def started(output: str) -> int:
    return output.count(" started:")


def test_truncated_trials_csv_is_rebuilt_without_training(copy):
    spec_path, runs, run_dir = copy
    text = (run_dir / results.TRIALS).read_text()
    (run_dir / results.TRIALS).write_text(text[: len(text) // 2])
    result, output = sweep(spec_path, runs)
    assert started(output) == 0 and result.summary.completed == 3
    assert len((run_dir / results.TRIALS).read_text().splitlines()) == 4


def test_truncated_trial_state_is_rebuilt_from_trials_csv(copy):
    spec_path, runs, run_dir = copy
    state = run_dir / "tuner" / "trial_1" / "trial.json"
    state.write_text(state.read_text()[:40])
    result, output = sweep(spec_path, runs, "search.max_trials=4")
    assert "rebuilt from trials.csv" in output
    assert started(output) == 1 and "trial 3 started" in output  # only the new fourth trial
    assert result.summary.completed == 4
    assert json.loads(state.read_text())["status"] == "COMPLETED"


def test_a_trial_with_no_record_left_runs_again(copy):
    spec_path, runs, run_dir = copy
    shutil.rmtree(run_dir / "tuner" / "trial_2")
    (run_dir / results.TRIALS).unlink()
    result, output = sweep(spec_path, runs)
    assert "trial 2 will run again" in output
    assert started(output) == 1 and "trial 2 started" in output
    assert result.summary.completed == 3


def test_deleted_best_checkpoint_falls_back_to_the_next_best(copy):
    spec_path, runs, run_dir = copy
    best = json.loads((run_dir / results.SUMMARY).read_text())["best_trial"]
    (run_dir / "tuner" / f"trial_{best}" / "checkpoint.weights.h5").unlink()
    (run_dir / results.BEST_MODEL).unlink()
    result, output = sweep(spec_path, runs)
    assert started(output) == 0
    said = " ".join(output.split())  # (the warning names a long path: the terminal may fold it)
    assert f"trial {best}: the checkpoint" in said and "does not exist; best.keras will hold the next best" in said
    assert (run_dir / results.BEST_MODEL).is_file() and result.summary.best_model_trial != best


def test_damaged_oracle_state_is_restored_from_its_backup(copy):
    spec_path, runs, run_dir = copy
    (run_dir / "tuner" / "oracle.json").write_text('{"ongoing')
    result, output = sweep(spec_path, runs, "search.max_trials=4")
    assert "restored the copy" in output
    assert result.summary.completed == 4 and started(output) == 1


def test_damaged_summary_shows_in_compare_and_run_repairs_it(copy):
    spec_path, runs, run_dir = copy
    (run_dir / results.SUMMARY).write_text("{")
    (runs / "other").mkdir()
    shutil.copytree(run_dir / "tuner", runs / "other" / "tuner")
    shutil.copy(run_dir / results.TRIALS, runs / "other" / results.TRIALS)
    rows = {r["run"]: r for r in compare([runs]).rows}
    assert rows["base"]["status"].startswith("damaged") and rows["base"]["completed"] == 3
    model = (run_dir / results.BEST_MODEL).read_bytes()
    with pytest.raises(RunError, match="cannot tell what best.keras holds"):  # (nothing replaced on a guess)
        sweep(spec_path, runs)
    assert (run_dir / results.BEST_MODEL).read_bytes() == model and (run_dir / results.SUMMARY).read_text() == "{"
    (run_dir / results.BEST_MODEL).rename(runs / "kept.keras")  # as the message says: then the run repairs
    result, output = sweep(spec_path, runs)
    assert "is damaged" in output and started(output) == 0
    assert json.loads((run_dir / results.SUMMARY).read_text())["completed"] == 3
    assert (run_dir / results.BEST_MODEL).is_file()


def test_consecutive_failures_stop_the_sweep_with_their_reasons(tmp_path):
    spec_path = tmp_path / "fail.yaml"
    spec_path.write_text("""
data: {source: "sklearn:diabetes"}
model: {kind: mlp, layers: 1, units: {choice: [4, 8, 16, 32]}}
train: {epochs: 1, optimizer: sgd, learning_rate: 10.0}
search: {max_trials: 4, max_failures: 2}
""")
    result, output = sweep(spec_path, tmp_path / "runs")
    assert result.summary.status == "stopped" and result.summary.failed == 2
    assert "2 trials failed in a row" in output and "probably too high" in output
    assert result.exit_code == 1


def test_max_minutes_starts_no_new_trial(copy):
    spec_path, runs, run_dir = copy
    result, output = sweep(spec_path, runs, "search.max_trials=5", "search.max_minutes=0.0001")
    assert started(output) == 0 and result.summary.trials == 3
    assert result.summary.status == "stopped" and "max_minutes" in output


@pytest.mark.parametrize("keep, checkpoints", [("best", 1), ("none", 0)])
def test_keep_bounds_checkpoints(copy, keep, checkpoints):
    spec_path, runs, run_dir = copy
    assert len(list(run_dir.glob("tuner/trial_*/checkpoint.weights.h5"))) == 3  # the base kept all
    result, _ = sweep(spec_path, runs, f"search.keep={keep}")
    assert len(list(run_dir.glob("tuner/trial_*/checkpoint.weights.h5"))) == checkpoints
    assert (run_dir / results.BEST_MODEL).is_file()


def test_a_csv_run_of_the_older_reader_is_not_resumed_with_new_features(tmp_path, write):
    from nnlab.errors import RunError
    from nnlab.runs import files
    from nnlab.runs.opening import check_run_dir
    from nnlab.runs.records import Summary
    from nnlab.spec.loader import load_spec, spec_hash

    write("d.csv", "x,y\n" + "\n".join(f"{i * 0.5},{i % 2}" for i in range(30)) + "\n")
    spec = load_spec(write("s.yaml", "data: {source: csv, path: d.csv, target: y}\nmodel: {kind: mlp}\n"))
    run_dir = tmp_path / "runs" / "s"
    files.write_summary(run_dir / files.SUMMARY, Summary(run="s", spec_hash=spec_hash(spec, csv_reader=None)))
    with pytest.raises(RunError, match="read by the first version of nnlab's CSV rules.*--overwrite.*--name"):
        check_run_dir(run_dir, spec, overwrite=False)
    files.write_summary(run_dir / files.SUMMARY, Summary(run="s", spec_hash=spec_hash(spec)))
    assert check_run_dir(run_dir, spec, overwrite=False).spec_hash == spec_hash(spec)  # today's resumes
