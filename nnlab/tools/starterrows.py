"""What `nnlab init` reads from a table's rows beyond its columns' types, each said in a note with the key
that overrides it:

- a target of small whole numbers that counts something (doctor visits 0–11) is a count regression,
  not 12 classes: digits and ratings are spread evenly, counts pile up at 0 and thin out (skewed);
- a numeric column of a few whole-number codes (`season` 1–4) is a category where the target's mean
  differs across the codes (a one-way ANOVA) clearly more than a straight line in the code explains,
  and stays a number otherwise;
- rows in time order by a date column (a log, a series: new rows come later) are validated on the
  latest rows (`data.split: {by: time}`); a date column otherwise gets a note;
- many rows whose features repeat another row's exactly (the same person in several years) get a note
  that a random split measures memory of them, and how to split by group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COUNT_VALUES = 8  # a whole-number target of 0 or more with at least this many values may be a count
COUNT_SKEW = 0.5  # … and counts pile up at the low end: skewness above this
CODES = (3, 12)  # a numeric column of this many whole-number codes (from 0 or 1, consecutive) may be a category
CODE_ROWS = 5  # each code needs this many rows to say whether the target rises or falls with it
TIME_ORDER = 0.95  # share of rows whose time is at or after the row before: the file is in time order
TIMES = 20  # different times a date column needs before a time split is written
REPEATED = 0.2  # share of rows whose features another row repeats exactly, above which init says so


def count_task(values: pd.Series, name: str) -> tuple[str, str] | None:
    """(regression, the note) for a target of small whole-number counts read as class codes; else None."""
    from nnlab.data.rules import is_whole, skewness

    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if len(numbers) < len(values) or numbers.empty or not is_whole(numbers.to_numpy()) or numbers.min() != 0:
        return None
    distinct, skew = int(numbers.nunique()), skewness(numbers)
    if distinct < COUNT_VALUES or skew <= COUNT_SKEW:
        return None
    return "regression", (f"the target {name!r} holds counts ({numbers.min():g} to {numbers.max():g}, {distinct} "
                          f"values piling up at 0, skewness {skew:.1f}): a count regression, not {distinct} "
                          "classes; --task classification (data.task) reads them as classes")


def integer_codes(features: pd.DataFrame, target: pd.Series, task: str) -> tuple[list[str], list[str]]:
    """(columns to read as categories, notes) among numeric columns of a few whole-number codes."""
    from nnlab.data.tabular import as_numbers

    if task == "classification":
        codes, _ = pd.factorize(target)
        outcome = pd.Series(codes, index=target.index) if codes.max() == 1 else None  # (two classes: a rate)
    else:
        outcome = pd.to_numeric(target, errors="coerce")  # (a regression target: as_numbers read it already)
    categorical, notes = [], []
    for col in features.columns:
        converted = as_numbers(features[col])
        if converted is None or converted[0].isna().any():
            continue
        values = converted[0]
        present = np.sort(values.unique())
        if not CODES[0] <= len(present) <= CODES[1] or not np.array_equal(present, np.arange(present[0], present[0]
                                                                                               + len(present))):
            continue
        if present[0] not in (0, 1):
            continue
        means = outcome.groupby(values).mean() if outcome is not None else None
        counts = values.value_counts()
        if means is None or counts.min() < CODE_ROWS:
            notes.append(f"column {col!r} holds {len(present)} whole-number codes ({present[0]:g}–{present[-1]:g}): "
                         "read as numbers; list it in data.categorical if the codes name kinds, not amounts")
            continue
        if not _kinds_not_amounts(values, outcome):
            notes.append(f"column {col!r} holds {len(present)} whole-number codes ({present[0]:g}–{present[-1]:g}) "
                         "and the target follows them as amounts, or not clearly: kept as numbers (data.categorical to "
                         "change)")
        else:
            categorical.append(str(col))
            notes.append(f"column {col!r} holds {len(present)} whole-number codes ({present[0]:g}–{present[-1]:g}) "
                         "and the target goes up and down across them, not along a line: read as categories "
                         "(data.categorical below; remove it there to keep numbers)")
    return categorical, notes


def _kinds_not_amounts(codes: pd.Series, outcome: pd.Series) -> bool:
    """Whether the target's mean differs across the codes (one-way ANOVA, p < 0.01) by clearly more than a
    straight line in the code explains (the share of variance explained, categories against a line, by
    over 0.02): codes of kinds (weather 1–4), not amounts."""
    from scipy.stats import f_oneway

    ok = outcome.notna()
    codes, outcome = codes[ok].astype(float), outcome[ok].astype(float)
    if outcome.std() == 0:
        return False
    groups = [outcome[codes == c].to_numpy() for c in np.unique(codes)]
    if f_oneway(*groups).pvalue >= 0.01:
        return False
    total = float(((outcome - outcome.mean()) ** 2).sum())
    between = float(sum(len(g) * (g.mean() - outcome.mean()) ** 2 for g in groups))
    line = float(np.corrcoef(codes, outcome)[0, 1] ** 2)
    return between / total - line > 0.02


def time_split(features: pd.DataFrame, date_columns: list[str], dayfirst_of: dict) -> tuple[str | None, list[str]]:
    """(the date column to split by time, or None; notes) for the table's date columns."""
    from nnlab.data.splits import read_keys

    for col in date_columns:
        try:
            times = read_keys(features[col], "time", col, dayfirst_of.get(col), []).keys
        except Exception:  # (a column that does not read as times whole: no split from it)
            continue
        in_order = float(np.mean(np.diff(times) >= 0)) if len(times) > 1 else 0.0
        distinct = len(np.unique(times))
        if in_order >= TIME_ORDER and distinct >= TIMES:
            return col, [f"the rows are in time order by {col!r} ({distinct} different times): new rows come "
                         "later, so validation is on the latest rows (data.split by time below; {by: random} to "
                         "mix them)"]
        return None, [f"column {col!r} holds dates but the rows are not in time order: split at random; if new "
                      f"rows come later in time, write data.split: {{by: time, column: {col}}}"]
    return None, []


def repeated_rows(features: pd.DataFrame) -> str | None:
    """A note when many rows repeat another row's features exactly, or an identifier repeats over rows
    (`person_id`: the same person in several rows)."""
    from nnlab.data.tabular import named_like_identifier

    if len(features) < 20 or features.shape[1] == 0:
        return None
    for col in features.columns:
        values = int(features[col].nunique())
        if named_like_identifier(str(col)) and 2 <= values <= len(features) / 1.5:
            return (f"column {col!r} names something that repeats over the rows ({values} values in {len(features)} "
                    "rows: the same person or thing in several rows?): if new rows will come from others, validate "
                    f"on whole groups with data.split: {{by: group, column: {col}}}")
    share = float(features.duplicated(keep=False).mean())
    if share < REPEATED:
        return None
    return (f"{share:.0%} of the rows repeat another row's features exactly (the same person, shop or thing in "
            "several rows?): a random split puts copies on both sides and scores memory of them; if a column names "
            "them, write data.split: {by: group, column: NAME}")
