"""The run's expected score on new rows (summary.json's `expected_score`): how far its best validation
score is likely to be from a score on rows the search never saw, and how that was found.

With data.test_split, best.keras (as saved: refitted, or the ensemble) is scored on the test rows that
no trial, no baseline fit and no choice of the search has seen, in the objective's own terms, beside
the gradient-boosting baseline refitted the same way. Without them there is no unseen row to score on,
and the record says so: the validation score is then the best of many noisy scores (Cawley and Talbot,
JMLR 2010) and likely above what new rows give.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab import baseline


def expected_score(data, model_path, objective: str, best_score: float | None, loss: str | None,
                   baseline_record: dict | None, seed: int, confirmed: dict | None = None) -> dict:
    """summary.json's `expected_score`: {value, metric, how, rows, validation, metrics, baseline}. Without
    test rows, search.confirm's cross-validated score of the chosen configuration where there is one,
    else value None (with `how` saying why), as where the objective is not scored."""
    record = {"metric": objective, "validation": best_score, "value": None, "rows": 0}
    if data.x_test is None:
        chosen = (confirmed or {}).get("order", [None])[0]
        value = (confirmed or {}).get("trials", {}).get(chosen, {}).get("score")
        if value is not None:
            return {**record, "value": value, "how": f"the chosen configuration (trial {chosen}) cross-validated "
                    f"over {confirmed['folds']} folds of the training and validation rows by search.confirm; "
                    "closer to new rows than the search's best, though those rows helped choose it "
                    "(data.test_split holds out rows nothing sees)"}
        folder = data.kind == "images" and data.preparation.table is None  # (an image folder, not a pixel CSV)
        aside = "images kept aside: `nnlab evaluate RUN FOLDER`" if folder else "data.test_split"
        return {**record, "how": f"no test rows ({aside}): the validation score was the search's best "
                                 "and is likely above a score on new rows"}
    reason = baseline.unscored_reason(objective, data.heads)  # (images too: only their baseline is missing)
    if reason:
        return {**record, "rows": len(data.x_test), "how": f"the test rows are not scored: {reason.split(': ', 1)[1]}"}
    from nnlab.engine.model.files import load_keras_file

    model = load_keras_file(model_path, "best.keras")
    output = np.asarray(model.predict(data.x_test, verbose=0, batch_size=1024), np.float64)
    if data.task == "classification" and output.shape[1] == 1:  # (two classes: the positive class's probability)
        output = np.concatenate([1 - output, output], axis=1)
    scores = baseline.objective_scores(data, loss, data.y_test, output)
    value = scores.get(objective)
    boosted = baseline.test_scores(data, baseline_record or {}, loss, seed)
    return {**record, "value": value if value is not None and math.isfinite(value) else None,
            "rows": len(data.x_test), "metrics": {k: round(v, 6) for k, v in scores.items() if math.isfinite(v)},
            "baseline": boosted.get(objective) if boosted else None,
            "how": f"best.keras scored once on {len(data.x_test)} test rows held out before the search "
                   f"(data.test_split{_scheme(data)}), which no trial saw"}


def _scheme(data) -> str:
    keys = data.row_keys
    if keys is None:
        return ""
    return f", the latest by {keys.column!r}" if keys.by == "time" else f", groups of {keys.column!r} no trial saw"


def described(expected: dict | None) -> str | None:
    """The closing line: the validation score beside the expected one, or why there is none."""
    if not expected:
        return None
    metric, validation, value = expected["metric"], expected.get("validation"), expected.get("value")
    shown = f"{validation:.4g}" if validation is not None else "none"
    if value is None:
        return f"expected score on new rows: unknown ({expected['how']}); validation {metric} {shown}"
    against = expected.get("baseline")
    boosted = f"; gradient boosting on the same rows: {against:.4g}" if against is not None else ""
    return (f"validation {metric} {shown}, expected on new rows about {value:.4g}: {expected['how']}{boosted}")
