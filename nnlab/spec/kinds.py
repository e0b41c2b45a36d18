"""Search-space kinds: the values a searchable spec field may take, and the spaces over them.

A searchable field in a spec is either a literal (fixed) or one of three space kinds:

    {choice: [a, b, c]}
    {int: [min, max], step: 1}                      # inclusive bounds
    {float: [min, max], step: 0.1} / {float: [min, max], log: true}

Each kind is a class registered by its key (`Choice`, `IntRange`, `FloatRange` in `SPACE_KINDS`) that
owns its parsing, its JSON Schema, its sampling by Keras Tuner and at random, and its serialisation;
a new kind is one more class. `FieldType` (`spec.fieldtypes`) checks one literal value; `searchable` is
the pydantic field type the schema uses. A spec's whole space is `space`'s. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from nnlab.errors import did_you_mean, shown
from nnlab.spec.fieldtypes import FieldType, fmt


class _Searchable:
    """Marks a spec field as searchable (in `Annotated` metadata)."""


SEARCHABLE = _Searchable()


def searchable_fields(section) -> list[str]:
    """Names of the searchable fields of a spec section, in declaration order."""
    return [name for name, field in type(section).model_fields.items() if SEARCHABLE in field.metadata]


# --------------------------------------------------------------------------------------------
# The kinds of search space, one class each, registered by the key that names them in a spec
# --------------------------------------------------------------------------------------------

SPACE_KINDS: dict[str, type[Space]] = {}


def register(key: str):
    def add(cls):
        cls.key = key
        SPACE_KINDS[key] = cls
        return cls

    return add


class Space:
    """A search space over one field. Each kind parses itself from a spec's mapping, gives its JSON
    Schema, asks Keras Tuner's `hp` for a value, draws one at random, and writes itself back."""

    key: str = ""
    options: tuple = ()  # keys a spec may write beside `key`

    @classmethod
    def parse(cls, raw: dict, field: FieldType) -> Space:
        raise NotImplementedError

    @classmethod
    def json_schema(cls, literal: dict) -> dict:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def size(self) -> float:
        """How many values it holds (math.inf for a continuous range)."""
        raise NotImplementedError

    @property
    def finite(self) -> bool:
        return self.size() != math.inf

    def extremes(self) -> tuple:
        raise NotImplementedError

    def values(self) -> list:
        """Every value it holds, for a finite space."""
        raise NotImplementedError

    def sample(self, hp, name: str) -> Any:
        """One value from Keras Tuner's `hp`, under the hyperparameter name `name`."""
        raise NotImplementedError

    def draw(self, rng: random.Random) -> Any:
        """One value at random (validate probes the space with these)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """The space as a spec writes it (what a run folder's spec.yaml holds)."""
        raise NotImplementedError


def _range_bounds(raw: dict, key: str, field: FieldType) -> tuple:
    bounds = raw[key]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise ValueError(f"`{key}` needs [min, max]; found {shown(bounds)}")
    low, high = (field.check(v) for v in bounds)
    if low > high:
        raise ValueError(f"the range [{fmt(low)}, {fmt(high)}] is reversed; write [{fmt(high)}, {fmt(low)}]")
    if low == high:
        raise ValueError(f"the range [{fmt(low)}, {fmt(high)}] holds a single value; write {fmt(low)} instead")
    return low, high


@register("choice")
@dataclass(frozen=True)
class Choice(Space):
    choices: tuple

    @classmethod
    def parse(cls, raw: dict, field: FieldType) -> Choice:
        values = raw["choice"]
        if "step" in raw or "log" in raw:
            raise ValueError("`step` and `log` apply to int and float ranges, not to `choice`")
        if not isinstance(values, list) or not values:
            raise ValueError(f"`choice` needs a non-empty list of values; found {shown(values)}")
        checked = tuple(field.check(v) for v in values)
        if len(set(checked)) != len(checked):
            raise ValueError(f"`choice` lists a value twice: {list(values)}")
        return cls(checked)

    @classmethod
    def json_schema(cls, literal: dict) -> dict:
        return {"type": "object", "properties": {"choice": {"type": "array", "items": literal}},
                "required": ["choice"], "additionalProperties": False}

    def describe(self) -> str:
        return "one of " + ", ".join(fmt(v) for v in self.choices)

    def size(self) -> int:
        return len(self.choices)

    def extremes(self) -> tuple:
        nums = [v for v in self.choices if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) == len(self.choices):
            return min(nums), max(nums)
        return self.choices[0], self.choices[-1]

    def values(self) -> list:
        return list(self.choices)

    def sample(self, hp, name: str) -> Any:
        return self.declared(hp.Choice(name, list(self.choices)))

    def draw(self, rng: random.Random) -> Any:
        return rng.choice(self.choices)

    def to_dict(self) -> dict:
        return {"choice": list(self.choices)}

    def declared(self, value: Any) -> Any:
        """The spec's own value for a sampled one: Keras Tuner hands booleans back as 0 and 1."""
        for choice in self.choices:
            if choice == value and type(choice) is not type(value):
                return choice
        return value


@register("int")
@dataclass(frozen=True)
class IntRange(Space):
    low: int
    high: int
    step: int = 1
    options = ("step",)

    @classmethod
    def parse(cls, raw: dict, field: FieldType) -> IntRange:
        if field.kind is float:
            raise ValueError("this field takes decimal numbers; write {float: [min, max]} instead of `int`")
        low, high = _range_bounds(raw, "int", field)
        if "log" in raw:
            raise ValueError("`log` applies to float ranges only")
        step = raw.get("step", 1)
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError(f"`step` of an int range must be a whole number ≥ 1; found {shown(step)}")
        return cls(low, high, step)

    @classmethod
    def json_schema(cls, literal: dict) -> dict:
        return {"type": "object", "properties": {"int": {"type": "array", "minItems": 2, "maxItems": 2},
                                                  "step": {"type": "integer"}},
                "required": ["int"], "additionalProperties": False}

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        return f"int {self.low}..{self.high}{step}"

    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def extremes(self) -> tuple:
        return self.low, self.low + (self.size() - 1) * self.step

    def values(self) -> list:
        return list(range(self.low, self.high + 1, self.step))

    def sample(self, hp, name: str) -> int:
        return hp.Int(name, self.low, self.high, step=self.step)

    def draw(self, rng: random.Random) -> int:
        return rng.randrange(self.low, self.high + 1, self.step)

    def to_dict(self) -> dict:
        return {"int": [self.low, self.high], "step": self.step}


@register("float")
@dataclass(frozen=True)
class FloatRange(Space):
    low: float
    high: float
    step: float | None = None
    log: bool = False
    options = ("step", "log")

    @classmethod
    def parse(cls, raw: dict, field: FieldType) -> FloatRange:
        if field.kind is int:
            raise ValueError("this field takes whole numbers; write {int: [min, max]} instead of `float`")
        low, high = _range_bounds(raw, "float", field)
        step, log = raw.get("step"), raw.get("log", False)
        if not isinstance(log, bool):
            raise ValueError(f"`log` must be true or false; found {shown(log)}")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
                raise ValueError(f"`step` must be a number > 0; found {shown(step)}")
            if log:
                raise ValueError("use either `step` or `log: true`, not both")
            if step > high - low:
                raise ValueError(f"`step` {fmt(step)} is larger than the range [{fmt(low)}, {fmt(high)}]")
        if log and low <= 0:
            raise ValueError(f"a log-scale range needs a lower bound > 0; found {fmt(low)}")
        return cls(low, high, float(step) if step is not None else None, log)

    @classmethod
    def json_schema(cls, literal: dict) -> dict:
        return {"type": "object", "properties": {"float": {"type": "array", "minItems": 2, "maxItems": 2},
                                                  "step": {"type": "number"}, "log": {"type": "boolean"}},
                "required": ["float"], "additionalProperties": False}

    def describe(self) -> str:
        how = " log scale" if self.log else (f" step {fmt(self.step)}" if self.step else "")
        return f"float {fmt(self.low)}..{fmt(self.high)}{how}"

    def size(self) -> float:
        if self.step:
            return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return math.inf

    def extremes(self) -> tuple:
        return self.low, self.high

    def values(self) -> list:
        if not self.step:
            raise ValueError("a float range without a step has no finite list of values")
        return [self.low + i * self.step for i in range(int(self.size()))]

    def sample(self, hp, name: str) -> float:
        return hp.Float(name, self.low, self.high, step=self.step, sampling="log" if self.log else "linear")

    def draw(self, rng: random.Random) -> float:
        if self.step:
            return self.low + self.step * rng.randrange(int(self.size()))
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def to_dict(self) -> dict:
        out: dict = {"float": [self.low, self.high]}
        out.update({"log": True} if self.log else ({"step": self.step} if self.step else {}))
        return out


def is_space(value: object) -> bool:
    return isinstance(value, Space)


# --------------------------------------------------------------------------------------------
# Parsing a searchable field
# --------------------------------------------------------------------------------------------


def _either(keys: list[str]) -> str:
    return ", ".join(f"`{k}`" for k in keys[:-1]) + f" or `{keys[-1]}`"


def parse_space(raw: dict, field: FieldType) -> Space:
    """A search space from a spec's mapping ({choice: …}, {int: …}, {float: …}), for a field."""
    keys = tuple(SPACE_KINDS) + tuple(dict.fromkeys(o for kind in SPACE_KINDS.values() for o in kind.options))
    unknown = [k for k in raw if k not in keys]
    if unknown:
        key = unknown[0]
        raise ValueError(
            f"unknown key {key!r} in a search space{did_you_mean(key, keys)}; "
            "write {choice: [...]}, {int: [min, max], step: 1} or {float: [min, max], log: true}"
        )
    kinds = [k for k in SPACE_KINDS if k in raw]
    if len(kinds) != 1:
        raise ValueError(
            f"a search space needs exactly one of {_either(list(SPACE_KINDS))}; "
            f"found {', '.join(kinds) or 'none'}"
        )
    (key,) = kinds
    if key != "choice" and field.kind in (str, bool):
        what = "true or false" if field.kind is bool else f"one of {', '.join(field.options)}"
        raise ValueError(f"this field takes {what}; search over it with {{choice: [...]}}, not `{key}`")
    return SPACE_KINDS[key].parse(raw, field)


def searchable(kind: type, *, options: tuple | None = None, optional: bool = False, **bounds: float) -> Any:
    """A pydantic field type: a fixed value of `kind`, or a search space over such values; `optional`:
    null too (the field's default, decided by nnlab)."""
    field_type = FieldType(kind, bounds, options)

    def parse(value: Any) -> Any:
        if value is None and optional:
            return None
        if is_space(value):
            return value
        if isinstance(value, dict):
            return parse_space(value, field_type)
        if isinstance(value, list):
            raise ValueError(
                f"a list is not a value here; to search over these values write {{choice: {shown(value)}}}"
            )
        return field_type.check(value)

    literal = field_type.literal_schema()
    json_schema = {"anyOf": [literal] + [space.json_schema(literal) for space in SPACE_KINDS.values()]
                   + ([{"type": "null"}] if optional else [])}
    return Annotated[Any, BeforeValidator(parse), WithJsonSchema(json_schema), SEARCHABLE]


def parse_any_space(raw: dict) -> Space:
    """A search space for a value of no declared type (a `sequential` layer's argument): the kind
    follows the values: whole numbers for {int}, numbers for {float}, anything for {choice}."""
    if "int" in raw:
        return parse_space(raw, FieldType(int))
    if "float" in raw:
        return parse_space(raw, FieldType(float))
    if "choice" in raw and isinstance(raw["choice"], list) and raw["choice"]:
        first = raw["choice"][0]
        kind = bool if isinstance(first, bool) else int if isinstance(first, int) else \
            float if isinstance(first, float) else str
        if kind is str:
            return parse_space(raw, FieldType(str, {}, tuple(str(v) for v in raw["choice"])))
        if kind is int and any(isinstance(v, float) for v in raw["choice"]):
            kind = float
        return parse_space(raw, FieldType(kind))
    return parse_space(raw, FieldType(float))  # its own error message
