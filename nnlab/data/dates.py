"""Dates and timestamps in a column, read one way for the whole column: `DateFormat`.

`detect` decides whether a text column holds dates and how they are written:
- Day first or month first, from the evidence: a first field over 12 (`28/12/2017`) means day first, a
  second field over 12 (`12/28/2017`) month first. When every value could be either (`01/12/2017`),
  month first is assumed and the caller gets a note; `data.dayfirst` decides instead. ISO dates
  (`2017-12-01`) are year first.
- Timestamps (`2023-07-01T14:00:00Z`, `01/12/2017 13:00`) add the hour, and the minute where it varies.
  Times in one time zone offset are read as the clock showed them; mixed offsets are converted to UTC.
- Parts that do not vary in the column (every row in 2017) are left out, and the caller says so.

`DateFormat.parts(values)` gives the parts as numbers for a model (year, month, day, weekday, hour,
minute), the same way for training rows and for new data.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PARTS = ("year", "month", "day", "weekday", "hour", "minute")
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})\s*$")
_TIME = re.compile(r"\d{1,2}:\d{2}")


@dataclass
class DateFormat:
    """How a column writes dates: day first or not, which parts the model gets, and whether times
    carry time zone offsets that differ (then everything is read in UTC)."""

    dayfirst: bool = False
    parts: list[str] = field(default_factory=lambda: ["year", "month", "day", "weekday"])
    utc: bool = False

    def parse(self, values: pd.Series) -> pd.Series:
        """The values as datetimes (NaT where a value is not a date of this column). Each distinct text
        is parsed once (an hourly file repeats each date 24 times)."""
        codes, distinct = pd.factorize(values)
        parsed = self._parse_texts(pd.Series(distinct).astype(str)).to_numpy("datetime64[ns]")
        dates = np.where(codes >= 0, parsed[codes] if len(parsed) else np.datetime64("NaT"), np.datetime64("NaT"))
        return pd.Series(dates.astype("datetime64[ns]"), index=values.index)

    def _parse_texts(self, values: pd.Series) -> pd.Series:
        text = values.astype("string").str.strip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dates = pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=self.dayfirst, utc=True)
        if not self.utc:  # one offset, or none: the clock as written
            offsets = text.str.extract(_OFFSET, expand=False).dropna().unique()
            if len(offsets) == 1:
                dates = dates.dt.tz_convert(_offset(offsets[0]))
        return dates.dt.tz_localize(None)

    def part_values(self, values: pd.Series) -> dict[str, pd.Series]:
        """Each part as numbers (missing dates take the part's median)."""
        dates = self.parse(values)
        out = {}
        for part in self.parts:
            numbers = (dates.dt.day_of_week if part == "weekday" else getattr(dates.dt, part)).astype(float)
            out[part] = numbers.fillna(numbers.median() if numbers.notna().any() else 0.0)
        return out

    def as_dict(self) -> dict:
        return {"dayfirst": self.dayfirst, "parts": list(self.parts), "utc": self.utc}


def _offset(text: str) -> str:
    if text == "Z":
        return "UTC"
    sign, digits = text[0], text[1:].replace(":", "")
    return f"UTC{sign}{digits[:2]}:{digits[2:]}"


def written_as_dates(values: pd.Series, share: float = 0.9) -> bool:
    """Whether the values are written like dates (`01.12.2017`, `2017-12-01 13:00`): such a column is
    dates before it is numbers (`01.12.2017` would otherwise pass for a number with dots between
    thousands). A column already read as numbers never is."""
    if pd.api.types.is_numeric_dtype(values):
        return False
    present = pd.Series(values.dropna().astype(str).unique()).str.strip()
    return bool(len(present)) and present.str.match(_NUMERIC_DATE).mean() >= share


def looks_like_dates(values: pd.Series, share: float = 0.9) -> bool:
    """Whether a text column holds dates: at least `share` of its values parse, and they are long
    enough to be more than a number (`2017`, `12` are not dates)."""
    present = values.dropna().astype(str)
    codes, distinct = pd.factorize(present)  # (each distinct text looked at once)
    if present.empty or not pd.Series(distinct).str.contains(r"\d").all():
        return False
    if np.median(np.array([len(text) for text in distinct])[codes]) < 6:
        return False
    sample = present.sample(min(len(present), 500), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    return parsed.notna().mean() >= share


def detect(values: pd.Series, dayfirst: bool | None = None) -> tuple[DateFormat, list[str]]:
    """The column's date format, and notes on what was decided (day first or not, dropped parts)."""
    present = pd.Series(values.dropna().astype(str).unique(), dtype="string").str.strip()
    notes: list[str] = []
    fields = present.str.extract(_NUMERIC_DATE)
    year_first = bool((fields[0].str.len() == 4).fillna(False).astype(bool).mean() > 0.5)
    if dayfirst is None and not year_first and fields[0].notna().any():
        first, second = pd.to_numeric(fields[0], errors="coerce"), pd.to_numeric(fields[2], errors="coerce")
        if (first > 12).any() and not (second > 12).any():
            dayfirst = True
            example = present[first > 12].iloc[0]
            notes.append(f"read day first ({example!r} seen)")
        elif (second > 12).any():
            dayfirst = False
            notes.append(f"read month first ({present[second > 12].iloc[0]!r} seen)")
        else:
            dayfirst = False
            notes.append(f"every date could be day first or month first (like {present.iloc[0]!r}): read month "
                         "first; set data.dayfirst: true if the day comes first")
    offsets = present.str.extract(_OFFSET, expand=False).dropna().unique()
    date_format = DateFormat(dayfirst=bool(dayfirst), utc=len(offsets) > 1)
    if len(offsets) > 1:
        notes.append(f"times carry different time zone offsets ({', '.join(offsets[:3])}): read in UTC")
    has_time = present.str.contains(_TIME).mean() > 0.5
    candidates = list(PARTS if has_time else PARTS[:4])
    trial = DateFormat(date_format.dayfirst, candidates, date_format.utc)
    varying = {p: v for p, v in trial.part_values(present).items() if v.nunique() > 1}  # (each distinct date once)
    constant = [p for p in candidates if p not in varying]
    date_format.parts = [p for p in candidates if p in varying] or ["year"]
    if constant:
        notes.append(f"{', '.join(constant)} never change{'s' if len(constant) == 1 else ''}: left out")
    return date_format, notes
