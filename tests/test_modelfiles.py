"""Model files that will not load, exports that would not work, and a disk that fills: each is exit 2
with what is wrong, never a traceback or a file that fails under the name asked for; what was saved
before is kept and the same command resumes. Small real sweeps (slow)."""

from __future__ import annotations

import os
import random
import signal
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app
from tests.test_bad_inputs import snapshot

pytestmark = pytest.mark.slow
runner = CliRunner()

SPEC = """
name: {name}
seed: 1
data: {{source: "sklearn:iris"}}
model: {{kind: mlp, layers: 1, units: {{choice: [4, 8, 16]}}, activation: {activation}}}
train: {{epochs: 2, batch_size: 16}}
search: {{max_trials: {trials}, ensemble: {k}}}
"""


def make_run(folder: Path, name: str, trials: int = 1, k: int = 1, activation: str = "relu") -> Path:
    (folder / f"{name}.yaml").write_text(SPEC.format(name=name, trials=trials, k=k, activation=activation))
    result = runner.invoke(app, ["run", str(folder / f"{name}.yaml"), "--runs-dir", str(folder / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    return folder / "runs" / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("modelfiles")
    return {"plain": make_run(folder, "plain"), "gelu": make_run(folder, "gelu", activation="gelu"),
            "gelu_ensemble": make_run(folder, "ens", trials=2, k=2, activation="{choice: [gelu, relu]}")}


def x_iris(rows: int = 6) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(rows, 4)).astype(np.float32)


def refused(args: list[str], expected: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output and result.output.count("error: ") == 1, result.output
    assert result.output.startswith("error: ") or args[0] == "run", result.output  # (a run shows its progress first)
    assert expected in result.output, result.output
    return result.output


@pytest.fixture
def broken_copy(runs, tmp_path):
    """A copy of the plain run whose best.keras the test replaces (the module's runs stay whole)."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(runs["plain"], copy)
    np.savez(tmp_path / "new.npz", x=x_iris())
    return copy, tmp_path / "new.npz"


def _lambda_model(path: Path) -> None:
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Lambda(lambda t: t * 2)(inputs))
    keras.Model(inputs, outputs).save(path)


@pytest.mark.parametrize("damage, expected", [
    ("lambda", "holds a Lambda layer, which nnlab will not load because loading it runs code"),
    ("truncated", "is damaged: not a complete .keras archive"),
    ("empty", "this one is empty"),
    ("link", "(a link to "),
    ("folder", "is not a file"),
])
def test_a_best_model_that_will_not_load_is_said(broken_copy, tmp_path, damage, expected):
    run, data = broken_copy
    best = run / "best.keras"
    whole = best.read_bytes()
    best.unlink()
    if damage == "lambda":
        _lambda_model(best)
    elif damage == "truncated":
        best.write_bytes(whole[: len(whole) // 2])
    elif damage == "empty":
        best.write_bytes(b"")
    elif damage == "link":
        (tmp_path / "notes.txt").write_text("not a model")
        best.symlink_to(tmp_path / "notes.txt")
    else:
        best.mkdir()
    before = snapshot(run)
    for command in (["predict", str(run), str(data), "-o", str(tmp_path / "p.csv")],
                    ["export", str(run), "-o", str(tmp_path / "m.keras")]):
        refused(command, expected)
    assert snapshot(run) == before and not (tmp_path / "p.csv").exists() and not (tmp_path / "m.keras").exists()


def test_a_damaged_checkpoint_is_said_for_its_trial(broken_copy, tmp_path):
    run, data = broken_copy
    checkpoint = run / "tuner" / "trial_0" / "checkpoint.weights.h5"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    refused(["predict", str(run), str(data), "--trial", "0", "-o", str(tmp_path / "p.csv")],
            "trial 0's checkpoint")


def test_gelu_exports_to_onnx_and_predicts_as_keras_does(runs, tmp_path):
    import onnxruntime

    from nnlab.tools.apply import load_model, open_run

    for name in ("gelu", "gelu_ensemble"):
        path = tmp_path / f"{name}.onnx"
        result = runner.invoke(app, ["export", str(runs[name]), "-o", str(path), "--format", "onnx"])
        assert result.exit_code == 0, result.output
        session = onnxruntime.InferenceSession(str(path))
        (inp,) = session.get_inputs()
        x = x_iris()
        got = session.run(None, {inp.name: x})[0]
        np.testing.assert_allclose(got, load_model(open_run(runs[name])).predict(x, verbose=0), atol=1e-4)


def test_an_export_its_runtime_cannot_open_is_not_written(runs, tmp_path, monkeypatch):
    import nnlab.engine.model.converterops as converterops

    monkeypatch.setattr(converterops, "teach_onnx", lambda: None)  # tf2onnx as it is: no rule for Erfc
    monkeypatch.setattr(converterops, "_registered", set())
    from tf2onnx.handler import tf_op

    for opsets in tf_op.get_opsets().values():  # (a rule registered by an earlier test of this process)
        for handlers in opsets:
            handlers.pop("Erfc", None)
    path = tmp_path / "gelu.onnx"
    out = refused(["export", str(runs["gelu"]), "-o", str(path), "--format", "onnx"], "onnxruntime cannot run")
    assert "operation Erfc" in out and "so it was not written" in out
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_an_export_that_predicts_otherwise_is_not_written(runs, tmp_path, monkeypatch):
    from nnlab.tools import exportcheck

    monkeypatch.setitem(exportcheck.RUNNERS, "keras", lambda path, inputs, pre: [np.zeros((8, 3), np.float32)])
    refused(["export", str(runs["plain"]), "-o", str(tmp_path / "m.keras")], "does not predict what the model does")
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_an_export_leaves_no_file(runs, tmp_path, monkeypatch):
    from nnlab.tools import export

    def write_then_terminate(model, path, preparation):
        model.save(path)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setitem(export.WRITERS, "keras", write_then_terminate)
    result = runner.invoke(app, ["export", str(runs["plain"]), "-o", str(tmp_path / "m.keras")])
    assert result.exit_code == 130 and "nothing was written" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


Usage = namedtuple("Usage", "total used free")


def _disk_fills_at(monkeypatch, call: int, where: str = ""):
    """shutil.disk_usage as nnlab's writes see it: full from its `call`-th question about `where` on."""
    import shutil

    from nnlab.runs import files

    real, asked = shutil.disk_usage, []

    def usage(path):
        if where in str(path):
            asked.append(path)
        return Usage(100, 100, 0) if len(asked) >= call else real(path)

    monkeypatch.setattr(files.shutil, "disk_usage", usage)


def test_a_disk_that_fills_during_a_trial_stops_the_run_and_the_same_command_resumes(tmp_path, monkeypatch):
    (tmp_path / "s.yaml").write_text(SPEC.format(name="full", trials=3, k=1, activation="relu"))
    args = ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs")]
    _disk_fills_at(monkeypatch, 2, "tuner")  # trial 0's checkpoint fits, trial 1's does not
    out = refused(args, "the disk holding")
    assert "is full (No space left on device)" in out and "run the same command again" in out
    assert out.count("error:") == 1 and "Exception ignored" not in out
    run = tmp_path / "runs" / "full"
    assert (run / "trials.csv").read_text().count("completed") == 1
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
    monkeypatch.undo()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (run / "trials.csv").read_text().count("completed") == 3 and (run / "best.keras").is_file()


def test_a_disk_that_fills_while_best_keras_is_written_resumes_to_write_it(tmp_path, monkeypatch):
    (tmp_path / "s.yaml").write_text(SPEC.format(name="full", trials=2, k=1, activation="relu"))
    args = ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs")]
    run = tmp_path / "runs" / "full"
    _disk_fills_at(monkeypatch, 3)  # the two checkpoints fit; best.keras does not
    refused(args, "is full (No space left on device)")
    assert (run / "trials.csv").read_text().count("completed") == 2 and not (run / "best.keras").exists()
    monkeypatch.undo()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (run / "best.keras").is_file() and "trial 0 started" not in result.output  # nothing trained again


def test_the_size_estimate_counts_what_keras_counts():
    import keras

    from nnlab.engine.model.builders import DataShape, build_model
    from nnlab.spec.sizes import model_size

    rng = random.Random(0)
    cases = []
    for _ in range(8):
        cases.append(("mlp", {"units": [rng.choice([1, 7, 64]) for _ in range(rng.randint(1, 3))],
                              "batch_norm": rng.random() < 0.5, "dropout": rng.choice([0, 0.2]), "l2": 0,
                              "activation": "relu"}, (rng.choice([3, 13]),)))
    cases.append(("mlp", {"units": [5, 6], "batch_norm": False, "dropout": 0, "l2": 0, "activation": "relu"},
                  (8, 8, 1)))
    for _ in range(8):
        cases.append(("cnn", {"conv_blocks": rng.randint(1, 4), "filters": rng.choice([3, 8]),
                              "filter_growth": rng.choice([1.0, 1.5, 2.0]), "kernel_size": rng.choice([1, 3, 5]),
                              "activation": "relu", "pooling": rng.choice(["max", "avg"]),
                              "batch_norm": rng.random() < 0.5, "global_pooling": rng.random() < 0.5,
                              "dense_layers": rng.randint(0, 2), "dense_units": rng.choice([4, 16]),
                              "dropout": rng.choice([0, 0.3]), "augment": {}, "separable": rng.random() < 0.5},
                      (rng.choice([8, 13, 32]), rng.choice([8, 11]), rng.choice([1, 3]))))
    for layers in (
        [["Dense", {"units": 5}], ["Dropout", {"rate": 0.1}], ["Dense", {"units": 3, "use_bias": False}]],
        [["Conv2D", {"filters": 4, "kernel_size": 3}], ["MaxPooling2D", {}],
         ["Conv2D", {"filters": 6, "kernel_size": [2, 3], "strides": 2, "padding": "same"}],
         ["BatchNormalization", {}], ["GlobalAveragePooling2D", {}]],
        [["Reshape", {"target_shape": [8, 8]}], ["Conv1D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2}],
         ["AveragePooling1D", {"pool_size": 3, "strides": 1}], ["LayerNormalization", {}], ["Flatten", {}]],
        [["SeparableConv2D", {"filters": 5, "kernel_size": 3, "depth_multiplier": 2}],
         ["DepthwiseConv2D", {"kernel_size": 3, "padding": "same"}],
         ["Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2}], ["ZeroPadding2D", {"padding": [1, 2]}],
         ["Cropping2D", {"cropping": [[1, 0], [2, 1]]}], ["UpSampling2D", {}], ["PReLU", {"shared_axes": [1, 2]}],
         ["Resizing", {"height": 5, "width": 4}]],
        [["Conv2D", {"filters": 4, "kernel_size": 3, "use_bias": False}],
         ["Conv2DTranspose", {"filters": 3, "kernel_size": 2, "strides": 3, "padding": "same"}],
         ["BatchNormalization", {"center": False}], ["CenterCrop", {"height": 6, "width": 6}],
         ["MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}], ["PReLU", {}]],
    ):
        cases.append(("sequential", {"layers": layers}, (8, 8, 1)))
    for i, (kind, params, shape) in enumerate(cases):
        classes = (0, 2, 5)[i % 3]  # regression, two classes (one unit), five classes
        data_shape = DataShape(shape, "regression" if classes == 0 else "classification", classes,
                               rescale=1 / 255 if len(shape) > 1 else 1.0)
        counted = int(build_model(kind, params, data_shape).count_params())
        estimate = model_size(kind, params, shape, classes if classes > 2 else 1)
        assert estimate is not None and estimate.parameters == counted, (kind, params, shape, classes)
        keras.backend.clear_session()
