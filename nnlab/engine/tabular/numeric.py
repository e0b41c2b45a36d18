"""The numeric features of a table as the modern tabular MLP takes them (model.scaling and
model.embedding), as Keras layers at the front of the model, so a saved or exported model applies
them to raw rows too.

`engine.tabular.features` takes the numeric features (`DataShape.numeric`) out of the prepared row (numbers
standardized, categories one-hot); they go through

- model.scaling: `robust`: minus the median, over the interquartile range, then RealMLP's smooth
  clipping x / sqrt(1 + (x/3)²) (Holzmüller et al. 2024, pytabkit); `quantile`: each value's
  training quantile sent to the normal distribution's (a frozen piecewise-linear map, as
  scikit-learn's QuantileTransformer), `standard`: as prepared;
- model.embedding: `periodic` (PLR: per feature, k learned frequencies, cos and sin, a linear layer
  of its own and ReLU; Gorishniy et al. 2022, rtdl-num-embeddings) or `piecewise` (the piecewise-
  linear encoding over 32 quantile bins and a linear layer per feature, as TabM's version "B": a
  linear embedding plus the encoding's, which starts at zero); either gives each feature
  model.embedding_size numbers;

and are put back beside the other features there. The frozen layers' weights are the training rows'
figures (`data.numericstats`); every layer is a stock Keras layer or `keras.ops`, so best.keras
loads with `keras.saving.load_model` alone and converts to ONNX and LiteRT.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.data.numericstats import NumericStats
from nnlab.spec.names import FREQUENCIES, QUANTILES

FREQUENCY_SCALE = 0.1  # periodic: the frequencies' initial standard deviation (rtdl: 0.01 to 100; tuned)
BINS = QUANTILES - 1


def numeric_layers(keras, numeric, params: dict, stats: NumericStats | None):
    """The numeric features `numeric` (rows × features, taken out of the row by `engine.tabular.features`)
    scaled and embedded as `params` say."""
    embedding, size = params.get("embedding", "none"), int(params.get("embedding_size", 16))
    if embedding == "piecewise":  # (its bins are quantiles: a monotone scaling before it changes nothing)
        return _piecewise(keras, numeric, stats, size)
    if params.get("scaling") == "robust":
        numeric = _robust(keras, numeric, stats)
    elif params.get("scaling") == "quantile":
        numeric = _to_normal(keras, numeric, stats)
    return _periodic(keras, numeric, size) if embedding == "periodic" else numeric


def frozen(layer, x, weights: list | None):
    """`layer` applied to `x`, never trained, its weights set where they are known (a model rebuilt
    from a run folder gets them from its checkpoint)."""
    layer.trainable = False
    out = layer(x)
    if weights is not None:
        layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return out


def _robust(keras, x, stats: NumericStats | None):
    """(x - median) · factor, then smooth clipping to about ±3."""
    ops = keras.ops
    features = x.shape[-1]
    weights = None
    if stats is not None:
        median, factor = stats.robust()
        weights = [factor, -median * factor]
    x = frozen(keras.layers.EinsumDense("bf,f->bf", output_shape=(features,), bias_axes="f",
                                         name="robust_scaling"), x, weights)
    return ops.divide(x, ops.sqrt(ops.add(1.0, ops.divide(ops.square(x), 9.0))))


def _to_normal(keras, x, stats: NumericStats | None):
    """The frozen piecewise-linear map of `NumericStats.to_normal`: v0 + Σ Δv_s · clip((x - k_s) / w_s, 0, 1)."""
    features = x.shape[-1]
    first = second = None
    if stats is not None:
        knots, values = stats.to_normal()
        width = np.diff(knots, axis=1)
        scale = np.divide(1.0, width, out=np.zeros_like(width), where=width > 0)
        first = [scale, -knots[:, :-1] * scale]
        second = [np.diff(values, axis=1) * (width > 0), values[:, 0]]
    x = frozen(keras.layers.EinsumDense("bf,fs->bfs", output_shape=(features, BINS), bias_axes="fs",
                                         name="quantile_segments"), x, first)
    x = keras.layers.ReLU(max_value=1.0, name="quantile_clip")(x)
    return frozen(keras.layers.EinsumDense("bfs,fs->bf", output_shape=(features,), bias_axes="f",
                                            name="quantile_to_normal"), x, second)


def _periodic(keras, x, size: int):
    """PLR: cos and sin of 2π · c · x for FREQUENCIES learned c per feature, a linear layer per
    feature, ReLU; flattened."""
    ops, layers = keras.ops, keras.layers
    features = x.shape[-1]
    init = keras.initializers.TruncatedNormal(stddev=FREQUENCY_SCALE)  # (at 2σ; rtdl's at 3σ)
    z = layers.EinsumDense("bf,fk->bfk", output_shape=(features, FREQUENCIES), kernel_initializer=init,
                           name="periodic_frequencies")(x)
    z = ops.multiply(z, 2 * math.pi)
    z = layers.Concatenate(name="periodic_cos_sin")([ops.cos(z), ops.sin(z)])
    limit = (2 * FREQUENCIES) ** -0.5
    uniform = keras.initializers.RandomUniform(-limit, limit)
    z = layers.EinsumDense("bfk,fkd->bfd", output_shape=(features, size), bias_axes="fd",
                           kernel_initializer=uniform, bias_initializer=uniform, name="periodic_linear")(z)
    return layers.Flatten(name="periodic_embedding")(layers.ReLU()(z))


def _piecewise(keras, x, stats: NumericStats | None, size: int):
    """TabM's piecewise-linear embedding: a per-feature linear embedding of x plus a per-feature linear
    map (starting at zero) of its piecewise-linear encoding over BINS quantile bins; ReLU; flattened.

    The encoding of bin t is 0 below it, 1 above it, and the share of the bin reached within it; the
    first bin is not clipped below, the last not above (rtdl's layout: a feature's last bin is the
    last component, bins a feature lacks are zeros in between)."""
    ops, layers = keras.ops, keras.layers
    features = x.shape[-1]
    weights = None
    if stats is not None:
        weights = _encoding_weights(stats.bins())
    encoded = frozen(layers.EinsumDense("bf,fs->bfs", output_shape=(features, BINS), bias_axes="fs",
                                         name="piecewise_bins"), x, weights)
    encoded = layers.Concatenate(name="piecewise_encoding")([
        ops.minimum(encoded[:, :, :1], 1.0),
        layers.ReLU(max_value=1.0)(encoded[:, :, 1:-1]),
        ops.relu(encoded[:, :, -1:]),
    ])
    linear = layers.EinsumDense("bf,fd->bfd", output_shape=(features, size), bias_axes="fd",
                                name="piecewise_linear")(x)
    bins = layers.EinsumDense("bfs,fsd->bfd", output_shape=(features, size), kernel_initializer="zeros",
                              name="piecewise_weights")(encoded)
    z = layers.ReLU()(layers.Add()([linear, bins]))
    return layers.Flatten(name="piecewise_embedding")(z)


def _encoding_weights(edges: np.ndarray) -> list[np.ndarray]:
    """Kernel and bias of (x - left edge) / width per bin, each feature's last bin moved to the end."""
    features = len(edges)
    kernel, bias = np.zeros((features, BINS)), np.zeros((features, BINS))
    for f, row in enumerate(edges):
        distinct = np.unique(row)
        if len(distinct) < 2:
            continue  # a constant feature: no bins, its encoding is zeros
        width = np.diff(distinct)
        k, b = 1.0 / width, -distinct[:-1] / width
        n = len(width)
        kernel[f, :n - 1], bias[f, :n - 1] = k[:-1], b[:-1]
        kernel[f, -1], bias[f, -1] = k[-1], b[-1]
    return [kernel, bias]
