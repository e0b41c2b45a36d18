"""The size rules of the Keras layers a `sequential` spec may list (`RULES`): each takes the counter of
`spec.sizes` and the layer's arguments, adds the layer's parameters and output, and returns False when
an argument has no rule here (the model then gets no estimate). Keras's defaults are assumed
(channels last, strides 1, padding valid, biases on); a test checks the counts against Keras.
"""

from __future__ import annotations

import math
from collections.abc import Callable

# Arguments that change neither a layer's parameters nor its output's shape.
NEUTRAL = {"activation", "kernel_initializer", "bias_initializer", "depthwise_initializer", "pointwise_initializer",
           "kernel_regularizer", "bias_regularizer", "activity_regularizer", "depthwise_regularizer",
           "pointwise_regularizer", "kernel_constraint", "bias_constraint", "depthwise_constraint",
           "pointwise_constraint", "rate", "noise_shape", "seed", "stddev", "negative_slope", "alpha", "max_value",
           "threshold", "epsilon", "momentum", "l1", "l2", "scale", "offset", "factor", "fill_mode",
           "interpolation", "fill_value", "value_range", "mode", "height_factor", "width_factor", "trainable",
           "crop_to_aspect_ratio", "pad_to_aspect_ratio", "beta_initializer", "gamma_initializer",
           "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
           "beta_constraint", "gamma_constraint", "alpha_initializer", "alpha_regularizer", "alpha_constraint"}


def _known(args: dict, *names: str) -> bool:
    return all(a in NEUTRAL or a in names for a in args)


def _tuple(value, n: int) -> tuple:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * n
    if len(values) != n or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ValueError(f"expected {n} whole numbers; found {value!r}")
    return values


def _window(sizes: tuple, kernel: tuple, strides: tuple, padding: str, dilation: tuple | None = None) -> tuple:
    """Output sizes of a sliding window (convolution or pooling)."""
    if padding not in ("valid", "same"):
        raise ValueError(padding)
    dilation = dilation or (1,) * len(sizes)
    if padding == "same":
        return tuple(-(-n // s) for n, s in zip(sizes, strides))
    return tuple((n - (d * (k - 1) + 1)) // s + 1 for n, k, s, d in zip(sizes, kernel, strides, dilation))


def _conv(n: int, separable: bool = False, depthwise: bool = False) -> Callable:
    def rule(c, args: dict) -> bool:
        extra = ("depth_multiplier",) if separable or depthwise else ()
        if not _known(args, "filters", "kernel_size", "strides", "padding", "use_bias", "dilation_rate",
                      *(() if separable or depthwise else ("groups",)), *extra) or len(c.shape) != n + 1:
            return False
        *sizes, channels = c.shape
        kernel = _tuple(args["kernel_size"], n)
        strides, dilation = _tuple(args.get("strides", 1), n), _tuple(args.get("dilation_rate", 1), n)
        if max(strides) > 1 and max(dilation) > 1:
            raise ValueError("strides and dilation both above 1")
        multiplier, bias = args.get("depth_multiplier", 1), bool(args.get("use_bias", True))
        window = math.prod(kernel)
        if depthwise:
            filters, weights = channels * multiplier, window * channels * multiplier
        elif separable:
            filters = args["filters"]
            weights = window * channels * multiplier + channels * multiplier * filters
        else:
            filters, groups = args["filters"], args.get("groups", 1)
            if channels % groups or filters % groups:
                raise ValueError("groups")
            weights = window * (channels // groups) * filters
        out = _window(tuple(sizes), kernel, strides, args.get("padding", "valid"), dilation)
        c.out((*out, filters), weights + (filters if bias else 0))
        return True

    return rule


def _transpose(c, args: dict) -> bool:
    if not _known(args, "filters", "kernel_size", "strides", "padding", "use_bias") or len(c.shape) != 3:
        return False
    height, width, channels = c.shape
    kernel, strides = _tuple(args["kernel_size"], 2), _tuple(args.get("strides", 1), 2)
    filters = args["filters"]
    if args.get("padding", "valid") == "same":
        out = (height * strides[0], width * strides[1])
    else:
        out = tuple((n - 1) * s + max(k, s) for n, k, s in zip((height, width), kernel, strides))
    c.out((*out, filters), kernel[0] * kernel[1] * channels * filters + (filters if args.get("use_bias", True) else 0))
    return True


def _pool(n: int) -> Callable:
    def rule(c, args: dict) -> bool:
        if not _known(args, "pool_size", "strides", "padding") or len(c.shape) != n + 1:
            return False
        *sizes, channels = c.shape
        pool = _tuple(args.get("pool_size", 2), n)
        strides = _tuple(args["strides"], n) if args.get("strides") is not None else pool
        c.out((*_window(tuple(sizes), pool, strides, args.get("padding", "valid")), channels))
        return True

    return rule


def _global(n: int) -> Callable:
    def rule(c, args: dict) -> bool:
        if not _known(args) or len(c.shape) != n + 1:
            return False
        c.out((c.shape[-1],))
        return True

    return rule


def _same(c, args: dict) -> bool:
    c.out(c.shape)
    return True


def _normalization(per_channel: Callable) -> Callable:
    def rule(c, args: dict) -> bool:
        if not _known(args, "center", "scale", "axis", "synchronized") or args.get("axis", -1) != -1:
            return False
        c.out(c.shape, per_channel(args) * c.shape[-1])
        return True

    return rule


def _prelu(c, args: dict) -> bool:
    if not _known(args, "shared_axes"):
        return False
    shared = args.get("shared_axes") or []
    shared = [shared] if isinstance(shared, int) else list(shared)
    c.out(c.shape, math.prod(d for i, d in enumerate(c.shape, start=1) if i not in shared))
    return True


def _dense(c, args: dict) -> bool:
    if not _known(args, "units", "use_bias"):
        return False
    c.dense(int(args["units"]), bias=bool(args.get("use_bias", True)))
    return True


def _flatten(c, args: dict) -> bool:
    if not _known(args):
        return False
    c.out((math.prod(c.shape),))
    return True


def _reshape(c, args: dict) -> bool:
    if not _known(args, "target_shape"):
        return False
    target, total = list(args["target_shape"]), math.prod(c.shape)
    if target.count(-1) == 1:
        known = math.prod(d for d in target if d != -1)
        target[target.index(-1)] = total // known
    if math.prod(target) != total:
        raise ValueError("reshape")
    c.out(tuple(target))
    return True


def _pad(sign: int, key: str, default: int) -> Callable:
    def rule(c, args: dict) -> bool:
        if not _known(args, key) or len(c.shape) != 3:
            return False
        value = args.get(key, default)
        if isinstance(value, int):
            pads = ((value, value), (value, value))
        elif all(isinstance(v, int) for v in value):
            pads = ((value[0], value[0]), (value[1], value[1]))
        else:
            pads = tuple(tuple(v) for v in value)
        height, width, channels = c.shape
        c.out((height + sign * sum(pads[0]), width + sign * sum(pads[1]), channels))
        return True

    return rule


def _upsample(c, args: dict) -> bool:
    if not _known(args, "size") or len(c.shape) != 3:
        return False
    size = _tuple(args.get("size", 2), 2)
    c.out((c.shape[0] * size[0], c.shape[1] * size[1], c.shape[2]))
    return True


def _resize(c, args: dict) -> bool:
    if not _known(args, "height", "width") or len(c.shape) != 3:
        return False
    c.out((int(args["height"]), int(args["width"]), c.shape[2]))
    return True


RULES: dict[str, Callable] = {
    "Dense": _dense, "Flatten": _flatten, "Reshape": _reshape,
    **{name: _same for name in ("Dropout", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "GaussianNoise",
                                "GaussianDropout", "AlphaDropout", "ActivityRegularization", "SpatialDropout1D",
                                "SpatialDropout2D", "Rescaling", "RandomFlip", "RandomRotation", "RandomZoom",
                                "RandomContrast", "RandomTranslation", "RandomBrightness", "UnitNormalization")},
    "BatchNormalization": _normalization(lambda a: 2 + bool(a.get("center", True)) + bool(a.get("scale", True))),
    "LayerNormalization": _normalization(lambda a: bool(a.get("center", True)) + bool(a.get("scale", True))),
    "PReLU": _prelu,
    "Conv1D": _conv(1), "Conv2D": _conv(2), "Conv3D": _conv(3),
    "SeparableConv1D": _conv(1, separable=True), "SeparableConv2D": _conv(2, separable=True),
    "DepthwiseConv2D": _conv(2, depthwise=True), "Conv2DTranspose": _transpose,
    "MaxPooling1D": _pool(1), "MaxPooling2D": _pool(2), "MaxPooling3D": _pool(3),
    "AveragePooling1D": _pool(1), "AveragePooling2D": _pool(2), "AveragePooling3D": _pool(3),
    "GlobalAveragePooling1D": _global(1), "GlobalAveragePooling2D": _global(2),
    "GlobalMaxPooling1D": _global(1), "GlobalMaxPooling2D": _global(2),
    "ZeroPadding2D": _pad(1, "padding", 1), "Cropping2D": _pad(-1, "cropping", 0),
    "UpSampling2D": _upsample, "Resizing": _resize, "CenterCrop": _resize,
}
