"""What one fixed value of a searchable spec field may be (`FieldType`: a type, bounds, names), and how
numbers read in messages (`fmt`). The search spaces over such values are `spec.kinds`'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nnlab.errors import did_you_mean, shown


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_KIND_WORDS = {int: "a whole number", float: "a number", str: "a name", bool: "true or false"}


@dataclass(frozen=True)
class FieldType:
    """What one value of a searchable field may be: a type, bounds (ge, gt, le, lt), names."""

    kind: type
    bounds: dict = field(default_factory=dict)
    options: tuple | None = None

    def check(self, value: Any) -> Any:
        """Validate one fixed value; return it in its canonical type."""
        kind, options = self.kind, self.options
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false; found {shown(value)}")
            return value
        if kind is str:
            if not isinstance(value, str):
                raise ValueError(f"expected one of {', '.join(options)}; found {shown(value)}")
            if value not in options:
                raise ValueError(f"expected one of {', '.join(options)}; found {shown(value)}"
                                 f"{did_you_mean(value, options)}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected {_KIND_WORDS[kind]}; found {shown(value)}")
        if kind is int and not float(value).is_integer():
            raise ValueError(f"expected a whole number; found {shown(value)}")
        value = int(value) if kind is int else float(value)
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number; found {shown(value)}")
        for op, limit in self.bounds.items():
            ok = {"ge": value >= limit, "gt": value > limit, "le": value <= limit, "lt": value < limit}[op]
            if not ok:
                sign = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}[op]
                raise ValueError(f"expected a value {sign} {fmt(limit)}; found {fmt(value)}")
        return value

    def literal_schema(self) -> dict:
        return {int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"},
                str: {"type": "string", "enum": list(self.options or ())}}[self.kind]
