"""For whom a model works (`nnlab evaluate RUN DATA --by COLUMN`): the metrics per value of a column of
categories, or per quantile bin of a column of numbers, with row counts, and the groups far below the
overall score flagged. The column may be any column of DATA, a feature or not. No TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.errors import DataError

BINS = 4  # quantile bins of a column of numbers
MOST = 20  # values of a column of categories shown (the rest together as "(other values)")
FEW = 12  # a column of numbers with this many distinct values or fewer is grouped by value


def groups(series, bins: int = BINS) -> tuple[list[str], np.ndarray, str]:
    """(group names, each row's group index or -1 for a missing cell, how they were made)."""
    import pandas as pd

    from nnlab.data.tablefit import category_name, is_numeric

    values = series.reset_index(drop=True)
    if is_numeric(values) and values.nunique() > FEW:
        cut = pd.qcut(values.astype(float), bins, duplicates="drop")
        names = [f"{interval.left:.4g} to {interval.right:.4g}" for interval in cut.cat.categories]
        return names, cut.cat.codes.to_numpy(), f"{len(names)} quantile bins of its numbers"
    keys = values.map(lambda v: None if pd.isna(v) else category_name(v))
    counts = keys.value_counts()
    names = [str(n) for n in counts.index[:MOST]]
    index = {name: i for i, name in enumerate(names)}
    rest = len(counts) > MOST
    codes = np.array([-1 if k is None else index.get(k, len(names)) for k in keys], np.int64)
    how = "each of its values" if not rest else f"its {MOST} most frequent values (the rest together)"
    return names + (["(other values)"] if rest else []), codes, how


def by_segment(series, column: str, y: np.ndarray, task: str, predicted: np.ndarray) -> dict:
    """The metrics of each group of rows: accuracy (and macro F1) of class indices `predicted`, or the
    RMSE and MAE of values; a group is flagged when it is clearly below the rows overall (accuracy: lower
    by more than 0.05 and by more than twice its standard error; MAE: 1.25 times the overall or more)."""
    from nnlab.scores import macro_f1

    names, codes, how = groups(series)
    y = np.asarray(y)
    predicted = np.asarray(predicted)

    def scores(rows: np.ndarray) -> dict:
        if task == "classification":
            return {"accuracy": float(np.mean(y[rows] == predicted[rows])),
                    "macro_f1": macro_f1(y[rows], predicted[rows])}
        error = predicted[rows].astype(float) - y[rows].astype(float)
        return {"rmse": float(math.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error)))}

    overall = scores(np.ones(len(y), bool))
    out = []
    for i, name in enumerate(names + (["(missing)"] if (codes < 0).any() else [])):
        rows = codes == (i if i < len(names) else -1)
        if not rows.any():
            continue
        found = scores(rows) | {"group": name, "rows": int(rows.sum())}
        found["flagged"] = _far_below(found, overall, task)
        out.append(found)
    return {"column": column, "groups": out, "overall": overall, "how": how}


def _far_below(group: dict, overall: dict, task: str) -> bool:
    if task == "classification":
        a, n = overall["accuracy"], group["rows"]
        return group["accuracy"] < a - max(0.05, 2 * math.sqrt(max(a * (1 - a), 1e-9) / n))
    return group["rows"] >= 5 and group["mae"] >= 1.25 * overall["mae"]


def segment_column(frame, column: str):
    """The column of DATA named `column` (any case), or a clear error."""
    if frame is None:
        raise DataError("--by groups the rows of a table by one of its columns; this data has no columns (images "
                        "or arrays)")
    for name in frame.columns:
        if str(name).lower() == column.lower():
            return frame[name], str(name)
    raise DataError(f"--by {column}: the data has no such column; its columns: "
                    f"{', '.join(map(str, frame.columns[:30]))}")


def segments_text(result: dict) -> str:
    """The groups as a person reads them."""
    keys = list(result["overall"])
    width = max([len(g["group"]) for g in result["groups"]] + [len(result["column"]), len("all rows")])
    lines = [f"by {result['column']} ({result['how']}):",
             f"  {result['column']:<{width}}  {'rows':>7}  " + "  ".join(f"{k:>9}" for k in keys)]
    for g in result["groups"]:
        flag = "  ← far below the overall score" if g["flagged"] else ""
        lines.append(f"  {g['group']:<{width}}  {g['rows']:>7}  " + "  ".join(f"{g[k]:>9.4g}" for k in keys) + flag)
    lines.append(f"  {'all rows':<{width}}  {sum(g['rows'] for g in result['groups']):>7}  "
                 + "  ".join(f"{result['overall'][k]:>9.4g}" for k in keys))
    return "\n".join(lines) + "\n"
