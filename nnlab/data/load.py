"""Loading a spec's data: `load_data(spec)` reads the source `data.source` names (csv, images, npz,
sklearn:NAME, keras:NAME), splits off validation rows (seeded; stratified for classification where
possible), fits preprocessing on the training rows only, and returns a `Dataset` with notes for the
user. Each source's reader lives in its own module; only `keras:NAME` imports Keras (its downloaders).
"""

from __future__ import annotations

import numpy as np

from nnlab.data import arrays
from nnlab.data.dataset import Dataset
from nnlab.data.rules import TargetTransform
from nnlab.errors import DataError
from nnlab.spec.kinds import is_space
from nnlab.spec.schema import IMAGE_KINDS, CsvData, ImageData, NpzData, Spec


def load_data(spec: Spec, frame=None, decoded=None, table: Dataset | None = None) -> Dataset:
    """Read, split and preprocess the spec's data. Raises `DataError` with a clear message. `frame`: a
    pandas DataFrame that stands in for a CSV source's file (from Python: nnlab.run(spec, data=frame)).
    `decoded`: an image source's images, already decoded and split (`data.images.Decoded`); `table`: a
    CSV source's rows, already read, split and prepared (`runs.tablecache`)."""
    if frame is not None and not isinstance(spec.data, CsvData):
        raise DataError(f"data= takes a DataFrame for a CSV source (source: csv); this spec's source is "
                        f"{spec.data.source}")
    data = spec.data
    if isinstance(data, CsvData) and table is not None:
        dataset = table
    elif isinstance(data, CsvData):
        from nnlab.data.csvdata import load_csv  # (pandas, slow to import: only CSV data needs it)

        dataset = load_csv(data, spec.seed, frame)
    elif isinstance(data, ImageData):
        from nnlab.data.images import load_images

        dataset = load_images(data, spec.seed, decoded)
    elif isinstance(data, NpzData):
        dataset = arrays.load_npz(data, spec.seed)
    elif data.source.startswith("sklearn:"):
        dataset = arrays.load_sklearn(data.source.split(":", 1)[1], spec.model.kind, data.validation_split, spec.seed)
    else:
        dataset = arrays.load_keras(data.source.split(":", 1)[1], data.validation_split, spec.seed)
    if spec.model.kind in IMAGE_KINDS and dataset.kind != "images":
        raise DataError(
            f"model.kind {spec.model.kind} needs image data, but {spec.data.source} gives rows of "
            f"{dataset.input_shape[0]} features; use model.kind: mlp for tabular data"
        )
    folds = getattr(spec.data, "folds", None)
    if folds:
        if getattr(spec.data, "validation_path", None):
            raise DataError("data.folds and data.validation_path exclude each other: folds validate on every row "
                            "in turn; remove one of them")
        rows = len(dataset.x_train) + len(dataset.x_val)
        if rows < 2 * folds:
            raise DataError(f"data.folds: {folds} folds need at least {2 * folds} rows; the data has {rows}")
        if dataset.row_keys is not None:  # (too few times or groups for the folds: said now, not in trial 1)
            from nnlab.data.splits import fold_indices

            fold_indices(np.zeros(rows), "regression", folds, spec.seed, dataset.row_keys)
        dataset.folds = folds
    _positive_class(dataset, spec)
    _target_transform(dataset, spec.data.target_transform, spec.seed)
    _check_counts(spec, dataset)
    if len(dataset.x_train) < 2 or len(dataset.x_val) < 1:
        raise DataError(f"Too little data to train and validate: {dataset.summary()}")
    return dataset


POSITIVE_METRICS = ("auc", "pr_auc", "precision", "recall")


def _positive_class(dataset: Dataset, spec: Spec) -> None:
    """Two classes: the positive one (what auc, pr_auc, precision and recall are about) is index 1,
    `data.positive_class` or else the second in sorted order; a note says which when it matters."""
    wanted = spec.data.positive_class
    if spec.data.threshold is not None and (dataset.task != "classification" or dataset.num_classes != 2):
        raise DataError("data.threshold is the probability from which a row is its positive class: it applies to a "
                        "target of two classes; leave it out here")
    if dataset.task != "classification" or (dataset.num_classes != 2 and wanted is None):
        return
    names = [str(c) for c in dataset.class_names]
    if isinstance(wanted, bool):  # YAML read a bare yes/no (true/false, on/off) as a boolean
        spellings = ("yes", "true", "on", "y", "1") if wanted else ("no", "false", "off", "n", "0")
        wanted = next((n for s in spellings for n in names if n.lower() == s), str(wanted))
    if dataset.num_classes != 2:
        raise DataError(f"data.positive_class applies to two classes; this target has {len(names)}")
    if wanted is not None and wanted not in names:
        raise DataError(f"data.positive_class {wanted!r} is not one of the classes: {', '.join(names)}")
    if wanted == names[0]:  # make it index 1
        dataset.y_train, dataset.y_val = 1 - dataset.y_train, 1 - dataset.y_val
        if dataset.y_test is not None:
            dataset.y_test = 1 - dataset.y_test
        dataset.class_names = dataset.class_names[::-1]
    used = [m for m in POSITIVE_METRICS if m in spec.train.metrics or spec.objective_name() == f"val_{m}"]
    if used and wanted is None:
        dataset.notes.append(f"positive class for {', '.join(used)}: {names[1]!r} (the second of {names[0]!r}, "
                             f"{names[1]!r}); set data.positive_class to change")



def _check_counts(spec: Spec, data: Dataset) -> None:
    """train.loss poisson fits counts: every regression target must be 0 or more."""
    loss = spec.train.loss
    if "poisson" not in (loss.values() if is_space(loss) else [loss]):
        return
    y = np.concatenate([data.y_train, data.y_val])
    if data.targets:
        columns = [(t.name, y[:, i]) for i, t in enumerate(data.targets) if t.task == "regression"]
    else:
        columns = [(None, y)] if data.task == "regression" else []
    for name, values in columns:
        low = float(np.min(values))
        if low < 0:
            which = f"the target {name!r}" if name else "the target"
            raise DataError(f"train.loss: poisson fits counts (0 or more), and {which} goes down to {low:g}; use "
                            "mse, mae or huber")


def _target_transform(dataset: Dataset, kind: str, seed: int) -> None:
    """data.target_transform: each regression target's transform, fitted on the training rows (its
    preparation records it) and said in a note. `auto`: log(1 + y) or none, whichever a probe on the
    training rows scores better in the target's units (`data.targetchoice`)."""
    if kind == "none":
        return
    if kind == "auto" and dataset.kind == "images":
        raise DataError("data.target_transform: auto probes with gradient boosting on a table's columns; for "
                        "images choose log or none yourself")
    if not dataset.targets:
        if dataset.task != "regression":
            raise DataError(f"data.target_transform: {kind} applies to a regression target; this one is "
                            "classification (leave data.target_transform out)")
        table = dataset.preparation.table
        name = str((table.target if table else None) or "y")
        dataset.target_transform = _fitted(dataset, kind, dataset.y_train, dataset.y_val, name, seed)
        return
    regression = [(i, t) for i, t in enumerate(dataset.targets) if t.task == "regression"]
    if not regression:
        raise DataError(f"data.target_transform: {kind} applies to regression targets; these are all classification")
    for i, target in regression:
        target.transform = _fitted(dataset, kind, dataset.y_train[:, i], dataset.y_val[:, i], target.name, seed)


def _fitted(dataset: Dataset, kind: str, train, val, name: str, seed: int) -> TargetTransform | None:
    """One target's transform (None: as it is), with its note."""
    if kind == "auto":
        from nnlab.data.targetchoice import choose_transform  # (scikit-learn: only this choice needs it)

        keys = dataset.row_keys.take(np.arange(len(dataset.x_train))) if dataset.row_keys else None
        choice = choose_transform(dataset.x_train, train, val, name, seed, keys)
        dataset.notes.append(choice.note)
        return choice.transform
    transform = _fit(kind, train, val, name)
    dataset.notes.append(transform.describe(name))
    return transform


def _fit(kind: str, train, val, name: str) -> TargetTransform:
    """Fitted on the training rows; every row must allow it (log: no value below 0)."""
    TargetTransform.fit(kind, np.concatenate([np.asarray(train, np.float64), np.asarray(val, np.float64)]), name)
    return TargetTransform.fit(kind, train, name)
