"""search.baseline: gbm — a tuned gradient-boosting model beside the network's trials, so a student
sees at once whether the network is competitive.

scikit-learn's HistGradientBoosting is fitted on the same training rows as the trials and scored on the
same validation rows (with data.folds, on the same folds, averaged), in the objective's own terms: the
same loss (in the space the target is fitted in, with data.target_transform) or the same metric (in the
target's own units). A small random search of `CANDIDATES` configurations, chosen on that score, as the
trials are. It is recorded in summary.json (`Summary.baseline`) and never becomes best.keras.
No TensorFlow.
"""

from __future__ import annotations

import math
import time

import numpy as np

from nnlab.scores import score_predictions
from nnlab.threads import one_thread

CANDIDATES = 6  # configurations of the baseline's random search
SPACE = {"learning_rate": (0.03, 0.06, 0.1, 0.2), "max_leaf_nodes": (15, 31, 63), "min_samples_leaf": (5, 20, 50),
         "l2_regularization": (0.0, 0.1, 1.0)}
SCORED = ("loss", "accuracy", "f1", "auc", "mae", "mse", "rmse", "r2")  # the objectives it can be scored on


def unscored_reason(objective: str, heads: list, kind: str = "tabular") -> str | None:
    """Why this run gets no baseline, or None."""
    if kind == "images":
        return ("search.baseline: gradient boosting is a baseline for tables; on pixels it would take long and "
                "say little, so this run has none")
    if heads:
        return "search.baseline: not offered for several targets yet (one model per target would be needed)"
    name = objective.removeprefix("val_")
    if not objective.startswith("val_") or name not in SCORED:
        return (f"search.baseline: the objective {objective} has no baseline score (it scores val_loss, "
                f"{', '.join('val_' + m for m in SCORED[1:])})")
    return None


def fit_baseline(data, objective: str, direction: str, loss: str | None, folds: list | None, seed: int) -> dict:
    """The baseline's record: its score on `objective`, its other scores, the configuration chosen and
    the seconds it took. `folds`: (training rows, validation rows) over all the rows, or None."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    configs = [{k: v[int(rng.integers(len(v)))] for k, v in SPACE.items()} for _ in range(CANDIDATES)]
    if folds is None:
        splits = [(data.x_train, data.y_train, data.x_val, data.y_val)]
    else:
        x, y = np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
        splits = [(x[t], y[t], x[v], y[v]) for t, v in folds]
    best = None
    for config in configs:
        with one_thread():
            scores = [_scores(data, config, loss, seed, *split) for split in splits]
        mean = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
        value = mean.get(objective, math.nan)
        better = best is None or (value < best[0] if direction == "min" else value > best[0])
        if math.isfinite(value) and better:
            best = (value, config, mean)
    if best is None:
        return {"model": "HistGradientBoosting", "score": None, "seconds": round(time.monotonic() - started, 2)}
    return {"model": "HistGradientBoosting", "score": best[0], "metrics": best[2], "params": best[1],
            "candidates": CANDIDATES, "seconds": round(time.monotonic() - started, 2)}


def _scores(data, config: dict, loss: str | None, seed: int, x_train, y_train, x_val, y_val) -> dict:
    model = _fitted_model(data, config, loss, seed, x_train, y_train)
    return objective_scores(data, loss, y_val, _predicted(data, model, x_val))


def _fitted_model(data, config: dict, loss: str | None, seed: int, x_train, y_train):
    """HistGradientBoosting of this configuration fitted on these rows (a regression target as fitted:
    transformed, with data.target_transform)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    x_train = x_train.reshape(len(x_train), -1)
    if data.task == "classification":
        return HistGradientBoostingClassifier(max_iter=300, random_state=seed, **config).fit(x_train, y_train)
    transform = data.target_transform
    fitted = transform.forward(y_train) if transform else np.asarray(y_train, np.float64)
    kind = {"mae": "absolute_error", "poisson": "poisson"}.get(loss or "mse", "squared_error")
    return HistGradientBoostingRegressor(loss=kind, max_iter=300, random_state=seed, **config).fit(x_train, fitted)


def _predicted(data, model, x) -> np.ndarray:
    """Class probabilities (a column per class), or values in the target's own units."""
    x = x.reshape(len(x), -1)
    if data.task == "classification":
        proba = np.zeros((len(x), data.num_classes))
        proba[:, model.classes_] = model.predict_proba(x)  # (a class absent from a fold's rows: 0)
        return proba
    pred = model.predict(x)
    return data.target_transform.inverse(pred) if data.target_transform else pred


def objective_scores(data, loss: str | None, truth, output) -> dict:
    """Every objective the baseline can be scored on (`SCORED`, as val_NAME) of predictions `output` for
    the rows whose targets are `truth`: class probabilities (a column per class), or regression values
    in the target's own units. The loss is the trials' (in the space the target is fitted in)."""
    if data.task == "classification":
        return _classification_scores(np.asarray(truth, np.int64), np.asarray(output, np.float64))
    own, truth = np.asarray(output, np.float64).reshape(-1), np.asarray(truth, np.float64)
    transform = data.target_transform
    fitted = (transform.forward(own), transform.forward(truth)) if transform else (own, truth)
    return {"val_loss": _regression_loss(loss, fitted[1], fitted[0]), **_regression_scores(truth, own)}


def test_scores(data, baseline: dict, loss: str | None, seed: int) -> dict | None:
    """data.test_split: the baseline's configuration fitted on the training and validation rows (as
    best.keras is) and scored on the test rows; None without a baseline or test rows."""
    if data.x_test is None or not baseline.get("params"):
        return None
    x, y = np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val])
    with one_thread():
        model = _fitted_model(data, baseline["params"], loss, seed, x, y)
        return objective_scores(data, loss, data.y_test, _predicted(data, model, data.x_test))


def _classification_scores(y: np.ndarray, proba: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    clipped = np.clip(proba, 1e-7, 1 - 1e-7)
    graded = score_predictions(y, [], proba, "classification", list(range(proba.shape[1])))  # (as evaluate does)
    scores = {"val_loss": float(-np.mean(np.log(clipped[np.arange(len(y)), y]))),
              "val_accuracy": graded["accuracy"], "val_f1": graded["macro_f1"]}
    try:
        scores["val_auc"] = float(roc_auc_score(y, proba[:, 1]) if proba.shape[1] == 2 else
                                  roc_auc_score(y, proba, multi_class="ovr", labels=list(range(proba.shape[1]))))
    except ValueError:  # (one class only in these validation rows)
        scores["val_auc"] = math.nan
    return scores


def _regression_loss(loss: str | None, truth: np.ndarray, pred: np.ndarray) -> float:
    error = pred - truth
    if loss == "mae":
        return float(np.mean(np.abs(error)))
    if loss == "huber":  # (Keras's Huber, delta 1)
        small = np.abs(error) <= 1.0
        return float(np.mean(np.where(small, 0.5 * error**2, np.abs(error) - 0.5)))
    if loss == "poisson":
        return float(np.mean(pred - truth * np.log(pred + 1e-7)))
    return float(np.mean(error**2))


def _regression_scores(truth: np.ndarray, pred: np.ndarray) -> dict:
    graded = score_predictions(truth, list(pred), None, "regression", None)  # (as evaluate grades them)
    return {"val_mae": graded["mae"], "val_mse": graded["rmse"] ** 2, "val_rmse": graded["rmse"],
            "val_r2": graded["r2"]}


def described(baseline: dict, objective: str) -> str:
    """The run header's line about the baseline."""
    if baseline.get("score") is None:
        return "search.baseline: gradient boosting gave no score on these rows"
    return (f"baseline: gradient boosting (HistGradientBoosting, the best of {baseline['candidates']} "
            f"configurations) scores {objective} {baseline['score']:.4g} on the trials' validation rows, in "
            f"{baseline['seconds']:.1f} s; the trials are compared with it at the end")


def versus(baseline: dict, best_score: float | None, objective: str, direction: str) -> str | None:
    """The closing line: the best trial against the baseline, or None without both scores."""
    score = baseline.get("score")
    if score is None or best_score is None:
        return None
    ahead = best_score < score if direction == "min" else best_score > score
    same = math.isclose(best_score, score, rel_tol=1e-9)
    word = "level with" if same else "ahead of" if ahead else "behind"
    return (f"the best trial's {objective} {best_score:.4g} is {word} the gradient-boosting baseline's "
            f"{score:.4g} (search.baseline)")
