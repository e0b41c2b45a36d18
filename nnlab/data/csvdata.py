"""A CSV source as a `Dataset`: the target column and the task it means, the feature columns and
their preprocessing, the validation rows. Reading the file and typing its columns is `tabular`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.data import tabular
from nnlab.data.dataset import Dataset, check_classes, split
from nnlab.data.preparation import TablePrep, Target
from nnlab.data.rules import infer_task
from nnlab.errors import DataError, plural
from nnlab.spec.objectives import head_name
from nnlab.spec.schema import CsvData


def check_rows(rows: int, name: str) -> None:
    """Too few rows to split is said before the target's classes are counted (of one row, every column is
    constant and the target has one class: that would be said instead)."""
    if rows < 3:
        raise DataError(f"{name} has {plural(rows, 'row')} with a target; training and validating need at least 3 "
                        "(2 to train on, 1 to validate), and a useful model many more")


def load_csv(data: CsvData, seed: int, frame=None) -> Dataset:
    """The CSV a spec names (or `frame`, a pandas DataFrame given from Python in its place), as a
    Dataset: targets found and encoded, feature columns typed (with notes), split, and preprocessed
    with statistics of the training rows."""
    notes: list[str] = []
    frame, where, description = _table(data, frame, notes)
    names = data.target if isinstance(data.target, list) else [data.target]
    targets = [tabular.find_column(frame, t, "data.target", where) for t in names]
    named = {key: [tabular.find_column(frame, c, f"data.{key}", where) for c in getattr(data, key)]
             for key in ("drop", "categorical", "keep", "dates")}
    if set(targets) & set(named["drop"]):
        raise DataError(f"data.drop lists the target column {sorted(set(targets) & set(named['drop']))[0]!r}")
    frame, encoded = _targets(frame, targets, data, where, notes)
    features = frame.drop(columns=[*targets, *named["drop"]])
    if features.shape[1] == 0:
        raise DataError(f"{where.name} has no feature columns besides the target {', '.join(map(repr, targets))}")
    thousands = "" if data.thousands == "none" else data.thousands
    options = tabular.ReadOptions(named["categorical"], named["keep"], named["dates"], data.decimal, thousands,
                                  data.dayfirst)
    columns = tabular.column_types(features, options, notes)
    y = encoded[0][0] if len(encoded) == 1 else np.column_stack([e[0] for e in encoded]).astype(np.float32)
    tasks = {task for _, _, task in encoded}
    task = tasks.pop() if len(tasks) == 1 else "mixed"
    if data.validation_path is not None:
        train_frame, y_train, val_frame, y_val = features, y, *_validation(data, targets, encoded)
    else:
        if len(encoded) > 1:
            notes.append("the validation split is not stratified: there are several targets")
        train_idx, val_idx = split(y, task if len(encoded) == 1 else "regression", data.validation_split, seed, notes)
        train_frame, val_frame = features.iloc[train_idx], features.iloc[val_idx]
        y_train, y_val = y[train_idx], y[val_idx]
    record = tabular.fit_preprocessing(train_frame, columns, data.categories, notes)
    source = TablePrep(record, data.target, tabular.READER, tuple(data.na_values))
    several = [Target(t, task_, classes, head_name(t)) for t, (_, classes, task_) in zip(targets, encoded)] \
        if len(encoded) > 1 else []
    return Dataset(tabular.apply_preprocessing(record, train_frame), y_train,
                   tabular.apply_preprocessing(record, val_frame), y_val, task, "tabular", description,
                   encoded[0][1] if not several else None, source=source, notes=notes, targets=several)


def _validation(data: CsvData, targets: list[str], encoded: list) -> tuple:
    """(features, targets) of data.validation_path, encoded as the training targets were."""
    frame = tabular.read_csv(data.validation_path, data.na_values, data.delimiter, data.encoding)
    columns = [tabular.find_column(frame, t, "data.target", data.validation_path) for t in targets]
    frame = frame[frame[columns].notna().all(axis=1)].reset_index(drop=True)
    ys = [tabular.encode_target(_as_target_values(frame[c], task), task, classes)[0]
          for c, (_, classes, task) in zip(columns, encoded)]
    y = ys[0] if len(ys) == 1 else np.column_stack(ys).astype(np.float32)
    return frame.drop(columns=columns), y


def _targets(frame, targets: list[str], data: CsvData, where: Path, notes: list[str]):
    """(rows that have every target, [(encoded target, class names, task) per target])."""
    for target in targets:
        frame = target_rows(frame, target, data.task, where, notes)
    if data.validation_path is None:
        check_rows(len(frame), where.name)
    return frame, [_encode(frame, target, data, notes) for target in targets]


def _table(data: CsvData, frame, notes: list[str]):
    """(the table of text, where it came from for messages, its one-line description)."""
    if frame is not None:
        table = tabular.csvfile.tidy(frame, data.na_values, notes)
        if table.empty:
            raise DataError("The DataFrame given as data has no rows")
        shape = f"{plural(len(frame), 'row')} × {plural(frame.shape[1], 'column')}"
        return table, Path("the DataFrame"), f"DataFrame ({shape})"
    if data.path is None:
        raise DataError("data.path: a CSV source needs the file to read (from Python, nnlab.run(spec, data=frame) "
                        "takes a pandas DataFrame instead)")
    table = tabular.read_csv(data.path, data.na_values, data.delimiter, data.encoding, notes)
    return table, data.path, f"csv {data.path.name}"


def target_rows(frame, target: str, task: str | None, where: Path, notes: list[str]):
    """The rows that have a value of `target` (its numbers written as text read as numbers; `task`: the
    spec's data.task, if it says)."""
    missing_target = frame[target].isna()
    if missing_target.all():
        raise DataError(f"The target column {target!r} is empty in every row of {where.name}")
    if missing_target.any():
        notes.append(f"{int(missing_target.sum())} row(s) without a {target!r} value were left out")
        frame = frame[~missing_target].reset_index(drop=True)
    converted = tabular.as_numbers(frame[target])
    if converted is not None and (task == "regression" or not converted[1]):
        frame[target] = converted[0]  # numbers stored as text; stray values only if asked for regression
        frame = frame[frame[target].notna()].reset_index(drop=True)
    tabular.merge_case_variants(frame, target, notes)
    return frame


def _encode(frame, target: str, data: CsvData, notes: list[str]):
    """(the target encoded, its class names, its task)."""
    if data.task:
        task = data.task
    else:
        task, task_notes = infer_task(frame[target].to_numpy(), target)
        notes += task_notes
    y, classes = tabular.encode_target(frame[target], task)
    if task == "classification":
        check_classes(y, classes, f"The target column {target!r}")
    return y, classes, task


def _as_target_values(series, task: str):
    converted = tabular.as_numbers(series)
    return converted[0] if converted is not None and (task == "regression" or not converted[1]) else series
