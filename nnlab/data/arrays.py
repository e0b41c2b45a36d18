"""Data that comes as arrays: an .npz file, scikit-learn's bundled sets, Keras's downloadable sets.

`from_arrays` makes a `Dataset` of them: it splits off validation rows when there are no validation
arrays, infers the task from y, and standardizes tabular x with the training rows' statistics (image
x keeps its pixels: the model rescales them).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from nnlab.data.csvfile import check_file
from nnlab.data.dataset import Dataset, check_classes
from nnlab.data.preparation import ArrayPrep
from nnlab.data.rules import infer_task, standardization
from nnlab.data.splits import random_split as split
from nnlab.errors import DataError
from nnlab.spec.schema import IMAGE_KINDS, NpzData


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
        task, task_notes = infer_task(y, "y", images=x.ndim == 4)
        notes += task_notes
    y_val_given = y_val is not None
    if task == "classification":
        values = np.unique(y if not y_val_given else np.concatenate([y, np.asarray(y_val).ravel()]))
        lookup = {v: i for i, v in enumerate(values.tolist())}
        encode = np.vectorize(lambda v: lookup[v], otypes=[np.int64])
        y = encode(y)
        y_val = encode(np.asarray(y_val).ravel()) if y_val_given else None
        if class_names is None:
            class_names = [str(v) for v in values.tolist()]
        check_classes(y, class_names, description)
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
    source = ArrayPrep()
    if kind == "tabular":
        mean, std = standardization(x_train)
        x_train = ((x_train - mean) / std).astype(np.float32)
        x_val = ((x_val - mean) / std).astype(np.float32)
        source = ArrayPrep(mean.tolist(), std.tolist())
        rescale = 1.0
    elif rescale is None:
        top = float(np.max(x_train))
        rescale = 1 / 255 if top > 1.0 else 1.0
    return Dataset(x_train, y_train, x_val, y_val, task, kind, description, class_names,
                   rescale=rescale, source=source, notes=notes)


def load_npz(data: NpzData, seed: int) -> Dataset:
    path: Path = data.path
    check_file(path, "`source: npz` needs a NumPy .npz file")
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


def load_sklearn(name: str, model_kind: str, fraction: float, seed: int) -> Dataset:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    if name == "diabetes":
        return from_arrays(bunch.data, bunch.target, None, None, "regression", fraction, seed, "sklearn:diabetes")
    names = [str(n) for n in bunch.target_names]
    if name == "digits" and model_kind in IMAGE_KINDS:
        return from_arrays(bunch.images.astype(np.float32), bunch.target, None, None, "classification",
                           fraction, seed, "sklearn:digits", names, rescale=1 / 16)
    return from_arrays(bunch.data, bunch.target, None, None, "classification", fraction, seed,
                       f"sklearn:{name}", names)


def load_keras(name: str, fraction: float, seed: int) -> Dataset:
    from nnlab.quiet import import_quietly

    keras = import_quietly("keras")

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
