"""Spec parsing: valid specs load; each kind of mistake gets a located, human message."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnlab.errors import SpecError
from nnlab.spec.kinds import Choice, FloatRange, IntRange
from nnlab.spec.loader import load_spec, spec_hash

MPG = """
name: mpg-mlp
seed: 3
data:
  source: csv
  path: data/mpg.csv
  target: mpg
  drop: [name]
  categorical: [origin]
  na_values: ["?"]
  validation_split: 0.2
model:
  kind: mlp
  layers: {int: [1, 3]}
  units: {int: [16, 128], step: 16}
  activation: {choice: [relu, elu]}
  dropout: {float: [0.0, 0.3], step: 0.1}
train:
  optimizer: adam
  learning_rate: {float: [0.001, 0.05], log: true}
  batch_size: 16
  epochs: 40
  loss: mse
  early_stopping: {patience: 8}
search:
  tuner: random
  objective: val_loss
  max_trials: 4
"""


def error_of(write, text: str, *overrides: str) -> str:
    path = write("spec.yaml", text)
    with pytest.raises(SpecError) as info:
        load_spec(path, overrides)
    return str(info.value).replace(str(path.parent), "<tmp>")  # match the message, not the folder name


def test_issue_mpg_spec_loads_with_spaces_and_resolved_paths(write, tmp_path):
    spec = load_spec(write("mpg.yaml", MPG))
    assert spec.name == "mpg-mlp" and spec.seed == 3
    assert spec.data.path == (tmp_path / "data" / "mpg.csv").resolve()
    assert spec.model.layers == IntRange(1, 3)
    assert spec.model.units == IntRange(16, 128, 16)
    assert spec.model.activation == Choice(("relu", "elu"))
    assert spec.model.dropout == FloatRange(0.0, 0.3, 0.1)
    assert spec.train.learning_rate == FloatRange(0.001, 0.05, None, True)
    assert spec.train.early_stopping.patience == 8


def test_issue_image_spec_loads_and_name_defaults_to_file_stem(write):
    spec = load_spec(write("pics.yaml", """
        data: {source: images, path: pictures, image_size: [64, 64], color_mode: rgb, validation_split: 0.2}
        model:
          kind: cnn
          conv_blocks: {int: [2, 3]}
          filters: {choice: [16, 32]}
          kernel_size: 3
          dense_units: {choice: [32, 64]}
          dropout: {float: [0.0, 0.4], step: 0.2}
          augment: {flip: horizontal, rotation: 0.1}
        train: {optimizer: adam, learning_rate: {float: [0.0005, 0.005], log: true}, batch_size: 16, epochs: 8}
        search: {tuner: bayesian, objective: val_accuracy, max_trials: 3}
    """))
    assert spec.name == "pics"
    assert spec.model.augment.flip == "horizontal"
    assert spec.data.image_size == (64, 64)


def test_set_overrides_values_and_errors_name_the_override(write):
    spec = load_spec(write("s.yaml", MPG), ["search.max_trials=2", "train.batch_size={choice: [8, 16]}"])
    assert spec.search.max_trials == 2
    assert spec.train.batch_size == Choice((8, 16))
    message = error_of(write, MPG, "search.max_trials=zero")
    assert "--set search.max_trials=zero" in message and "search.max_trials" in message


def test_numbers_in_exponent_form_are_numbers_in_the_file_and_in_set(write):
    """PyYAML (YAML 1.1) reads `1e-3` as text; a spec reads it as the number a person means (YAML 1.2)."""
    text = MPG.replace("{float: [0.001, 0.05], log: true}", "{float: [1e-4, 5E-2], log: true}")
    assert load_spec(write("s.yaml", text)).train.learning_rate == FloatRange(0.0001, 0.05, log=True)
    spec = load_spec(write("s.yaml", MPG), ["train.learning_rate=3e-4", "name=2e5x"])
    assert spec.train.learning_rate == 0.0003 and spec.name == "2e5x"
    import yaml

    assert yaml.safe_load("1e-3") == "1e-3"  # (PyYAML's own loader is left as it is)


@pytest.mark.parametrize("text, expected", [
    ("data: stocks.csv\nmodel: {kind: mlp}\n", "write `data: {source: csv, path: stocks.csv, target: COLUMN}`"),
    ("data: signs/Train\nmodel: {kind: cnn}\n", "write `data: {source: images, path: signs/Train}`"),
    ("data: sklearn:digits\nmodel: {kind: mlp}\n", 'write `data: {source: "sklearn:digits"}`'),
    ("data: {source: 'sklearn:iris'}\nmodel: mlp\n", "write `model: {kind: mlp}` (then its keys"),
])
def test_a_bare_value_for_data_or_model_gets_the_section_it_means(write, text, expected):
    assert expected in error_of(write, text)


def test_a_web_address_as_a_data_path_says_to_download_it_first(write, tmp_path):
    from nnlab.errors import web_address

    url = "https://raw.githubusercontent.com/course/data/main/bikes.csv"
    message = error_of(write, MPG.replace("path: data/mpg.csv", f"path: {url}"))
    assert "line 5, at data.path" in message and f"{url} is a web address" in message and f"!wget '{url}'" in message
    assert "at data.path" in error_of(write, MPG, "data.path=http://x.org/a.csv")
    assert web_address(tmp_path / "https://x.org/a.csv") is None  # (a relative folder named so is resolved first)
    assert web_address(Path("https://x.org/a.csv")) == "https://x.org/a.csv" and web_address("data/a.csv") is None


def test_set_without_equals_is_explained(write):
    assert "expected KEY=VALUE" in error_of(write, MPG, "search.max_trials")


@pytest.mark.parametrize(
    "replace, expected",
    [
        (("  units: {int: [16, 128], step: 16}", "  unitz: {int: [16, 128], step: 16}"),
         ["line 14", "model.unitz", "unknown key `unitz`", "did you mean `units`"]),
        (("activation: {choice: [relu, elu]}", "activation: {choice: [relu, rleu]}"),
         ["model.activation", "'rleu'", "did you mean `relu`"]),
        (("optimizer: adam", "optimizer: adma"), ["train.optimizer", "did you mean `adam`"]),
        (("{float: [0.0, 0.3], step: 0.1}", "{float: [0.3, 0.0], step: 0.1}"), ["model.dropout", "reversed"]),
        (("{int: [1, 3]}", "{int: [2, 2]}"), ["model.layers", "single value"]),
        (("step: 16}", "step: 0}"), ["model.units", "`step`"]),
        (("{float: [0.001, 0.05], log: true}", "{float: [0.0, 0.05], log: true}"),
         ["train.learning_rate", "> 0"]),
        (("tuner: random", "tuner: randm"), ["search.tuner", "did you mean `random`"]),
        (("kind: mlp", "kind: mpl"), ["model.kind", "'mpl'", "did you mean `mlp`"]),
        (("source: csv", "source: cvs"), ["data.source", "did you mean `csv`"]),
        (("batch_size: 16", "batch_size: sixteen"), ["train.batch_size", "whole number", "'sixteen'"]),
        (("batch_size: 16", "batch_size: [16, 32]"), ["train.batch_size", "{choice: [16, 32]}"]),
        (("epochs: 40", "epochs: 0"), ["train.epochs", "0"]),
        (("loss: mse", "loss: mse2"), ["train.loss", "'mse2'", "did you mean `mse`"]),
        (("objective: val_loss", "objective: val_acuracy"),
         ["search.objective", "'val_acuracy'", "did you mean `val_accuracy`"]),
        (("dropout: {float: [0.0, 0.3], step: 0.1}", "dropout: {int: [0, 1]}"), ["model.dropout", "{float:"]),
        (("layers: {int: [1, 3]}", "layers: {float: [1, 3]}"), ["model.layers", "{int:"]),
        (("activation: {choice: [relu, elu]}", "activation: {choice: []}"), ["model.activation", "non-empty"]),
        (("layers: {int: [1, 3]}", "layers: {int: [1, 3], sep: 1}"), ["unknown key 'sep'", "did you mean `step`"]),
        (("seed: 3", "seed: 3\nextra: 1"), ["unknown key `extra`"]),
    ],
)
def test_each_mistake_gets_a_located_message(write, replace, expected):
    old, new = replace
    assert old in MPG
    message = error_of(write, MPG.replace(old, new, 1))
    assert message.startswith("Spec error in")
    for part in expected:
        assert part in message, f"{part!r} not in:\n{message}"


def test_several_mistakes_are_listed_together(write):
    text = MPG.replace("optimizer: adam", "optimizer: adma").replace("tuner: random", "tuner: randm")
    message = error_of(write, text)
    assert "2 problems" in message and "train.optimizer" in message and "search.tuner" in message


def test_malformed_yaml_gives_line_and_column(write):
    message = error_of(write, "data: {source: csv\nmodel: [\n")
    assert "not valid YAML" in message and "line" in message


def test_tabs_are_explained(write):
    message = error_of(write, "data:\n\tsource: csv\n")
    assert "tabs" in message


def test_python_object_tags_are_refused(write):
    message = error_of(write, "data: !!python/object/apply:os.system ['echo hi']\nmodel: {kind: mlp}\n")
    assert "not allowed" in message


def test_duplicate_keys_are_errors(write):
    message = error_of(write, "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\nmodel: {kind: cnn}\n")
    assert "appears twice" in message and "line 3" in message


@pytest.mark.parametrize("text, expected", [
    ("", "empty"),
    ("- a\n- b\n", "mapping"),
    ("model: {kind: mlp}\n", "`data` is required"),
    ("data: {source: 'sklearn:irris'}\nmodel: {kind: mlp}\n", "did you mean `iris`"),
    ("data: {source: csv, target: y}\nmodel: {kind: mlp}\n", "data.path"),
    ("data: {source: 'sklearn:iris', image_size: [8, 8]}\nmodel: {kind: mlp}\n", "unknown key `image_size`"),
    ("data: {source: images, path: x, image_size: [100000, 64]}\nmodel: {kind: cnn}\n", "data.image_size"),
    ("name: 'my run/../x'\ndata: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n", "names a folder"),
    ("data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\nsearch: {tuner: random, max_epochs: 3}\n",
     "hyperband"),
    ("data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\ntrain: {metrics: [f2]}\n",
     "unknown metric 'f2'"),
    ("data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\nsearch: {objective: {name: val_loss}}\n",
     "search.objective.direction"),
])
def test_more_spec_mistakes(write, text, expected):
    assert expected in error_of(write, text)


def test_grid_needs_steps_in_float_ranges(write):
    message = error_of(write, MPG.replace("tuner: random", "tuner: grid"))
    assert "train.learning_rate" in message and "needs a `step`" in message


def test_bad_run_name_from_the_command_line(write):
    from nnlab.spec.loader import with_name

    spec = load_spec(write("s.yaml", MPG))
    with pytest.raises(SpecError, match="--name 'a/b'"):
        with_name(spec, "a/b")
    assert with_name(spec, "other").name == "other"


def test_missing_spec_file_and_folder(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="is a folder"):
        load_spec(tmp_path)


def test_spec_hash_ignores_trial_budget_but_not_the_space(write):
    a = load_spec(write("a.yaml", MPG))
    b = load_spec(write("b.yaml", MPG), ["search.max_trials=20"])
    c = load_spec(write("c.yaml", MPG), ["train.epochs=5"])
    assert spec_hash(a) == spec_hash(b) != spec_hash(c)


def test_loading_a_spec_does_not_import_tensorflow(write):
    import subprocess
    import sys

    path = write("s.yaml", MPG)
    code = ("import sys; from nnlab.spec.loader import load_spec; load_spec(sys.argv[1]); "
            "print(any(m in sys.modules for m in ('tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


SEQUENTIAL = """
name: seq
data: {source: "sklearn:digits"}
model:
  kind: sequential
  layers:
    - Dense: {units: {int: [16, 64], step: 16}, activation: {choice: [relu, tanh]}}
    - BatchNormalization
    - Dropout: {rate: {float: [0.0, 0.4], step: 0.2}}
    - Dense: {units: 8, kernel_size: [3, 3]}
"""


def test_sequential_layers_with_search_spaces(write, tmp_path):
    import yaml

    from nnlab.runs.files import write_atomic
    from nnlab.spec.loader import spec_to_dict
    from nnlab.spec.space import finish_params, fixed_params, hyperparameters

    spec = load_spec(write("s.yaml", SEQUENTIAL))
    space = hyperparameters(spec)
    assert list(space) == ["dense0_units", "dense0_activation", "dropout2_rate"]  # train's values are fixed
    assert space["dense0_units"] == IntRange(16, 64, 16) and space["dense0_activation"] == Choice(("relu", "tanh"))
    params = finish_params(spec, {**fixed_params(spec), "dense0_units": 32, "dense0_activation": "tanh",
                                  "dropout2_rate": 0.2})
    assert params["layers"] == [["Dense", {"units": 32, "activation": "tanh"}], ["BatchNormalization", {}],
                                ["Dropout", {"rate": 0.2}], ["Dense", {"units": 8, "kernel_size": [3, 3]}]]
    # the run folder's copy of the spec loads back to the same search (resume depends on it)
    copy = tmp_path / "copy.yaml"
    write_atomic(copy, yaml.safe_dump(spec_to_dict(spec), sort_keys=False))
    assert spec_hash(load_spec(copy)) == spec_hash(spec)


@pytest.mark.parametrize("layers, expected", [
    ("[{Dence: {units: 4}}]", "did you mean `Dense`"),
    ("[{Dense: {units: {int: [4]}}}]", "layers[0] Dense.units: `int` needs [min, max]"),
    ("[{Dense: 4}]", "expected its arguments as a mapping"),
    ("[{Dense: {units: 4, name: d}}]", "nnlab sets `name` itself"),
    ("[]", "expected a list of layers"),
    ("[{Dense: {units: 4}, Dropout: {rate: 0.1}}]", "expected one layer as"),
    ("[{Lambda: {function: x}}]", "not a Keras layer nnlab accepts"),
])
def test_sequential_mistakes(write, layers, expected):
    message = error_of(write, SEQUENTIAL, f"model.layers={layers}")
    assert expected in message and "at model.layers" in message


def test_random_crop_is_refused_with_the_reason(write):
    from nnlab.errors import SpecError

    spec = write("s.yaml", "data: {source: 'sklearn:digits'}\nmodel: {kind: sequential, layers: [{RandomCrop: "
                           "{height: 4, width: 4}}]}\n")
    with pytest.raises(SpecError, match="RandomCrop is not a Keras layer nnlab accepts: Keras 3 crops in training"):
        load_spec(spec)


def test_the_poisson_loss_is_for_counts_as_they_are(write):
    """train.loss poisson: a regression of counts, 0 or more, without data.target_transform."""
    from nnlab.data.load import load_data
    from nnlab.errors import DataError, SpecError
    from nnlab.spec.objectives import check_task

    rows = "\n".join(f"{i % 7},{(i * 3) % 11}" for i in range(40))
    write("counts.csv", "x,y\n" + rows + "\n")
    spec = load_spec(write("p.yaml", "data: {source: csv, path: counts.csv, target: y, task: regression}\n"
                                     "model: {kind: mlp}\ntrain: {loss: poisson, metrics: [mae]}\n"))
    data = load_data(spec)
    check_task(spec, data.task, data.heads)  # (fits)
    logged = load_spec(write("l.yaml", "data: {source: csv, path: counts.csv, target: y, task: regression, "
                                       "target_transform: log}\nmodel: {kind: mlp}\ntrain: {loss: poisson}\n"))
    with pytest.raises(SpecError, match="does not combine with data.target_transform"):
        check_task(logged, "regression")
    with pytest.raises(SpecError, match="does not fit a classification task"):
        check_task(spec, "classification")
    write("negative.csv", "x,y\n" + "\n".join(f"{i % 7},{i - 5}" for i in range(40)) + "\n")
    negative = load_spec(write("n.yaml", "data: {source: csv, path: negative.csv, target: y, task: regression}\n"
                                         "model: {kind: mlp}\ntrain: {loss: poisson}\n"))
    with pytest.raises(DataError, match="poisson fits counts .0 or more., and the target goes down to -5"):
        load_data(negative)
