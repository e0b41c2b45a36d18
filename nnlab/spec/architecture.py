"""The bodies of nnlab's own models as data: lists of `(Keras layer name, arguments)`, the one
description that `engine.model.builders` builds (each layer `getattr(keras.layers, name)(**arguments)`) and
`spec.sizes` counts (with `spec.layersizes`' rule for each layer, the rules a `sequential` model's
layers are counted with), so the model built and the model estimated cannot drift apart.

What is not a stock layer stays with each side: the tabular front and TabM's members
(`engine.tabular`), the pixel scaling, augmentation and the output layer (`engine.model.blocks`).
A Dense layer's `kernel_regularizer` is written as the L2 factor (a number); the builder makes the
Keras regularizer of it. No TensorFlow here.
"""

from __future__ import annotations

Layer = tuple[str, dict]


def block_filters(params: dict, block: int) -> int:
    """The filters of a cnn's convolution block `block` (0 first): the first block's, grown by
    `filter_growth` per block."""
    return max(1, round(params["filters"] * params.get("filter_growth", 2.0) ** block))


def dense_block(width: int, params: dict, l2: float | None = None) -> list[Layer]:
    """Dense (without its bias under batch norm), [batch norm], the activation, [dropout]."""
    dense = {"units": width, "use_bias": not params["batch_norm"]}
    layers: list[Layer] = [("Dense", {**dense, "kernel_regularizer": l2} if l2 else dense)]
    if params["batch_norm"]:
        layers.append(("BatchNormalization", {"synchronized": params.get("sync_batch_norm", False)}))
    layers.append(("Activation", {"activation": params.get("activation")}))  # (the estimate needs none)
    if params["dropout"]:
        layers.append(("Dropout", {"rate": params["dropout"]}))
    return layers


def mlp_body(params: dict) -> list[Layer]:
    """An mlp's hidden layers: one dense block per width of `params["units"]` (model.l2 on each)."""
    return [layer for width in params["units"] for layer in dense_block(width, params, params.get("l2"))]


def cnn_body(params: dict) -> list[Layer]:
    """A cnn after its scaling and augmentation: convolution blocks (conv, [batch norm], activation,
    pooling with padding "same", so small images survive many blocks; with `separable`, the blocks after
    the first depthwise-separable), global pooling or a flatten,
    then dense blocks (no batch norm), or a dropout alone when there are none."""
    pool = "MaxPooling2D" if params["pooling"] == "max" else "AveragePooling2D"
    layers: list[Layer] = []
    for block in range(params["conv_blocks"]):
        conv = "SeparableConv2D" if params.get("separable") and block > 0 else "Conv2D"  # (MobileNet: not the first)
        layers.append((conv, {"filters": block_filters(params, block), "kernel_size": params["kernel_size"],
                              "padding": "same", "use_bias": not params["batch_norm"]}))
        if params["batch_norm"]:
            layers.append(("BatchNormalization", {"synchronized": params.get("sync_batch_norm", False)}))
        layers += [("Activation", {"activation": params.get("activation")}),
                   (pool, {"pool_size": 2, "padding": "same"})]
    layers.append(("GlobalAveragePooling2D", {}) if params["global_pooling"] else ("Flatten", {}))
    for _ in range(params["dense_layers"]):
        layers += dense_block(params["dense_units"], {**params, "batch_norm": False})
    if params["dense_layers"] == 0 and params["dropout"]:
        layers.append(("Dropout", {"rate": params["dropout"]}))
    return layers
