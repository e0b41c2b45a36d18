"""A CSV source as a `Dataset`: the target column and the task it means, the feature columns and
their preprocessing, the validation rows. Reading the file and typing its columns is `tabular`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.data import pixeltable, tabular
from nnlab.data.dataset import Dataset, check_classes
from nnlab.data.preparation import TablePrep, Target
from nnlab.data.rules import infer_task
from nnlab.data.splits import RowKeys, holdout, read_keys
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
    columns, scale = _columns(features, data, options, where, notes)
    y = encoded[0][0] if len(encoded) == 1 else np.column_stack([e[0] for e in encoded]).astype(np.float32)
    tasks = {task for _, _, task in encoded}
    task = tasks.pop() if len(tasks) == 1 else "mixed"
    keys, test_idx = None, None
    if data.validation_path is not None:
        train_frame, y_train, val_frame, y_val = features, y, *_validation(data, targets, encoded)
    else:
        if len(encoded) > 1:
            notes.append("the validation split is not stratified: there are several targets")
        keys = _split_keys(frame, data, targets, where, notes)
        train_idx, val_idx, test_idx = _rows(y, task if len(encoded) == 1 else "regression", data, seed, keys, notes)
        train_frame, val_frame = features.iloc[train_idx], val_idx  # (the validation rows taken when needed)
        y_train, y_val = y[train_idx], y[val_idx]
        keys = keys.take(np.concatenate([train_idx, val_idx])) if keys else None
    record = columns if scale else tabular.fit_preprocessing(train_frame, columns, data.categories, notes)
    source = TablePrep(record, data.target, tabular.READER, tuple(data.na_values))
    several = [Target(t, task_, classes, head_name(t)) for t, (_, classes, task_) in zip(targets, encoded)] \
        if len(encoded) > 1 else []
    shape = tuple(data.image_shape or ())

    def rows(table):  # (a table, or positions in `features`: one copy of rows at a time, on a wide file)
        x = tabular.apply_preprocessing(record, features.iloc[table] if isinstance(table, np.ndarray) else table)
        return x.reshape((len(x), *shape)) if shape else x

    x_train = rows(train_frame)
    del train_frame
    dataset = Dataset(x_train, y_train, rows(val_frame), y_val, task, "images" if shape else "tabular",
                      description, encoded[0][1] if not several else None, rescale=scale or 1.0, source=source,
                      notes=notes, targets=several, row_keys=keys)
    if test_idx is not None:
        dataset.x_test, dataset.y_test = rows(test_idx), y[test_idx]
    return dataset


def _columns(features, data: CsvData, options: tabular.ReadOptions, where: Path, notes: list[str]):
    """(each feature column's reading, the pixel scale or None): data.image_shape's pixels, or the columns
    typed by the rules (with a note where they look like pixels)."""
    if data.image_shape:
        return pixeltable.pixel_columns(features, tuple(data.image_shape), where.name, notes)
    shape = pixeltable.image_shape_of(features)
    if shape:
        notes.append(pixeltable.describe(shape, features.shape[1]))
    return tabular.column_types(features, options, notes), None


def _split_keys(frame, data: CsvData, targets: list[str], where: Path, notes: list[str]) -> RowKeys | None:
    """data.split by time or group: each row's key, read from its column (which may also be dropped or
    be a feature); None for a random split."""
    if data.split is None or data.split.by == "random":
        return None
    column = tabular.find_column(frame, data.split.column, "data.split.column", where)
    if column in targets:
        raise DataError(f"data.split.column {column!r} is the target; name the column of dates or groups")
    return read_keys(frame[column], data.split.by, column, data.dayfirst, notes)


def _rows(y, task: str, data: CsvData, seed: int, keys: RowKeys | None, notes: list[str]):
    """(training, validation, test or None) row indices: the test share (data.test_split) held out first,
    then the validation share of the rest, each by data.split's scheme."""
    rest, test = np.arange(len(y)), None
    if data.test_split:
        rest, test = holdout(y, task, data.test_split, seed, keys, notes, "test")
        if not len(test) or len(rest) < 3:
            raise DataError(f"data.test_split {data.test_split:g} leaves {len(rest)} row(s) to train and validate "
                            f"on and {len(test)} to test; lower it")
        notes.append(f"test rows: {len(test)} held out (data.test_split), seen by no trial; best.keras is scored on "
                     "them once, at the end, as the run's expected score on new rows")
    train, val = holdout(y[rest], task, data.validation_split, seed, keys.take(rest) if keys else None, notes)
    return rest[train], rest[val], test


def _validation(data: CsvData, targets: list[str], encoded: list) -> tuple:
    """(features, targets) of data.validation_path, encoded as the training targets were."""
    frame = tabular.read_csv(data.validation_path, data.na_values, data.delimiter, data.encoding, None,
                             *_numbers(data))
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
    table = tabular.read_csv(data.path, data.na_values, data.delimiter, data.encoding, notes, *_numbers(data))
    return table, data.path, f"csv {data.path.name}"


def _numbers(data: CsvData) -> tuple[bool, list[str]]:
    """(whether the columns of plain numbers may be read as numbers at once, the columns read as text):
    not when data.decimal or data.thousands say how numbers are written (the text then decides); the
    columns named as categories or dates and data.split's column stay text (`1.50` is a category of its own)."""
    text = [*data.categorical, *data.dates, *([data.split.column] if data.split and data.split.column else [])]
    return data.decimal is None and data.thousands is None, text


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
