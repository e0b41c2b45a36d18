"""Which feature columns `nnlab init` leaves out of the spec it writes (with `data.drop` and a note
each, so a person can put them back): a column that gives a target away, and text that is nearly
unique. The CSV reader itself keeps them: a spec written by hand means what it says.

- A column equal to a target, two or three numeric columns that add up to it in every row (a rental
  file's `casual + registered = cnt`), or two whose difference it is (`casual = cnt − registered`): the
  answer is in the input, so a model learns the sum and is worthless where the target is not known yet.
- Text with more distinct values than half its rows (a car's `name`, free text): a category would
  have under two rows on average, so one-hot columns of it only memorise the training rows.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.data.tabular import as_numbers, is_numeric, label_key, nearly_unique_text
from nnlab.errors import DataError

MIN_ROWS = 10  # fewer rows than this prove nothing about a sum
MAX_SUMMED = 40  # numeric columns tried in pairs and triples (40 → 9,880 triples)


def left_out(features: pd.DataFrame, targets: pd.DataFrame) -> list[tuple[list[str], str]]:
    """([columns], why) for each group of feature columns init leaves out, in the order found."""
    numeric = {}  # the numeric features without a missing value, read once
    for col in features.columns:
        values = _numbers(features[col])
        if values is not None and not np.isnan(values).any():
            numeric[str(col)] = values
    found = []
    for target in targets.columns:
        for columns in _giving_away(features, numeric, targets[target], largest=3):
            if not any(c in done for c in columns for done, _ in found):
                how = "equals" if len(columns) == 1 else "add up to"
                found.append((columns, f"{' and '.join(map(repr, columns))} {how} the target {target!r} in every row"))
        for total, part in _differences(numeric, targets[target]):
            if not any(c in done for c in (total, part) for done, _ in found):
                found.append(([total, part], f"{total!r} minus {part!r} equals the target {target!r} in every row "
                                             f"({target} = {total} − {part})"))
    found += _sums_of_targets(numeric, targets, {c for columns, _ in found for c in columns})
    taken = {c for columns, _ in found for c in columns}
    for col in features.columns:
        if col not in taken and nearly_unique_text(features[col]):
            found.append(([col], f"{col!r} is nearly unique text ({features[col].nunique()} different values in "
                                 f"{int(features[col].notna().sum())} rows: names or free text, not categories)"))
    return found


def _sums_of_targets(numeric: dict, targets: pd.DataFrame, taken: set) -> list[tuple[list[str], str]]:
    """A feature equal to the sum of several targets (a rental file's `cnt` beside the targets `casual`
    and `registered`): it gives them away together."""
    values = {t: _numbers(targets[t]) for t in targets.columns}
    summed = [t for t, v in values.items() if v is not None]
    found = []
    for size in range(2, min(len(summed), 3) + 1):
        for group in combinations(summed, size):
            left = {c: v for c, v in numeric.items() if c not in taken}
            for (column,) in _giving_away(None, left, pd.Series(sum(values[t] for t in group)), largest=1):
                taken.add(column)
                found.append(([column], f"{column!r} equals the sum of the targets "
                                        f"{' and '.join(map(repr, group))} in every row"))
    return found


def _differences(numeric: dict, target: pd.Series) -> list[tuple[str, str]]:
    """(total, part) pairs of numeric features whose difference is the target in every row (a rental
    file's `casual = cnt − registered`, with `casual` the target)."""
    y = _numbers(target)
    if y is None or target.notna().sum() < MIN_ROWS or np.isnan(y).any() or not np.ptp(y) > 0:
        return []
    tolerance = 1e-6 * (np.abs(y) + 1)
    names = list(numeric)[:MAX_SUMMED]
    return [(a, b) for a in names for b in names
            if a != b and np.all(np.abs(numeric[a] - numeric[b] - y) <= tolerance)]


def _numbers(series: pd.Series) -> np.ndarray | None:
    converted = as_numbers(series)
    if converted is None or converted[1]:
        return None
    return converted[0].to_numpy(np.float64)


def _giving_away(features: pd.DataFrame | None, numeric: dict, target: pd.Series, largest: int) -> list[list[str]]:
    """Groups of feature columns that determine the target: one equal to it (of `numeric`, the numeric
    features; of `features`' text, for a target of labels), or a sum of up to `largest` numeric ones."""
    if target.notna().sum() < MIN_ROWS:
        return []
    y = _numbers(target)
    if y is None:  # a target of labels: a column that holds the same labels
        keys = target.map(label_key)
        return [[str(c)] for c in features.columns
                if not is_numeric(features[c]) and features[c].map(label_key).equals(keys)]
    ok = ~np.isnan(y)
    tolerance = 1e-6 * (np.abs(y[ok]) + 1)
    if not np.ptp(y[ok]) > 0:
        return []

    def same(values: np.ndarray) -> bool:
        return bool(np.all(np.abs(values[ok] - y[ok]) <= tolerance))

    found = [[c] for c, v in numeric.items() if same(v)]
    names = [c for c in list(numeric)[:MAX_SUMMED] if [c] not in found]
    for size in range(2, largest + 1):
        found += [list(group) for group in combinations(names, size) if same(sum(numeric[c] for c in group))]
    return found


def csv_targets(frame, targets: list[str], path: Path) -> tuple[list[str], str]:
    """(the target columns: --target's, else the last; the comment saying so), each refused when it
    looks like row numbers, identifiers or free text."""
    from nnlab.data.pixeltable import image_shape_of
    from nnlab.data.tabular import find_column, unlikely_target

    chosen = bool(targets)
    pixels = not chosen and image_shape_of(frame.iloc[:, 1:]) is not None  # (a digits file: the label first)
    targets = [part.strip() for t in targets for part in (t.split(",") if t not in frame.columns else [t])]
    targets = [find_column(frame, t, "--target", path) for t in targets] if chosen else \
        [str(frame.columns[0 if pixels else -1])]
    if len(set(targets)) < len(targets):
        raise DataError(f"--target names a column twice ({', '.join(targets)}); give each target once")
    for target in targets:
        if unlikely_target(frame[target], target):
            others = [str(c) for c in frame.columns if c not in targets and not unlikely_target(frame[c], str(c))]
            which = f"--target {target}" if chosen else f"The last column, {target!r}, would be the target, but it"
            what = ("row numbers or identifiers" if as_numbers(frame[target]) else "names, identifiers or free text")
            raise DataError(f"{which} looks like {what} ({frame[target].nunique()} different values in {len(frame)} "
                            "rows), not something to predict. Give the column to predict with --target COLUMN, e.g. "
                            f"one of: {', '.join(others) or 'none'}")
    if len(targets) > 1:
        return targets, f"targets: {', '.join(map(repr, targets))} (one output each)"
    which = "the first column: the others look like pixels" if pixels else "the last column"
    return targets, f"target: {targets[0]!r}" + ("" if chosen else f" ({which}; give --target COLUMN to choose "
                                                 "another)")
