"""The search space: which hyperparameters a spec defines, how many configurations, sampling."""

from __future__ import annotations

import math

from nnlab.spec.loader import load_spec
from nnlab.spec.space import active_values, count_configurations, extreme_params, hyperparameters, sample_params


class FakeHP:
    """Stands in for Keras Tuner's `hp`: returns the first (or lowest) value and records calls."""

    def __init__(self):
        self.calls = []

    def Choice(self, name, values):
        self.calls.append(("Choice", name, tuple(values)))
        return values[-1]

    def Int(self, name, low, high, step=1):
        self.calls.append(("Int", name, low, high, step))
        return high

    def Float(self, name, low, high, step=None, sampling="linear"):
        self.calls.append(("Float", name, low, high, step, sampling))
        return low


SPEC = """
data: {source: "sklearn:iris"}
model:
  kind: mlp
  layers: {int: [1, 3]}
  units: {choice: [8, 16]}
  dropout: {float: [0.0, 0.2], step: 0.1}
  activation: relu
train:
  learning_rate: {float: [0.001, 0.1], log: true}
  batch_size: {choice: [16, 32]}
"""


def test_space_lists_only_searchable_fields(write):
    spec = load_spec(write("s.yaml", SPEC))
    assert list(hyperparameters(spec)) == ["layers", "units", "dropout", "learning_rate", "batch_size"]


def test_count_is_infinite_with_a_continuous_range_and_finite_otherwise(write):
    spec = load_spec(write("s.yaml", SPEC))
    assert count_configurations(spec) == math.inf
    spec = load_spec(write("s.yaml", SPEC), ["train.learning_rate=0.01"])
    assert count_configurations(spec) == 3 * 2 * 3 * 2


def test_per_layer_units_count_each_layer_count_separately(write):
    spec = load_spec(write("s.yaml", SPEC), ["model.per_layer=true", "train.learning_rate=0.01",
                                             "model.dropout=0.0", "train.batch_size=32"])
    assert list(hyperparameters(spec)) == ["layers", "units_0", "units_1", "units_2"]
    assert count_configurations(spec) == 2 + 4 + 8  # 1, 2 or 3 layers of 2 widths each


def test_sample_params_asks_hp_in_order_and_returns_plain_values(write):
    spec = load_spec(write("s.yaml", SPEC))
    hp = FakeHP()
    params = sample_params(hp, spec)
    assert [c[1] for c in hp.calls] == ["layers", "units", "dropout", "learning_rate", "batch_size"]
    assert ("Float", "learning_rate", 0.001, 0.1, None, "log") in hp.calls
    assert params["units"] == [16, 16, 16] and params["activation"] == "relu"
    assert params["learning_rate"] == 0.001 and params["batch_size"] == 32


def test_per_layer_sampling_skips_inactive_layers(write):
    spec = load_spec(write("s.yaml", SPEC), ["model.per_layer=true", "model.layers={int: [1, 3]}"])

    class TwoLayers(FakeHP):
        def Int(self, name, low, high, step=1):
            super().Int(name, low, high, step)
            return 2

    hp = TwoLayers()
    params = sample_params(hp, spec)
    assert params["units"] == [16, 16]
    assert "units_2" not in [c[1] for c in hp.calls]
    values = {"layers": 2, "units_0": 8, "units_1": 16, "units_2": 8, "tuner/epochs": 3}
    assert active_values(values, spec) == {"layers": 2, "units_0": 8, "units_1": 16}


def test_extreme_params_are_the_corners(write):
    spec = load_spec(write("s.yaml", SPEC))
    small, large = extreme_params(spec, "min"), extreme_params(spec, "max")
    assert small["units"] == [8] and large["units"] == [16, 16, 16]
    assert small["dropout"] == 0.0 and large["dropout"] == 0.2


def test_booleans_come_back_as_booleans(write):
    spec = load_spec(write("s.yaml", SPEC), ["model.batch_norm={choice: [false, true]}"])

    class IntsForBools(FakeHP):
        def Choice(self, name, values):
            return int(values[-1]) if name == "batch_norm" else super().Choice(name, values)

    assert sample_params(IntsForBools(), spec)["batch_norm"] is True
    assert active_values({"batch_norm": 0, "layers": 1}, spec)["batch_norm"] is False


def test_each_space_kind_parses_what_it_writes_and_draws_inside_itself():
    import random

    from nnlab.spec.fieldtypes import FieldType
    from nnlab.spec.kinds import SPACE_KINDS, parse_space

    field = FieldType(float, {"ge": 0})
    examples = {"choice": {"choice": [0.5, 1.5]}, "int": {"int": [1, 9], "step": 2},
                "float": {"float": [0.001, 0.1], "log": True}}
    assert set(SPACE_KINDS) == set(examples)
    rng = random.Random(0)
    for key, raw in examples.items():
        space = parse_space(raw, FieldType(int) if key == "int" else field)
        assert type(space) is SPACE_KINDS[key] and space.to_dict() == raw
        assert parse_space(space.to_dict(), FieldType(int) if key == "int" else field) == space
        low, high = space.extremes()
        assert all(low <= space.draw(rng) <= high for _ in range(20))
    assert parse_space({"int": [1, 9], "step": 2}, FieldType(int)).values() == [1, 3, 5, 7, 9]
    assert not parse_space({"float": [0.0, 1.0]}, field).finite


def test_the_json_schema_of_a_searchable_field_lists_every_kind():
    from nnlab.spec.kinds import SPACE_KINDS
    from nnlab.spec.schema import json_schema

    units = json_schema()["$defs"]["MlpModel"]["properties"]["units"]["anyOf"]
    assert [branch.get("required", [None])[0] for branch in units[1:]] == list(SPACE_KINDS)
