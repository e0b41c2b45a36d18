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
    frame, where, description = _table(data, frame, notes)
    target = tabular.find_column(frame, data.target, "data.target", where)
    named = {key: [tabular.find_column(frame, c, f"data.{key}", where) for c in getattr(data, key)]
             for key in ("drop", "categorical", "keep", "dates")}
    if target in named["drop"]:
        raise DataError(f"data.drop lists the target column {target!r}")
    frame, y, classes, task = _target(frame, target, data, where, notes)
    features = frame.drop(columns=[target, *named["drop"]])
    if features.shape[1] == 0:
        raise DataError(f"{where.name} has no feature columns besides the target {target!r}")
    thousands = "" if data.thousands == "none" else data.thousands
    options = tabular.ReadOptions(named["categorical"], named["keep"], named["dates"], data.decimal, thousands,
                                  data.dayfirst)
    columns = tabular.column_types(features, options, notes)
    if data.validation_path is not None:
        val_frame = tabular.read_csv(data.validation_path, data.na_values, data.delimiter, data.encoding)
        val_target = tabular.find_column(val_frame, target, "data.target", data.validation_path)
        val_frame = val_frame[val_frame[val_target].notna()].reset_index(drop=True)
        y_val, _ = tabular.encode_target(_as_target_values(val_frame[val_target], task), task, classes)
        train_frame, y_train = features, y
    else:
        train_idx, val_idx = split(y, task, data.validation_split, seed, notes)
        train_frame, val_frame = features.iloc[train_idx], features.iloc[val_idx]
        y_train, y_val = y[train_idx], y[val_idx]
    record = tabular.fit_preprocessing(train_frame, columns)
    x_train = tabular.apply_preprocessing(record, train_frame)
    x_val = tabular.apply_preprocessing(record, val_frame)
    preprocessing = {"type": "tabular", "reader": tabular.READER, "target": target, "columns": record,
                     "features": tabular.feature_names(record), "na_values": list(data.na_values)}
    return Dataset(x_train, y_train, x_val, y_val, task, "tabular", description,
                   classes, preprocessing=preprocessing, notes=notes)


def _table(data: CsvData, frame, notes: list[str]):
    """(the table of text, where it came from for messages, its one-line description)."""
    if frame is not None:
        table = tabular.csvfile.tidy(frame, data.na_values, notes)
        if table.empty:
            raise DataError("The DataFrame given as data has no rows")
        return table, Path("the DataFrame"), f"DataFrame ({len(frame)} rows × {frame.shape[1]} columns)"
    if data.path is None:
        raise DataError("data.path: a CSV source needs the file to read (from Python, nnlab.run(spec, data=frame) "
                        "takes a pandas DataFrame instead)")
    table = tabular.read_csv(data.path, data.na_values, data.delimiter, data.encoding, notes)
    return table, data.path, f"csv {data.path.name}"


def _target(frame, target: str, data: CsvData, where: Path, notes: list[str]):
    """(rows that have a target, the encoded target, class names, task)."""
    missing_target = frame[target].isna()
    if missing_target.all():
        raise DataError(f"The target column {target!r} is empty in every row of {where.name}")
    if missing_target.any():
        notes.append(f"{int(missing_target.sum())} row(s) without a {target!r} value were left out")
        frame = frame[~missing_target].reset_index(drop=True)
    converted = tabular.as_numbers(frame[target])
    if converted is not None and (data.task == "regression" or not converted[1]):
        frame[target] = converted[0]  # numbers stored as text; stray values only if asked for regression
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
    return frame, y, classes, task


def _as_target_values(series, task: str):
    converted = tabular.as_numbers(series)
    return converted[0] if converted is not None and (task == "regression" or not converted[1]) else series
