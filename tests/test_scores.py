"""One definition of macro F1: the sweep's `val_f1` (a Keras metric) and evaluate's figure agree,
also when a class is absent from the validation rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from nnlab.scores import macro_f1

runner = CliRunner()


def test_macro_f1_averages_over_the_classes_present():
    truth, predicted = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    f1_0, f1_1 = 2 * 1 / (2 * 1 + 0 + 1), 2 * 2 / (2 * 2 + 1 + 0)
    assert macro_f1(truth, predicted) == pytest.approx((f1_0 + f1_1) / 2)
    # class 2 exists in the task but in neither the truth nor the predictions: it is not counted as 0
    assert macro_f1(truth, predicted) == pytest.approx(0.7333333)
    from sklearn.metrics import f1_score

    assert macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert macro_f1(np.array([0, 1]), np.array([2, 2])) == 0.0  # predicted a class never true: counts as 0


@pytest.mark.slow
@pytest.mark.parametrize("classes, binary", [(4, False), (2, True)])
def test_the_keras_metric_follows_the_one_definition(classes, binary):
    from nnlab.engine.model.metrics import macro_f1_metric

    rng = np.random.default_rng(classes)
    for _ in range(5):
        truth = rng.integers(0, classes - 1, 60)  # the last class never true
        if binary:
            proba = rng.uniform(size=(60, 1))
            predicted = (proba[:, 0] > 0.5).astype(int)
        else:
            proba = rng.dirichlet(np.ones(classes), 60)
            predicted = proba.argmax(axis=1)
        metric = macro_f1_metric(classes, binary)
        metric.update_state(truth[:30], proba[:30])  # two batches, as a validation pass has
        metric.update_state(truth[30:], proba[30:])
        assert float(metric.result()) == pytest.approx(macro_f1(truth, predicted), abs=1e-6)


@pytest.mark.slow
def test_val_f1_and_evaluate_agree_when_a_class_is_missing_from_validation(write, tmp_path):
    from nnlab.engine.sweep import run
    from nnlab.spec.loader import load_spec

    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)  # classes 0, 1, 2
    keep = y[180:] < 2  # the validation rows hold no class 2
    np.savez(tmp_path / "d.npz", x=x[:180], y=y[:180], x_val=x[180:][keep], y_val=y[180:][keep])
    np.savez(tmp_path / "val.npz", x=x[180:][keep], y=y[180:][keep])
    spec = write("s.yaml", """
        data: {source: npz, path: d.npz, task: classification}
        model: {kind: mlp, layers: 1, units: 8}
        train: {epochs: 4, batch_size: 32, learning_rate: 0.01, metrics: [f1]}
        search: {max_trials: 1, objective: val_f1, refit: false}  # best.keras: the trial as scored
    """)
    result = run(load_spec(spec), tmp_path / "runs", quiet=True)
    assert result.exit_code == 0
    out = runner.invoke(app, ["evaluate", str(result.run_dir), str(tmp_path / "val.npz"), "--json"])
    assert out.exit_code == 0, out.output
    evaluated = json.loads(out.output)
    assert set(evaluated["classes"]) == {"0", "1", "2"}
    assert evaluated["macro_f1"] == pytest.approx(result.summary.best_score, abs=1e-6)
