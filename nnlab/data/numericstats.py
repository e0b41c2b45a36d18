"""What the model's own numeric layers (model.scaling, model.embedding) need to know of the training
rows: per numeric feature, its quantiles as the model receives it (standardized). No TensorFlow.

The layers that use them (`engine.tabular.numeric`) hold these figures as frozen weights, so a saved model
carries them and a model rebuilt from a run folder gets them back from its checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.spec.names import QUANTILES


@dataclass(frozen=True, eq=False)
class NumericStats:
    """`knots[f]`: QUANTILES evenly spaced quantiles (0, 1/32, …, 1) of numeric feature f on the
    training rows; `rows`: how many rows they come from."""

    knots: np.ndarray  # (features, QUANTILES)
    rows: int

    @classmethod
    def of(cls, x: np.ndarray) -> NumericStats:
        """The statistics of the columns of `x` (rows × numeric features), NaN-free."""
        levels = np.linspace(0.0, 1.0, QUANTILES)
        return cls(np.quantile(np.asarray(x, np.float64), levels, axis=0).T, len(x))

    def robust(self) -> tuple[np.ndarray, np.ndarray]:
        """(centre, factor) per feature as RealMLP's robust scaling has them: the median, and one over
        the interquartile range (half the range where that is 0; 0 for a constant feature)."""
        median = self.knots[:, QUANTILES // 2]
        spread = self.knots[:, 3 * (QUANTILES - 1) // 4] - self.knots[:, (QUANTILES - 1) // 4]
        flat = spread == 0
        spread[flat] = 0.5 * (self.knots[flat, -1] - self.knots[flat, 0])
        factor = np.divide(1.0, spread, out=np.zeros_like(spread), where=spread > 0)
        return median, factor

    def to_normal(self) -> tuple[np.ndarray, np.ndarray]:
        """(knots, values) per feature of the piecewise-linear map that sends a value's quantile to the
        normal distribution's (as scikit-learn's QuantileTransformer with a normal output): repeated
        knots (a feature of few values) are merged, their levels averaged, and the lists padded with the
        last knot. The ends map to ±the normal quantile of 1/(2 · rows), not to infinity."""
        from scipy.special import ndtri

        levels = np.linspace(0.0, 1.0, QUANTILES)
        edge = 0.5 / max(self.rows, 1)
        knots, values = np.zeros_like(self.knots), np.zeros_like(self.knots)
        for f, row in enumerate(self.knots):
            unique, inverse = np.unique(row, return_inverse=True)
            mean_level = np.bincount(inverse, levels) / np.bincount(inverse)
            normal = ndtri(np.clip(mean_level, edge, 1.0 - edge)) if len(unique) > 1 else np.zeros(1)
            knots[f] = np.concatenate([unique, np.full(QUANTILES - len(unique), unique[-1])])
            values[f] = np.concatenate([normal, np.full(QUANTILES - len(unique), normal[-1])])
        return knots, values

    def bins(self) -> np.ndarray:
        """Per feature the bin edges of the piecewise-linear encoding (the distinct knots, padded with
        the last), as `to_normal`'s knots."""
        return self.to_normal()[0]
