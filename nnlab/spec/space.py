"""A spec's search space: the hyperparameters its searchable fields define, and params.

The searchable fields (see `kinds` for the space kinds) become a flat list of hyperparameters
(`hyperparameters`, with `model.per_layer`'s `units_N` names made and read in one place), which
allows so many configurations (`count_configurations`). `sample_params` is the one place where Keras
Tuner's `hp` object is turned into plain params; builders and training only see those. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

import random
from typing import Any

from nnlab.spec.kinds import Choice, Space, is_space, searchable_fields


def layer_hp_name(index: int, layer: str, arg: str) -> str:
    """The hyperparameter of a `sequential` layer's argument, e.g. dense2_units."""
    return f"{layer.lower()}{index}_{arg}"


# --------------------------------------------------------------------------------------------
# The space of a whole spec
# --------------------------------------------------------------------------------------------

# Spec sections whose searchable fields become hyperparameters, in the order they are sampled.
_SECTIONS = ("model", "train")
_UNITS = "units_"  # with model.per_layer: units_0, units_1, … one per hidden layer


def per_layer_name(layer: int) -> str:
    return f"{_UNITS}{layer}"


def per_layer_index(name: str) -> int | None:
    """The layer of a per-layer hyperparameter (units_2 → 2); None for any other name."""
    rest = name[len(_UNITS):] if name.startswith(_UNITS) else ""
    return int(rest) if rest.isdigit() else None


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
                    space[per_layer_name(i)] = value
            else:
                space[name] = value
    return space


def max_value(value: Any) -> Any:
    """The largest value a field can take: itself when fixed."""
    return value.extremes()[1] if is_space(value) else value


def count_configurations(spec) -> float:
    """How many distinct params the space allows (math.inf when a float range has no step)."""
    space = hyperparameters(spec)
    per_layer = [n for n in space if per_layer_index(n) is not None]
    rest = 1
    for name, dist in space.items():
        if name not in per_layer:
            rest *= dist.size()
    if not per_layer:
        return rest
    # units_i is only active when layers > i: sum over the layer counts the space allows.
    layers = spec.model.layers
    layer_counts = layers.values() if is_space(layers) else [layers]
    if "layers" in space:
        rest //= space["layers"].size()
    unit_size = space[per_layer[0]].size()
    return rest * sum(unit_size ** n for n in layer_counts)


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
            params["units"] = [params.pop(per_layer_name(i)) for i in range(layers)]
            for i in range(layers, max_value(spec.model.layers)):
                params.pop(per_layer_name(i), None)
        else:
            params["units"] = [params["units"]] * layers
    return params


def active_values(values: dict, spec) -> dict[str, Any]:
    """A trial's hyperparameter values without Keras Tuner's own (`tuner/…`) and inactive ones."""
    names = hyperparameters(spec)
    out = {k: names[k].declared(v) if isinstance(names[k], Choice) else v for k, v in values.items() if k in names}
    layers = out.get("layers", getattr(spec.model, "layers", 0))
    return {k: v for k, v in out.items() if not _inactive(k, layers)}


def _inactive(name: str, layers: int) -> bool:
    """A per-layer hyperparameter of a layer this trial does not have."""
    index = per_layer_index(name)
    return index is not None and index >= layers


def sample_params(hp, spec) -> dict[str, Any]:
    """Ask Keras Tuner's `hp` for one value of each hyperparameter; return the full params.

    This is the only function that touches `hp`; builders and training see plain values.
    """
    params = fixed_params(spec)
    for name, space in hyperparameters(spec).items():
        if not _inactive(name, params.get("layers", 0)):
            params[name] = space.sample(hp, name)
    return finish_params(spec, params)


PROBES = 24  # random points of a space probed besides its two corners


def probe_params(spec) -> list[dict[str, Any]]:
    """Params at both corners of the space and at PROBES seeded random points (one set when nothing is
    searched): where `nnlab validate` counts models and the memory check looks for the largest."""
    probes = [extreme_params(spec, "min"), extreme_params(spec, "max")]
    if not hyperparameters(spec):
        return probes[:1]
    rng = random.Random(spec.seed)
    return probes + [random_params(spec, rng) for _ in range(PROBES)]


def random_params(spec, rng: random.Random) -> dict[str, Any]:
    """Params with every searchable value drawn at random (validate probes the space with these)."""
    params = fixed_params(spec)
    for name, space in hyperparameters(spec).items():
        params[name] = space.draw(rng)
    return finish_params(spec, params)
