"""model.categorical: embedding — a categorical column of many values as a few learned numbers per
value, inside the model (`engine.tabular.features`); fewer values stay one-hot. Where its columns are
(`TablePrep.categorical`), its parameter count (`spec.sizes`), and a saved model that loads with plain
Keras."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.preparation import CategoricalColumn, NumericColumn, Preparation, TablePrep
from nnlab.spec.names import CATEGORY_EMBEDDING, ONE_HOT_UP_TO


def _columns():
    wide = CategoricalColumn("state", [f"s{i}" for i in range(12)], True, False)  # 13 one-hot columns
    narrow = CategoricalColumn("kind", ["a", "b"], True, True)  # 4
    return [NumericColumn("x", 0, 0, 1), wide, NumericColumn("y", 0, 0, 1), narrow]


def test_each_categorical_columns_one_hot_inputs_are_known_from_the_preparation():
    prep = Preparation(TablePrep(_columns()), "regression", (19,))
    assert prep.categorical == (tuple(range(1, 14)), (15, 16, 17, 18))
    assert prep.shape().categorical == prep.categorical and prep.numeric == (0, 14)
    assert prep.feature_counts().numeric == 2 and prep.feature_counts().categories == (13, 4)
    arrays = Preparation.from_json({"type": "tabular", "task": "regression", "input_shape": [4]})
    assert arrays.categorical == ()


def test_the_field_defaults_to_one_hot_and_hashes_as_before():
    from nnlab.errors import SpecError
    from nnlab.spec.loader import spec_from_dict, spec_hash
    from nnlab.spec.space import hyperparameters

    raw = {"name": "n", "data": {"source": "sklearn:diabetes"}, "model": {"kind": "mlp"}}
    assert spec_from_dict(raw).model.categorical == "onehot"
    explicit = {**raw, "model": {"kind": "mlp", "categorical": "onehot"}}
    assert spec_hash(spec_from_dict(raw)) == spec_hash(spec_from_dict(explicit))
    searched = spec_from_dict({**raw, "model": {"kind": "mlp", "categorical": {"choice": ["onehot", "embedding"]}}})
    assert "categorical" in hyperparameters(searched)
    with pytest.raises(SpecError, match="embedding"):
        spec_from_dict({**raw, "model": {"kind": "mlp", "categorical": "embed"}})


def _rows(count: int = 200):
    rng = np.random.default_rng(0)
    state, kind = rng.integers(0, 13, count), rng.integers(0, 4, count)
    x = np.column_stack([rng.normal(size=count), np.eye(13)[state], rng.normal(size=count), np.eye(4)[kind]])
    return x.astype(np.float32), state


@pytest.mark.slow
@pytest.mark.parametrize("extra", [{}, {"embedding": "piecewise", "members": 2}])
def test_a_wide_column_becomes_a_lookup_of_learned_numbers_counted_exactly(tmp_path, extra):
    import keras

    from nnlab.data.numericstats import NumericStats
    from nnlab.engine.model.builders import build_model, compile_model, for_saving
    from nnlab.spec.sizes import model_size

    x, state = _rows()
    prep = Preparation(TablePrep(_columns()), "regression", (19,))
    shape = prep.shape(numeric_stats=NumericStats.of(x[:, list(prep.numeric)]))
    params = {"units": [8], "activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0,
              "categorical": "embedding", "embedding_size": 4, "optimizer": "adam", "learning_rate": 1e-2, **extra}
    model = build_model("mlp", params, shape)
    assert model.count_params() == model_size("mlp", params, (19,), 1, prep.feature_counts()).parameters
    embedded = model.get_layer("category_1_embedding")
    assert embedded.kernel.shape == (13, CATEGORY_EMBEDDING) and 4 <= ONE_HOT_UP_TO  # (kind stays one-hot)
    lookup = keras.Model(model.inputs, embedded.output).predict(x, verbose=0)
    np.testing.assert_allclose(lookup, embedded.kernel.numpy()[state], atol=1e-6)  # one row of the table each
    compile_model(model, params, shape, "mse", ["rmse"])
    model.fit(x, x[:, 0] + state / 6, epochs=2, verbose=0)
    saved = for_saving(model, params, shape, "mse", ["rmse"])  # (as best.keras: the members' mean)
    saved.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), saved.predict(x, verbose=0), atol=1e-5)
    plain = build_model("mlp", {**params, "categorical": "onehot"}, shape)
    assert not any(layer.name.startswith("category_") for layer in plain.layers)


@pytest.mark.slow
def test_a_run_with_embedded_categories_exports_to_every_format_and_with_raw_inputs(tmp_path):
    """`nnlab export` checks each file against Keras on sample rows (`exportcheck`) before it says written."""
    from typer.testing import CliRunner

    from nnlab.cli import app

    runner = CliRunner()
    rng = np.random.default_rng(3)
    a, city = rng.normal(size=200), rng.integers(0, 12, 200)
    (tmp_path / "t.csv").write_text("a,city,y\n" + "".join(f"{p:.4f},c{c},{p + c / 4:.4f}\n" for p, c in zip(a, city)))
    (tmp_path / "s.yaml").write_text("name: n\ndata: {source: csv, path: t.csv, target: y}\n"
                                     "model: {kind: mlp, layers: 1, units: 8, categorical: embedding, "
                                     "embedding: piecewise, embedding_size: 4}\n"
                                     "train: {epochs: 2, batch_size: 32}\nsearch: {max_trials: 1}\n")
    result = runner.invoke(app, ["run", str(tmp_path / "s.yaml"), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "n"
    for fmt, name, extra in [("keras", "raw.keras", ["--raw-inputs"]), ("onnx", "m.onnx", []),
                             ("litert", "m.tflite", [])]:  # (raw text into ONNX: refused, as for any text column)
        if fmt != "keras":
            pytest.importorskip("onnxruntime" if fmt == "onnx" else "ai_edge_litert")
        result = runner.invoke(app, ["export", str(run), "-o", str(tmp_path / name), "--format", fmt, *extra])
        assert result.exit_code == 0, (fmt, result.output)
        assert (tmp_path / name).exists()
