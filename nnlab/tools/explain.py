"""Which inputs a run's model leans on, and how its prediction moves with one of them (`nnlab explain`
on a table or arrays run).

- `importance`: permutation importance of every original column (`sklearn.inspection.permutation_importance`):
  each column's values shuffled across the rows, `repeats` times, and the graded metric measured again;
  the drop (or, for a loss, the rise) is how much the model needs that column. A one-hot group, a date's
  parts and a column's embedding move together, because what is shuffled is the column itself
  (`inputview.ColumnView`), and the run's own preprocessing turns it into model inputs.
- `dependence`: partial dependence with individual (ICE) curves (`sklearn.inspection.partial_dependence`):
  the mean prediction (a value in the target's units, or a class's probability) as one column takes each
  value of a grid, every other column as it is.

Both wrap the model in a small scikit-learn estimator (`_RunClassifier`, `_RunRegressor`); the loops are
scikit-learn's. No TensorFlow here: `outputs` is a function that gives the model's outputs for model
inputs (`apply.model_outputs` with a loaded model, or any function in the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from nnlab.data.preparation import Preparation, Target
from nnlab.errors import DataError
from nnlab.tools.graded import Graded, graded_metric
from nnlab.tools.inputview import ColumnView

REPEATS = 5  # permutations per column (scikit-learn's default)
DEPENDENCE_ROWS = 1000  # rows whose curves are averaged (a sample of them, seeded, past this)
GRID = 20  # values of a number column along its 5–95th percentiles

Outputs = Callable[[np.ndarray], list[np.ndarray]]


@dataclass
class Importance:
    """One column's permutation importance: how much worse the graded metric gets with it shuffled."""

    column: str
    kind: str
    mean: float
    std: float
    drops: list[float]


@dataclass
class Importances:
    """Every column's importance for one target, most important first."""

    target: str | None
    metric: Graded
    score: float  # the metric on the rows as they are
    rows: int
    repeats: int
    columns: list[Importance]

    def to_json(self) -> dict:
        return {"target": self.target, "metric": self.metric.name, "better": self.metric.better,
                "score": self.score, "rows": self.rows, "repeats": self.repeats,
                "columns": [vars(c) for c in self.columns]}


@dataclass
class Dependence:
    """How the prediction moves with one column: `grid` (numbers, or category names), per output (a
    target's values, or each class's probability: `outputs`) the mean over the rows and each row's curve."""

    target: str | None
    column: str
    kind: str
    grid: list
    outputs: list[str]
    average: np.ndarray  # outputs × grid
    individual: np.ndarray  # outputs × rows × grid
    counts: list[int] = field(default_factory=list)  # a category's rows in the data

    def to_json(self) -> dict:
        return {"target": self.target, "column": self.column, "kind": self.kind, "grid": self.grid,
                "outputs": self.outputs, "average": self.average.tolist(), "counts": self.counts}


class _RunModel(BaseEstimator):
    """A run's model as scikit-learn sees it: rows of original-column values in, one target's predictions
    out (the run's preprocessing applied by `view.encode`; `index`: the target's place among the outputs)."""

    def __init__(self, outputs: Outputs, view: ColumnView, index: int, target: Target):
        self.outputs, self.view, self.index, self.target = outputs, view, index, target
        self.fitted_ = True
        self.classes_ = np.arange(len(target.class_names or []))

    def fit(self, X, y=None):  # noqa: N803 (scikit-learn's names) — the model is trained already
        return self

    def output(self, X):  # noqa: N803
        return self.outputs(self.view.encode(np.asarray(X, np.float64)))[self.index]

    def predict_proba(self, X):  # noqa: N803
        return self.output(X)

    def predict(self, X):  # noqa: N803
        out = self.output(X)
        return out[:, 0] if self.target.task == "regression" else out.argmax(axis=1)


class _RunClassifier(ClassifierMixin, _RunModel):
    pass


class _RunRegressor(RegressorMixin, _RunModel):
    pass


def _estimator(outputs: Outputs, view: ColumnView, index: int, target: Target) -> _RunModel:
    kind = _RunClassifier if target.task == "classification" else _RunRegressor
    return kind(outputs, view, index, target)


def importance(outputs: Outputs, preparation: Preparation, x: np.ndarray, y, objective: str,
               repeats: int = REPEATS, seed: int = 0) -> list[Importances]:
    """Per target, every original column's permutation importance on rows `x` (model inputs) with labels
    `y` (one target: an array; several: a dict by target name), measured with the run's graded metric."""
    from sklearn.inspection import permutation_importance

    view = ColumnView(preparation, x)
    values = view.values()
    out = []
    for index, target in enumerate(preparation.outputs()):
        labels = np.asarray(y[target.name] if isinstance(y, dict) else y)
        metric = graded_metric(objective, target)
        estimator = _estimator(outputs, view, index, target)

        def scorer(est, X, truth, metric=metric):  # noqa: N803
            return metric.sign * metric.score(truth, est.output(X))

        found = permutation_importance(estimator, values, labels, scoring=scorer, n_repeats=repeats,
                                       random_state=seed, n_jobs=1)
        score = metric.score(labels, estimator.output(values))
        columns = [Importance(c.name, c.kind, float(m), float(s), [float(v) for v in d])
                   for c, m, s, d in zip(view.columns, found.importances_mean, found.importances_std,
                                         found.importances)]
        columns.sort(key=lambda c: -c.mean)
        out.append(Importances(target.name, metric, float(score), len(labels), repeats, columns))
    return out


def dependence(outputs: Outputs, preparation: Preparation, x: np.ndarray, column: str, seed: int = 0,
               rows: int = DEPENDENCE_ROWS) -> list[Dependence]:
    """Per target, partial dependence and individual curves of `column` (a number or a category) over
    rows `x` (a seeded sample of `rows` of them when there are more)."""
    from sklearn.inspection import partial_dependence

    view = ColumnView(preparation, x)
    found = {c.name.lower(): (j, c) for j, c in enumerate(view.columns)}
    if column.lower() not in found:
        raise DataError(f"the run has no input column {column!r}; its columns: {', '.join(view.names)}")
    j, col = found[column.lower()]
    if col.kind == "date":
        raise DataError(f"{col.name!r} is a date, which reaches the model as several inputs (its year, month, …): "
                        "its permutation importance is shown, but not how the prediction moves with it")
    every = view.values()
    values = every[np.random.default_rng(seed).choice(len(every), rows, replace=False)] if len(every) > rows else every
    categorical = col.kind == "category"
    out = []
    for index, target in enumerate(preparation.outputs()):
        estimator = _estimator(outputs, view, index, target)
        result = partial_dependence(estimator, values, [j], kind="both", grid_resolution=GRID,
                                    categorical_features=[j] if categorical else None)
        grid = np.asarray(result["grid_values"] if "grid_values" in result else result["values"])[0]
        names = _output_names(target, getattr(preparation.source, "target", None))
        counts = [int(np.sum(every[:, j] == g)) for g in grid] if categorical else []
        shown = [col.labels[int(g)] for g in grid] if categorical else [float(g) for g in grid]
        out.append(Dependence(target.name, col.name, col.kind, shown, names, np.asarray(result["average"]),
                              np.asarray(result["individual"]), counts))
    return out


def _output_names(target: Target, column=None) -> list[str]:
    """What each curve of partial_dependence is: a target's value (named after its column), the positive
    class's probability (two classes: scikit-learn gives the second class's only), or each class's."""
    if target.task == "regression":
        return [str(target.name or (column if isinstance(column, str) else "prediction"))]
    names = [str(c) for c in target.class_names]
    return [f"P({names[1]})"] if len(names) == 2 else [f"P({n})" for n in names]


def top_columns(found: list[Importances], count: int = 3) -> list[str]:
    """The most important columns (of the first target) that partial dependence can vary."""
    return [c.column for c in found[0].columns if c.kind != "date"][:count]
