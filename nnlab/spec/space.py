"""Search spaces: the searchable fields of a spec and how they become hyperparameters.

A searchable field in a spec is either a literal (fixed) or one of three space kinds:

    {choice: [a, b, c]}
    {int: [min, max], step: 1}                      # inclusive bounds
    {float: [min, max], step: 0.1} / {float: [min, max], log: true}

This module owns those kinds (`Choice`, `IntRange`, `FloatRange`), the pydantic field type that
parses them (`searchable`), the flat list of hyperparameters a spec defines (`hyperparameters`), how
many configurations that allows (`count_configurations`), and the one place where Keras Tuner's `hp`
object is turned into plain params (`sample_params`). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from nnlab.errors import did_you_mean

SPACE_KEYS = ("choice", "int", "float")


class _Searchable:
    """Marks a spec field as searchable (in `Annotated` metadata)."""


SEARCHABLE = _Searchable()


def searchable_fields(section) -> list[str]:
    """Names of the searchable fields of a spec section, in declaration order."""
    return [name for name, field in type(section).model_fields.items() if SEARCHABLE in field.metadata]


@dataclass(frozen=True)
class Choice:
    values: tuple

    def describe(self) -> str:
        return "one of " + ", ".join(_fmt(v) for v in self.values)

    def size(self) -> int:
        return len(self.values)

    def extremes(self) -> tuple:
        nums = [v for v in self.values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(nums) == len(self.values):
            return min(nums), max(nums)
        return self.values[0], self.values[-1]


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    step: int = 1

    def describe(self) -> str:
        step = f" step {self.step}" if self.step != 1 else ""
        return f"int {self.low}..{self.high}{step}"

    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def extremes(self) -> tuple:
        return self.low, self.low + (self.size() - 1) * self.step


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    step: float | None = None
    log: bool = False

    def describe(self) -> str:
        how = " log scale" if self.log else (f" step {_fmt(self.step)}" if self.step else "")
        return f"float {_fmt(self.low)}..{_fmt(self.high)}{how}"

    def size(self) -> float:
        if self.step:
            return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return math.inf

    def extremes(self) -> tuple:
        return self.low, self.high


Space = Choice | IntRange | FloatRange


def is_space(value: object) -> bool:
    return isinstance(value, (Choice, IntRange, FloatRange))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --------------------------------------------------------------------------------------------
# Parsing a searchable field
# --------------------------------------------------------------------------------------------

_KIND_WORDS = {int: "a whole number", float: "a number", str: "a name", bool: "true or false"}


def _check_literal(value: Any, kind: type, bounds: dict, options: tuple | None) -> Any:
    """Validate one fixed value of a searchable field; return it in its canonical type."""
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false; found {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"expected one of {', '.join(options)}; found {value!r}")
        if value not in options:
            raise ValueError(
                f"expected one of {', '.join(options)}; found {value!r}{did_you_mean(value, options)}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected {_KIND_WORDS[kind]}; found {value!r}")
    if kind is int and not float(value).is_integer():
        raise ValueError(f"expected a whole number; found {value!r}")
    value = int(value) if kind is int else float(value)
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number; found {value!r}")
    for op, limit in bounds.items():
        ok = {"ge": value >= limit, "gt": value > limit, "le": value <= limit, "lt": value < limit}[op]
        if not ok:
            sign = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}[op]
            raise ValueError(f"expected a value {sign} {_fmt(limit)}; found {_fmt(value)}")
    return value


def _parse_space(raw: dict, kind: type, bounds: dict, options: tuple | None) -> Space:
    unknown = [k for k in raw if k not in (*SPACE_KEYS, "step", "log")]
    if unknown:
        key = unknown[0]
        raise ValueError(
            f"unknown key {key!r} in a search space{did_you_mean(key, (*SPACE_KEYS, 'step', 'log'))}; "
            "write {choice: [...]}, {int: [min, max], step: 1} or {float: [min, max], log: true}"
        )
    kinds = [k for k in SPACE_KEYS if k in raw]
    if len(kinds) != 1:
        raise ValueError(
            "a search space needs exactly one of `choice`, `int` or `float`; "
            f"found {', '.join(kinds) or 'none'}"
        )
    (space_kind,) = kinds
    if space_kind == "choice":
        values = raw["choice"]
        if "step" in raw or "log" in raw:
            raise ValueError("`step` and `log` apply to int and float ranges, not to `choice`")
        if not isinstance(values, list) or not values:
            raise ValueError(f"`choice` needs a non-empty list of values; found {values!r}")
        checked = tuple(_check_literal(v, kind, bounds, options) for v in values)
        if len(set(checked)) != len(checked):
            raise ValueError(f"`choice` lists a value twice: {list(values)}")
        return Choice(checked)

    if kind in (str, bool):
        what = "true or false" if kind is bool else f"one of {', '.join(options)}"
        raise ValueError(f"this field takes {what}; search over it with {{choice: [...]}}, not `{space_kind}`")
    if kind is int and space_kind == "float":
        raise ValueError("this field takes whole numbers; write {int: [min, max]} instead of `float`")
    if kind is float and space_kind == "int":
        raise ValueError("this field takes decimal numbers; write {float: [min, max]} instead of `int`")

    bounds_raw = raw[space_kind]
    if not isinstance(bounds_raw, list) or len(bounds_raw) != 2:
        raise ValueError(f"`{space_kind}` needs [min, max]; found {bounds_raw!r}")
    low, high = (_check_literal(v, kind, bounds, options) for v in bounds_raw)
    if low > high:
        raise ValueError(f"the range [{_fmt(low)}, {_fmt(high)}] is reversed; write [{_fmt(high)}, {_fmt(low)}]")
    if low == high:
        raise ValueError(f"the range [{_fmt(low)}, {_fmt(high)}] holds a single value; write {_fmt(low)} instead")
    if space_kind == "int":
        if "log" in raw:
            raise ValueError("`log` applies to float ranges only")
        step = raw.get("step", 1)
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError(f"`step` of an int range must be a whole number ≥ 1; found {step!r}")
        return IntRange(low, high, step)

    step, log = raw.get("step"), raw.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f"`log` must be true or false; found {log!r}")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0:
            raise ValueError(f"`step` must be a number > 0; found {step!r}")
        if log:
            raise ValueError("use either `step` or `log: true`, not both")
        if step > high - low:
            raise ValueError(f"`step` {_fmt(step)} is larger than the range [{_fmt(low)}, {_fmt(high)}]")
    if log and low <= 0:
        raise ValueError(f"a log-scale range needs a lower bound > 0; found {_fmt(low)}")
    return FloatRange(low, high, float(step) if step is not None else None, log)


def searchable(kind: type, *, options: tuple | None = None, **bounds: float) -> Any:
    """A pydantic field type: a fixed value of `kind`, or a search space over such values."""

    def parse(value: Any) -> Any:
        if is_space(value):
            return value
        if isinstance(value, dict):
            return _parse_space(value, kind, bounds, options)
        if isinstance(value, list):
            raise ValueError(
                f"a list is not a value here; to search over these values write {{choice: {value!r}}}"
            )
        return _check_literal(value, kind, bounds, options)

    literal_schema: dict = {
        int: {"type": "integer"},
        float: {"type": "number"},
        bool: {"type": "boolean"},
        str: {"type": "string", "enum": list(options or ())},
    }[kind]
    json_schema = {
        "anyOf": [
            literal_schema,
            {"type": "object", "properties": {"choice": {"type": "array", "items": literal_schema}},
             "required": ["choice"], "additionalProperties": False},
            {"type": "object", "properties": {"int": {"type": "array", "minItems": 2, "maxItems": 2},
                                               "step": {"type": "integer"}},
             "required": ["int"], "additionalProperties": False},
            {"type": "object", "properties": {"float": {"type": "array", "minItems": 2, "maxItems": 2},
                                               "step": {"type": "number"}, "log": {"type": "boolean"}},
             "required": ["float"], "additionalProperties": False},
        ]
    }
    return Annotated[Any, BeforeValidator(parse), WithJsonSchema(json_schema), SEARCHABLE]


def parse_any_space(raw: dict) -> Space:
    """A search space for a value of no declared type (a `sequential` layer's argument): the kind
    follows the values: whole numbers for {int}, numbers for {float}, anything for {choice}."""
    if "int" in raw:
        return _parse_space(raw, int, {}, None)
    if "float" in raw:
        return _parse_space(raw, float, {}, None)
    if "choice" in raw and isinstance(raw["choice"], list) and raw["choice"]:
        first = raw["choice"][0]
        kind = bool if isinstance(first, bool) else int if isinstance(first, int) else \
            float if isinstance(first, float) else str
        if kind is str:
            return _parse_space(raw, str, {}, tuple(str(v) for v in raw["choice"]))
        if kind is int and any(isinstance(v, float) for v in raw["choice"]):
            kind = float
        return _parse_space(raw, kind, {}, None)
    return _parse_space(raw, float, {}, None)  # its own error message


def layer_hp_name(index: int, layer: str, arg: str) -> str:
    """The hyperparameter of a `sequential` layer's argument, e.g. dense2_units."""
    return f"{layer.lower()}{index}_{arg}"


# --------------------------------------------------------------------------------------------
# The space of a whole spec
# --------------------------------------------------------------------------------------------

# Spec sections whose searchable fields become hyperparameters, in the order they are sampled.
_SECTIONS = ("model", "train")


def hyperparameters(spec) -> dict[str, Space]:
    """The spec's search space: hyperparameter name → space, in sampling order.

    With `model.per_layer: true` the MLP's `units` become `units_0 … units_{max-1}`; only the ones
    below the sampled `layers` are active in a trial.
    """
    space: dict[str, Space] = {}
    if spec.model.kind == "sequential":
        for i, layer in enumerate(spec.model.layers):
            ((name, args),) = layer.items()
            for arg, value in args.items():
                if is_space(value):
                    space[layer_hp_name(i, name, arg)] = value
    for section in _SECTIONS:
        part = getattr(spec, section)
        for name in searchable_fields(part):
            value = getattr(part, name)
            if not is_space(value):
                continue
            if section == "model" and name == "units" and getattr(part, "per_layer", False):
                for i in range(max_value(part.layers)):
                    space[f"units_{i}"] = value
            else:
                space[name] = value
    return space


def max_value(value: Any) -> Any:
    """The largest value a field can take: itself when fixed."""
    return value.extremes()[1] if is_space(value) else value


def count_configurations(spec) -> float:
    """How many distinct params the space allows (math.inf when a float range has no step)."""
    space = hyperparameters(spec)
    per_layer = [n for n in space if n.startswith("units_")]
    rest = 1
    for name, dist in space.items():
        if name not in per_layer:
            rest *= dist.size()
    if not per_layer:
        return rest
    # units_i is only active when layers > i: sum over the layer counts the space allows.
    layers = spec.model.layers
    layer_counts = _values(layers) if is_space(layers) else [layers]
    if "layers" in space:
        rest //= space["layers"].size()
    unit_size = space[per_layer[0]].size()
    return rest * sum(unit_size ** n for n in layer_counts)


def _values(dist: Space) -> list:
    if isinstance(dist, Choice):
        return list(dist.values)
    if isinstance(dist, IntRange):
        return list(range(dist.low, dist.high + 1, dist.step))
    raise ValueError("a float range has no finite list of values")


def fixed_params(spec) -> dict[str, Any]:
    """Params that do not vary: fixed searchable fields, and the model's other settings (plain)."""
    params = {}
    for name in type(spec.model).model_fields:
        value = getattr(spec.model, name)
        if name != "kind" and not is_space(value):
            params[name] = value.model_dump() if hasattr(value, "model_dump") else value
    for name in searchable_fields(spec.train):
        value = getattr(spec.train, name)
        if not is_space(value):
            params[name] = value
    return params


def extreme_params(spec, which: str) -> dict[str, Any]:
    """Params with every searchable value at its smallest (`which="min"`) or largest end."""
    index = 0 if which == "min" else 1
    params = fixed_params(spec)
    for name, dist in hyperparameters(spec).items():
        params[name] = dist.extremes()[index]
    return finish_params(spec, params)


def finish_params(spec, params: dict[str, Any]) -> dict[str, Any]:
    """Expand per-layer units into a list `units` the builders read, one width per hidden layer; a
    `sequential` model's layers into [[name, arguments], …] with each searched argument's value."""
    if spec.model.kind == "sequential":
        layers = []
        for i, layer in enumerate(spec.model.layers):
            ((name, args),) = layer.items()
            layers.append([name, {arg: params[layer_hp_name(i, name, arg)] if is_space(value) else value
                                  for arg, value in args.items()}])
        params["layers"] = layers
    if spec.model.kind == "mlp":
        layers = params["layers"]
        if getattr(spec.model, "per_layer", False) and is_space(spec.model.units):
            params["units"] = [params.pop(f"units_{i}") for i in range(layers)]
            for i in range(layers, max_value(spec.model.layers)):
                params.pop(f"units_{i}", None)
        else:
            params["units"] = [params["units"]] * layers
    return params


def as_declared(dist: Space, value: Any) -> Any:
    """The spec's own value for a sampled one: Keras Tuner hands booleans back as 0 and 1."""
    if isinstance(dist, Choice):
        for declared in dist.values:
            if declared == value and type(declared) is not type(value):
                return declared
    return value


def active_values(values: dict, spec) -> dict[str, Any]:
    """A trial's hyperparameter values without Keras Tuner's own (`tuner/…`) and inactive ones."""
    names = hyperparameters(spec)
    out = {k: as_declared(names[k], v) for k, v in values.items() if k in names}
    layers = out.get("layers", getattr(spec.model, "layers", 0))
    return {k: v for k, v in out.items() if not (k.startswith("units_") and int(k[6:]) >= layers)}


def sample_params(hp, spec) -> dict[str, Any]:
    """Ask Keras Tuner's `hp` for one value of each hyperparameter; return the full params.

    This is the only function that touches `hp`; builders and training see plain values.
    """
    params = fixed_params(spec)
    space = hyperparameters(spec)
    for name, dist in space.items():
        if name.startswith("units_") and int(name.split("_")[1]) >= params["layers"]:
            continue  # inactive: this trial has fewer layers
        if isinstance(dist, Choice):
            params[name] = as_declared(dist, hp.Choice(name, list(dist.values)))
        elif isinstance(dist, IntRange):
            params[name] = hp.Int(name, dist.low, dist.high, step=dist.step)
        else:
            params[name] = hp.Float(
                name, dist.low, dist.high, step=dist.step, sampling="log" if dist.log else "linear"
            )
    return finish_params(spec, params)
