"""What a CNN looks at: Grad-CAM heat maps (Selvaraju et al., 2017), as the Keras example
`vision/grad_cam` computes them: the gradient of a class's score (its logit: the output layer's softmax or
sigmoid left out) with respect to the last feature map; the channels summed, each weighted by its
gradient, negative values cut, scaled to 0–1 and resized to the image. The example weighs a channel by
its gradient's mean over the map, which is the same map behind a global average pooling; behind a
Flatten (a cnn's default head) each position keeps its own gradient (HiResCAM, Draelos and Carin 2020),
as a mean would mix positions and cancel out. An ensemble's map is the mean of its members' maps.
"""

from __future__ import annotations

import numpy as np

from nnlab.engine.backend import import_keras
from nnlab.errors import DataError

SKIPPED = ("Pooling", "Dropout")  # (their output is a coarser or noisier copy of the map before them)


def feature_map_layer(model):
    """The last layer of `model` from its first convolution on (a nested base model counts as one) whose
    output is a feature map (height × width × channels), not a pooling or dropout layer; a clear error
    when there is none (an MLP, whose only maps are the pixels it is given)."""
    keras = import_keras()
    found, convolved = None, False
    for layer in model.layers:
        convolved = convolved or "Conv" in type(layer).__name__ or isinstance(layer, keras.Model)
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if convolved and shape is not None and len(shape) == 4 and not any(s in type(layer).__name__ for s in SKIPPED):
            found = layer
    if found is None:
        raise DataError("Grad-CAM needs a convolutional model (model.kind cnn or pretrained); this run's model has "
                        "no feature map: it reads each image as a flat row of pixels")
    return found


def _members(model) -> list:
    """An ensemble's members (search.ensemble), or the model itself."""
    keras = import_keras()
    inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return inner if model.name == "ensemble" and inner else [model]


def heat_maps(model, images: np.ndarray, classes: np.ndarray, batch: int = 32) -> np.ndarray:
    """Each image's heat map for its class in `classes`: values 0–1, the images' height × width."""
    members = _members(model)
    maps = np.zeros(images.shape[:3], np.float32)
    for member in members:
        for start in range(0, len(images), batch):
            part = slice(start, start + batch)
            maps[part] += _member_maps(member, images[part], classes[part]) / len(members)
    return maps


def _member_maps(model, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    keras = import_keras()
    layer = feature_map_layer(model)
    head = _output_layer(model)
    activation = head.activation if head is not None else None
    try:
        if head is not None:
            head.activation = keras.activations.linear  # (the logits, as the Keras example)
        grad_model = keras.Model(model.inputs, [layer.output, model.output])
        x = tf.convert_to_tensor(images, tf.float32)
        with tf.GradientTape() as tape:
            features, scores = grad_model(x, training=False)
            scores = tf.cast(scores, tf.float32)
            if scores.shape[-1] == 1:  # two classes, one sigmoid unit: class 0's score is the logit's opposite
                score = tf.where(tf.constant(classes == 1), scores[:, 0], -scores[:, 0])
            else:
                score = tf.gather(scores, tf.constant(classes, tf.int32), axis=1, batch_dims=1)
        grads = tape.gradient(score, features)
    except (ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"Grad-CAM cannot follow this model's layers ({type(exc).__name__}: {exc})") from None
    finally:
        if head is not None:
            head.activation = activation
    if grads is None:
        raise DataError(f"Grad-CAM cannot follow this model's layers: the class score does not depend on {layer.name}")
    features, grads = tf.cast(features, tf.float32), tf.cast(grads, tf.float32)
    # Each position's channels weighed by their own gradients (HiResCAM): behind a global average pooling
    # every position's gradient is the same, and this is the Keras example's map (channel weights = mean
    # gradients); behind a Flatten (nnlab's default cnn head) the mean mixes positions and cancels out.
    heat = tf.nn.relu(tf.reduce_sum(features * grads, axis=-1))
    heat = heat / (tf.reduce_max(heat, axis=(1, 2), keepdims=True) + 1e-12)
    resized = tf.image.resize(heat[..., None], images.shape[1:3], method="bilinear")[..., 0]
    return np.clip(resized.numpy(), 0, 1)


def _output_layer(model):
    """The Dense layer that gives the class probabilities (softmax or sigmoid), or None."""
    layer = model.layers[-1]
    name = getattr(getattr(layer, "activation", None), "__name__", "")
    return layer if name in ("softmax", "sigmoid") else None
