"""A table's preprocessing: fitted on the training rows (`fit_preprocessing`), one typed record per column
(see `preparation`), and applied by `apply_preprocessing` to any table with the same columns
(validation rows now, new data later). Each column's number or date format travels in its record, so
new data is read the way the training data was. Neighbouring numeric columns are worked on as one
block (a file of 784 pixel columns is standardized at once, not column by column).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnlab.data import dates, numbers
from nnlab.data.preparation import CategoricalColumn, DateColumn, NumericColumn
from nnlab.data.preparation import Column as ColumnPrep
from nnlab.data.rules import standardization
from nnlab.errors import DataError
from nnlab.spec.schema import CATEGORIES

MAX_CATEGORIES = CATEGORIES  # one-hot the most frequent categories; the rest share an "other" column


@dataclass
class Column:
    """What one feature column holds, and how it is written (`tabular.column_types` decides)."""

    name: str
    kind: str  # numeric, date or categorical
    number_format: numbers.NumberFormat | None = None
    date_format: dates.DateFormat | None = None


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def fit_preprocessing(frame: pd.DataFrame, columns: list[Column], most: int = MAX_CATEGORIES,
                      notes: list[str] | None = None) -> list[ColumnPrep]:
    """Per feature column, what the training rows say is needed to turn it into numbers; a
    categorical column one-hots its `most` most frequent values (data.categories), said in `notes`
    when it has more."""
    record: list[ColumnPrep] = []
    numeric = [c.name for c in columns if c.kind == "numeric"]
    medians, means, stds = _numeric_statistics(frame, numeric)
    statistics = {name: (medians[i], means[i], stds[i]) for i, name in enumerate(numeric)}
    for column in columns:
        series = frame[column.name]
        if column.kind == "numeric":
            median, mean, std = (float(v) for v in statistics[column.name])
            record.append(NumericColumn(column.name, median, mean, std, column.number_format))
        elif column.kind == "date":
            parts = column.date_format.part_values(series)
            stats = {p: tuple(float(a[0]) for a in standardization(v.to_numpy()[:, None])) for p, v in parts.items()}
            record.append(DateColumn(column.name, stats, column.date_format))
        else:
            counts = series.dropna().map(_keys(series)).value_counts()
            kept = sorted((str(c) for c in counts.index[:most]), key=_natural)
            if len(counts) > most and notes is not None:
                notes.append(f"column {column.name!r} has {len(counts)} values: the {most} most frequent get a column "
                             "each, the rest share one, other (data.categories sets how many)")
            record.append(CategoricalColumn(column.name, kept, len(counts) > most,
                                            bool(series.isna().any())))
    return record


def _numeric_statistics(frame: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each numeric column's median (0 where it has no value) and the mean and deviation of its values with
    the missing ones at the median, a block of columns at a time (a row per column: each summed as one
    column is; a block: what 784 pixel columns need without holding several copies of them)."""
    parts = [_block_statistics(frame[names[i:i + BLOCK]]) for i in range(0, len(names), BLOCK)]
    if not parts:
        return np.zeros(0), np.zeros(0), np.ones(0)
    return tuple(np.concatenate(values) for values in zip(*parts))


BLOCK = 64  # numeric columns worked on at once


def _block_statistics(block: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    columns = np.ascontiguousarray(block.to_numpy(np.float64).T)
    if not columns.shape[1]:
        return np.zeros(len(columns)), np.zeros(len(columns)), np.ones(len(columns))
    gaps = np.isnan(columns)
    holed = gaps.any(axis=1)
    medians = np.median(columns, axis=1)
    if holed.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (a column without a value: its median is 0)
            medians[holed] = np.nan_to_num(np.nanmedian(columns[holed], axis=1), nan=0.0)
        columns = np.where(gaps, medians[:, None], columns)
    mean, std = standardization(columns.T)
    return medians, mean, std


def _natural(text: str) -> tuple:
    """Sort numbers by value and before words: 2 < 10 < 'blue'."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def apply_preprocessing(record: list[ColumnPrep], frame: pd.DataFrame) -> np.ndarray:
    """Turn a table's feature columns into a float32 matrix, exactly as fitted on the training rows
    (each column read in its training format; records of older runs, without one, as they were)."""
    missing = [c.name for c in record if c.name not in frame.columns]
    if missing:
        raise DataError(f"The data lacks the column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                        "that the model was trained on")
    blocks, run = [], []  # (run: neighbouring numeric columns already numbers, standardized at once)
    for col in record:
        series = frame[col.name]
        if isinstance(col, NumericColumn) and is_numeric(series):
            run.append(col)
            continue
        if run:
            blocks.append(_standardized(frame, run))
            run = []
        if isinstance(col, NumericColumn):
            values = _numbers_of(series, col.format)
            blocks.append(((values.fillna(col.median) - col.mean) / col.std).to_numpy()[:, None])
        elif isinstance(col, DateColumn):
            for part, v in col.format.part_values(series).items():
                mean, std = col.parts[part]
                blocks.append(((v - mean) / std).to_numpy()[:, None])
        else:
            blocks.append(_one_hot(series, col))
    if run:
        blocks.append(_standardized(frame, run))
    if len(blocks) == 1 and blocks[0].dtype == np.float32:
        return blocks[0]  # (a table of numbers only: no copy)
    return np.concatenate([b.astype(np.float32, copy=False) for b in blocks], axis=1)


def _standardized(frame: pd.DataFrame, columns: list[NumericColumn]) -> np.ndarray:
    """Numeric columns (already numbers) with missing values at their training median, standardized
    (in float64, as one column is, a block of columns at a time) as float32."""
    out = np.empty((len(frame), len(columns)), np.float32)
    rows = max(1024, (1 << 20) // BLOCK)  # (a block of 64 columns × 16,384 rows in float64: 8 MB at a time)
    for i in range(0, len(columns), BLOCK):
        part = columns[i:i + BLOCK]
        block = frame[[c.name for c in part]]
        medians, means, stds = (np.array([getattr(c, key) for c in part]) for key in ("median", "mean", "std"))
        for r in range(0, len(frame), rows):
            values = block.iloc[r:r + rows].to_numpy(np.float64)
            out[r:r + rows, i:i + len(part)] = (np.where(np.isnan(values), medians, values) - means) / stds
    return out


def _numbers_of(series: pd.Series, number_format: numbers.NumberFormat | None) -> pd.Series:
    if is_numeric(series):
        return series.astype(float)
    if number_format is not None:
        return number_format.parse(series)
    parsed = numbers.parse_column(series, share=0.0)  # a run read by the first rules: as the values say
    return parsed[0] if parsed is not None else pd.to_numeric(series, errors="coerce").astype(float)


def _keys(series: pd.Series) -> dict:
    """Each distinct value's category name (worked out once per value)."""
    return {value: category_name(value) for value in series.dropna().unique()}


def _one_hot(series: pd.Series, col: CategoricalColumn) -> np.ndarray:
    keys = series.map(_keys(series))
    codes = pd.Index(col.categories).get_indexer(keys)  # (-1: another value, or none)
    onehot = codes[:, None] == np.arange(len(col.categories))[None, :]
    extra = []
    if col.other:
        extra.append(keys.notna().to_numpy() & (codes < 0))
    if col.missing:
        extra.append(keys.isna().to_numpy())
    return np.column_stack([onehot, *extra]) if extra else onehot


def category_name(value) -> str:
    """A category's name: whole numbers without a decimal part however they were written (1, 1.0)."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else value
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
