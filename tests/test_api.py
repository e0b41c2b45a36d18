"""The Python API (`import nnlab`): the commands' work from a notebook or a script."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nnlab
from nnlab.errors import DataError, SpecError

SPEC = {"data": {"source": "csv", "target": "y"},
        "model": {"kind": "mlp", "layers": 1, "units": {"choice": [4, 8]}},
        "train": {"epochs": 2, "batch_size": 16}, "search": {"max_trials": 1}}


def frame(rows: int = 80):
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=rows)
    return pd.DataFrame({"x": x, "colour": rng.choice(["red", " blue"], rows), "y": np.where(x > 0, "up", "down")})


def test_import_nnlab_is_light_and_offers_the_api():
    code = ("import sys, nnlab; assert callable(nnlab.run) and callable(nnlab.compare); "
            "assert callable(nnlab.load_spec) and callable(nnlab.validate); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert {"run", "compare", "load_spec", "validate"} <= set(dir(nnlab))
    with pytest.raises(AttributeError):
        nnlab.nothing_here  # noqa: B018


def test_a_spec_from_a_dict_with_overrides_as_a_dict_or_as_set_strings(tmp_path):
    spec = nnlab.load_spec({**SPEC, "data": {"source": "sklearn:iris"}}, {"search.max_trials": 3})
    assert spec.search.max_trials == 3 and spec.name == "run"
    again = nnlab.load_spec(spec, ["search.max_trials=5", "name=iris"])
    assert again.search.max_trials == 5 and again.name == "iris" and spec.search.max_trials == 3
    with pytest.raises(SpecError, match="did you mean `units`"):
        nnlab.load_spec({"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp", "unitz": 3}})
    (tmp_path / "s.yaml").write_text("data: {source: csv, target: y}\nmodel: {kind: mlp}\n")
    with pytest.raises(SpecError, match="data.path"):  # a spec file still needs its CSV file
        nnlab.load_spec(tmp_path / "s.yaml")


def test_a_csv_spec_without_a_file_or_a_frame_says_what_to_give():
    from nnlab.data.load import load_data

    with pytest.raises(DataError, match="data=frame"):
        load_data(nnlab.load_spec(SPEC))


def test_a_dataframe_is_recorded_by_its_shape_and_a_hash_of_its_contents():
    from nnlab.spec.loader import spec_hash, spec_to_dict, with_frame

    spec = nnlab.load_spec(SPEC)
    one, same, other = with_frame(spec, frame()), with_frame(spec, frame()), with_frame(spec, frame(81))
    record = spec_to_dict(one)["data"]["frame"]
    assert record["rows"] == 80 and record["columns"] == 3 and len(record["sha256"]) == 16
    assert spec_hash(one) == spec_hash(same) != spec_hash(other)  # a run resumes only on the same rows
    changed = frame()
    changed.loc[3, "x"] = 99.0
    assert spec_hash(with_frame(spec, changed)) != spec_hash(one)
    assert spec.data.frame is None  # (a copy: the given spec is left alone)
    with pytest.raises(SpecError, match="pandas DataFrame"):
        with_frame(spec, {"x": [1, 2]})


def test_a_run_leaves_the_process_as_it_found_it_without_tensorflow():
    import gc
    import os
    import random
    import signal

    from nnlab.engine.backend import process_kept

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        environ, state = dict(os.environ), (random.getstate(), np.random.get_state())
        with process_kept():
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
            os.environ["NNLAB_TEST_ONLY"] = "1"
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            gc.collect()
            gc.freeze()
            random.seed(7)
            np.random.seed(7)
        assert dict(os.environ) == environ
        assert gc.get_freeze_count() == 0 and signal.getsignal(signal.SIGTERM) is mine
        after = (random.random(), np.random.random())
        random.setstate(state[0])
        np.random.set_state(state[1])
        assert (random.random(), np.random.random()) == after  # the generators continue where they were
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow
def test_run_and_validate_on_a_dataframe_then_use_the_run_from_python(tmp_path):
    import gc
    import os
    import signal

    import keras
    import pandas as pd
    import tensorflow as tf
    import yaml

    info = nnlab.validate(SPEC, data=frame())
    assert info.data.startswith("DataFrame (80 rows × 3 columns)") and "units" in info.space
    keras.mixed_precision.set_global_policy("float32")
    options = tf.config.optimizer.get_experimental_options()
    handler, environ = signal.getsignal(signal.SIGTERM), dict(os.environ)

    def users_own_keras():  # the user's code in the same kernel, before and after a run
        keras.utils.set_random_seed(5)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
        model.fit(x, x[:, :1], epochs=2, verbose=0)
        return [w.copy() for w in model.get_weights()], model.dtype_policy.name

    before = users_own_keras()
    result = nnlab.run(SPEC, data=frame(), runs_dir=tmp_path / "runs", name="frame", quiet=True)
    after = users_own_keras()
    assert before[1] == after[1] == "float32"
    assert all(np.array_equal(a, b) for a, b in zip(before[0], after[0]))
    # the process as it was found (issue 14): environment, gc, dtype policy, optimizer options, signals
    assert dict(os.environ) == environ and gc.get_freeze_count() == 0
    assert keras.mixed_precision.global_policy().name == "float32"
    assert tf.config.optimizer.get_experimental_options() == options
    assert signal.getsignal(signal.SIGTERM) == handler

    assert result.exit_code == 0 and result.summary.data == "DataFrame (80 rows × 3 columns)"
    assert result.summary.classes == ["down", "up"] and result.records[0].status == "completed"
    copy = yaml.safe_load((result.path / "spec.yaml").read_text())
    assert copy["data"]["frame"]["rows"] == 80 and copy["data"]["frame"]["columns"] == 3
    trials = result.trials
    assert list(trials.index) == ["0"] and {"status", "score", "units", "seconds"} <= set(trials.columns)
    assert result.best.trial_id == "0" and result.best.hyperparameters["units"] in (4, 8)
    new = frame(10).set_index(pd.Index(range(100, 110)))
    predicted = result.predict(new.drop(columns="y"), proba=True)
    assert list(predicted.index) == list(range(100, 110))
    assert set(predicted["predictions"]) <= {"down", "up"} and {"proba_down", "proba_up"} <= set(predicted.columns)
    scores = result.evaluate(new)
    assert 0.0 <= scores["accuracy"] <= 1.0 and scores["examples"] == 10
    html = result._repr_html_()
    assert "frame" in html and "Top 1 trial<" in html and "units" in html
    again = nnlab.open(result.path)
    assert again.best.score == result.best.score and repr(again).startswith("<nnlab run 'frame': completed")
    assert [p.name for p in again.plot(show=False)][:1] == ["learning_curves.png"]
    table = nnlab.compare(tmp_path / "runs")
    assert isinstance(table, pd.DataFrame) and table.loc[0, "run"] == "frame" and table.loc[0, "completed"] == 1
    assert "units" in table.columns  # the best trial's hyperparameters as columns
    trials_table = nnlab.compare(result.path)
    assert list(trials_table["trial_id"]) == ["0"] and "val_loss" in trials_table.columns

    with pytest.raises(nnlab_errors().RunError, match="data.frame"):  # other rows: not the same run
        nnlab.run(SPEC, data=frame(90), runs_dir=tmp_path / "runs", name="frame", quiet=True)


def nnlab_errors():
    import nnlab.errors

    return nnlab.errors


def test_errors_from_python_say_the_keywords_not_the_flags(tmp_path):
    from nnlab.api import _python_words
    from nnlab.errors import RunError

    with pytest.raises(RunError) as caught, _python_words():
        raise RunError("runs/x holds a sweep of a different spec. Use --overwrite to start over, or --name NAME "
                       "to run beside it; --runs-dir elsewhere; --set search.max_trials=3")
    text = str(caught.value)
    assert "overwrite=True" in text and 'name="NAME"' in text and "runs_dir=" in text and "overrides=" in text
    assert "--" not in text


def test_a_union_field_is_one_problem_in_the_user_s_words(tmp_path):
    spec = {"data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}}
    with pytest.raises(SpecError) as caught:
        nnlab.load_spec(spec, {"search.pack": 0})
    text = str(caught.value)
    assert "problems" not in text and "constrained" not in text and "literal" not in text
    assert "greater than or equal to 1, or expected 'auto'; found 0" in text
