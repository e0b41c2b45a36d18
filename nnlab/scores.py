"""How predictions are scored, in one place: macro F1 as the sweep's `val_f1` computes it (the Keras
metric in `engine.model.metrics` follows `macro_f1` here, and a test holds them together), and the figures
`evaluate` and `report` show. No TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np


def macro_f1(y_true, y_pred) -> float:
    """The mean F1 over the classes present in the truth or the predictions (scikit-learn's default):
    a class absent from both says nothing about the model and is left out, not counted as 0."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    scores = []
    for c in np.unique(np.concatenate([y_true, y_pred])):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp, fn = np.sum((y_pred == c) & (y_true != c)), np.sum((y_pred != c) & (y_true == c))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def score_predictions(y: np.ndarray, predictions: list, proba: np.ndarray | None, task: str,
                      class_names: list | None, predicted: np.ndarray | None = None) -> dict:
    """Classification: accuracy, macro F1, a per-class report (precision, recall, F1, support) and the
    confusion matrix; regression: RMSE, MAE, R² and the share of predictions within 10% of the truth.
    `predicted`: the class indices (a decision threshold's), where they are not the likeliest classes."""
    from sklearn import metrics as skm

    if task == "regression":
        pred = np.asarray(predictions, np.float64)
        truth = np.asarray(y, np.float64)
        nonzero = truth != 0
        within = np.abs(pred - truth)[nonzero] <= 0.1 * np.abs(truth[nonzero])
        return {"task": "regression", "examples": int(len(truth)),
                "rmse": float(math.sqrt(skm.mean_squared_error(truth, pred))),
                "mae": float(skm.mean_absolute_error(truth, pred)),
                "r2": float(skm.r2_score(truth, pred)) if len(truth) > 1 else float("nan"),
                "within_10_percent": float(within.mean()) if within.size else float("nan")}
    names = [str(c) for c in class_names]
    pred = proba.argmax(axis=1) if predicted is None else np.asarray(predicted)
    labels = list(range(len(names)))
    report = skm.classification_report(y, pred, labels=labels, target_names=names, output_dict=True,
                                       zero_division=0)
    return {"task": "classification", "examples": int(len(y)), "accuracy": float(skm.accuracy_score(y, pred)),
            "macro_f1": macro_f1(y, pred),
            "per_class": {name: {k: float(v) for k, v in report[name].items()} for name in names},
            "confusion_matrix": skm.confusion_matrix(y, pred, labels=labels).tolist(), "classes": names}


def metrics_text(result: dict) -> str:
    """The metrics as a person reads them (several targets: each under its name)."""
    if "targets" in result:
        return "\n".join(f"target {name}: " + metrics_text(one) for name, one in result["targets"].items())
    if result["task"] == "regression":
        return (f"{result['examples']} examples: RMSE {result['rmse']:.4g}, MAE {result['mae']:.4g}, "
                f"R² {result['r2']:.4f}, within 10% of the true value: {result['within_10_percent']:.1%}\n")
    names = result["classes"]
    width = max(len(n) for n in names + ["class"])
    lines = [f"{result['examples']} examples: accuracy {result['accuracy']:.4f}, macro F1 {result['macro_f1']:.4f}",
             "", f"{'class':<{width}}  precision  recall  f1      support"]
    for name in names:
        c = result["per_class"][name]
        lines.append(f"{name:<{width}}  {c['precision']:9.3f}  {c['recall']:6.3f}  {c['f1-score']:6.3f}  "
                     f"{int(c['support']):7d}")
    cell = max(5, max(len(str(v)) for row in result["confusion_matrix"] for v in row) + 1)
    lines += ["", "confusion matrix (rows: true class, columns: predicted)",
              " " * (width + 2) + "".join(f"{n[:cell - 1]:>{cell}}" for n in names)]
    for name, row in zip(names, result["confusion_matrix"]):
        lines.append(f"{name:<{width}}  " + "".join(f"{v:>{cell}}" for v in row))
    return "\n".join(lines) + "\n"
