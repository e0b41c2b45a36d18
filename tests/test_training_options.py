"""train.weight_decay, train.schedule and train.label_smoothing: what they do to the optimizer, the
learning rate epoch by epoch and the loss, that the saved model keeps Keras's own loss, and the spec
checks that refuse what cannot work."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnlab.errors import SpecError
from nnlab.spec.loader import spec_from_dict, spec_hash
from nnlab.spec.objectives import check_task


def spec(train: dict, search: dict | None = None, source: str = "sklearn:iris"):
    return spec_from_dict({"name": "t", "data": {"source": source}, "model": {"kind": "mlp"}, "train": train,
                           "search": search or {}})


def test_label_smoothing_is_for_classes_and_a_searched_one_cannot_be_ranked_by_its_loss():
    with pytest.raises(SpecError, match="label smoothing applies to classes"):
        check_task(spec({"label_smoothing": 0.1}, source="sklearn:diabetes"), "regression")
    with pytest.raises(SpecError, match="cannot rank them; use val_accuracy"):
        check_task(spec({"label_smoothing": {"float": [0.0, 0.2]}}), "classification")
    check_task(spec({"label_smoothing": {"float": [0.0, 0.2]}}, {"objective": "val_accuracy"}), "classification")
    check_task(spec({"label_smoothing": 0.1}), "classification")  # (fixed: the loss ranks trials alike)


def test_the_new_training_fields_default_to_what_specs_meant_before():
    plain = spec({})
    assert plain.train.weight_decay is None and plain.train.schedule == "constant" and plain.train.label_smoothing == 0
    explicit = spec({"weight_decay": None, "schedule": "constant", "label_smoothing": 0.0})
    assert spec_hash(plain) == spec_hash(explicit) != spec_hash(spec({"schedule": "cosine"}))
    with pytest.raises(SpecError, match="cosine"):
        spec({"schedule": "linear"})


@pytest.mark.slow
def test_cosine_goes_from_the_learning_rate_towards_zero_and_weight_decay_reaches_the_optimizer():
    import keras

    from nnlab.data.shape import DataShape
    from nnlab.engine.callbacks import learning_rate_schedule
    from nnlab.engine.model.builders import build_model, compile_model

    params = {"units": [4], "activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0,
              "optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 0.05, "schedule": "cosine"}
    shape = DataShape((3,), "regression")
    model = build_model("mlp", params, shape)
    compile_model(model, params, shape, "mse", [])
    assert model.optimizer.weight_decay == pytest.approx(0.05)
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))))
    x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    model.fit(x, x[:, 0], epochs=4, verbose=0, callbacks=[learning_rate_schedule(params, 4), record])
    assert seen == pytest.approx([0.01 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)], rel=1e-5)
    assert learning_rate_schedule({**params, "schedule": "constant"}, 4) is None


@pytest.mark.slow
@pytest.mark.parametrize("classes", [2, 3])
def test_label_smoothing_is_the_crossentropy_of_smoothed_targets_and_is_not_saved(tmp_path, classes):
    import keras

    from nnlab.data.shape import DataShape
    from nnlab.engine.model.builders import build_model, compile_model, for_saving

    params = {"units": [4], "activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0,
              "optimizer": "adam", "learning_rate": 0.01, "label_smoothing": 0.2}
    shape = DataShape((3,), "classification", num_classes=classes)
    model = build_model("mlp", params, shape)
    compile_model(model, params, shape, None, [])
    x = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    y = np.arange(40) % classes
    p = np.clip(model.predict(x, verbose=0), 1e-7, 1 - 1e-7)
    if classes == 2:
        target = y[:, None] * 0.8 + 0.1
        want = -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))
    else:
        target = np.eye(classes)[y] * 0.8 + 0.2 / classes
        want = -np.mean(np.sum(target * np.log(p), axis=1))
    labels = y[:, None].astype(np.float32) if classes == 2 else y
    assert model.evaluate(x, labels, verbose=0, return_dict=True)["loss"] == pytest.approx(float(want), rel=1e-4)
    saved = for_saving(model, params, shape, None, [])
    saved.save(tmp_path / "m.keras")
    assert "smoothed" not in str(keras.saving.load_model(tmp_path / "m.keras").loss)
