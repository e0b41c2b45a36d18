"""A CSV source as a `Dataset`: the target column and the task it means, the feature columns and
their preprocessing, the validation rows. Reading the file and typing its columns is `tabular`'s.
"""

from __future__ import annotations

from pathlib import Path

from nnlab.data import tabular
from nnlab.data.dataset import Dataset, check_classes, split
from nnlab.data.rules import infer_task
from nnlab.errors import DataError
from nnlab.spec.schema import CsvData


def load_csv(data: CsvData, seed: int, frame=None) -> Dataset:
    """The CSV a spec names (or `frame`, a pandas DataFrame given from Python in its place), as a
    Dataset: target found and encoded, feature columns typed (with notes), split, and preprocessed with
    statistics of the training rows."""
    notes: list[str] = []
    if frame is not None:
        frame, where, description = tabular.tidy(frame, data.na_values), Path("the DataFrame"), \
            f"DataFrame ({len(frame)} rows × {frame.shape[1]} columns)"
        if frame.empty:
            raise DataError("The DataFrame given as data has no rows")
    elif data.path is None:
        raise DataError("data.path: a CSV source needs the file to read (from Python, nnlab.run(spec, data=frame) "
                        "takes a pandas DataFrame instead)")
    else:
        frame, where, description = tabular.read_csv(data.path, data.na_values, data.delimiter), data.path, \
            f"csv {data.path.name}"
    target = tabular.find_column(frame, data.target, "data.target", where)
    drop = [tabular.find_column(frame, c, "data.drop", where) for c in data.drop]
    categorical = [tabular.find_column(frame, c, "data.categorical", where) for c in data.categorical]
    if target in drop:
        raise DataError(f"data.drop lists the target column {target!r}")
    missing_target = frame[target].isna()
    if missing_target.all():
        raise DataError(f"The target column {target!r} is empty in every row of {where.name}")
    if missing_target.any():
        notes.append(f"{int(missing_target.sum())} row(s) without a {target!r} value were left out")
        frame = frame[~missing_target].reset_index(drop=True)
    numbers = None if tabular.is_numeric(frame[target]) else tabular.as_numbers(frame[target])
    if numbers is not None and (data.task == "regression" or not numbers[1]):
        frame[target] = numbers[0]  # numbers stored as text; stray values only if asked for regression
        frame = frame[frame[target].notna()].reset_index(drop=True)
    tabular.merge_case_variants(frame, target, notes)
    if data.task:
        task = data.task
    else:
        task, task_notes = infer_task(frame[target].to_numpy(), target)
        notes += task_notes
    y, classes = tabular.encode_target(frame[target], task)
    if task == "classification":
        check_classes(y, classes, f"The target column {target!r}")
    features = frame.drop(columns=[target, *drop])
    if features.shape[1] == 0:
        raise DataError(f"{where.name} has no feature columns besides the target {target!r}")
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
    return Dataset(x_train, y_train, x_val, y_val, task, "tabular", description,
                   classes, preprocessing=preprocessing, notes=notes)
