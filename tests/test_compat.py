"""Run folders written by nnlab 0.1.0, before the engine redesign (tests/fixtures/runs-0.1.0), still
open: compare reads them, predict applies their model, and `nnlab run` resumes them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.runs.compare import compare
from nnlab.runs.folder import RunFolder

FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.1.0"
runner = CliRunner()


@pytest.fixture
def old_runs(tmp_path) -> Path:
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "iris-v010", runs / "iris-v010")
    return runs


def test_an_old_run_folder_reads_and_compares(old_runs):
    contents = RunFolder(old_runs / "iris-v010").load()
    assert not contents.problems and contents.summary.objective == "val_accuracy"
    assert [r.trial_id for r in contents.ranked] == ["1", "0"] and contents.best.score == pytest.approx(0.76666665)
    row = compare([old_runs]).rows[0]
    assert row["status"] == "completed" and row["completed"] == 2 and row["best_trial"] == "1"
    trials = compare([old_runs / "iris-v010"]).rows
    assert trials[0]["metrics"]["val_f1"] == pytest.approx(0.751111111)


def saved_with_keras(path: Path) -> str:
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("metadata.json"))["keras_version"]


@pytest.mark.slow
def test_an_old_run_predicts(old_runs, tmp_path):
    import keras

    saved = saved_with_keras(old_runs / "iris-v010" / "best.keras")
    if tuple(map(int, keras.__version__.split(".")[:2])) < tuple(map(int, saved.split(".")[:2])):
        pytest.skip(f"the fixture's best.keras was saved by Keras {saved}; this older Keras cannot read it")
    from sklearn.datasets import load_iris

    iris = load_iris()
    np.savez(tmp_path / "iris.npz", x=iris.data, y=iris.target)
    out = runner.invoke(app, ["predict", str(old_runs / "iris-v010"), str(tmp_path / "iris.npz"),
                              "-o", str(tmp_path / "p.csv")])
    assert out.exit_code == 0, out.output
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 151
    out = runner.invoke(app, ["evaluate", str(old_runs / "iris-v010"), str(tmp_path / "iris.npz"), "--json"])
    assert out.exit_code == 0 and '"accuracy"' in out.output


@pytest.mark.slow
def test_an_old_run_resumes(old_runs):
    # the spec it was made from, with one more trial: the two old trials are kept, one more is trained
    out = runner.invoke(app, ["run", str(FIXTURES / "iris-v010.yaml"), "--runs-dir", str(old_runs),
                              "--set", "search.max_trials=3"])
    assert out.exit_code == 0, out.output
    assert "resuming: 2 trial(s) already done of 3" in out.output
    assert "trial 0 started" not in out.output and "trial 1 started" not in out.output
    contents = RunFolder(old_runs / "iris-v010").load()
    assert [r.status for r in contents.records] == ["completed"] * 3
