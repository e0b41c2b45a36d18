"""Rules every data source follows, defined once: what task a target means, and how features are
standardized. CSV files, arrays and `nnlab init` all call these."""

from __future__ import annotations

import numpy as np

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
    if bool(np.all(np.mod(present, 1) == 0)) and (images or count <= MAX_INTEGER_CLASSES):
        return "classification", [f"task: classification (the target {name!r} holds {count} integer codes); "
                                  "set data.task: regression if they are quantities"]
    return "regression", [f"task: regression (the target {name!r} holds numbers); set data.task to change"]


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
