"""Values read back from the files nnlab wrote (summary.json, trials.csv, preprocessing.json, a trial's
progress file): each checked for its type, range and finiteness before anything uses it.

A file a person edited, a disk that flipped a byte or another program can put anything in them. A value
that fails its check is a `DamagedFile` (a `RunError` and a ValueError) naming the file, the field and what it holds, so
that a command says which file to mend (exit 2) instead of failing in a traceback, or deciding on a
value it cannot read (marking the best trial pruned, deleting its checkpoint). No third-party imports.
"""

from __future__ import annotations

import math
from typing import Any

from nnlab.errors import RunError, shown

MOST = 1e15  # the largest magnitude of a count or a duration read back (10**400 is not a number of seconds)


class DamagedFile(RunError, ValueError):
    """A value in a file nnlab wrote that is not what nnlab writes there: exit 2 where nothing repairs it,
    and a ValueError for the readers that repair what they can."""

    def __init__(self, file: str, field: str, value: Any, expected: str):
        self.file, self.field, self.value, self.expected = file, field, value, expected
        super().__init__(f"{file}: {field} holds {shown(value)}, not {expected}")


def number(value: Any, file: str, name: str, *, low: float | None = None, high: float = math.inf,
           optional: bool = True) -> float | int | None:
    """A finite number (an int stays an int) within [low, high]; None where `optional` and it is None.
    (A duration or a count gives `high`: a score or a metric may be any finite number.)"""
    if value is None and optional:
        return None
    expected = "a number" + (f" of at least {low:g}" if low is not None else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DamagedFile(file, name, value, expected)
    try:
        as_float = float(value)
    except OverflowError:
        raise DamagedFile(file, name, value, f"{expected} (it is too large)") from None
    if not math.isfinite(as_float):
        raise DamagedFile(file, name, value, f"a finite {expected.removeprefix('a ')}")
    if abs(as_float) > high:
        raise DamagedFile(file, name, value, f"{expected} below {high:g}")
    if low is not None and as_float < low:
        raise DamagedFile(file, name, value, expected)
    return value


def count(value: Any, file: str, name: str, *, low: int = 0, optional: bool = True) -> int | None:
    """A whole number of at least `low` (an int, or a float with no fraction, as JSON may write it)."""
    if value is None and optional:
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) <= MOST:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MOST:
        raise DamagedFile(file, name, value, f"a whole number of at least {low}")
    return value


def text(value: Any, file: str, name: str, *, choices: tuple | None = None, optional: bool = True,
         most: int = 100_000) -> str | None:
    """A string (one of `choices` when given), no longer than `most` characters."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > most or (choices is not None and value not in choices):
        expected = f"one of {', '.join(choices)}" if choices else "a text"
        raise DamagedFile(file, name, value, expected)
    return value


def mapping(value: Any, file: str, name: str, *, optional: bool = True) -> dict | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise DamagedFile(file, name, value, "an object ({…})")
    return value


def sequence(value: Any, file: str, name: str, *, optional: bool = True) -> list | None:
    if value is None and optional:
        return None
    if not isinstance(value, list):
        raise DamagedFile(file, name, value, "a list ([…])")
    return value


def numbers(value: Any, file: str, name: str) -> dict[str, float]:
    """An object of metric names to numbers (None, as JSON writes NaN, is left out)."""
    out = {}
    for key, item in (mapping(value, file, name) or {}).items():
        if item is not None:
            out[str(key)] = number(item, file, f"{name}.{key}")
    return out


def names(value: Any, file: str, name: str) -> list[str] | None:
    """A list of names (hyperparameters, metrics, columns)."""
    items = sequence(value, file, name)
    if items is not None:
        for index, item in enumerate(items):
            text(item, file, f"{name}[{index}]", optional=False, most=1000)
    return items
