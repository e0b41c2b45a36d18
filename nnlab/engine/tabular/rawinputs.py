"""A table run's model that takes the CSV's own columns (`nnlab export --raw-inputs`).

The preprocessing `nnlab.data.tabular` fitted on the training rows (preprocessing.json's `columns`)
is rebuilt in front of the model from stock Keras parts, so the file loads with `keras.saving.
load_model` where nnlab is not installed, as Keras's FeatureSpace does it:

- numeric column: one float input; NaN takes the training median (`ops.where`), then the training
  mean and standard deviation standardize it (`keras.ops` arithmetic; see `_standardized`);
- categorical column: `StringLookup` (text) or `IntegerLookup` (whole-number codes) one-hot over the
  training categories, with the run's `other` column (values never seen) and `missing` column (an
  empty or missing value, in any of nnlab's spellings of "missing");
- date column: Keras has no date parsing, so the caller passes each date part as a number input
  named `<column>_<part>` (pandas `.dt.<part>`, weekday Monday = 0); NaN takes the training mean.

Each input is one value per row (shape `[N]`). The features are put together in the order the model
was trained on and the trained model (best.keras, ensembles too) is applied to them.
"""

from __future__ import annotations

from nnlab.data.csvfile import MISSING
from nnlab.data.preparation import CategoricalColumn, Column, DateColumn, NumericColumn
from nnlab.engine.backend import import_keras


def raw_input_model(model, columns: list[Column], na_values=()):
    """`model` (which takes the prepared feature matrix) behind its own preprocessing: a Keras model
    whose inputs are a dict {column name: values}."""
    keras = import_keras()
    inputs, blocks = {}, []
    for column in columns:
        if isinstance(column, NumericColumn):
            inputs[column.name] = inp = keras.Input(shape=(), name=_input_name(column.name), dtype="float32")
            blocks.append(_standardized(keras, inp, column.median, column.mean, column.std))
        elif isinstance(column, DateColumn):
            for part, (mean, std) in column.parts.items():
                name = f"{column.name}_{part}"
                inputs[name] = inp = keras.Input(shape=(), name=_input_name(name), dtype="float32")
                blocks.append(_standardized(keras, inp, mean, mean, std))
        else:
            inp, block = _one_hot(keras, column, na_values)
            inputs[column.name] = inp
            blocks.append(block)
    features = keras.layers.Concatenate(name="features")(blocks) if len(blocks) > 1 else blocks[0]
    return keras.Model(inputs, model(features), name="raw_inputs")


def input_kinds(columns: list[Column]) -> dict[str, str]:
    """What each input of `raw_input_model` takes: {name: "number" or "text"} (for the manual's words
    and the caller's arrays)."""
    kinds = {}
    for column in columns:
        if isinstance(column, DateColumn):
            kinds.update({f"{column.name}_{part}": "number" for part in column.parts})
        elif isinstance(column, CategoricalColumn) and not _whole_numbers(column.categories):
            kinds[column.name] = "text"
        else:
            kinds[column.name] = "number"
    return kinds


def _standardized(keras, inp, fill: float, mean: float, std: float):
    """(value - mean) / std with NaN filled first. Written with `keras.ops` rather than a Normalization
    layer: the ONNX and LiteRT converters lose Normalization's constants (they become extra inputs)."""
    ops = keras.ops
    filled = ops.where(ops.isnan(inp), fill, inp)
    return ops.expand_dims(ops.divide(ops.subtract(filled, mean), std), -1)


def _one_hot(keras, column: CategoricalColumn, na_values):
    """(the column's input, its one-hot block: the categories in training order, then `other` and
    `missing` where the run has them)."""
    ops = keras.ops
    categories = column.categories
    k = len(categories)
    if _whole_numbers(categories):  # codes such as origin 1, 2, 3: a number input; NaN is missing
        inp = keras.Input(shape=(), name=_input_name(column.name), dtype="float32")
        missing = ops.cast(ops.isnan(inp), "float32")
        codes = ops.cast(ops.where(ops.isnan(inp), -1.0, inp), "int64")
        onehot = keras.layers.IntegerLookup(vocabulary=[int(c) for c in categories], num_oov_indices=1,
                                            output_mode="one_hot")(codes)
        other = onehot[:, 0] * (1.0 - missing)  # (a missing value is not "other")
    else:  # text: every spelling of "missing" nnlab reads is a category of its own, summed
        inp = keras.Input(shape=(), name=_input_name(column.name), dtype="string")
        spellings = sorted({v for s in (*MISSING, *map(str, na_values)) for v in (s, s.upper(), s.title())}
                           - set(categories))
        onehot = keras.layers.StringLookup(vocabulary=[*categories, *spellings], num_oov_indices=1,
                                           output_mode="one_hot")(inp)
        missing = ops.sum(onehot[:, 1 + k:], axis=1)
        other = onehot[:, 0]
    parts = [onehot[:, 1:1 + k]]
    if column.other:
        parts.append(ops.expand_dims(other, -1))
    if column.missing:
        parts.append(ops.expand_dims(missing, -1))
    return inp, (ops.concatenate(parts, axis=1) if len(parts) > 1 else parts[0])


def _whole_numbers(categories: list[str]) -> bool:
    """Categories that are all whole numbers written plainly (1, 2, 3; not 02134, not words)."""
    def plain_int(text: str) -> bool:
        try:
            return str(int(text)) == text
        except ValueError:
            return False

    return bool(categories) and all(plain_int(c) for c in categories)


def _input_name(column: str) -> str:
    """A Keras input's name for a column (the dict key stays the column's own name)."""
    return column.replace("/", "_")
