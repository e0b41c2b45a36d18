"""model.members: K: an efficient ensemble inside one MLP, as TabM-mini does it (Gorishniy et al.,
ICLR 2025, yandex-research/tabm).

The K members share every hidden layer. Each has its own multiplicative adapter on the input (one
scale per input feature, starting at random signs ±1, or at N(1, 0.1²)-like values after an embedding:
TabM's "random-signs" and "normal" inits) and its own output layer; the hidden layers see a batch of
rows × K member views (`(rows, K, features)`). Training minimizes the mean of the K members' losses, so
each member learns as a model of its own (`memberwise_loss`), while the metrics and every prediction
are of the members' mean (probabilities for classes): `inference_model` collapses the member axis
before a model is saved, exported or used to predict. An ensemble of K costs a little more than one
model, not K.

Every layer is a stock Keras layer (`EinsumDense`), the adapters' signs set as weights after the
layer is built, so the saved model loads without nnlab.
"""

from __future__ import annotations

import numpy as np

from nnlab.data.shape import DataShape
from nnlab.engine.backend import import_keras

MEMBERS_LAYER = "members"  # the adapters' layer: a model with it has a member axis


def member_views(x, members: int, embedded: bool):
    """(rows, features) → (rows, members, features): each member's own scale per feature, drawn from
    NumPy's global generator (which `keras.utils.set_random_seed` seeds with the trial's seed)."""
    keras = import_keras()
    features = x.shape[-1]
    layer = keras.layers.EinsumDense("bf,kf->bkf", output_shape=(members, features), kernel_initializer="ones",
                                     name=MEMBERS_LAYER)
    views = layer(x)
    if embedded:
        start = np.random.normal(1.0, 0.1, (members, features))
    else:
        start = np.random.choice([-1.0, 1.0], (members, features))
    layer.set_weights([start.astype(np.float32)])
    return views


def member_output(x, shape: DataShape, members: int, name: str = "output"):
    """Each member's output layer, as the task asks (`blocks.output`, per member): (rows, members, units)."""
    keras = import_keras()
    from keras import initializers, mixed_precision

    if shape.heads:
        return {head: member_output(x, head_shape, members, head) for head, head_shape in shape.heads}
    extra = {"dtype": "float32"} if mixed_precision.global_policy().compute_dtype != "float32" else {}
    limit = x.shape[-1] ** -0.5
    kernel = initializers.RandomUniform(-limit, limit)
    units, activation, bias = 1, None, initializers.Zeros()
    if shape.task == "regression" and shape.counts:
        activation, bias = "exponential", initializers.Constant(float(np.log(max(shape.target_mean, 1e-3))))
    elif shape.task == "regression":
        bias = initializers.Constant(shape.target_mean)
    elif shape.binary:
        activation = "sigmoid"
    else:
        units, activation = shape.num_classes, "softmax"
    common = {"activation": activation, "kernel_initializer": kernel, "bias_initializer": bias, **extra}
    if units > 1:
        return keras.layers.EinsumDense("bkd,kdo->bko", output_shape=(members, units), bias_axes="ko", name=name,
                                        **common)(x)
    # One unit: the LiteRT converter fails on the einsum with an output axis of 1, so without it, then reshaped.
    x = keras.layers.EinsumDense("bkd,kd->bk", output_shape=(members,), bias_axes="k", name=f"{name}_members",
                                 **common)(x)
    return keras.layers.Reshape((members, 1), name=name, **extra)(x)


def has_members(model) -> bool:
    """Whether `model`'s outputs have a member axis (a model of model.members before `members_mean`)."""
    if not any(layer.name == MEMBERS_LAYER for layer in model.layers):
        return False
    outputs = model.output.values() if isinstance(model.output, dict) else [model.output]
    return all(len(o.shape) == 3 for o in outputs)


def members_mean(model):
    """The model with its outputs averaged over the members (each output, with several targets)."""
    keras = import_keras()
    ops = keras.ops
    output = model.output
    if isinstance(output, dict):
        mean = {name: ops.mean(value, axis=1) for name, value in output.items()}
    else:
        mean = ops.mean(output, axis=1)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # (one input stays one, not a list)
    return keras.Model(inputs, mean, name=model.name)


def memberwise_loss(loss_fn, members: int):
    """A loss over the member axis: the target repeated for each member, `loss_fn` (a Keras loss or
    its name) per member and row, averaged over the members; Keras then averages the rows (the mean of
    the members' losses), each row weighted by its sample weight (train.class_weight) where it has one."""
    keras = import_keras()
    ops = keras.ops
    base = getattr(keras.losses, _LOSS_CLASSES[loss_fn])() if isinstance(loss_fn, str) else loss_fn

    def memberwise(y_true, y_pred):
        if len(y_pred.shape) == 2:  # (Keras squeezed a single unit away)
            y_pred = ops.expand_dims(y_pred, -1)
        one_unit = y_pred.shape[-1] == 1  # a value or a probability per member, else class probabilities
        y_true = ops.repeat(ops.reshape(y_true, (-1, 1, 1) if one_unit else (-1, 1)), members, axis=1)
        return ops.mean(base.call(y_true, y_pred), axis=-1)  # (one value a row: a row's weight applies to it)

    memberwise.__name__ = f"memberwise_{base.name}"
    return memberwise


_LOSS_CLASSES = {"binary_crossentropy": "BinaryCrossentropy",
                 "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy"}


def on_members_mean(metric):
    """`metric` updated with the members' mean prediction (the one every prediction uses). Its own
    `update_state` is wrapped on the instance, so nnlab's and Keras's metrics alike need no subclass."""
    ops = import_keras().ops
    update = metric.update_state

    def update_state(y_true, y_pred, sample_weight=None):
        return update(y_true, ops.mean(y_pred, axis=1), sample_weight=sample_weight)

    metric.update_state = update_state
    return metric
