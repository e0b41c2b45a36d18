"""Numbers written as people write them in spreadsheets: `$1,234.50`, `€1.234,50`, `1 234,5`,
`1'234.50`, `16%`, `(1,234)` (an accounting negative), `3,5` (a decimal comma).

A column's convention (which mark is the decimal point, which one groups thousands) is read off its
values, once per column (`detect`), and applied to every value of it (`NumberFormat.parse`), so one
column is never read two ways. Where the values cannot tell (every one is like `1.234` or `1,234`),
the convention is the common one (decimal point, comma for thousands) and the caller gets a note that
names the override (`data.decimal`, `data.thousands`). Each distinct value is worked on once: a column
of 20,000 rows rarely holds as many different texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

CURRENCY = "$€£¥₹"
SPACES = "\u00a0\u202f\u2009 "  # no-break, narrow no-break, thin and plain spaces (thousands groups)
THOUSANDS_MARKS = (",", ".", " ", "'")
_DECOR = re.compile(rf"[{re.escape(CURRENCY)}%]")
_SPACE = re.compile(f"[{SPACES}]+")
_GROUPED = re.compile(r"(?<=\d) (?=\d{3}(\D|$))")  # the space in 1 234
_PLAIN = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class NumberFormat:
    """How one column writes numbers: its decimal mark and its thousands mark (None: no grouping)."""

    decimal: str = "."
    thousands: str | None = ","

    def parse(self, values: pd.Series) -> pd.Series:
        """The values as floats, NaN where a value is not a number in this format."""
        if pd.api.types.is_numeric_dtype(values):
            return values.astype(float)
        texts = values.dropna().unique()
        lookup = {text: self.number(clean(str(text))) for text in texts}
        return values.map(lookup).astype(float)

    def number(self, text: str) -> float:
        """One cleaned text as a number, NaN if it is not one in this format."""
        if self.thousands:
            text = text.replace(self.thousands, "")
        if self.decimal != ".":
            if "." in text:  # a stray point must not become the decimal point
                return float("nan")
            text = text.replace(self.decimal, ".")
        return float(text) if _PLAIN.match(text) else float("nan")

    def describe(self) -> str:
        grouping = {None: "no thousands separator", " ": "spaces between thousands",
                    "'": "apostrophes between thousands"}.get(self.thousands, f"'{self.thousands}' between thousands")
        return f"decimal '{self.decimal}', {grouping}"

    def as_dict(self) -> dict:
        return {"decimal": self.decimal, "thousands": self.thousands}


def clean(text: str) -> str:
    """A text with currency and percent signs gone, spaces of every kind removed except those that
    group thousands (kept as one plain space), a typeset minus as `-`, and an accounting negative
    `(1,234)` as `-1,234`."""
    text = _DECOR.sub("", text.strip().replace("\u2212", "-")).strip()
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]
    text = _GROUPED.sub("\x01", _SPACE.sub(" ", text))
    return text.replace(" ", "").replace("\x01", " ")


def detect(values: pd.Series, decimal: str | None = None, thousands: str | None = None) -> tuple[NumberFormat, bool]:
    """The convention of a column's values, and whether the values left it ambiguous (a `,` or `.`
    that could be either mark, and nothing that tells). `decimal` and `thousands` (the spec's
    overrides; thousands "" for none) win over what the values say."""
    texts = [t for t in (clean(str(v)) for v in values.dropna().unique()) if any(c.isdigit() for c in t)]
    found = [mark for mark in THOUSANDS_MARKS if any(mark in t for t in texts)]
    comma, point = _evidence(texts, ","), _evidence(texts, ".")
    ambiguous = decimal is None and comma is None and point is None and bool({",", "."} & set(found))
    if decimal is None:
        decimal = "," if comma == "decimal" or point == "thousands" else "."
    if thousands is None:
        others = [mark for mark in found if mark != decimal]
        thousands = others[0] if others else ("," if decimal == "." else None)
    return NumberFormat(decimal, thousands or None), ambiguous


def _evidence(texts: list[str], mark: str) -> str | None:
    """What the values say `mark` is: "decimal" (it stands once, not before exactly three digits, or
    after the other mark), "thousands" (it stands twice in a number, or before the other mark), or
    None when every use of it could be either (1,234)."""
    other = "." if mark == "," else ","
    m, o = re.escape(mark), re.escape(other)
    twice, before, after = re.compile(rf"\d{m}\d+{m}"), re.compile(rf"{m}\d{{3}}{o}"), re.compile(rf"{o}\d{{3}}{m}\d")
    single = re.compile(rf"{m}(\d*)(?:[eE][-+]?\d+)?$")
    verdict = None
    for text in texts:
        if twice.search(text) or before.search(text):
            return "thousands"
        if after.search(text):
            verdict = "decimal"
        elif text.count(mark) == 1:
            digits = single.search(text)
            if digits and (len(digits.group(1)) != 3 or text.lstrip("-").startswith(mark)):
                verdict = "decimal"
    return verdict


def parse_column(values: pd.Series, decimal: str | None = None, thousands: str | None = None,
                 share: float = 0.9) -> tuple[pd.Series, NumberFormat, list[str], bool] | None:
    """A text column read as numbers when at least `share` of its present values are numbers in one
    convention: (floats, the convention, up to five stray values that became missing, ambiguous);
    None when it does not hold numbers."""
    present = values.dropna()
    if present.empty:
        return None
    unique = pd.Series(present.unique())  # (each distinct text tried once)
    quick = pd.to_numeric(unique, errors="coerce")  # plain numbers: the fast way, and the usual case
    if quick.notna().all() and decimal in (None, ".") and not thousands:
        dotted = unique.astype(str).str.strip()
        dotted = dotted[dotted.str.contains(".", regex=False)]
        ambiguous = decimal is None and len(dotted) > 0 and bool(dotted.str.fullmatch(r"-?\d{1,3}\.\d{3}").all())
        return pd.to_numeric(values, errors="coerce").astype(float), NumberFormat(), [], ambiguous
    distinct = unique.astype(str)
    if distinct.str.contains(r"\d", regex=True).mean() < share:
        return None
    number_format, ambiguous = detect(present, decimal, thousands)
    parsed = number_format.parse(values)
    if parsed[values.notna()].notna().mean() < share:
        return None
    stray = sorted({str(v) for v in values[values.notna() & parsed.isna()].unique()})[:5]
    return parsed, number_format, stray, ambiguous
