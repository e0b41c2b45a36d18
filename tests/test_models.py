"""Model builders on plain params: output layers per task, parameter counts, saved models load."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.engine.model.builders import DataShape, build_model, compile_model

MLP = {"units": [8, 4], "activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0,
       "optimizer": "adam", "learning_rate": 0.01, "batch_size": 8}
CNN = {"conv_blocks": 2, "filters": 4, "filter_growth": 2.0, "kernel_size": 3, "activation": "relu",
       "pooling": "max", "batch_norm": False, "global_pooling": False, "dense_layers": 1, "dense_units": 8,
       "dropout": 0.0, "augment": {"flip": "horizontal", "rotation": 0.1, "zoom": 0.0, "contrast": 0.0},
       "optimizer": "sgd", "learning_rate": 0.01, "batch_size": 8}


@pytest.mark.parametrize("task, classes, units, activation", [
    ("classification", 5, 5, "softmax"), ("classification", 2, 1, "sigmoid"), ("regression", 0, 1, None),
])
def test_mlp_output_follows_the_task(task, classes, units, activation):
    model = build_model("mlp", MLP, DataShape((6,), task, classes, target_mean=20.0))
    assert model.output_shape == (None, units)
    # 6*8+8 + 8*4+4 + 4*units+units; the regression target scale holds constants, not weights
    assert model.count_params() == 6 * 8 + 8 + 8 * 4 + 4 + 4 * units + units
    output = model.get_layer("output")
    if activation:
        assert output.activation.__name__ == activation


def test_regression_output_starts_at_the_mean_target():
    model = build_model("mlp", {**MLP, "units": []}, DataShape((3,), "regression", target_mean=50.0))
    kernel, bias = model.get_layer("output").get_weights()
    assert bias == pytest.approx([50.0])  # predictions start at the mean target
    assert model.predict(np.zeros((2, 3)), verbose=0)[:, 0] == pytest.approx([50.0, 50.0])


def test_cnn_blocks_double_filters_and_small_images_survive_pooling():
    shape = DataShape((8, 8, 1), "classification", 10, rescale=1 / 16)
    model = build_model("cnn", {**CNN, "conv_blocks": 4}, shape)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [4, 8, 16, 32]
    assert model.output_shape == (None, 10)
    names = [layer.__class__.__name__ for layer in model.layers]
    assert "RandomFlip" in names and "RandomRotation" in names and "Rescaling" in names


def test_mlp_on_images_flattens():
    model = build_model("mlp", MLP, DataShape((8, 8, 1), "classification", 3, rescale=1 / 255))
    assert model.output_shape == (None, 3)


def test_compiled_model_trains_and_saved_file_loads_without_nnlab(tmp_path):
    import keras

    shape = DataShape((6,), "regression", target_mean=1.0)
    model = build_model("mlp", MLP, shape)
    compile_model(model, MLP, shape, "huber", ["mae", "rmse", "r2"])
    x, y = np.random.default_rng(0).normal(size=(16, 6)), np.ones((16, 1))
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert {"loss", "mae", "rmse", "r2", "val_mae"} <= set(history.history)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.predict(x, verbose=0) == pytest.approx(model.predict(x, verbose=0), abs=1e-5)


def test_clear_session_between_trials_keeps_mixed_precision():
    import keras

    from nnlab.engine.backend import clear_session, set_precision

    try:
        assert set_precision(True, gpu=False) == "mixed_bfloat16"
        clear_session()  # Keras's own clear_session() resets the policy to float32
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        model = build_model("mlp", MLP, DataShape((6,), "classification", 3))
        assert model.get_layer("output").dtype_policy.compute_dtype == "float32"
    finally:
        assert set_precision(False, gpu=False) == "float32"


def test_every_sequential_layer_name_is_a_keras_layer():
    import keras

    from nnlab.spec.layers import KERAS_LAYERS

    missing = [name for name in KERAS_LAYERS if not isinstance(getattr(keras.layers, name, None), type)]
    assert not missing


def test_sequential_builder_names_the_layer_that_does_not_fit():
    from nnlab.errors import SpecError

    shape = DataShape((64,), "classification", 10)
    model = build_model("sequential", {"layers": [["Reshape", {"target_shape": [8, 8, 1]}],
                                                  ["Conv2D", {"filters": 4, "kernel_size": 3}]]}, shape)
    assert [type(layer).__name__ for layer in model.layers][-3:] == ["Conv2D", "Flatten", "Dense"]
    with pytest.raises(SpecError, match=r"model.layers\[0\] Conv2D does not fit its input of shape \(None, 64\)"):
        build_model("sequential", {"layers": [["Conv2D", {"filters": 4, "kernel_size": 3}]]}, shape)
    with pytest.raises(SpecError, match=r"model.layers\[1\] Dense: .*units"):
        build_model("sequential", {"layers": [["Flatten", {}], ["Dense", {"activation": "relu"}]]}, shape)


@pytest.mark.slow
def test_the_poisson_loss_fits_counts_as_rates_that_never_go_below_zero(tmp_path):
    """train.loss poisson: the output is exp(z), starting at the mean count, and the model learns."""
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = rng.poisson(np.exp(1.0 + 0.8 * x[:, 0])).astype(np.float32)
    params = {**MLP, "loss": "poisson"}
    shape = DataShape((6,), "regression", target_mean=float(y.mean()))
    model = build_model("mlp", params, shape)
    assert model.get_layer("output").activation.__name__ == "exponential"
    start = model.predict(np.zeros((1, 6), np.float32), verbose=0)
    assert start.min() > 0
    compile_model(model, params, shape, "poisson", ["mae"])
    assert type(model.loss).__name__ == "Poisson"
    history = model.fit(x, y[:, None], epochs=8, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    far = model.predict(np.full((5, 6), -6.0, np.float32), verbose=0)
    assert far.min() >= 0  # (a rate: no negative count, however far out)
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").get_layer("output").activation.__name__ == "exponential"
