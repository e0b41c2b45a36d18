"""A spec's data as arrays (`Dataset`), and the split into training and validation rows.

A `Dataset` holds the arrays and what the model builder needs to know: the task, the classes, the
input shape, the pixel scale, how its source was prepared, and, with several targets, one `Target` per
column (`y` then has a column per target, class indices as numbers). Its `preparation` is what a run
folder keeps of it. `data.load.load_data` makes one from any source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnlab.data.numericstats import NumericStats
from nnlab.data.preparation import ArrayPrep, Preparation, Source, Target, preparation_of
from nnlab.data.rules import TargetTransform, output_units
from nnlab.data.shape import DataShape
from nnlab.data.splits import RowKeys
from nnlab.errors import DataError


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: str  # "classification" or "regression" (several targets of both: "mixed")
    kind: str  # "tabular" or "images"
    description: str  # one line for tables: where the data came from
    class_names: list | None = None
    rescale: float = 1.0  # images: the model multiplies pixels by this
    source: Source = field(default_factory=ArrayPrep)  # how raw input became x (the whole record: `preparation`)
    notes: list[str] = field(default_factory=list)
    folds: int | None = None  # data.folds: every trial trains once per fold of all the rows
    targets: list[Target] = field(default_factory=list)  # several targets (one only: empty)
    target_transform: TargetTransform | None = None  # data.target_transform, of one regression target
    row_keys: RowKeys | None = None  # data.split by time or group: each training then validation row's key
    x_test: np.ndarray | None = None  # data.test_split: rows no trial sees, scored once by best.keras
    y_test: np.ndarray | None = None

    def content_hash(self) -> str:
        """A SHA-256 of the rows as the model receives them (training, validation and test rows, their
        types and shapes): the same file read by the same data section gives the same hash."""
        import hashlib

        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            if array is None:
                continue
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            flat = np.ascontiguousarray(array).reshape(-1)
            digest.update(repr(flat.tolist()).encode() if flat.dtype == object else flat.view(np.uint8))
        return digest.hexdigest()[:16]

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    @property
    def output_units(self) -> int:
        """The model's output units in all: one for a regression or a two-class target, one per class
        otherwise (several targets: their sum)."""
        if self.targets:
            return sum(output_units(t.task, len(t.class_names or [])) for t in self.targets)
        return output_units(self.task, self.num_classes)

    @property
    def preparation(self) -> Preparation:
        """How this data was prepared, as a run folder keeps it (preprocessing.json)."""
        return preparation_of(self)

    def model_shape(self) -> DataShape:
        """The shape a model is built for: the preparation's, with each regression target's mean
        training value (as fitted: transformed, with data.target_transform) to start its output at,
        and the numeric features' training quantiles (model.scaling, model.embedding)."""
        def mean(task: str, values, transform) -> float:
            if task != "regression":
                return 0.0
            values = np.asarray(values, np.float64)
            return float(np.mean(transform.forward(values) if transform else values))

        if self.targets:
            means = [mean(t.task, self.y_train[:, i], t.transform) for i, t in enumerate(self.targets)]
        else:
            means = [mean(self.task, self.y_train, self.target_transform)]
        preparation = self.preparation
        numeric = list(preparation.numeric)
        stats = NumericStats.of(self.x_train[:, numeric]) if numeric and len(self.x_train) else None
        return preparation.shape(means, stats)

    @property
    def heads(self) -> list[tuple[str, str]]:
        """(head name, task) of each target, when there are several."""
        return [(t.head, t.task) for t in self.targets]

    def summary(self) -> str:
        task = f"{self.num_classes} classes" if self.task == "classification" else "regression"
        if self.targets:
            task = f"{len(self.targets)} targets: " + ", ".join(
                f"{t.name} ({len(t.class_names)} classes)" if t.task == "classification" else f"{t.name} (regression)"
                for t in self.targets)
        if self.folds and self.row_keys is not None and self.row_keys.by == "time":
            rows = len(self.x_train) + len(self.x_val)
            examples = (f"{rows} examples in {self.folds} forward-chaining folds by {self.row_keys.column!r} (each "
                        f"trial trains {self.folds} times, each on the earlier rows, validating on about "
                        f"{round(rows / (self.folds + 1))} later ones)")
        elif self.folds:
            rows = len(self.x_train) + len(self.x_val)
            by = f" by groups of {self.row_keys.column!r}" if self.row_keys is not None else ""
            examples = (f"{rows} examples in {self.folds} folds{by} (each trial trains {self.folds} times, on about "
                        f"{round(rows * (self.folds - 1) / self.folds)} and validating on about "
                        f"{round(rows / self.folds)})")
        else:
            examples = f"{len(self.x_train)} training and {len(self.x_val)} validation examples"
        if self.x_test is not None:
            examples += f" ({len(self.x_test)} more held out as test rows)"
        return f"{self.description}: {examples}, input {self.input_shape}, {task}"


def check_classes(y: np.ndarray, class_names: list, where: str) -> None:
    if len(class_names) < 2:
        raise DataError(f"{where} has a single class ({class_names[0]!r}): a classifier needs two or more")
