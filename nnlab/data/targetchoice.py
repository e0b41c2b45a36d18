"""data.target_transform: auto — whether a regression target is fitted as log(1 + y) or as it is,
decided by a score in the target's own units, not by its skewness.

A quick probe on the training rows only (the validation rows, on which the trials are ranked, are not
touched): scikit-learn's HistGradientBoosting is fitted on y and on log(1 + y) by 3-fold
cross-validation over them (seeded), and each fit's predictions on its held-out third are turned back
into the target's units and scored by R², the score `nnlab evaluate` reports. The transform whose mean
R² is higher is chosen, and a note gives both figures. A target that goes below 0 cannot be logged and
is fitted as it is.
No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.data.rules import TargetTransform
from nnlab.data.splits import RowKeys, fold_indices
from nnlab.errors import DataError

PROBE_ROWS = 20_000  # at most this many training rows take part in the probe (sampled with the seed)
PROBE_TREES = 100  # boosting iterations of each probe fit
PROBE_FOLDS = 3  # each way is fitted on two thirds of those rows and scored on the other third, three times


@dataclass(frozen=True)
class Choice:
    """What the probe chose for one target, and why (`note`)."""

    transform: TargetTransform | None  # None: fitted as it is
    note: str


def choose_transform(x_train: np.ndarray, y_train, y_val, name: str, seed: int, keys: RowKeys | None = None) -> Choice:
    """log(1 + y) or nothing for the target `name` (its training values `y_train`, its features `x_train`;
    its validation values `y_val` only say whether every value allows a log). `keys`: the training rows'
    keys under data.split by time or group, whose folds the probe then uses."""
    y = np.asarray(y_train, np.float64)
    low = float(np.min(np.concatenate([y, np.asarray(y_val, np.float64)]))) if len(y) else 0.0
    if low < 0:
        return Choice(None, f"data.target_transform: auto fits the target {name!r} as it is: it goes down to "
                            f"{low:.4g}, and log(1 + y) needs 0 or more")
    if len(y) < 20 or np.ptp(y) == 0:
        return Choice(None, f"data.target_transform: auto fits the target {name!r} as it is: too few different "
                            "training values to compare the two ways")
    plain, logged = _probe(x_train.reshape(len(x_train), -1), y, seed, keys)
    scores = f"R² {logged:.3f} fitted as log(1 + y) against {plain:.3f} as it is"
    how = ("a quick gradient-boosting probe (3-fold cross-validation over the training rows, scored in the "
           "target's own units); set data.target_transform: log or none to choose yourself")
    if logged > plain:
        return Choice(TargetTransform("log"), f"data.target_transform: auto fits the target {name!r} as "
                                              f"log(1 + y): {scores}, in {how}")
    return Choice(None, f"data.target_transform: auto fits the target {name!r} as it is: {scores}, in {how}")


def _probe(x: np.ndarray, y: np.ndarray, seed: int, keys: RowKeys | None) -> tuple[float, float]:
    """(R² fitted as it is, R² fitted as log(1 + y)), both in the target's units: each the mean over
    PROBE_FOLDS folds of the training rows (a skewed target's R² hangs on a few rows, so one split
    would be a coin toss), drawn as data.split draws the trials' folds."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import r2_score

    from nnlab.threads import one_thread

    order = np.random.default_rng(seed).permutation(len(y))[:PROBE_ROWS]
    folds = [(order[f], order[h]) for f, h in _folds(y[order], seed, keys.take(order) if keys else None)]
    scores: list[list[float]] = [[], []]
    with one_thread():
        for fit, held in folds:
            for i, logged in enumerate((False, True)):
                model = HistGradientBoostingRegressor(max_iter=PROBE_TREES, early_stopping=False, random_state=seed)
                model.fit(x[fit], np.log1p(y[fit]) if logged else y[fit])
                pred = model.predict(x[held])
                scores[i].append(float(r2_score(y[held], TargetTransform("log").inverse(pred) if logged else pred)))
    return float(np.mean(scores[0])), float(np.mean(scores[1]))


def _folds(y: np.ndarray, seed: int, keys: RowKeys | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The probe's folds over these rows (positions): consecutive thirds of the shuffled rows, or under
    data.split by time or group, that scheme's folds (the thirds where it cannot make them)."""
    if keys is not None:
        try:
            return fold_indices(y, "regression", PROBE_FOLDS, seed, keys)
        except DataError:  # (too few times or groups for three folds: the trials' own split still holds)
            pass
    thirds = np.array_split(np.arange(len(y)), PROBE_FOLDS)
    return [(np.concatenate([f for j, f in enumerate(thirds) if j != k]), held) for k, held in enumerate(thirds)]
