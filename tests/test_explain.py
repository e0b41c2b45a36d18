"""Answers without TensorFlow: a run's columns seen and encoded again, permutation importance and partial
dependence over a known function, the decision threshold, metrics by group, the graded metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnlab.data import tabular
from nnlab.data.preparation import Preparation, TablePrep, Target
from nnlab.errors import DataError
from nnlab.tools import threshold as thresholds
from nnlab.tools.explain import dependence, importance, top_columns
from nnlab.tools.graded import graded_metric
from nnlab.tools.inputview import ColumnView
from nnlab.tools.segments import by_segment, segments_text


def prepared(frame: pd.DataFrame, task: str = "regression", classes=None):
    """A table prepared as a run prepares its training rows: (preparation, model inputs)."""
    notes: list[str] = []
    columns = tabular.column_types(frame, tabular.ReadOptions([], [], [], None, "", None), notes)
    record = tabular.fit_preprocessing(frame, columns, 20, notes)
    x = tabular.apply_preprocessing(record, frame)
    return Preparation(TablePrep(record, "y"), task, (x.shape[1],), classes), x


@pytest.fixture(scope="module")
def friedman():
    """scikit-learn's Friedman #1: y depends on x0–x4 only; x5–x9 and a colour are noise."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(1500, 10, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    frame["colour"] = np.random.default_rng(0).choice(["red", "blue", "green"], len(frame))
    preparation, x = prepared(frame)

    def outputs(rows):  # the true function, reading the columns back from model inputs
        v = ColumnView(preparation, rows).values()
        y = 10 * np.sin(np.pi * v[:, 0] * v[:, 1]) + 20 * (v[:, 2] - 0.5) ** 2 + 10 * v[:, 3] + 5 * v[:, 4]
        return [y[:, None]]

    return preparation, x, y, outputs


def test_a_column_view_encodes_back_to_the_same_model_inputs():
    frame = pd.DataFrame({"n": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0], "c": ["a", "b", "a", None, "c", "b"],
                          "d": ["2020-01-03", "2020-02-05", "2021-03-01", "2020-07-09", "2022-01-01", "2020-05-05"]})
    preparation, x = prepared(frame)
    view = ColumnView(preparation, x)
    assert [c.kind for c in view.columns] == ["number", "category", "date"]
    assert np.allclose(view.encode(view.values()), x, atol=1e-6)
    shuffled = view.values()[[5, 4, 3, 2, 1, 0]]
    assert np.allclose(view.encode(shuffled), x[::-1], atol=1e-6)  # (a whole row's columns moved: the row moved)


def test_permutation_importance_ranks_every_informative_column_above_the_noise(friedman):
    preparation, x, y, outputs = friedman
    found = importance(outputs, preparation, x, y, "val_loss", repeats=3)
    assert found[0].metric.name == "mean squared error" and found[0].metric.better == "lower"
    ranked = [c.column for c in found[0].columns]
    assert set(ranked[:5]) == {"x0", "x1", "x2", "x3", "x4"}
    assert all(c.mean == pytest.approx(0, abs=1e-9) for c in found[0].columns[5:])  # (unused: no change at all)
    assert top_columns(found, 2) == ranked[:2]


def test_partial_dependence_follows_the_function_and_shows_categories_as_bars(friedman):
    preparation, x, _, outputs = friedman
    curve = dependence(outputs, preparation, x, "X3", rows=200)[0]  # (a column named in any case)
    assert curve.column == "x3" and curve.individual.shape[1] == 200
    slope = (curve.average[0][-1] - curve.average[0][0]) / (curve.grid[-1] - curve.grid[0])
    assert slope == pytest.approx(10, rel=1e-6)  # y = … + 10 · x3
    bars = dependence(outputs, preparation, x, "colour")[0]
    assert bars.kind == "category" and sorted(bars.grid) == ["blue", "green", "red"]
    assert sum(bars.counts) == len(x) and np.ptp(bars.average[0]) == pytest.approx(0, abs=1e-9)
    with pytest.raises(DataError, match="no input column 'price'"):
        dependence(outputs, preparation, x, "price")


def test_a_classifier_is_measured_with_the_runs_objective_and_its_dependence_is_a_probability():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"signal": rng.normal(size=600), "noise": rng.normal(size=600)})
    y = (frame["signal"] > 0).astype(int).to_numpy()
    preparation, x = prepared(frame, "classification", ["no", "yes"])

    def outputs(rows):
        p = 1 / (1 + np.exp(-4 * ColumnView(preparation, rows).values()[:, 0]))
        return [np.column_stack([1 - p, p])]

    found = importance(outputs, preparation, x, y, "val_accuracy", repeats=2)[0]
    assert found.metric.name == "accuracy" and [c.column for c in found.columns] == ["signal", "noise"]
    assert found.columns[0].mean > 0.3
    curve = dependence(outputs, preparation, x, "signal")[0]
    assert curve.outputs == ["P(yes)"] and curve.average[0][-1] > curve.average[0][0]


def test_the_graded_metric_follows_the_objective():
    two = Target(None, "classification", ["no", "yes"])
    assert graded_metric("val_auc", two).name == "ROC AUC"
    assert graded_metric("val_pr_auc", two).name == "PR AUC"
    assert graded_metric("val_loss", two).name == "log loss"
    assert graded_metric("val_price_rmse", Target("price", "regression")).name == "root mean squared error"
    assert graded_metric("val_accuracy", Target("price", "regression")).name == "mean squared error"


def test_the_threshold_with_the_highest_f1_or_lowest_cost_is_found():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.1).astype(int)
    p = np.clip(0.35 * y + 0.6 * rng.random(2000), 0, 1)
    best = thresholds.choose(y, p, "f1")
    brute = max(np.unique(p), key=lambda t: thresholds.at(y, p, t)["f1"])
    assert thresholds.at(y, p, best.value)["f1"] == pytest.approx(thresholds.at(y, p, brute)["f1"])
    cost = thresholds.parse_rule("fp=1, fn=5")
    cheap = thresholds.choose(y, p, cost)
    brute = min(np.unique(np.r_[p, 0.5]), key=lambda t: thresholds.at(y, p, t, cost)["cost"])
    assert thresholds.at(y, p, cheap.value, cost)["cost"] == thresholds.at(y, p, brute, cost)["cost"]
    assert cheap.value <= best.value  # (a missed positive costing more: a lower line)
    assert "chosen on 2000 validation rows" in cheap.describe()


@pytest.mark.parametrize("text", ["1.5", "fp=1", "fp=a,fn=2", "maybe", "fp=0,fn=0"])
def test_a_malformed_threshold_rule_is_refused_clearly(text):
    with pytest.raises(DataError):
        thresholds.parse_rule(text)


def test_metrics_by_group_flag_the_group_far_below():
    rng = np.random.default_rng(2)
    groups = pd.Series(rng.choice(["student", "admin", "retired"], 900))
    y = rng.integers(0, 2, 900)
    predicted = y.copy()
    bad = (groups == "student").to_numpy()
    predicted[bad] = rng.integers(0, 2, bad.sum())  # right half of the time for students only
    found = by_segment(groups, "job", y, "classification", predicted)
    flagged = {g["group"]: g["flagged"] for g in found["groups"]}
    assert flagged == {"student": True, "admin": False, "retired": False}
    assert sum(g["rows"] for g in found["groups"]) == 900
    assert "far below" in segments_text(found)
    numbers = by_segment(pd.Series(rng.normal(size=900)), "age", y, "classification", predicted)
    assert len(numbers["groups"]) == 4 and "quantile" in numbers["how"]
