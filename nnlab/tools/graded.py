"""The graded metric of a run, computed from its model's outputs (`graded_metric`): the search's
objective where it names a metric of the target's task (accuracy, f1, auc, pr_auc, precision, recall;
mae, mse, rmse, r2), and for a loss the loss it stands for (log loss of the classes; squared error of a
regression target, in the target's units). What `nnlab explain` measures the drop of. No TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnlab.data.preparation import Target
from nnlab.scores import macro_f1


@dataclass(frozen=True)
class Graded:
    """A metric: its name as shown, which way is better, and how it scores (truth, model outputs)."""

    name: str
    better: str  # "higher" or "lower"
    score: Callable[[np.ndarray, np.ndarray], float]

    @property
    def sign(self) -> int:
        """+1 for a score, -1 for a loss or an error (scikit-learn's scorers: higher is better)."""
        return 1 if self.better == "higher" else -1


def _classes(truth, out) -> np.ndarray:
    return np.asarray(out).argmax(axis=1)


def _metrics(target: Target) -> dict[str, Graded]:
    from sklearn import metrics as skm

    if target.task == "regression":
        def values(out):
            return np.asarray(out)[:, 0]

        return {
            "mae": Graded("mean absolute error", "lower", lambda t, o: float(skm.mean_absolute_error(t, values(o)))),
            "mse": Graded("mean squared error", "lower", lambda t, o: float(skm.mean_squared_error(t, values(o)))),
            "rmse": Graded("root mean squared error", "lower",
                           lambda t, o: float(np.sqrt(skm.mean_squared_error(t, values(o))))),
            "r2": Graded("R²", "higher", lambda t, o: float(skm.r2_score(t, values(o)))),
        }
    labels = list(range(len(target.class_names or [])))
    two = len(labels) == 2

    def log_loss(t, o):
        return float(skm.log_loss(t, np.clip(o, 1e-7, 1 - 1e-7), labels=labels))

    found = {
        "accuracy": Graded("accuracy", "higher", lambda t, o: float(skm.accuracy_score(t, _classes(t, o)))),
        "f1": Graded("macro F1", "higher", lambda t, o: macro_f1(t, _classes(t, o))),
        "log_loss": Graded("log loss", "lower", log_loss),
    }
    if two:
        found |= {
            "auc": Graded("ROC AUC", "higher", lambda t, o: float(skm.roc_auc_score(t, o[:, 1]))),
            "pr_auc": Graded("PR AUC", "higher", lambda t, o: float(skm.average_precision_score(t, o[:, 1]))),
            "precision": Graded("precision", "higher",
                                lambda t, o: float(skm.precision_score(t, _classes(t, o), zero_division=0))),
            "recall": Graded("recall", "higher", lambda t, o: float(skm.recall_score(t, _classes(t, o)))),
        }
    return found


def graded_metric(objective: str, target: Target) -> Graded:
    """The metric `objective` (val_accuracy, val_loss, val_price_mae, …) stands for on `target`; a loss,
    or a metric of the other task (several targets), is the target's own loss: log loss or squared error."""
    found = _metrics(target)
    base = objective.removeprefix("val_")
    for name in sorted(found, key=len, reverse=True):  # (pr_auc before auc; a head's prefix allowed)
        if base == name or base.endswith(f"_{name}"):
            return found[name]
    return found["log_loss" if target.task == "classification" else "mse"]
