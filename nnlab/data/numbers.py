"""Numbers written as people write them in spreadsheets: `$1,234.50`, `€1.234,50`, `1 234,5`,
`1'234.50`, `16%`, `(1,234)` (an accounting negative), `3,5` (a decimal comma).

A column's convention (which mark is the decimal point, which one groups thousands) is read off its
values, once per column (`detect`), and applied to every value of it (`NumberFormat.parse`), so one
column is never read two ways. Where the values cannot tell (every one is like `1.234` or `1,234`),
the convention is the common one (decimal point, comma for thousands) and the caller gets a note that
names the override (`data.decimal`, `data.thousands`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

CURRENCY = "$€£¥₹"
SPACES = "\u00a0\u202f\u2009 "  # no-break, narrow no-break, thin and plain spaces (thousands groups)
THOUSANDS_MARKS = (",", ".", " ", "'")
_DECOR = re.compile(rf"[{re.escape(CURRENCY)}%]")
_ACCOUNTING = re.compile(r"^\((.*)\)$")


@dataclass(frozen=True)
class NumberFormat:
    """How one column writes numbers: its decimal mark and its thousands mark (None: no grouping)."""

    decimal: str = "."
    thousands: str | None = ","

    def parse(self, values: pd.Series) -> pd.Series:
        """The values as floats, NaN where a value is not a number in this format."""
        text = _clean(values)
        if self.thousands:
            text = text.str.replace(self.thousands, "", regex=False)
        if self.decimal != ".":
            text = text.str.replace(".", "\x00", regex=False)  # a stray point must not become a decimal
            text = text.str.replace(self.decimal, ".", regex=False)
        return pd.to_numeric(text, errors="coerce").astype(float)

    def describe(self) -> str:
        grouping = {None: "no thousands separator", " ": "spaces between thousands",
                    "'": "apostrophes between thousands"}.get(self.thousands, f"'{self.thousands}' between thousands")
        return f"decimal '{self.decimal}', {grouping}"

    def as_dict(self) -> dict:
        return {"decimal": self.decimal, "thousands": self.thousands}


def _clean(values: pd.Series) -> pd.Series:
    """Text with currency and percent signs gone, spaces of every kind as plain spaces then removed
    unless they group thousands, and accounting negatives `(1,234)` as `-1,234`."""
    text = values.astype("string").str.strip().str.replace("\u2212", "-", regex=False)  # a typeset minus
    text = text.str.replace(_DECOR, "", regex=True).str.strip()
    text = text.str.replace(_ACCOUNTING, r"-\1", regex=True)
    for space in SPACES:
        text = text.str.replace(space, " ", regex=False)
    text = text.str.replace(r"(?<=\d) (?=\d{3}(\D|$))", "\x01", regex=True)  # 1 234 → grouped
    text = text.str.replace(" ", "", regex=False).str.replace("\x01", " ", regex=False)
    return text.str.replace(r"^-\s*", "-", regex=True)


def detect(values: pd.Series, decimal: str | None = None, thousands: str | None = None) -> tuple[NumberFormat, bool]:
    """The convention of a column's values, and whether the values left it ambiguous (a `,` or `.`
    that could be either mark, and nothing that tells). `decimal` and `thousands` (the spec's
    overrides; thousands "" for none) win over what the values say."""
    text = _clean(values.dropna())
    text = text[text.str.contains(r"\d", regex=True)]
    found = [mark for mark in THOUSANDS_MARKS if text.str.contains(mark, regex=False).any()]
    comma, point = _evidence(text, ","), _evidence(text, ".")
    ambiguous = decimal is None and comma is None and point is None and bool({",", "."} & set(found))
    if decimal is None:
        decimal = "," if comma == "decimal" or point == "thousands" else "."
    if thousands is None:
        others = [mark for mark in found if mark != decimal]
        thousands = others[0] if others else ("," if decimal == "." else None)
    return NumberFormat(decimal, thousands or None), ambiguous


def _evidence(text: pd.Series, mark: str) -> str | None:
    """What the values say `mark` is: "decimal" (it stands once, not before exactly three digits, or
    after the other mark), "thousands" (it stands twice in a number, or before the other mark), or
    None when every use of it could be either (1,234)."""
    other = "." if mark == "," else ","
    m, o = re.escape(mark), re.escape(other)
    if text.str.contains(rf"\d{m}\d+{m}", regex=True).any() or text.str.contains(rf"{m}\d{{3}}{o}", regex=True).any():
        return "thousands"
    if text.str.contains(rf"{o}\d{{3}}{m}\d", regex=True).any():
        return "decimal"
    single = text[text.str.count(m) == 1]
    after = single.str.extract(rf"{m}(\d*)(?:[eE][-+]?\d+)?$", expand=False).dropna()
    if (after.str.len() != 3).any() or single.str.contains(rf"^-?{m}\d", regex=True).any():
        return "decimal"
    return None


def parse_column(values: pd.Series, decimal: str | None = None, thousands: str | None = None,
                 share: float = 0.9) -> tuple[pd.Series, NumberFormat, list[str], bool] | None:
    """A text column read as numbers when at least `share` of its present values are numbers in one
    convention: (floats, the convention, up to five stray values that became missing, ambiguous);
    None when it does not hold numbers."""
    present = values.dropna()
    if present.empty or not present.astype("string").str.contains(r"\d", regex=True).mean() >= share:
        return None
    number_format, ambiguous = detect(present, decimal, thousands)
    parsed = number_format.parse(present)
    if parsed.notna().mean() < share:
        return None
    stray = sorted(set(present[parsed.isna()].astype(str)))[:5]
    return number_format.parse(values), number_format, stray, ambiguous


def is_whole(values: np.ndarray) -> bool:
    values = values[~np.isnan(values)]
    return bool(np.all(np.mod(values, 1) == 0))
