"""nnlab export --format onnx / litert: files that onnxruntime and the LiteRT interpreter load and that
predict what Keras predicts (to 1e-4), for a single model and an ensemble; a clear message without the
exporters' packages (the `export` extra)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from nnlab.cli import app

runner = CliRunner()

SPEC = """
name: {name}
seed: 1
data: {{source: "sklearn:iris"}}
model: {{kind: mlp, layers: 1, units: {{choice: [4, 8, 16]}}, dropout: 0.2}}
train: {{epochs: 2, batch_size: 16}}
search: {{max_trials: {trials}, ensemble: {k}}}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for name, trials, k in (("one", 1, 1), ("ens", 3, 2)):
        (folder / f"{name}.yaml").write_text(SPEC.format(name=name, trials=trials, k=k))
        result = runner.invoke(app, ["run", str(folder / f"{name}.yaml"), "--runs-dir", str(folder / "runs"), "-q"])
        assert result.exit_code == 0, result.output
        out[name] = folder / "runs" / name
    return folder, out


def keras_predictions(run_dir, x):
    from nnlab.tools.apply import load_model, open_run

    return load_model(open_run(run_dir)).predict(x, verbose=0)


def onnx_predictions(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path))
    (inp,) = session.get_inputs()
    return session.run(None, {inp.name: x})[0]


def litert_predictions(path, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    (inp,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.slow
@pytest.mark.parametrize("fmt, suffix, run_file", [("onnx", "onnx", onnx_predictions),
                                                    ("litert", "tflite", litert_predictions)])
@pytest.mark.parametrize("which", ["one", "ens"])
def test_onnx_and_litert_files_predict_as_keras_does(runs, fmt, suffix, run_file, which):
    pytest.importorskip("onnxruntime" if fmt == "onnx" else "ai_edge_litert")
    folder, run_dirs = runs
    path = folder / f"{which}.{suffix}"
    result = runner.invoke(app, ["export", str(run_dirs[which]), "-o", str(path), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert ("ensemble of trials" in result.output) == (which == "ens") and f"({fmt})" in result.output
    x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    np.testing.assert_allclose(run_file(path, x), keras_predictions(run_dirs[which], x), atol=1e-4)
    assert not list(folder.glob(".*.tmp*"))  # written through a temporary file


def test_a_wrong_suffix_and_a_missing_exporter_are_clear(tmp_path, monkeypatch):
    import importlib.util

    from nnlab.errors import DataError
    from nnlab.tools.export import export

    with pytest.raises(DataError, match=r"must end in \.onnx"):
        export(object(), tmp_path / "m.tflite", "onnx")
    with pytest.raises(DataError, match=r"must end in \.tflite"):
        export(object(), tmp_path / "m.onnx", "litert")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    with pytest.raises(DataError, match=r"needs tf2onnx.*pip install 'nnlab\[export\]'"):
        export(object(), tmp_path / "m.onnx", "onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_the_format_is_the_one_the_output_suffix_names(tmp_path):
    from nnlab.errors import DataError
    from nnlab.tools.export import format_for

    names = ["m.keras", "m.onnx", "m.tflite", "shapes.mlpackage", "served"]
    assert [format_for(tmp_path / n) for n in names] == ["keras", "onnx", "litert", "coreml", "savedmodel"]
    with pytest.raises(DataError, match=r"m\.h5: its suffix names no export format .*give --format"):
        format_for(tmp_path / "m.h5")


@pytest.mark.slow
def test_coreml_packages_are_converted_with_one_input_of_any_batch(runs):
    import sys

    ct = pytest.importorskip("coremltools")
    folder, run_dirs = runs
    for which in ("one", "ens"):
        path = folder / f"{which}.mlpackage"
        result = runner.invoke(app, ["export", str(run_dirs[which]), "-o", str(path), "--format", "coreml"])
        assert result.exit_code == 0, result.output
        package = ct.models.MLModel(str(path), skip_model_load=sys.platform != "darwin")
        (inp,) = package.get_spec().description.input
        assert inp.name == "inputs" and list(inp.type.multiArrayType.shape)[1:] == [4]
        if sys.platform == "darwin":  # only macOS runs Core ML: there, the numbers are compared too
            x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
            (out,) = package.predict({"inputs": x}).values()
            np.testing.assert_allclose(out, keras_predictions(run_dirs[which], x), atol=1e-3)
    again = runner.invoke(app, ["export", str(run_dirs["one"]), "-o", str(folder / "one.mlpackage"),
                                "--format", "coreml"])
    assert again.exit_code == 2 and "exists" in again.output
