"""Property-based tests of the spec loader (Hypothesis): whatever YAML document or `--set` string it is
given, it returns a valid spec or raises `SpecError` (the CLI's exit 2), never another exception, and
its message stays short enough to read. Quick: no TensorFlow, no data is read."""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlab.errors import SpecError
from nnlab.spec import schema
from nnlab.spec.loader import load_spec

MESSAGE_CHARS = 6000  # a message lists at most a few problems, each with a value cut to 80 characters

PROPERTIES = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = ["name", "seed", "data", "model", "train", "search", "source", "path", "target", "kind", "layers", "units",
        "choice", "int", "float", "step", "log", "epochs", "batch_size", "learning_rate", "objective", "tuner",
        "image_size", "validation_split", "folds", "dropout", "activation", "filters", "conv_blocks", "x", "&"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["sklearn:iris", "csv", "mlp", "cnn", "relu", "1e-3",
                                                           "!!python/name:os.system", "*a", "&a"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                      max_leaves=25)
BASE = {"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}}


def _load(tmp_path, text: str, overrides=()):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        spec = load_spec(path, overrides)
    except SpecError as exc:
        assert len(str(exc)) < MESSAGE_CHARS, str(exc)[:500]
        return None
    assert isinstance(spec, schema.Spec)
    return spec


@PROPERTIES
@given(text=st.text(alphabet=string.printable + "äé€\t", max_size=300))
def test_any_text_is_a_spec_or_a_spec_error(tmp_path, text):
    _load(tmp_path, text)


@PROPERTIES
@given(document=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_any_yaml_mapping_is_a_spec_or_a_spec_error(tmp_path, document):
    _load(tmp_path, yaml.safe_dump({**BASE, **document}, allow_unicode=True))


@PROPERTIES
@given(section=st.sampled_from(["data", "model", "train", "search"]), document=st.dictionaries(
    st.sampled_from(KEYS), VALUES, max_size=6))
def test_any_section_content_is_a_spec_or_a_spec_error(tmp_path, section, document):
    spec = {**BASE, section: {**BASE.get(section, {}), **document}}
    _load(tmp_path, yaml.safe_dump(spec, allow_unicode=True))


@PROPERTIES
@given(key=st.one_of(st.sampled_from(["name", "seed", "model.units", "model.layers", "train.batch_size",
                                      "search.max_trials", "data.validation_split", "model", "train.epochs.x"]),
                     st.text(max_size=20)),
       value=st.one_of(st.text(max_size=60), st.sampled_from(
           ["[1, 2", "{int: [1, 3]}", "!!python/object/apply:os.system ['x']", "&a [*a]", "1e9", "-1", "~", "yes",
            "{choice: []}", "{float: [0, 1], log: true}", "[" * 50, "*a"])))
def test_any_set_string_is_a_spec_or_a_spec_error(tmp_path, key, value):
    _load(tmp_path, yaml.safe_dump(BASE), [f"{key}={value}"])


@settings(max_examples=40, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(1, 3000), width=st.integers(1, 12), levels=st.integers(1, 12))
def test_nesting_and_aliases_of_any_size_end_quickly(tmp_path, depth, width, levels):
    nested = "x: " + "[" * depth + "]" * depth + "\n"
    aliases = [f"a0: &a0 [{', '.join(['1'] * width)}]"]
    aliases += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    for text in (nested, "\n".join(aliases) + "\n"):
        assert _load(tmp_path, text + yaml.safe_dump(BASE)) is None  # (unknown keys, or a limit)


@pytest.mark.parametrize("text", ["name: &n run\ndata: {source: 'sklearn:iris'}\nmodel: &m {kind: mlp}\n",
                                  "data: &d {source: 'sklearn:iris'}\nmodel: {kind: mlp, units: 8}\n"])
def test_ordinary_anchors_still_read(tmp_path, text):
    assert _load(tmp_path, text) is not None
