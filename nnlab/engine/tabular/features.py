"""The front of a table's MLP: the prepared row (numbers standardized, categories one-hot) split into
its parts by frozen selections (`Dense` layers with 0/1 kernels), each part as the spec says, and put
back together:

- the numeric features (`DataShape.numeric`): scaled and embedded by model.scaling and model.embedding
  (`engine.tabular.numeric`);
- model.categorical `embedding`: each categorical column (`DataShape.categorical`) of more than
  ONE_HOT_UP_TO one-hot columns becomes CATEGORY_EMBEDDING learned numbers per value, a `Dense` without bias
  on its one-hot columns (the same as a lookup table; initialised N(0, 1), as RealMLP's). Columns with
  fewer values stay one-hot (pytabkit's RealMLP: 9 and 8);
- the rest as prepared.

Which parts get layers is decided by `spec.sizes.transforms_numbers` and `spec.sizes.embeds`, the rules
the size estimate counts by too.

Only stock Keras layers, so best.keras, `--raw-inputs`, ONNX and LiteRT keep them; a row that needs
none of it is left as it is (the model is then what it was before these options).
"""

from __future__ import annotations

import numpy as np

from nnlab.data.shape import DataShape
from nnlab.engine.backend import import_keras
from nnlab.engine.tabular.numeric import frozen, numeric_layers
from nnlab.spec.names import CATEGORY_EMBEDDING
from nnlab.spec.sizes import embeds, transforms_numbers


def feature_layers(x, params: dict, shape: DataShape):
    """The model's input `x` (rows × features) through the front layers `params` ask for; `x` itself
    when they ask for none (or the data has nothing they apply to)."""
    numeric = bool(shape.numeric) and transforms_numbers(params)
    embedded = [block for block in shape.categorical if embeds(params, len(block))]
    if not numeric and not embedded:
        return x
    keras = import_keras()
    width = x.shape[-1]
    parts, taken = [], set()
    if numeric:
        chosen = _select(keras, x, list(shape.numeric), "numeric_features")
        parts.append(numeric_layers(keras, chosen, params, shape.numeric_stats))
        taken |= set(shape.numeric)
    for block in embedded:
        column = _select(keras, x, list(block), f"category_{block[0]}")
        normal = keras.initializers.RandomNormal(stddev=1.0)
        parts.append(keras.layers.Dense(CATEGORY_EMBEDDING, use_bias=False, kernel_initializer=normal,
                                        name=f"category_{block[0]}_embedding")(column))
        taken |= set(block)
    rest = [i for i in range(width) if i not in taken]
    if rest:
        parts.append(_select(keras, x, rest, "other_features"))
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="features")(parts)


def _select(keras, x, columns: list[int], name: str):
    """The inputs `columns` of `x`, by a frozen 0/1 Dense."""
    kernel = np.zeros((x.shape[-1], len(columns)), np.float32)
    kernel[columns, np.arange(len(columns))] = 1.0
    return frozen(keras.layers.Dense(len(columns), use_bias=False, name=name), x, [kernel])
