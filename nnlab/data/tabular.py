"""Tabular data: what each column of a CSV holds, and turning the columns into model inputs.

The file is read as text (`csvfile.read_table`). `column_types` then decides, per column, with a note
for every interpretation: numbers (in the column's own convention, see `numbers`), dates (see
`dates`), categories, or a column left out (empty, constant, an identifier, free text, row numbers),
which `data.keep` overrides. The preprocessing fitted on the training rows and applied to any table
with the same columns is `tablefit`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.data import csvfile, dates, numbers
from nnlab.data.rules import is_whole
from nnlab.data.tablefit import (  # noqa: F401
    MAX_CATEGORIES,
    Column,
    apply_preprocessing,
    category_name,
    fit_preprocessing,
    is_numeric,
)
from nnlab.errors import DataError, did_you_mean
from nnlab.spec.schema import CSV_READER

READER = CSV_READER  # recorded in preprocessing.json (runs read by the first version of the rules have none)
_PLAIN_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def read_csv(path: Path, na_values=(), delimiter: str | None = None, encoding: str | None = None,
             notes: list[str] | None = None, numbers: bool = False, text_columns=()) -> pd.DataFrame:
    """A CSV file as a table of text with missing cells as NaN (see `csvfile`); `numbers`: its columns of
    plain numbers as numbers, but for `text_columns`."""
    return csvfile.read_table(path, na_values, delimiter, encoding, notes, numbers, text_columns)


@dataclass
class ReadOptions:
    """The spec's say over how columns are read (all optional)."""

    categorical: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)  # never left out automatically
    dates: list[str] = field(default_factory=list)  # read as dates
    decimal: str | None = None
    thousands: str | None = None  # "" for none
    dayfirst: bool | None = None


def find_column(frame: pd.DataFrame, name: str, what: str, path: Path) -> str:
    """The frame's column called `name` (exact, else ignoring case); a clear error otherwise."""
    if name in frame.columns:
        return name
    folded = {c.lower(): c for c in frame.columns}
    if name.lower() in folded:
        return folded[name.lower()]
    raise DataError(
        f"{what}: the column {name!r} is not in {path.name}{did_you_mean(name, frame.columns)}. "
        f"Columns: {', '.join(map(str, frame.columns))}"
    )


def as_numbers(series: pd.Series, options: ReadOptions | None = None):
    """A text column that holds numbers (≥ 90% of its values) as floats and the stray values that
    became missing; None when it does not hold numbers. (A numeric column is returned as it is.)"""
    if is_numeric(series):
        return series.astype(float), []
    options = options or ReadOptions()
    parsed = numbers.parse_column(series, options.decimal, options.thousands)
    return None if parsed is None else (parsed[0], parsed[2])


def merge_case_variants(frame: pd.DataFrame, col: str, notes: list[str]) -> None:
    """'Yes', 'yes' and 'YES' in one text column are one value: the most frequent spelling."""
    series = frame[col]
    present = series.dropna()
    if present.empty or is_numeric(present):
        return
    distinct = pd.Series(present.unique()).astype(str)
    if distinct.str.lower().nunique() == distinct.nunique():  # (no two spellings of one value)
        return
    text = present.astype(str)
    folded = text.str.lower()
    canonical = text.groupby(folded).agg(lambda v: v.value_counts().index[0])
    frame[col] = series.map(lambda v: canonical[str(v).lower()] if isinstance(v, str) else v)
    merged = [f"{'/'.join(sorted(set(text[folded == k])))}" for k in canonical.index if text[folded == k].nunique() > 1]
    notes.append(f"column {col!r}: values that differ only in case were merged ({', '.join(merged[:3])})")


# ------------------------------------------------------------------------------------ identifiers

_ID_NAME = re.compile(r"^(id|index|idx|row|no|unnamed: ?0)$|[_\s.-]id$|^id[_\s.-]", re.IGNORECASE)
_ID_SUFFIX = re.compile(r"[a-z]I[dD]$")  # PassengerId, customerID


def looks_like_row_number(series: pd.Series, name: str) -> bool:
    """Unique whole numbers in every row that count the rows (1, 2, 3, … in any order) or are named
    like an identifier (`id`, `customer_id`, `PassengerId`, pandas' `Unnamed: 0`)."""
    if not is_numeric(series):
        converted = as_numbers(series)
        if converted is None or converted[1]:
            return False
        series = converted[0]
    if len(series) < 20 or series.isna().any() or pd.api.types.is_bool_dtype(series):
        return False
    values = series.to_numpy(np.float64)
    if not (named_like_identifier(name) or values.max() - values.min() == len(values) - 1):
        return False
    return is_whole(values) and len(np.unique(values)) == len(values)


def named_like_identifier(name: str) -> bool:
    """`id`, `customer_id`, `PassengerId`, pandas' `Unnamed: 0`, …"""
    return bool(_ID_NAME.search(name.strip()) or _ID_SUFFIX.search(name.strip()))


def unlikely_target(series: pd.Series, name: str) -> bool:
    """A column nobody means to predict: row numbers or identifiers, or text with more distinct values
    than half its rows (names, free text: a class would have under two examples on average)."""
    return looks_like_row_number(series, name) or nearly_unique_text(series)


def nearly_unique_text(series: pd.Series) -> bool:
    """Text (not numbers, not dates) with more distinct values than half its rows, of 20 or more:
    names, free text."""
    rows = int(series.notna().sum())
    if is_numeric(series) or rows < 20 or series.nunique() <= 0.5 * rows or as_numbers(series) is not None:
        return False
    return not (dates.written_as_dates(series) or dates.looks_like_dates(series))


# ------------------------------------------------------------------------------------ column types


def column_types(frame: pd.DataFrame, options: ReadOptions, notes: list[str]) -> list[Column]:
    """Decide what each feature column is, with a note for every interpretation; leave out what cannot
    help (unless `options.keep` names it). Numeric columns of `frame` become floats in place."""
    columns = []
    for col in frame.columns:
        column = _column_type(frame, col, options, notes)
        if column is not None:
            columns.append(column)
    if not columns:
        raise DataError("No usable feature columns are left (every column was dropped, empty or constant)")
    return columns


def _column_type(frame: pd.DataFrame, col: str, options: ReadOptions, notes: list[str]) -> Column | None:
    series, keep = frame[col], col in options.keep
    if series.isna().all():
        notes.append(f"column {col!r} is empty in every row: left out")
        return None
    if col in options.categorical or pd.api.types.is_bool_dtype(series):
        return Column(col, "categorical")
    if col in options.dates:
        date_format, said = dates.detect(series, options.dayfirst)
        notes.append(f"column {col!r} read as dates (data.dates): " + "; ".join(said or ["as written"]))
        return Column(col, "date", date_format=date_format)
    kind = None if dates.written_as_dates(series) else _numeric(frame, col, options, notes)
    if kind is None and dates.looks_like_dates(series):
        date_format, said = dates.detect(series, options.dayfirst)
        notes.append(f"column {col!r} holds dates: used as {', '.join(date_format.parts)}"
                     + "".join(f"; {s}" for s in said))
        return Column(col, "date", date_format=date_format)
    if kind is None:
        return _categorical(frame, col, keep, notes)
    series = frame[col]
    if constant(series) and not keep:
        notes.append(f"column {col!r} has the same value in every row: left out (data.keep keeps it)")
        return None
    if looks_like_row_number(series, col) and not keep:
        notes.append(f"column {col!r} looks like row numbers or an identifier (unique whole numbers "
                     f"{series.min():.0f} to {series.max():.0f}): left out; data.keep keeps it")
        return None
    return kind


def constant(series: pd.Series) -> bool:
    """Whether a column holds one value or none (missing cells aside)."""
    if not is_numeric(series) or pd.api.types.is_bool_dtype(series):
        return series.nunique(dropna=True) <= 1
    values = series.to_numpy(np.float64)
    values = values[~np.isnan(values)]
    return not len(values) or values.min() == values.max()


def _numeric(frame: pd.DataFrame, col: str, options: ReadOptions, notes: list[str]) -> Column | None:
    """The column as numbers, if it holds numbers; notes on how they were written."""
    series = frame[col]
    if is_numeric(series):
        return Column(col, "numeric", numbers.NumberFormat())
    parsed = numbers.parse_column(series, options.decimal, options.thousands)
    if parsed is None:
        return None
    frame[col], number_format, stray, ambiguous = parsed
    written = series.dropna().astype(str)
    fancy = written[~written.str.match(_PLAIN_NUMBER) & frame[col].loc[written.index].notna()]  # (stray text aside)
    if len(fancy):
        notes.append(f"column {col!r}: numbers written like {fancy.iloc[0]!r} ({number_format.describe()})")
    if ambiguous:
        example = written[written.str.contains(r"[.,]\d{3}\b")].iloc[0] if written.str.contains(r"[.,]\d{3}\b").any() \
            else written.iloc[0]
        notes.append(f"column {col!r}: {example!r} could be read two ways; read with {number_format.describe()} "
                     "(set data.decimal and data.thousands to change)")
    if stray:
        notes.append(f"column {col!r}: text values {', '.join(map(repr, stray))} taken as missing")
    return Column(col, "numeric", number_format)


def _categorical(frame: pd.DataFrame, col: str, keep: bool, notes: list[str]) -> Column | None:
    series, rows = frame[col], len(frame)
    if rows >= 20 and series.nunique() > 0.9 * rows and not keep:
        notes.append(f"column {col!r} looks like an identifier or free text ({series.nunique()} different values "
                     f"in {rows} rows): left out; data.keep keeps it, data.drop silences this")
        return None
    merge_case_variants(frame, col, notes)
    if series.nunique(dropna=True) <= 1 and not keep:
        notes.append(f"column {col!r} has the same value in every row: left out (data.keep keeps it)")
        return None
    return Column(col, "categorical")


# ------------------------------------------------------------------------------------ target


def encode_target(target: pd.Series, task: str, classes: list | None = None) -> tuple[np.ndarray, list | None]:
    """Targets as class indices (classification) or floats (regression), and the class values."""
    if task == "regression":
        numbers_ = pd.to_numeric(target, errors="coerce")
        if numbers_.isna().any():
            bad = target[numbers_.isna()].astype(str).unique()[:3]
            raise DataError(f"A regression target must be numeric; found {', '.join(map(repr, bad))}")
        return numbers_.to_numpy(np.float32), None
    if classes is None:
        present = target.dropna().unique().tolist()
        try:
            classes = sorted(present)
        except TypeError:
            classes = sorted(present, key=str)
    index = {category_name(c): i for i, c in enumerate(classes)}
    positions, distinct = pd.factorize(target)  # (each distinct label matched once)
    matched = np.array([index.get(category_name(v), -1) for v in distinct], dtype=np.int64)
    codes = np.where(positions >= 0, matched[positions] if len(matched) else -1, -1).astype(np.int64)
    if (codes < 0).any():
        unknown = sorted({str(v) for v, c in zip(target, codes) if c < 0})[:5]
        raise DataError(f"Labels not seen in the training data: {', '.join(unknown)}")
    return codes, [_plain(c) for c in classes]


def label_key(value) -> str:
    """How a label written in new data is matched to a class name: trimmed, in any case, whole numbers
    however they were written (1, 1.0)."""
    return category_name(str(value).strip()).lower()


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
