"""Tabular data: reading real CSV files and turning their columns into model inputs.

Owns the messy part of CSVs: a UTF-8 BOM, `;` or tab separators, padded cells, `?` and empty cells,
string columns, numbers stored as text, dates, identifiers, string or integer-coded class labels.
The preprocessing is a plain JSON-able record (`fit_preprocessing`), fitted on the training rows
only, and applied by `apply_preprocessing` to any frame with the same columns (validation rows now,
new data later).
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from nnlab.data.rules import standardization
from nnlab.errors import DataError, did_you_mean

MAX_CATEGORIES = 30  # one-hot the most frequent categories; the rest share an "other" column


def read_csv(path: Path, na_values: list[str] = (), delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV as a user means it: BOM stripped, separator detected, cells and names trimmed."""
    if not path.exists():
        raise DataError(f"Data file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; `source: csv` needs a CSV file")
    if path.stat().st_size == 0:
        raise DataError(f"The CSV file {path} is empty (0 bytes)")
    encoding = _encoding(path)
    sep = delimiter or _sniff_delimiter(path, encoding)
    try:
        frame = pd.read_csv(
            path, sep=sep, na_values=list(na_values), encoding=encoding, skipinitialspace=True,
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"The CSV file {path} has no header and no rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"Cannot parse the CSV file {path}: {str(exc).strip()}") from None
    if frame.empty:
        raise DataError(f"The CSV file {path} has a header but no rows")
    return tidy(frame, na_values)


def tidy(frame: pd.DataFrame, na_values=()) -> pd.DataFrame:
    """A table as a user means it: names and text cells trimmed, empty cells and `na_values` missing,
    the empty nameless columns of trailing separators dropped. (A DataFrame given from Python gets
    the same treatment as a CSV file.)"""
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    unnamed = [c for c in frame.columns if c.startswith("Unnamed:") and frame[c].isna().all()]
    frame = frame.drop(columns=unnamed)  # trailing separators leave empty, nameless columns
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
            stripped = frame[col].astype("string").str.strip()
            stripped = stripped.mask(stripped.isin(["", *na_values]))
            frame[col] = stripped.astype(object).where(stripped.notna(), np.nan)
    return frame.reset_index(drop=True)


def _encoding(path: Path) -> str:
    with path.open("rb") as fh:
        sample = fh.read(1 << 16)
    try:
        sample.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4:  # a character cut at the sample's end
            return "utf-8-sig"
        return "latin-1"


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with path.open("r", encoding=encoding, errors="replace") as fh:
        sample = "".join(fh.readline() for _ in range(50))
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


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


_NUMBER_DECOR = r"[\s$€£¥%]"  # currency signs, percent signs and spaces around numbers in real files


def _to_numbers(series: pd.Series) -> pd.Series:
    """Parse text like '$1,234.5', '16%', '3,5' (decimal comma) or '1.234,5' into floats (else NaN)."""
    text = series.astype("string").str.replace(_NUMBER_DECOR, "", regex=True)
    decimal_comma = text.str.fullmatch(r"-?\d+,\d{1,2}|-?\d{1,3}(\.\d{3})+,\d+|-?\d*,\d{4,}").fillna(False).any()
    if decimal_comma:
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(float)


def as_numbers(series: pd.Series) -> tuple[pd.Series, list[str]] | None:
    """A text column that holds numbers (≥ 90% parse) as floats, and the stray values; else None."""
    present = series.dropna()
    if present.empty:
        return None
    parsed = _to_numbers(present)
    if parsed.notna().mean() < 0.9:
        return None
    stray = sorted(set(present[parsed.isna()].astype(str)))[:5]
    return _to_numbers(series), stray


def merge_case_variants(frame: pd.DataFrame, col: str, notes: list[str]) -> None:
    """'Yes', 'yes' and 'YES' in one text column are one value: the most frequent spelling."""
    series = frame[col]
    present = series.dropna()
    if present.empty or is_numeric(present):
        return
    text = present.astype(str)
    folded = text.str.lower()
    if folded.nunique() == text.nunique():
        return
    canonical = text.groupby(folded).agg(lambda v: v.value_counts().index[0])
    frame[col] = series.map(lambda v: canonical[str(v).lower()] if isinstance(v, str) else v)
    merged = [f"{'/'.join(sorted(set(text[folded == k])))}" for k in canonical.index if text[folded == k].nunique() > 1]
    notes.append(f"column {col!r}: values that differ only in case were merged ({', '.join(merged[:3])})")


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _is_date(series: pd.Series) -> bool:
    present = series.dropna().astype(str)
    if present.empty or not present.str.contains(r"\d").all():
        return False
    sample = present.sample(min(len(present), 200), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.9 and present.str.len().median() >= 6


_ID_NAME = re.compile(r"^(id|index|idx|row|no|unnamed: ?0)$|[_\s.-]id$|^id[_\s.-]", re.IGNORECASE)
_ID_SUFFIX = re.compile(r"[a-z]I[dD]$")  # PassengerId, customerID


def looks_like_row_number(series: pd.Series, name: str) -> bool:
    """Unique whole numbers in every row that count the rows (1, 2, 3, … in any order) or are named
    like an identifier (`id`, `customer_id`, `PassengerId`, pandas' `Unnamed: 0`)."""
    if len(series) < 20 or series.isna().any() or pd.api.types.is_bool_dtype(series) or not is_numeric(series):
        return False
    values = series.to_numpy(np.float64)
    if not np.all(np.mod(values, 1) == 0) or len(np.unique(values)) != len(values):
        return False
    named = bool(_ID_NAME.search(name.strip()) or _ID_SUFFIX.search(name.strip()))
    return named or values.max() - values.min() == len(values) - 1


def identifier_like(series: pd.Series, name: str) -> bool:
    """A column of (almost) one value per row: text identifiers or free text, or numeric row numbers."""
    rows = len(series)
    if is_numeric(series):
        return looks_like_row_number(series, name)
    return rows >= 20 and series.nunique() > 0.9 * rows


def unlikely_target(series: pd.Series, name: str) -> bool:
    """A column nobody means to predict: row numbers or identifiers, or text with more distinct values
    than half its rows (names, free text: a class would have under two examples on average)."""
    rows = int(series.notna().sum())
    if is_numeric(series):
        return looks_like_row_number(series, name)
    return rows >= 20 and series.nunique() > 0.5 * rows


def column_types(frame: pd.DataFrame, categorical: list[str], notes: list[str]) -> dict[str, str]:
    """Decide what each feature column is: numeric, categorical or date; drop what cannot help.

    Mutates `frame` where a text column turns out to hold numbers. Appends what it decided to
    `notes`, for the user to read.
    """
    types: dict[str, str] = {}
    rows = len(frame)
    for col in frame.columns:
        series = frame[col]
        if series.isna().all():
            notes.append(f"column {col!r} is empty in every row: left out")
            continue
        if col in categorical or pd.api.types.is_bool_dtype(series):
            types[col] = "categorical"
            continue
        if not pd.api.types.is_numeric_dtype(series):
            numbers = as_numbers(series)
            if numbers is not None:
                frame[col], stray = numbers
                if stray:
                    notes.append(f"column {col!r}: text values {', '.join(map(repr, stray))} taken as missing")
                types[col] = "numeric"
            elif _is_date(series):
                types[col] = "date"
                notes.append(f"column {col!r} holds dates: used as year, month, day and weekday")
            elif identifier_like(series, col):
                notes.append(
                    f"column {col!r} looks like an identifier or free text ({series.nunique()} different "
                    f"values in {rows} rows): left out; add it to data.drop to silence this"
                )
            else:
                merge_case_variants(frame, col, notes)
                types[col] = "categorical"
            continue
        if series.nunique(dropna=True) <= 1:
            notes.append(f"column {col!r} has the same value in every row: left out")
            continue
        if looks_like_row_number(series, col):
            notes.append(f"column {col!r} looks like a row number or an identifier (unique whole numbers "
                         f"{series.min():.0f} to {series.max():.0f}): kept as a feature; add it to data.drop to "
                         "leave it out")
        types[col] = "numeric"
    if not types:
        raise DataError("No usable feature columns are left (every column was dropped, empty or constant)")
    return types


def encode_target(target: pd.Series, task: str, classes: list | None = None) -> tuple[np.ndarray, list | None]:
    """Targets as class indices (classification) or floats (regression), and the class values."""
    if task == "regression":
        numbers = pd.to_numeric(target, errors="coerce")
        if numbers.isna().any():
            bad = target[numbers.isna()].astype(str).unique()[:3]
            raise DataError(f"A regression target must be numeric; found {', '.join(map(repr, bad))}")
        return numbers.to_numpy(np.float32), None
    if classes is None:
        present = target.dropna().unique().tolist()
        try:
            classes = sorted(present)
        except TypeError:
            classes = sorted(present, key=str)
    index = {_key(c): i for i, c in enumerate(classes)}
    codes = np.array([index.get(_key(v), -1) for v in target], dtype=np.int64)
    if (codes < 0).any():
        unknown = sorted({str(v) for v, c in zip(target, codes) if c < 0})[:5]
        raise DataError(f"Labels not seen in the training data: {', '.join(unknown)}")
    return codes, [_plain(c) for c in classes]


def _key(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fit_preprocessing(frame: pd.DataFrame, types: dict[str, str]) -> list[dict]:
    """Per feature column, the statistics of the training rows needed to turn it into numbers."""
    record = []
    for col, kind in types.items():
        series = frame[col]
        if kind == "numeric":
            values = series.astype(float)
            median = float(values.median()) if values.notna().any() else 0.0
            mean, std = standardization(values.fillna(median).to_numpy()[:, None])
            record.append({"name": col, "type": "numeric", "median": median,
                           "mean": float(mean[0]), "std": float(std[0])})
        elif kind == "date":
            parts = _date_parts(series)
            stats = {p: tuple(float(a[0]) for a in standardization(v.to_numpy()[:, None])) for p, v in parts.items()}
            record.append({"name": col, "type": "date", "parts": stats})
        else:
            counts = series.dropna().map(_key).value_counts()
            kept = sorted((str(c) for c in counts.index[:MAX_CATEGORIES]), key=_natural)
            record.append({"name": col, "type": "categorical", "categories": kept,
                           "other": len(counts) > MAX_CATEGORIES, "missing": bool(series.isna().any())})
    return record


def _natural(text: str) -> tuple:
    """Sort numbers by value and before words: 2 < 10 < 'blue'."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _date_parts(series: pd.Series) -> dict[str, pd.Series]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dates = pd.to_datetime(series.astype("string"), errors="coerce", format="mixed")
    parts = {"year": dates.dt.year, "month": dates.dt.month, "day": dates.dt.day, "weekday": dates.dt.day_of_week}
    return {p: v.astype(float).fillna(v.astype(float).median() if v.notna().any() else 0.0) for p, v in parts.items()}


def apply_preprocessing(record: list[dict], frame: pd.DataFrame) -> np.ndarray:
    """Turn a frame's feature columns into a float32 matrix, exactly as fitted on the training rows."""
    missing = [c["name"] for c in record if c["name"] not in frame.columns]
    if missing:
        raise DataError(f"The data lacks the columns {', '.join(map(repr, missing))} that the model was trained on")
    blocks = []
    for col in record:
        series = frame[col["name"]]
        if col["type"] == "numeric":
            values = pd.to_numeric(series, errors="coerce").astype(float).fillna(col["median"])
            blocks.append(((values - col["mean"]) / col["std"]).to_numpy()[:, None])
        elif col["type"] == "date":
            for part, v in _date_parts(series).items():
                mean, std = col["parts"][part]
                blocks.append(((v - mean) / std).to_numpy()[:, None])
        else:
            keys = series.map(lambda v: None if pd.isna(v) else _key(v))
            cats = col["categories"]
            onehot = np.stack([(keys == c).to_numpy() for c in cats], axis=1)
            extra = []
            if col["other"]:
                extra.append((keys.notna() & ~keys.isin(cats)).to_numpy())
            if col["missing"]:
                extra.append(keys.isna().to_numpy())
            blocks.append(np.column_stack([onehot, *extra]) if extra else onehot)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def feature_names(record: list[dict]) -> list[str]:
    names = []
    for col in record:
        if col["type"] == "numeric":
            names.append(col["name"])
        elif col["type"] == "date":
            names += [f"{col['name']}.{p}" for p in col["parts"]]
        else:
            names += [f"{col['name']}={c}" for c in col["categories"]]
            names += [f"{col['name']}=other"] * col["other"] + [f"{col['name']}=missing"] * col["missing"]
    return names
