"""Answers from finished runs, as a user asks them: `explain` on a table (Friedman #1) and on a CNN (a
class decided by a patch in one corner), `evaluate` with the threshold, a cost and `--by`, `predict
--threshold`, the spec's data.threshold, and the report's section."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.engine.sweep import run
from nnlab.spec.loader import load_spec

pytestmark = pytest.mark.slow
runner = CliRunner()


def swept(folder, name: str, text: str):
    (folder / f"{name}.yaml").write_text(text)
    result = run(load_spec(folder / f"{name}.yaml"), folder / "runs", quiet=True)
    assert result.exit_code == 0
    return result.run_dir


@pytest.fixture(scope="module")
def friedman_run(tmp_path_factory):
    from sklearn.datasets import make_friedman1

    folder = tmp_path_factory.mktemp("friedman")
    X, y = make_friedman1(1200, 10, noise=0.3, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=y)
    frame.to_csv(folder / "f.csv", index=False)
    return folder, swept(folder, "f", "name: f\ndata: {source: csv, path: f.csv, target: y}\n"
                                       "model: {kind: mlp, layers: 2, units: 64}\n"
                                       "train: {epochs: 30, batch_size: 32, learning_rate: 0.01}\n"
                                       "search: {max_trials: 1, refit: false}\n")


def test_explain_ranks_every_informative_column_above_every_noise_column(friedman_run):
    folder, run_dir = friedman_run
    result = runner.invoke(app, ["explain", str(run_dir), "--repeats", "3", "--top", "1", "--feature", "x9",
                                 "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    ranked = [c["column"] for c in found["importance"][0]["columns"]]
    assert set(ranked[:5]) == {"x0", "x1", "x2", "x3", "x4"}, ranked
    assert [d["column"] for d in found["dependence"]] == [ranked[0], "x9"]
    assert {p.name for p in (run_dir / "explain").iterdir()} >= {"importance.png", "explain.json",
                                                                 f"dependence_{ranked[0]}.png", "dependence_x9.png"}
    refused = runner.invoke(app, ["explain", str(run_dir), "--feature", "price", "-o", str(folder / "out")])
    assert refused.exit_code == 2 and "no input column 'price'" in refused.output


@pytest.fixture(scope="module")
def bank_run(tmp_path_factory):
    from sklearn.datasets import make_classification

    folder = tmp_path_factory.mktemp("bank")
    X, y = make_classification(2400, 6, n_informative=4, weights=[0.88], flip_y=0.02, random_state=1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    frame["job"] = np.random.default_rng(1).choice(["student", "admin"], len(frame))
    frame["y"] = np.where(y == 1, "yes", "no")
    frame.iloc[:1800].to_csv(folder / "bank.csv", index=False)
    frame.iloc[1800:].to_csv(folder / "test.csv", index=False)
    return folder, swept(folder, "bank", "name: bank\ndata: {source: csv, path: bank.csv, target: y, threshold: f1}\n"
                                         "model: {kind: mlp, layers: 1, units: 32}\n"
                                         "train: {epochs: 12, batch_size: 64, learning_rate: 0.01}\n"
                                         "search: {max_trials: 1, objective: val_accuracy}\n")


def test_evaluate_shows_the_threshold_in_use_the_chosen_one_and_the_groups(bank_run):
    folder, run_dir = bank_run
    result = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "test.csv"), "--cost", "fp=1,fn=5",
                                 "--by", "JOB", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    section = found["threshold"]
    assert "the highest F1" in section["in_use"]["how"] and "by trial" in section["in_use"]["how"]  # (refitted)
    assert "the lowest cost fp=1,fn=5" in section["chosen"]["how"] and "cost" in section["chosen"]
    assert section["positive_class"] == "yes" and len(section["curve"]["threshold"]) > 10
    tp, fn = section["in_use"]["true_positives"], section["in_use"]["false_negatives"]
    assert found["per_class"]["yes"]["recall"] == pytest.approx(tp / (tp + fn))  # (the metrics at the threshold)
    assert [g["group"] for g in found["segments"][""]["groups"]] == ["admin", "student"] or \
        [g["group"] for g in found["segments"][""]["groups"]] == ["student", "admin"]
    text = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "test.csv"), "--by", "f0"])
    assert text.exit_code == 0 and "quantile bins" in text.output and "precision–recall curve" in text.output
    bad = runner.invoke(app, ["evaluate", str(run_dir), str(folder / "test.csv"), "--by", "nope"])
    assert bad.exit_code == 2 and "no such column" in bad.output


def test_predict_uses_the_threshold_it_is_given(bank_run, tmp_path):
    folder, run_dir = bank_run
    low = runner.invoke(app, ["predict", str(run_dir), str(folder / "test.csv"), "--threshold", "0.01",
                              "-o", str(tmp_path / "low.csv")])
    high = runner.invoke(app, ["predict", str(run_dir), str(folder / "test.csv"), "--threshold", "0.99",
                               "-o", str(tmp_path / "high.csv")])
    assert low.exit_code == 0 and high.exit_code == 0, low.output + high.output
    yes = [(pd.read_csv(tmp_path / f)["predictions"] == "yes").sum() for f in ("low.csv", "high.csv")]
    assert yes[0] > yes[1] and "at least threshold 0.01 (given)" in low.output
    bad = runner.invoke(app, ["predict", str(run_dir), str(folder / "test.csv"), "--threshold", "2"])
    assert bad.exit_code == 2 and "between 0 and 1" in bad.output


def test_gradcam_looks_at_the_corner_that_decides_the_class(tmp_path):
    from nnlab.engine.gradcam import heat_maps
    from nnlab.tools.apply import load_model, open_run

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 120, (400, 20, 20, 1)).astype("float32")
    y = rng.integers(0, 2, 400)
    x[y == 1, 2:7, 2:7, 0] = 255
    np.savez(tmp_path / "corner.npz", x=x, y=y)
    run_dir = swept(tmp_path, "corner", "name: corner\ndata: {source: npz, path: corner.npz, task: classification}\n"
                                        "model: {kind: cnn, conv_blocks: 2, filters: 8, dense_units: 16}\n"
                                        "train: {epochs: 6, batch_size: 32, learning_rate: 0.003}\n"
                                        "search: {max_trials: 1, objective: val_accuracy, refit: false}\n")
    marked = x[y == 1][:20]
    maps = heat_maps(load_model(open_run(run_dir)), marked, np.ones(20, np.int64))
    share = maps[:, :10, :10].sum(axis=(1, 2)) / maps.sum(axis=(1, 2))
    assert share.mean() > 0.6, share  # (the quarter with the patch holds most of the heat)
    result = runner.invoke(app, ["explain", str(run_dir), "--images", "3"])
    assert result.exit_code == 0, result.output
    written = {p.name for p in (run_dir / "explain").iterdir()}
    assert sum(name.startswith("gradcam_") for name in written) == 3 and "explain.json" in written
    report = runner.invoke(app, ["report", str(run_dir)])
    assert report.exit_code == 0 and "What the model looks at" in (run_dir / "report.html").read_text()
