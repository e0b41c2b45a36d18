"""A run's input rows seen as their original columns, and back (`ColumnView`): what `nnlab explain`
permutes and varies, one value per column per row, however many model inputs the column became.

- a number is in its own units (the training mean and deviation undone; a missing cell shows the
  training median the model was given);
- a category is a code into its `labels`: the run's categories, then `(other)` (a value the run did not
  keep) and `(missing)` where the run has them;
- a date (several model inputs: year, month, …) is the row's own position, so that a permutation moves
  the date's parts together; dates are not varied one value at a time;
- an arrays run's feature `x[i]` is a number in its own units.

`encode` turns such values back into model inputs with the run's own preprocessing
(`tablefit.apply_preprocessing` on the run's column records), so a permuted column reaches the model
exactly as a CSV with that column shuffled would. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.data.preparation import ArrayPrep, CategoricalColumn, DateColumn, NumericColumn, Preparation, TablePrep
from nnlab.errors import DataError

OTHER, MISSING = "(other)", "(missing)"


@dataclass(frozen=True)
class InputColumn:
    """One original column: its name, kind (number, category, date), and where its model inputs are."""

    name: str
    kind: str
    start: int
    width: int
    labels: tuple[str, ...] = ()  # a category's code → name
    record: object = None  # the run's record of the column (a table's), or None (an arrays run's feature)


def input_columns(preparation: Preparation, width: int) -> list[InputColumn]:
    """The original columns of a table or arrays run, in the order of the model's inputs."""
    source = preparation.source
    if isinstance(source, TablePrep) and not preparation.pixels:
        out, start = [], 0
        for col in source.columns:
            if isinstance(col, NumericColumn):
                out.append(InputColumn(col.name, "number", start, 1, record=col))
                start += 1
            elif isinstance(col, DateColumn):
                out.append(InputColumn(col.name, "date", start, len(col.parts), record=col))
                start += len(col.parts)
            else:
                labels = (*col.categories, OTHER, *([MISSING] if col.missing else []))
                size = len(col.categories) + col.other + col.missing
                out.append(InputColumn(col.name, "category", start, size, labels, col))
                start += size
        return out
    if isinstance(source, ArrayPrep) and len(preparation.input_shape) == 1:
        return [InputColumn(f"x[{i}]", "number", i, 1) for i in range(width)]
    raise DataError("this run's inputs are images: which inputs matter is shown as heat maps over each image "
                    "(`nnlab explain RUN IMAGE|FOLDER` on a CNN run)")


class ColumnView:
    """Model input rows `x` (already prepared) as one value per original column (`values`), and such
    values as model inputs again (`encode`)."""

    def __init__(self, preparation: Preparation, x: np.ndarray):
        self.preparation = preparation
        self.x = np.asarray(x, np.float32)
        self.columns = input_columns(preparation, self.x.shape[1])
        self.names = [c.name for c in self.columns]

    def values(self) -> np.ndarray:
        """One float per row and column: numbers in their units, category codes, date rows' positions."""
        out = np.empty((len(self.x), len(self.columns)), np.float64)
        for j, col in enumerate(self.columns):
            part = self.x[:, col.start:col.start + col.width].astype(np.float64)
            if col.kind == "number":
                mean, std = self._scale(col, j)
                out[:, j] = part[:, 0] * std + mean
            elif col.kind == "date":
                out[:, j] = np.arange(len(self.x))
            else:
                record: CategoricalColumn = col.record
                kept = len(record.categories)
                codes = np.where(part[:, :kept].max(axis=1, initial=0) > 0.5, part[:, :kept].argmax(axis=1)
                                 if kept else 0, kept)  # (no kept category: other)
                if record.missing:
                    codes = np.where(part[:, -1] > 0.5, kept + 1, codes)
                out[:, j] = codes
        return out

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Values as `values` gives them (some permuted or set to one value) as model inputs."""
        values = np.asarray(values, np.float64)
        out = np.empty((len(values), self.x.shape[1]), np.float32)
        table = self.preparation.source if isinstance(self.preparation.source, TablePrep) else None
        through: list[tuple[int, InputColumn]] = []
        for j, col in enumerate(self.columns):
            if col.kind == "date":
                rows = np.clip(values[:, j].astype(np.int64), 0, len(self.x) - 1)
                out[:, col.start:col.start + col.width] = self.x[rows, col.start:col.start + col.width]
            elif table is None:
                mean, std = self._scale(col, j)
                out[:, col.start] = (values[:, j] - mean) / std
            else:
                through.append((j, col))
        if through:
            self._through_preprocessing(values, through, out)
        return out

    def _through_preprocessing(self, values: np.ndarray, columns: list[tuple[int, InputColumn]], out) -> None:
        """A table's numbers and categories through the run's preprocessing, as a CSV's cells would go."""
        import pandas as pd

        from nnlab.data.tablefit import apply_preprocessing

        cells = {}
        for j, col in columns:
            if col.kind == "number":
                cells[col.name] = values[:, j]
            else:
                names = np.asarray([*col.labels, OTHER], dtype=object)
                picked = names[np.clip(values[:, j].astype(np.int64), 0, len(col.labels))]
                cells[col.name] = pd.Series(picked, dtype=object).where(picked != MISSING, None)
        prepared = apply_preprocessing([col.record for _, col in columns], pd.DataFrame(cells))
        start = 0
        for _, col in columns:
            out[:, col.start:col.start + col.width] = prepared[:, start:start + col.width]
            start += col.width

    def _scale(self, col: InputColumn, j: int) -> tuple[float, float]:
        """(mean, deviation) that standardized a number column (an arrays run's: 0 and 1 when it was not)."""
        if isinstance(col.record, NumericColumn):
            return col.record.mean, col.record.std
        source = self.preparation.source
        if isinstance(source, ArrayPrep) and source.mean is not None:
            return float(source.mean[j]), float(source.std[j])
        return 0.0, 1.0
