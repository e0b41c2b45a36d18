"""Keras, fenced: every private name of Keras that nnlab uses, here and nowhere else.

search.pack steps several models in one traced function, as Keras's own `train_step` steps one: it
needs the loss's unscaling under a distribution strategy, a compiled model's loss tracker, the build
of the compiled loss and metrics before the step is traced (`fit` does it for its one model), and the
fused update (`engine.pack.fusedupdate`) reads Adam's and SGD's slot variables. Each is a function here,
listed in `PRIVATE` / `MODEL_ATTRIBUTES` / `OPTIMIZER_ATTRIBUTES` and checked by `missing()` (a test
runs it, so an upgrade that moves one fails loudly); `pyproject.toml` bounds Keras below the next minor
version than the one these were checked with, and a test greps that no other module uses `keras.src`.
"""

from __future__ import annotations

import importlib

from nnlab.engine.backend import import_keras

PRIVATE = [("keras.src.losses.loss", "unscale_loss_for_distribution"),
           ("keras.src.trainers.trainer", "Trainer._symbolic_build")]
MODEL_ATTRIBUTES = ["_loss_tracker"]  # (of a compiled model)
OPTIMIZER_ATTRIBUTES = {"Adam": ["_momentums", "_velocities", "_get_variable_index"],
                        "SGD": ["momentums", "_get_variable_index"]}


def track_loss(model, loss, rows) -> None:
    """What Keras's train and test steps do with a batch's loss: into the model's loss tracker, unscaled."""
    from keras.src.losses.loss import unscale_loss_for_distribution

    model._loss_tracker.update_state(unscale_loss_for_distribution(loss), sample_weight=rows)


def build_compiled(model, x_spec, y_spec) -> None:
    """The model's compiled loss and metrics built for these shapes, before a step that uses them is traced."""
    model._symbolic_build(data_batch=(x_spec, y_spec))


def adam_slots(optimizer, weight) -> tuple:
    """Adam's first and second moment variables of `weight`."""
    index = optimizer._get_variable_index(weight)
    return optimizer._momentums[index], optimizer._velocities[index]


def sgd_momentum(optimizer, weight):
    """SGD's momentum variable of `weight`."""
    return optimizer.momentums[optimizer._get_variable_index(weight)]


def missing() -> list[str]:
    """Which of these private names this Keras lacks (none: []); builds a tiny model to ask."""
    keras = import_keras()
    absent = []
    for module, name in PRIVATE:
        found = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part, None)
        if found is None:
            absent.append(f"{module}.{name}")
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    absent += [f"Model.{name}" for name in MODEL_ATTRIBUTES if not hasattr(model, name)]
    for kind, names in OPTIMIZER_ATTRIBUTES.items():
        optimizer = getattr(keras.optimizers, kind)(**({"momentum": 0.9} if kind == "SGD" else {}))
        optimizer.build(model.trainable_variables)
        absent += [f"{kind}.{name}" for name in names if not hasattr(optimizer, name)]
    return absent
