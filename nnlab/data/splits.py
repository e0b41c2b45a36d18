"""How rows are split (data.split): `random` (shuffled, stratified by class where it can be), `time` (the
latest rows are held out; folds chain forward) or `group` (no value of a group column on both sides).

One rule per scheme, used by every part that splits rows: the test share (data.test_split) and the
validation share when the data is loaded, the trials' folds (data.folds), the baseline's folds and the
target-transform probe's. A scheme other than random carries each row's key (`RowKeys`): a sortable
time, or a group's code. Scikit-learn's `TimeSeriesSplit` and `GroupKFold` are the models; the time
rules cut only between different times, so rows of one date never fall on both sides.
No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.errors import DataError, plural


@dataclass(frozen=True)
class RowKeys:
    """Each row's key under a time or group split: `keys` are sortable numbers (time) or group codes;
    `shown(key)` is how a key reads in a note (a date, a group's value)."""

    by: str  # "time" or "group"
    column: str
    keys: np.ndarray
    names: tuple = ()  # time: nothing; group: the group values by code

    def take(self, index) -> RowKeys:
        return RowKeys(self.by, self.column, self.keys[index], self.names)

    @staticmethod
    def join(first: RowKeys | None, second: RowKeys | None) -> RowKeys | None:
        """The keys of two parts' rows, the first's then the second's."""
        if first is None or second is None:
            return None
        return RowKeys(first.by, first.column, np.concatenate([first.keys, second.keys]), first.names)


def random_split(y: np.ndarray, task: str, fraction: float, seed: int,
                 notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Kept and held-out indices of a seeded random split; stratified for classification when every class
    can be split."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    if n < 2:
        raise DataError(f"Only {n} example(s): not enough to hold out a validation set")
    index = np.arange(n)
    stratify = None
    if task == "classification":
        counts = np.bincount(y)
        n_val = int(np.ceil(n * fraction))
        present = counts[counts > 0]
        if present.min() >= 2 and len(present) <= n_val <= n - len(present):
            stratify = y
        else:
            notes.append("validation split is not stratified: some class has too few examples to split")
    train, val = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


def holdout(y: np.ndarray, task: str, fraction: float, seed: int, keys: RowKeys | None, notes: list[str],
            what: str = "validation") -> tuple[np.ndarray, np.ndarray]:
    """(kept rows, held-out rows): `fraction` of the rows held out by the scheme `keys` names (None:
    random). `what` names the held-out share in messages and notes ("validation", "test")."""
    if keys is None:
        return random_split(y, task, fraction, seed, notes)
    if keys.by == "time":
        return _time_holdout(keys, fraction, what, notes)
    return _group_holdout(keys, fraction, seed, what, notes)


def _time_holdout(keys: RowKeys, fraction: float, what: str, notes: list[str]):
    times, counts = np.unique(keys.keys, return_counts=True)
    if len(times) < 2:
        raise DataError(f"data.split by time: the column {keys.column!r} holds one time only "
                        f"({_time_text(times[0]) if len(times) else 'none'}); the {what} rows must come after the "
                        "training rows, so it needs two or more (use data.split: {by: random})")
    later = np.cumsum(counts[::-1])[::-1]  # rows at or after each time
    n = later[0]
    first_held = int(np.argmin(np.abs(later[1:] - fraction * n))) + 1  # at least one time on each side
    held = keys.keys >= times[first_held]
    notes.append(f"{what} rows: the latest {held.sum()} of {n} by {keys.column!r}, from "
                 f"{_time_text(times[first_held])} (data.split by time)")
    return np.flatnonzero(~held), np.flatnonzero(held)


def _group_holdout(keys: RowKeys, fraction: float, seed: int, what: str, notes: list[str]):
    groups, sizes = np.unique(keys.keys, return_counts=True)
    n = int(sizes.sum())
    if len(groups) < 2:
        raise DataError(f"data.split by group: the column {keys.column!r} holds one group only; no group may be "
                        f"on both sides, so the {what} rows need another group (use data.split: {{by: random}})")
    share = int(np.ceil(n * fraction))
    largest = int(sizes.max())
    if largest > share:
        name = keys.names[int(groups[np.argmax(sizes)])] if keys.names else groups[np.argmax(sizes)]
        raise DataError(f"data.split by group: the group {name!r} of {keys.column!r} holds {largest} of {n} rows, "
                        f"more than the {what} share ({share} rows, {fraction:g}); raise "
                        f"data.{'test_split' if what == 'test' else 'validation_split'} to at least "
                        f"{largest / n:.2f} or split by another column")
    order = np.random.default_rng(seed).permutation(len(groups))
    total = np.cumsum(sizes[order])
    count = int(np.argmin(np.abs(total[:-1] - fraction * n))) + 1  # at least one group on each side
    held = np.isin(keys.keys, groups[order[:count]])
    notes.append(f"{what} rows: {held.sum()} of {n}, {plural(count, 'group')} of {len(groups)} by "
                 f"{keys.column!r} that no training row shares (data.split by group)")
    return np.flatnonzero(~held), np.flatnonzero(held)


def fold_indices(y: np.ndarray, task: str, folds: int, seed: int,
                 keys: RowKeys | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, validation rows) of each of `folds` folds. Random: stratified by class where every
    class has at least `folds` rows (one target), shuffled with the seed. Time: forward chaining, fold k
    trains on the earliest k blocks of times and validates on the next. Group: scikit-learn's GroupKFold."""
    if keys is not None and keys.by == "time":
        return _time_folds(keys, folds)
    if keys is not None:
        from sklearn.model_selection import GroupKFold

        groups = len(np.unique(keys.keys))
        if groups < folds:
            raise DataError(f"data.folds: {folds} folds by group need {folds} or more groups; the column "
                            f"{keys.column!r} has {groups}")
        return list(GroupKFold(n_splits=folds).split(np.zeros(len(y)), y, keys.keys))
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification" and np.ndim(y) == 1 and np.bincount(np.asarray(y, np.int64)).min() >= folds:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _time_folds(keys: RowKeys, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward chaining over folds + 1 blocks of about equal rows, cut between different times."""
    times, counts = np.unique(keys.keys, return_counts=True)
    if len(times) < folds + 1:
        raise DataError(f"data.folds: {folds} folds by time need {folds + 1} or more different times; the column "
                        f"{keys.column!r} has {len(times)}")
    cumulative = np.cumsum(counts)
    cuts = [int(np.searchsorted(cumulative, cumulative[-1] * k / (folds + 1))) + 1 for k in range(1, folds + 1)]
    cuts = [min(max(c, k + 1), len(times) - (folds - k)) for k, c in enumerate(cuts)]  # every block non-empty
    for k in range(1, len(cuts)):
        cuts[k] = max(cuts[k], cuts[k - 1] + 1)
    edges = [times[c] for c in cuts]  # block k+1 starts at edges[k]
    result = []
    for k in range(folds):
        train = keys.keys < edges[k]
        val = (keys.keys >= edges[k]) & (keys.keys < edges[k + 1]) if k + 1 < folds else keys.keys >= edges[k]
        result.append((np.flatnonzero(train), np.flatnonzero(val)))
    return result


def _time_text(value: float) -> str:
    """A time key as people read it: a date where it is one (nanoseconds since 1970), else the number."""
    if abs(value) > 1e15:  # (a number column's values are never this large in a time column people write)
        import pandas as pd

        stamp = pd.Timestamp(int(value))
        return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)
    return f"{value:g}"


def read_keys(values, by: str, column: str, dayfirst: bool | None, notes: list[str]) -> RowKeys:
    """A CSV column's values (a pandas Series, one per row) as the split's keys: dates or numbers for
    time (a date column is read as the features read it), any values for groups (a missing value is a
    group of its own: `missing`)."""
    import pandas as pd

    if by == "group":
        text = values.astype("string").fillna("missing")
        codes, names = pd.factorize(text, sort=True)
        if values.isna().any():
            notes.append(f"data.split by group: {int(values.isna().sum())} row(s) without a {column!r} value form "
                         "one group, 'missing'")
        return RowKeys("group", column, np.asarray(codes, np.int64), tuple(str(n) for n in names))
    times = _as_times(values, column, dayfirst)
    if np.isnan(times).any():
        raise DataError(f"data.split by time: {int(np.isnan(times).sum())} row(s) of {column!r} have no time "
                        f"(e.g. row {int(np.flatnonzero(np.isnan(times))[0]) + 1} of those with a target); "
                        "every row needs one to be placed before or after the others")
    return RowKeys("time", column, times)


def _as_times(values, column: str, dayfirst: bool | None) -> np.ndarray:
    """Sortable numbers: a numeric column as it is (a year, a day number), else its dates in nanoseconds."""

    from nnlab.data import dates
    from nnlab.data.tabular import as_numbers

    numbers = as_numbers(values)
    if numbers is not None and not dates.written_as_dates(values):
        return numbers[0].to_numpy(np.float64)
    if not dates.looks_like_dates(values):
        raise DataError(f"data.split by time: the column {column!r} holds neither dates nor numbers (e.g. "
                        f"{str(values.dropna().iloc[0]) if values.notna().any() else 'empty'!r}); name a column "
                        "of dates, times or ordered numbers")
    date_format, _ = dates.detect(values, dayfirst)
    parsed = date_format.parse(values)
    stamps = parsed.to_numpy("datetime64[ns]").astype("int64").astype(np.float64)  # (NaT: masked below)
    return np.where(parsed.isna().to_numpy(), np.nan, stamps)
