"""Rules every data source follows, defined once: what task a target means, how features are
standardized, and how a regression target may be transformed to be fitted. CSV files, arrays and
`nnlab init` all call these."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.errors import DataError

MAX_INTEGER_CLASSES = 20  # whole-number targets with at most this many values are class codes


def infer_task(values, name: str, images: bool = False) -> tuple[str, list[str]]:
    """(task, notes) for a target: text or true/false values are class labels; whole numbers are class
    codes when at most MAX_INTEGER_CLASSES different values are found (always, for the labels of images);
    other numbers are a quantity to regress. The notes say what was decided and how to override it."""
    array = np.asarray(values)
    present = array[~_missing(array)]
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        notes = [f"task: classification (the target {name!r} holds labels); set data.task to change"]
        classes, rows = len(set(present.tolist())), len(present)
        if rows >= 20 and classes > 0.5 * rows:
            notes.append(f"the target {name!r} has {classes} classes in {rows} rows: if it is a quantity, "
                         "set data.task: regression (its values must then be numbers)")
        return "classification", notes
    count = len(np.unique(present))
    if is_whole(present) and (images or count <= MAX_INTEGER_CLASSES):
        return "classification", [f"task: classification (the target {name!r} holds {count} integer codes); "
                                  "set data.task: regression if they are quantities"]
    return "regression", [f"task: regression (the target {name!r} holds numbers); set data.task to change"]


def output_units(task: str, classes: int) -> int:
    """A target's output units: one for a regression or a two-class target, one per class otherwise."""
    return classes if task == "classification" and classes > 2 else 1


def is_whole(values: np.ndarray) -> bool:
    """Whether every number present (NaN aside) is a whole number."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return bool(np.all(np.mod(values, 1) == 0))


def _missing(array: np.ndarray) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating):
        return np.isnan(array)
    return np.array([v is None or (isinstance(v, float) and v != v) for v in array.ravel()], bool).reshape(array.shape)


def standardization(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, standard deviation) of each column of the training rows, the deviation 1 where a column
    is constant, so (x - mean) / std never divides by zero."""
    values = np.asarray(values, np.float64)
    mean, std = values.mean(axis=0), values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


# ------------------------------------------------------------------------------------ the target's scale

SKEWED = 2.0  # a positive target skewed past this gets `data.target_transform: auto` from `nnlab init`


def skewness(values) -> float:
    """The sample skewness of a target (0 for a symmetric one; an hourly energy use or a price is often 2+)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    std = values.std()
    return float(((values - values.mean()) ** 3).mean() / std**3) if std > 0 else 0.0


@dataclass(frozen=True)
class TargetTransform:
    """data.target_transform: a regression target as the model fits it. `log`: log(1 + y), for a
    positive, skewed target (the loss then weighs relative errors); `standardize`: (y - mean) / std.
    The saved model turns its outputs back (`inverse`), so predictions and metrics are in the target's
    own units."""

    kind: str  # "log" or "standardize"
    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, kind: str, values, name: str) -> TargetTransform:
        """The transform of the training rows' target values (`standardize` keeps their mean and std)."""
        values = np.asarray(values, np.float64)
        if kind == "log":
            if values.min() < 0:
                raise DataError(f"data.target_transform: log fits log(1 + y), which needs a target of 0 or more; "
                                f"{name!r} goes down to {values.min():.4g}. Use standardize")
            return cls("log")
        mean, std = standardization(values)
        return cls("standardize", float(mean), float(std))

    def forward(self, values) -> np.ndarray:
        values = np.asarray(values, np.float64)
        return np.log1p(values) if self.kind == "log" else (values - self.mean) / self.std

    def inverse(self, values) -> np.ndarray:
        values = np.asarray(values, np.float64)
        return np.expm1(np.minimum(values, LOG_CEILING)) if self.kind == "log" else values * self.std + self.mean

    def describe(self, name: str) -> str:
        how = "log(1 + y)" if self.kind == "log" else f"(y - {self.mean:.4g}) / {self.std:.4g}"
        return (f"the target {name!r} is fitted as {how} (data.target_transform: {self.kind}); predictions and "
                "metrics are turned back into its own units")

    def record(self) -> dict:
        return {"kind": self.kind, "mean": self.mean, "std": self.std}

    @classmethod
    def from_record(cls, record: dict | None) -> TargetTransform | None:
        return cls(record["kind"], record.get("mean", 0.0), record.get("std", 1.0)) if record else None


LOG_CEILING = 80.0  # the largest log(1 + y) a model may output: exp(80) still fits a float32
