"""model.scaling, model.embedding and model.members: the numeric features' training figures
(`NumericStats`, no TensorFlow), the layers that use them (`engine.tabular.numeric`: what they compute), the
members of one model (`engine.tabular.members`: trained on the mean of their losses, predicting their mean),
their parameter count as `spec.sizes` works it out, saved models that load with plain Keras and export,
and the spec fields."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.numericstats import QUANTILES, NumericStats
from nnlab.data.preparation import CategoricalColumn, DateColumn, NumericColumn, Preparation, TablePrep


def test_quantile_map_is_monotone_merges_repeated_knots_and_stays_finite():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.exponential(size=500), rng.integers(0, 3, 500), np.full(500, 2.0)])
    knots, values = NumericStats.of(x).to_normal()
    assert knots.shape == values.shape == (3, QUANTILES)
    assert np.all(np.diff(knots, axis=1) >= 0) and np.all(np.diff(values, axis=1) >= 0)
    assert np.all(np.isfinite(values)) and np.abs(values).max() < 3.1  # ±Φ⁻¹(1 - 1/1000)
    assert len(np.unique(knots[1])) == 3  # three values: three knots
    assert np.all(values[2] == 0)  # a constant feature maps to 0
    mapped = np.interp(x[:, 0], knots[0], values[0])
    assert abs(mapped.mean()) < 0.1 and 0.8 < mapped.std() < 1.2  # a skewed feature comes out normal


def test_robust_figures_are_the_median_and_interquartile_range_with_rangeless_fallbacks():
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(3, 2, 4000), np.r_[np.zeros(3990), np.ones(10)], np.ones(4000)])
    median, factor = NumericStats.of(x).robust()
    assert median[0] == pytest.approx(3, abs=0.15) and factor[0] == pytest.approx(1 / (2 * 1.349), rel=0.1)
    assert factor[1] == pytest.approx(2.0)  # no interquartile range: half the range
    assert factor[2] == 0.0  # constant: no scale at all


def test_the_numeric_inputs_of_a_table_are_its_numbers_and_date_parts():
    columns = [NumericColumn("a", 0, 0, 1), CategoricalColumn("c", ["x", "y"], True, False),
               DateColumn("d", {"year": (2020, 1), "month": (6, 3)}, None), NumericColumn("b", 0, 0, 1)]
    prep = Preparation(TablePrep(columns), "regression", (7,))
    assert prep.numeric == (0, 4, 5, 6)
    assert prep.shape().numeric == (0, 4, 5, 6)
    arrays = Preparation.from_json({"type": "tabular", "task": "regression", "input_shape": [4]})
    assert arrays.numeric == (0, 1, 2, 3)
    pixels = Preparation.from_json({"type": "images", "task": "classification", "input_shape": [8, 8, 1]})
    assert pixels.numeric == ()


def test_the_spec_fields_are_searchable_and_name_their_choices():
    from nnlab.errors import SpecError
    from nnlab.spec.loader import spec_from_dict as load_spec
    from nnlab.spec.space import hyperparameters

    spec = load_spec({"name": "n", "data": {"source": "sklearn:diabetes"},
                      "model": {"kind": "mlp", "scaling": {"choice": ["standard", "quantile"]},
                                "embedding": {"choice": ["none", "piecewise"]}, "embedding_size": 8}})
    assert {"scaling", "embedding"} <= set(hyperparameters(spec))
    with pytest.raises(SpecError, match="periodic"):
        load_spec({"name": "n", "data": {"source": "sklearn:diabetes"}, "model": {"kind": "mlp", "embedding": "plr"}})
    for members in (0, 65):
        with pytest.raises(SpecError, match="members"):
            load_spec({"name": "n", "data": {"source": "sklearn:diabetes"},
                       "model": {"kind": "mlp", "members": members}})


def test_specs_that_leave_the_new_fields_out_hash_as_before():
    from nnlab.spec.loader import spec_from_dict as load_spec
    from nnlab.spec.loader import spec_hash

    raw = {"name": "n", "data": {"source": "sklearn:diabetes"}, "model": {"kind": "mlp"}}
    explicit = {**raw, "model": {"kind": "mlp", "scaling": "standard", "embedding": "none", "embedding_size": 16,
                                 "members": 1}}
    assert spec_hash(load_spec(raw)) == spec_hash(load_spec(explicit))
    assert spec_hash(load_spec(raw)) != spec_hash(load_spec({**raw, "model": {"kind": "mlp", "scaling": "robust"}}))


# ------------------------------------------------------------------------------------ the layers


def _table(rows: int = 300):
    rng = np.random.default_rng(2)
    onehot = np.eye(2)[rng.integers(0, 2, rows)]
    x = np.column_stack([rng.normal(size=rows), rng.exponential(size=rows), rng.integers(0, 4, rows), onehot])
    return x.astype(np.float32), (0, 1, 2)


@pytest.mark.slow
@pytest.mark.parametrize("scaling", ["standard", "robust", "quantile"])
@pytest.mark.parametrize("embedding", ["none", "periodic", "piecewise"])
def test_each_combination_counts_as_estimated_trains_and_loads_with_plain_keras(tmp_path, scaling, embedding):
    import keras

    from nnlab.data.shape import DataShape
    from nnlab.engine.model.builders import build_model, compile_model
    from nnlab.spec.sizes import FeatureCounts, model_size

    x, numeric = _table()
    shape = DataShape((5,), "regression", numeric=numeric, numeric_stats=NumericStats.of(x[:, list(numeric)]))
    params = {"units": [8], "activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0,
              "scaling": scaling, "embedding": embedding, "embedding_size": 4, "optimizer": "adam",
              "learning_rate": 1e-3}
    model = build_model("mlp", params, shape)
    assert model.count_params() == model_size("mlp", params, (5,), 1, FeatureCounts(len(numeric), (2,))).parameters
    compile_model(model, params, shape, "mse", ["rmse"])
    frozen = [w.numpy().copy() for w in model.non_trainable_weights]
    model.fit(x, x[:, 0], epochs=1, verbose=0)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(frozen, model.non_trainable_weights))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.slow
def test_the_layers_compute_what_the_papers_say():
    import keras

    from nnlab.data.shape import DataShape
    from nnlab.engine.model.builders import build_model

    x, numeric = _table()
    stats = NumericStats.of(x[:, list(numeric)])
    shape = DataShape((5,), "regression", numeric=numeric, numeric_stats=stats)
    base = {"units": [4], "activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0, "embedding_size": 4}

    def layer_output(params, name):
        model = build_model("mlp", {**base, **params}, shape)
        return keras.Model(model.inputs, model.get_layer(name).output).predict(x, verbose=0)

    knots, values = stats.to_normal()
    want = np.column_stack([np.interp(x[:, f], knots[f], values[f]) for f in range(3)])
    np.testing.assert_allclose(layer_output({"scaling": "quantile"}, "quantile_to_normal"), want, atol=1e-5)
    median, factor = stats.robust()
    np.testing.assert_allclose(layer_output({"scaling": "robust"}, "robust_scaling"), (x[:, :3] - median) * factor,
                               atol=1e-5)
    encoded = layer_output({"embedding": "piecewise"}, "piecewise_encoding")
    edges = np.unique(stats.bins()[0])
    for value, code in zip(x[:20, 0], encoded[:20, 0]):  # feature 0: 32 distinct bins
        inside = np.clip((value - edges[:-1]) / np.diff(edges), 0, 1)
        inside[0], inside[-1] = min((value - edges[0]) / (edges[1] - edges[0]), 1), max(
            (value - edges[-2]) / (edges[-1] - edges[-2]), 0)
        np.testing.assert_allclose(code, inside, atol=1e-5)
    feature_3 = encoded[:, 2]  # 4 values: 3 bins, the last at the end, zeros between
    assert np.all(feature_3[:, 2:-1] == 0) and feature_3[:, -1].max() == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["scaling: quantile, embedding: periodic",
                                   "scaling: robust, embedding: piecewise, members: 4", "members: 3"])
def test_a_run_with_the_layers_exports_to_every_format_and_with_raw_inputs(tmp_path, model):
    """`nnlab export` checks each file against Keras on sample rows (`exportcheck`) before it says written."""
    from typer.testing import CliRunner

    from nnlab.cli import app

    runner = CliRunner()
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=160), rng.exponential(size=160)
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(f"{p:.4f},{q:.4f},{np.sin(p) + q:.4f}\n"
                                                         for p, q in zip(a, b)))
    (tmp_path / "s.yaml").write_text(f"name: n\ndata: {{source: csv, path: t.csv, target: y}}\n"
                                     f"model: {{kind: mlp, layers: 1, units: 8, {model}, embedding_size: 4}}\n"
                                     "train: {epochs: 2, batch_size: 32}\nsearch: {max_trials: 1}\n")
    result = runner.invoke(app, ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "n"
    for fmt, name, extra in [("keras", "raw.keras", ["--raw-inputs"]), ("onnx", "m.onnx", []),
                             ("litert", "m.tflite", []), ("onnx", "raw.onnx", ["--raw-inputs"])]:
        if fmt != "keras":
            pytest.importorskip("onnxruntime" if fmt == "onnx" else "ai_edge_litert")
        result = runner.invoke(app, ["export", str(run), "-o", str(tmp_path / name), "--format", fmt, *extra])
        assert result.exit_code == 0, (fmt, result.output)
        assert (tmp_path / name).exists()


@pytest.mark.slow
@pytest.mark.parametrize("classes", [0, 2, 3])
def test_members_train_on_the_mean_of_their_losses_and_predict_their_mean(tmp_path, classes):
    import keras

    from nnlab.data.shape import DataShape
    from nnlab.engine.model.builders import build_model, compile_model, for_saving, inference_model
    from nnlab.spec.sizes import FeatureCounts, model_size

    x, numeric = _table()
    task = "regression" if not classes else "classification"
    shape = DataShape((5,), task, num_classes=classes, numeric=numeric)
    params = {"units": [8], "activation": "relu", "dropout": 0.0, "batch_norm": True, "l2": 0.0, "members": 4,
              "optimizer": "adam", "learning_rate": 1e-2}
    model = build_model("mlp", params, shape)
    counted = model_size("mlp", params, (5,), classes if classes > 2 else 1, FeatureCounts(3, (2,)))
    assert model.count_params() == counted.parameters
    metrics = ["rmse"] if task == "regression" else ["f1"]
    compile_model(model, params, shape, "mse" if task == "regression" else None, metrics)
    y = x[:, 0] if task == "regression" else np.arange(len(x)) % classes
    model.fit(x, y, epochs=2, verbose=0)
    each = model.predict(x, verbose=0)  # (rows, members, units)
    assert each.shape[1] == 4 and np.std(each, axis=1).mean() > 1e-4  # the members differ
    if task == "regression":
        want = np.mean((each[:, :, 0] - y[:, None]) ** 2)
    elif classes == 2:
        p = np.clip(each[:, :, 0], 1e-7, 1 - 1e-7)
        want = -np.mean(y[:, None] * np.log(p) + (1 - y[:, None]) * np.log(1 - p))
    else:
        want = -np.mean(np.log(np.take_along_axis(each, y[:, None, None].repeat(4, 1), axis=2)))
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(want, rel=1e-4)
    mean = inference_model(model).predict(x, verbose=0)
    np.testing.assert_allclose(mean, each.mean(axis=1), atol=1e-6)
    if task == "regression":  # the metrics are of the mean prediction
        assert logs["rmse"] == pytest.approx(np.sqrt(np.mean((mean[:, 0] - y) ** 2)), rel=1e-4)
    saved = for_saving(model, params, shape, "mse" if task == "regression" else None, metrics)
    saved.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras").predict(x, verbose=0), mean, atol=1e-6)
    if classes:  # train.class_weight: a weight a row (Keras's sample weights), not one a member and row
        weights = np.where(y == 0, 3.0, 1.0)
        weighted = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)["loss"]
        model.fit(x, y, epochs=1, verbose=0, class_weight={0: 3.0, **{c: 1.0 for c in range(1, max(classes, 2))}})
        assert np.isfinite(weighted) and weighted != pytest.approx(want, rel=1e-3)
