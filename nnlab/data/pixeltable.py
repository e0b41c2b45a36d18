"""A CSV whose feature columns are an image's pixels (Kaggle's digit recognizer and Fashion-MNIST files:
a label and 784 columns of 0–255): recognised (`image_shape_of`), and read as images when the spec
says `data.image_shape` (`pixel_columns`), so a CNN takes them.

Read as images, every feature column is kept, in the file's order (a pixel that is 0 in every row is
still a pixel: nothing is left out as constant), its numbers as written (missing: 0), not
standardized: the model scales them by 1/255 (or 1 where they already lie within 0–1), as it scales
an image folder's pixels. Each row becomes a height × width × channels array, filled row by row
(NumPy's order: a 28 × 28 image's first 28 columns are its top row), channels last.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nnlab.data import numbers
from nnlab.data.preparation import NumericColumn
from nnlab.errors import DataError

MOST_PIXELS = 64  # fewer feature columns are read as a table, whatever they hold
BRIGHTEST = 255


def image_shape_of(features: pd.DataFrame) -> tuple[int, int, int] | None:
    """(height, width, channels) when every feature column holds whole numbers 0–255 and there are at
    least 64 of them, a square number (one channel) or three times one (red, green, blue); else None."""
    count = features.shape[1]
    if count < MOST_PIXELS or not all(pd.api.types.is_integer_dtype(t) for t in features.dtypes):
        return None  # (whole numbers pandas read at once: a pixel file's columns; anything else is a table)
    if features.min().min() < 0 or features.max().max() > BRIGHTEST:  # (per column: no copy of the table)
        return None
    for channels in (1, 3):
        side = math.isqrt(count // channels)
        if count % channels == 0 and side * side * channels == count:
            return side, side, channels
    return None


def describe(shape: tuple[int, int, int], count: int) -> str:
    """The note for a table that looks like pixels, with how to read it as images."""
    height, width, channels = shape
    return (f"the {count} feature columns hold whole numbers 0–255, like the pixels of {height}×{width} "
            f"{'grey' if channels == 1 else 'colour'} images: data.image_shape: [{height}, {width}, {channels}] reads "
            "each row as an image, for model.kind: cnn (nnlab init writes it as an option)")


def pixel_columns(features: pd.DataFrame, shape: tuple[int, int, int], where: str,
                  notes: list[str]) -> tuple[list[NumericColumn], float]:
    """data.image_shape: each feature column as one pixel (kept as written, missing as 0), and the scale
    the model multiplies them by. A clear error where the columns are not the pixels of that shape."""
    need = math.prod(shape)
    if features.shape[1] != need:
        raise DataError(f"data.image_shape {list(shape)} needs {need} pixel columns; {where} has "
                        f"{features.shape[1]} feature columns (data.drop leaves out those that are no pixels)")
    for col in features.columns:
        if not pd.api.types.is_numeric_dtype(features[col]):
            parsed = numbers.parse_column(features[col])
            if parsed is None:
                raise DataError(f"data.image_shape: column {col!r} of {where} holds no numbers (e.g. "
                                f"{features[col].dropna().iloc[0]!r}); pixels are numbers")
            features[col] = parsed[0]
    values = features.to_numpy(np.float64)
    brightest = float(np.nanmax(values)) if np.isfinite(values).any() else 0.0
    scale = 1.0 if brightest <= 1.0 else 1.0 / BRIGHTEST
    if brightest > BRIGHTEST:
        raise DataError(f"data.image_shape: pixels go up to {brightest:g} in {where}; nnlab reads pixels of 0–255 "
                        "(or 0–1)")
    gaps = int(np.isnan(values).sum())
    if gaps:
        notes.append(f"{gaps} missing pixel value(s) read as 0")
    notes.append(f"{need} columns read as {shape[0]}×{shape[1]}×{shape[2]} images (data.image_shape), row by row, "
                 f"pixels multiplied by {'1' if scale == 1.0 else '1/255'} in the model")
    return [NumericColumn(str(col), 0.0, 0.0, 1.0, numbers.NumberFormat()) for col in features.columns], scale
