"""Loading a spec's data into train and validation arrays, whatever the source.

`load_data(spec)` reads the source named by `data.source` (csv, images, npz, sklearn:NAME,
keras:NAME), splits off validation rows (seeded; stratified for classification where possible),
fits preprocessing on the training rows only, and returns a `Dataset`: arrays plus what the model
builder needs to know (task, classes, input shape, pixel scale, target statistics) and notes for the
user. Only `keras:NAME` imports Keras (its downloaders live there).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.data import images as image_io
from nnlab.errors import DataError
from nnlab.spec.schema import CsvData, ImageData, NpzData, Spec


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: str  # "classification" or "regression"
    kind: str  # "tabular" or "images"
    description: str  # one line for tables: where the data came from
    class_names: list | None = None
    rescale: float = 1.0  # images: the model multiplies pixels by this
    preprocessing: dict = field(default_factory=dict)  # JSON-able: how raw input became x
    notes: list[str] = field(default_factory=list)
    folds: int | None = None  # data.folds: every trial trains once per fold of all the rows

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def summary(self) -> str:
        task = f"{self.num_classes} classes" if self.task == "classification" else "regression"
        if self.folds:
            rows = len(self.x_train) + len(self.x_val)
            examples = (f"{rows} examples in {self.folds} folds (each trial trains {self.folds} times, on about "
                        f"{round(rows * (self.folds - 1) / self.folds)} and validating on about "
                        f"{round(rows / self.folds)})")
        else:
            examples = f"{len(self.x_train)} training and {len(self.x_val)} validation examples"
        return f"{self.description}: {examples}, input {self.input_shape}, {task}"


def load_data(spec: Spec) -> Dataset:
    """Read, split and preprocess the spec's data. Raises `DataError` with a clear message."""
    data = spec.data
    if isinstance(data, CsvData):
        dataset = _load_csv(data, spec.seed)
    elif isinstance(data, ImageData):
        dataset = _load_images(data, spec.seed)
    elif isinstance(data, NpzData):
        dataset = _load_npz(data, spec.seed)
    elif data.source.startswith("sklearn:"):
        dataset = _load_sklearn(data.source.split(":", 1)[1], spec.model.kind, data.validation_split, spec.seed)
    else:
        dataset = _load_keras(data.source.split(":", 1)[1], data.validation_split, spec.seed)
    if spec.model.kind == "cnn" and dataset.kind != "images":
        raise DataError(
            f"model.kind cnn needs image data, but {spec.data.source} gives rows of {dataset.input_shape[0]} "
            "features; use model.kind: mlp for tabular data"
        )
    folds = getattr(spec.data, "folds", None)
    if folds:
        if getattr(spec.data, "validation_path", None):
            raise DataError("data.folds and data.validation_path exclude each other: folds validate on every row "
                            "in turn; remove one of them")
        rows = len(dataset.x_train) + len(dataset.x_val)
        if rows < 2 * folds:
            raise DataError(f"data.folds: {folds} folds need at least {2 * folds} rows; the data has {rows}")
        dataset.folds = folds
    if len(dataset.x_train) < 2 or len(dataset.x_val) < 1:
        raise DataError(f"Too little data to train and validate: {dataset.summary()}")
    return dataset


# ------------------------------------------------------------------------------------ split


def split(y: np.ndarray, task: str, fraction: float, seed: int, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices; stratified for classification when every class can be split."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    if n < 2:
        raise DataError(f"Only {n} example(s): not enough to hold out a validation set")
    index = np.arange(n)
    stratify = None
    if task == "classification":
        counts = np.bincount(y)
        n_val = int(np.ceil(n * fraction))
        present = counts[counts > 0]
        if present.min() >= 2 and len(present) <= n_val <= n - len(present):
            stratify = y
        else:
            notes.append("validation split is not stratified: some class has too few examples to split")
    train, val = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


def _check_classes(y: np.ndarray, class_names: list, where: str) -> None:
    if len(class_names) < 2:
        raise DataError(f"{where} has a single class ({class_names[0]!r}): a classifier needs two or more")


# ------------------------------------------------------------------------------------ csv


def _load_csv(data: CsvData, seed: int) -> Dataset:
    from nnlab.data import tabular  # pandas: ~0.3 s to import, only CSV data needs it

    notes: list[str] = []
    frame = tabular.read_csv(data.path, data.na_values, data.delimiter)
    target = tabular.find_column(frame, data.target, "data.target", data.path)
    drop = [tabular.find_column(frame, c, "data.drop", data.path) for c in data.drop]
    categorical = [tabular.find_column(frame, c, "data.categorical", data.path) for c in data.categorical]
    if target in drop:
        raise DataError(f"data.drop lists the target column {target!r}")
    missing_target = frame[target].isna()
    if missing_target.all():
        raise DataError(f"The target column {target!r} is empty in every row of {data.path.name}")
    if missing_target.any():
        notes.append(f"{int(missing_target.sum())} row(s) without a {target!r} value were left out")
        frame = frame[~missing_target].reset_index(drop=True)
    numbers = None if tabular.is_numeric(frame[target]) else tabular.as_numbers(frame[target])
    if numbers is not None and (data.task == "regression" or not numbers[1]):
        frame[target] = numbers[0]  # numbers stored as text; stray values only if asked for regression
        frame = frame[frame[target].notna()].reset_index(drop=True)
    tabular.merge_case_variants(frame, target, notes)
    task = data.task or tabular.infer_task(frame[target], target, notes)
    y, classes = tabular.encode_target(frame[target], task)
    if task == "classification":
        _check_classes(y, classes, f"The target column {target!r}")
    features = frame.drop(columns=[target, *drop])
    if features.shape[1] == 0:
        raise DataError(f"{data.path.name} has no feature columns besides the target {target!r}")
    types = tabular.column_types(features, categorical, notes)

    if data.validation_path is not None:
        val_frame = tabular.read_csv(data.validation_path, data.na_values, data.delimiter)
        val_target = tabular.find_column(val_frame, target, "data.target", data.validation_path)
        val_frame = val_frame[val_frame[val_target].notna()].reset_index(drop=True)
        y_val, _ = tabular.encode_target(val_frame[val_target], task, classes)
        train_frame, y_train = features, y
    else:
        train_idx, val_idx = split(y, task, data.validation_split, seed, notes)
        train_frame, val_frame = features.iloc[train_idx], features.iloc[val_idx]
        y_train, y_val = y[train_idx], y[val_idx]
    record = tabular.fit_preprocessing(train_frame, types)
    x_train = tabular.apply_preprocessing(record, train_frame)
    x_val = tabular.apply_preprocessing(record, val_frame)
    preprocessing = {"type": "tabular", "target": target, "columns": record,
                     "features": tabular.feature_names(record)}
    return Dataset(x_train, y_train, x_val, y_val, task, "tabular", f"csv {data.path.name}",
                   classes, preprocessing=preprocessing, notes=notes)


# ------------------------------------------------------------------------------------ images


def _load_images(data: ImageData, seed: int) -> Dataset:
    folder = image_io.read_image_folder(data.path, data.image_size, data.color_mode)
    notes = list(folder.notes)
    if data.validation_path is not None:
        val = image_io.read_image_folder(data.validation_path, data.image_size, data.color_mode, folder.class_names)
        notes += val.notes
        x_train, y_train, x_val, y_val = folder.images, folder.labels, val.images, val.labels
    else:
        train_idx, val_idx = split(folder.labels, "classification", data.validation_split, seed, notes)
        x_train, y_train = folder.images[train_idx], folder.labels[train_idx]
        x_val, y_val = folder.images[val_idx], folder.labels[val_idx]
    preprocessing = {"type": "images", "image_size": list(data.image_size), "color_mode": data.color_mode}
    return Dataset(x_train, y_train, x_val, y_val, "classification", "images", f"images {data.path.name}/",
                   folder.class_names, rescale=1 / 255, preprocessing=preprocessing, notes=notes)


# ------------------------------------------------------------------------------------ arrays


def from_arrays(x, y, x_val, y_val, task: str | None, fraction: float, seed: int, description: str,
                class_names: list | None = None, rescale: float | None = None) -> Dataset:
    """A Dataset from in-memory arrays: split if no validation arrays, standardize tabular x."""
    notes: list[str] = []
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{description}: y must hold one value per row of x; x has shape {x.shape}, y {y.shape}")
    if x.ndim not in (2, 3, 4):
        raise DataError(f"{description}: x must be rows (2-D) or images (3-D or 4-D); found shape {x.shape}")
    if x.ndim == 3:
        x = x[..., None]
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise DataError(f"{description}: x holds NaN or infinite values")
    if task is None:
        integral = np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y.astype(float), 1) == 0)
        task = "classification" if integral and len(np.unique(y)) <= 100 else "regression"
        notes.append(f"task: {task} (inferred from y); set data.task to change")
    y_val_given = y_val is not None
    if task == "classification":
        values = np.unique(y if not y_val_given else np.concatenate([y, np.asarray(y_val).ravel()]))
        lookup = {v: i for i, v in enumerate(values.tolist())}
        encode = np.vectorize(lambda v: lookup[v], otypes=[np.int64])
        y = encode(y)
        y_val = encode(np.asarray(y_val).ravel()) if y_val_given else None
        if class_names is None:
            class_names = [str(v) for v in values.tolist()]
        _check_classes(y, class_names, description)
    else:
        y = y.astype(np.float32)
        y_val = np.asarray(y_val, np.float32).ravel() if y_val_given else None
        class_names = None
    if y_val_given:
        x_train, y_train, x_val = x, y, np.asarray(x_val)
        if x_val.ndim == 3:
            x_val = x_val[..., None]
        if x_val.shape[1:] != x.shape[1:]:
            raise DataError(f"{description}: x_val has shape {x_val.shape[1:]} per example, x has {x.shape[1:]}")
    else:
        train_idx, val_idx = split(y, task, fraction, seed, notes)
        x_train, y_train, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    kind = "images" if x.ndim == 4 else "tabular"
    preprocessing: dict = {"type": kind}
    if kind == "tabular":
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0
        x_train = ((x_train - mean) / std).astype(np.float32)
        x_val = ((x_val - mean) / std).astype(np.float32)
        preprocessing.update(mean=mean.tolist(), std=std.tolist())
        rescale = 1.0
    elif rescale is None:
        top = float(np.max(x_train))
        rescale = 1 / 255 if top > 1.0 else 1.0
    return Dataset(x_train, y_train, x_val, y_val, task, kind, description, class_names,
                   rescale=rescale, preprocessing=preprocessing, notes=notes)


def _load_npz(data: NpzData, seed: int) -> Dataset:
    path: Path = data.path
    if not path.is_file():
        raise DataError(f"Data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = dict(arrays)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {path} as a NumPy .npz file: {exc}") from None
    missing = [k for k in ("x", "y") if k not in found]
    if missing:
        raise DataError(f"{path.name} needs arrays named x and y; it has {', '.join(found) or 'none'}")
    if ("x_val" in found) != ("y_val" in found):
        raise DataError(f"{path.name} has only one of x_val and y_val; give both or neither")
    return from_arrays(found["x"], found["y"], found.get("x_val"), found.get("y_val"), data.task,
                       data.validation_split, seed, f"npz {path.name}")


def _load_sklearn(name: str, model_kind: str, fraction: float, seed: int) -> Dataset:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    if name == "diabetes":
        return from_arrays(bunch.data, bunch.target, None, None, "regression", fraction, seed, "sklearn:diabetes")
    names = [str(n) for n in bunch.target_names]
    if name == "digits" and model_kind == "cnn":
        return from_arrays(bunch.images.astype(np.float32), bunch.target, None, None, "classification",
                           fraction, seed, "sklearn:digits", names, rescale=1 / 16)
    return from_arrays(bunch.data, bunch.target, None, None, "classification", fraction, seed,
                       f"sklearn:{name}", names)


def _load_keras(name: str, fraction: float, seed: int) -> Dataset:
    from nnlab.engine.backend import import_keras

    keras = import_keras()

    loader = getattr(keras.datasets, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x, y), _ = loader.load_data()
    except Exception as exc:  # the downloaders raise many kinds of network errors
        raise DataError(
            f"Could not load keras:{name}: {type(exc).__name__}: {str(exc)[:200]}\n"
            f"  keras:{name} is downloaded on first use (to ~/.keras/datasets) and needs the internet.\n"
            "  Offline, point the spec at a local copy instead: save the arrays as x and y in a .npz file and "
            "use `source: npz` with `path:`, or a folder of images with `source: images`."
        ) from None
    task = "regression" if name == "boston_housing" else "classification"
    return from_arrays(x, y, None, None, task, fraction, seed, f"keras:{name}")
