"""The layers every model builder shares (`models` and `pretrained`): image augmentation, active in
training only, and the output the task asks for. Keras is imported inside the functions.
"""

from __future__ import annotations

import numpy as np

from nnlab.data.shape import DataShape


def augmentation(x, augment):
    """Keras preprocessing layers; they are active in training only."""
    from keras import layers

    augment = augment or {}
    if augment.get("flip"):
        x = layers.RandomFlip(augment["flip"])(x)
    if augment.get("rotation"):
        x = layers.RandomRotation(augment["rotation"])(x)
    if augment.get("zoom"):
        x = layers.RandomZoom(augment["zoom"])(x)
    if augment.get("contrast"):
        x = layers.RandomContrast(augment["contrast"])(x)
    return x


def output(x, shape: DataShape, name: str = "output"):
    """The output layer the task asks for; with several targets, one named output (head) each."""
    from keras import initializers, layers, mixed_precision

    if shape.heads:
        return {head: output(x, head_shape, head) for head, head_shape in shape.heads}
    # Under mixed precision the output (softmax, sigmoid, the regression value) stays in float32,
    # where the loss is computed, as Keras's mixed-precision guide advises.
    extra = {"dtype": "float32"} if mixed_precision.global_policy().compute_dtype != "float32" else {}
    if shape.task == "regression" and shape.counts:  # train.loss poisson: a rate, exp(z), starting at the mean
        bias = initializers.Constant(float(np.log(max(shape.target_mean, 1e-3))))
        return layers.Dense(1, activation="exponential", name=name, bias_initializer=bias, **extra)(x)
    if shape.task == "regression":
        # Start at the mean target instead of 0: far fewer epochs wasted walking the bias there.
        return layers.Dense(1, name=name, bias_initializer=initializers.Constant(shape.target_mean), **extra)(x)
    if shape.binary:
        return layers.Dense(1, activation="sigmoid", name=name, **extra)(x)
    return layers.Dense(shape.num_classes, activation="softmax", name=name, **extra)(x)
