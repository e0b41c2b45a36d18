"""`DataShape`: what a model builder needs to know about the data (no TensorFlow). A run's
`Preparation.shape` is the one rule that makes it, from a fresh `Dataset` or from a run folder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nnlab.data.numericstats import NumericStats
from nnlab.data.rules import TargetTransform


@dataclass(frozen=True)
class DataShape:
    """What a builder needs to know about the data."""

    input_shape: tuple
    task: str  # "classification" or "regression" (several targets of both: "mixed")
    num_classes: int = 0
    rescale: float = 1.0  # images: pixels are multiplied by this in the model
    target_mean: float = 0.0  # regression: the mean training target, as the model fits it
    heads: tuple = ()  # several targets: (output name, DataShape of that target) each
    transform: TargetTransform | None = None  # regression: data.target_transform
    counts: bool = False  # regression with train.loss poisson: the output is exp(z), a rate, never negative
    numeric: tuple[int, ...] = ()  # the inputs that are numeric features (a table's numbers and date parts)
    categorical: tuple[tuple[int, ...], ...] = ()  # a table's categorical columns: each its one-hot inputs
    # their training quantiles (model.scaling, model.embedding); None where the model's weights are loaded
    numeric_stats: NumericStats | None = field(default=None, compare=False, repr=False)

    @property
    def binary(self) -> bool:
        return self.task == "classification" and self.num_classes == 2

    @property
    def transformed(self) -> bool:
        """Whether some regression target is fitted transformed (data.target_transform)."""
        return self.transform is not None or any(head.transformed for _, head in self.heads)

    def for_counts(self) -> DataShape:
        """The shape of a model fitted with the Poisson loss: each regression output a rate, exp(z)."""
        heads = tuple((name, head.for_counts()) for name, head in self.heads)
        return dataclasses.replace(self, counts=self.task == "regression", heads=heads)

    def in_own_units(self) -> DataShape:
        """The shape of the model once its outputs are turned back into the targets' own units."""
        heads = tuple((name, head.in_own_units()) for name, head in self.heads)
        return dataclasses.replace(self, transform=None, heads=heads)
