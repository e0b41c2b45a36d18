"""nnlab export --raw-inputs: a .keras model that takes the CSV's own columns by name, with the run's
preprocessing inside it as stock Keras parts; loaded by plain Keras in a process without nnlab, it
predicts what `nnlab predict` predicts (to 1e-5)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nnlab.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()

LOAD_AND_CALL = """
import json, sys
import numpy as np, keras
model = keras.saving.load_model(sys.argv[1])
arrays = dict(np.load(sys.argv[2]))
out = model({k: (v.astype(str) if v.dtype.kind in "US" else v) for k, v in arrays.items()})
assert "nnlab" not in sys.modules
print(json.dumps(np.asarray(out).tolist()))
"""


def table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.normal(size=rows)
    colour = rng.choice(["red", "blue", "green"], rows).astype(object)
    colour[rng.random(rows) < 0.1] = "?"  # nnlab reads "?" as missing
    origin = rng.choice([1, 2, 3], rows).astype(float)
    origin[rng.random(rows) < 0.1] = np.nan
    weight = np.round(rng.normal(3000, 500, rows), 1)
    weight[rng.random(rows) < 0.1] = np.nan
    day = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D")
    label = np.where(size + (colour == "red") * 0.8 + (origin == 2) * 0.5 > 0.3, "yes", "no")
    return pd.DataFrame({"size": size.round(3), "colour": colour, "origin": origin, "weight": weight,
                         "day": day.strftime("%Y-%m-%d"), "label": label})


def raw_arrays(frame: pd.DataFrame, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    out = {}
    dates = pd.to_datetime(frame["day"])
    for name, kind in kinds.items():
        if name.startswith("day_"):
            part = name.removeprefix("day_")
            values = dates.dt.day_of_week if part == "weekday" else getattr(dates.dt, part)
            out[name] = values.to_numpy(np.float32)
        elif kind == "text":
            out[name] = frame[name].fillna("").astype(str).to_numpy(dtype=str)
        else:
            out[name] = pd.to_numeric(frame[name]).to_numpy(np.float32)
    return out


def test_a_raw_inputs_model_predicts_as_nnlab_does_without_nnlab(tmp_path):
    table(200, 0).to_csv(tmp_path / "train.csv", index=False)
    new = table(40, 1)
    new.drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "name: raw\ndata: {source: csv, path: train.csv, target: label, categorical: [origin]}\n"
        "model: {kind: mlp, layers: 1, units: 8}\ntrain: {epochs: 3, batch_size: 32}\nsearch: {max_trials: 1}\n")
    result = runner.invoke(app, ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "raw"
    columns = json.loads((run_dir / "preprocessing.json").read_text())["columns"]
    assert {c["type"] for c in columns} == {"numeric", "categorical", "date"}

    result = runner.invoke(app, ["export", str(run_dir), "-o", str(tmp_path / "raw.keras"), "--raw-inputs"])
    assert result.exit_code == 0, result.output
    assert "raw inputs" in result.output and "colour (text)" in result.output and "origin (number)" in result.output

    from nnlab.data.preparation import column_from_json
    from nnlab.engine.tabular.rawinputs import input_kinds

    kinds = input_kinds([column_from_json(c) for c in columns])
    assert {"size", "colour", "origin", "weight", "day_year", "day_month"} <= set(kinds)
    np.savez(tmp_path / "raw.npz", **raw_arrays(new, kinds))
    out = subprocess.run([sys.executable, "-c", LOAD_AND_CALL, str(tmp_path / "raw.keras"), str(tmp_path / "raw.npz")],
                         capture_output=True, text=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    raw = np.asarray(json.loads(out.stdout.strip().splitlines()[-1]))

    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "new.csv"), "-o", str(tmp_path / "p.csv"),
                                 "--proba"])
    assert result.exit_code == 0, result.output
    with (tmp_path / "p.csv").open() as fh:
        predicted = list(csv.DictReader(fh))
    np.testing.assert_allclose(raw[:, 0], [float(r["proba_yes"]) for r in predicted], atol=1e-5)
    assert new["colour"].eq("?").any() and new["origin"].isna().any() and new["weight"].isna().any()


def test_raw_inputs_are_refused_for_runs_on_arrays_and_for_formats_that_cannot_hold_them():
    from nnlab.data.preparation import Preparation
    from nnlab.errors import DataError
    from nnlab.tools.export import with_raw_inputs

    arrays = Preparation.from_json({"type": "tabular", "task": "regression", "input_shape": [4]})
    with pytest.raises(DataError, match="run on a table"):
        with_raw_inputs(object(), arrays, "keras")
    table = Preparation.from_json({"type": "tabular", "task": "regression", "columns": [], "input_shape": [1]})
    with pytest.raises(DataError, match="--format savedmodel: not offered"):
        with_raw_inputs(object(), table, "savedmodel")


def sweep(folder):
    return runner.invoke(app, ["run", str(folder / "s.yaml"), "--runs-dir", str(folder / "runs"), "-q"])


@pytest.mark.parametrize("fmt, suffix", [("onnx", "onnx"), ("litert", "tflite")])
def test_a_numeric_table_exports_raw_inputs_to_onnx_and_litert_and_categories_are_refused(tmp_path, fmt, suffix):
    pytest.importorskip("onnxruntime" if fmt == "onnx" else "ai_edge_litert")
    frame = table(120, 2)[["size", "weight", "label"]]
    frame.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "name: num\ndata: {source: csv, path: train.csv, target: label}\n"
        "model: {kind: mlp, layers: 1, units: 4}\ntrain: {epochs: 2, batch_size: 32}\nsearch: {max_trials: 1}\n")
    assert sweep(tmp_path).exit_code == 0
    path = tmp_path / f"num.{suffix}"
    result = runner.invoke(app, ["export", str(tmp_path / "runs" / "num"), "-o", str(path), "--format", fmt,
                                 "--raw-inputs"])
    assert result.exit_code == 0, result.output
    x = {"size": np.array([0.5, -1.0, np.nan], np.float32), "weight": np.array([3100, np.nan, 2500], np.float32)}
    runner.invoke(app, ["export", str(tmp_path / "runs" / "num"), "-o", str(tmp_path / "k.keras"), "--raw-inputs"])
    import keras

    expected = np.asarray(keras.saving.load_model(tmp_path / "k.keras")(x))
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path))
        got = session.run(None, {i.name: x[i.name] for i in session.get_inputs()})[0]
    else:
        from ai_edge_litert.interpreter import Interpreter

        runner_ = Interpreter(model_path=str(path)).get_signature_runner()
        got = next(iter(runner_(**x).values()))
    np.testing.assert_allclose(got, expected, atol=1e-4)

    table(120, 2).to_csv(tmp_path / "train.csv", index=False)  # with categorical columns: refused, clearly
    (tmp_path / "s.yaml").write_text((tmp_path / "s.yaml").read_text().replace("name: num", "name: cat"))
    assert sweep(tmp_path).exit_code == 0
    result = runner.invoke(app, ["export", str(tmp_path / "runs" / "cat"), "-o", str(tmp_path / f"c.{suffix}"),
                                 "--format", fmt, "--raw-inputs"])
    assert result.exit_code == 2 and "lookup tables" in result.output and not (tmp_path / f"c.{suffix}").exists()
