"""`nnlab init`: look at a data file or folder and write a commented starting spec, ready to run.

What it looks at: a CSV's columns (what each holds, which nnlab will drop, the target's classes or
range), an image folder's classes, counts and image sizes, an .npz's arrays. What it writes: a spec
whose search space suits the data's size (smaller models and batches for small data), with the
reasons as comments. Never imports TensorFlow.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.errors import DataError, NnlabError, plural, shown, web_address, web_address_message
from nnlab.spec.schema import IMAGE_FORMATS

FOLDS_BELOW = 300  # rows: below, init writes data.folds: 5 (a 20% split would hold fewer than 60 rows)


WIDEST = 255  # the most one-hot columns init writes for one categorical column (data.categories)


@dataclass
class Look:
    """What `init` found in the data, and the spec lines it suggests."""

    source: str
    kind: str  # mlp or cnn
    task: str
    rows: int
    lines: list[str] = field(default_factory=list)  # the data section
    comments: list[str] = field(default_factory=list)  # what was found, for the header
    imbalanced: bool = False
    classes: int = 0
    baseline: bool = False  # a table of one target: search.baseline gbm
    train_lines: list[str] = field(default_factory=list)  # the train section's own lines
    image_shape: tuple | None = None  # a CSV whose features look like pixels: (height, width, channels)
    counted: bool = False  # a target of small whole numbers read as counts, not classes (starterrows)


def look(path: Path, targets: list[str], spec_dir: Path, task: str | None = None) -> Look:
    if web_address(path):
        raise DataError(web_address_message(web_address(path)))
    if not path.exists():
        raise DataError(f"Data not found: {path}")
    rel = os.path.relpath(path.resolve(), spec_dir.resolve())
    if path.is_dir():
        return _look_images(path, rel)
    if path.suffix.lower() == ".npz":
        return _look_npz(path, rel)
    return _look_csv(path, rel, targets, task)


def _look_csv(path: Path, rel: str, targets: list[str], task: str | None = None) -> Look:
    from nnlab.data.csvdata import check_rows, target_rows
    from nnlab.data.pixeltable import image_shape_of
    from nnlab.data.tabular import MAX_CATEGORIES, ReadOptions, column_types, read_csv
    from nnlab.tools.startercolumns import csv_targets

    notes: list[str] = []  # (what reading the file decided: its encoding, compression, the spellings of missing)
    frame = read_csv(path, notes=notes, numbers=True)
    if frame.shape[1] < 2:
        raise DataError(f"{path.name} has {frame.shape[1]} column(s); a CSV for nnlab needs features and a target")
    targets, guessed = csv_targets(frame, targets, path)
    for target in targets:
        frame = target_rows(frame, target, None, path, notes)  # (as a run reads them: rows without one left out)
    check_rows(len(frame), path.name)
    tasks = _tasks(frame, targets, task, notes)
    features = frame.drop(columns=targets)
    shape = image_shape_of(features)
    gone = _not_features(features, frame[targets], notes) if not shape else []  # (pixels: no identifier, no leak)
    if shape:
        notes.append(f"the {features.shape[1]} feature columns look like the pixels of {shape[0]}×{shape[1]} images "
                     f"(whole numbers 0–255): `nnlab init {path.name} --kind cnn` writes a spec that reads each row "
                     "as an image (data.image_shape) for a CNN")
    columns = column_types(features.drop(columns=gone), ReadOptions(), notes)
    counted = {kind: sum(1 for c in columns if c.kind == kind) for kind in ("numeric", "categorical", "date")}
    comments = [f"{path.name}: {plural(len(frame), 'row')}, {plural(frame.shape[1], 'column')}", guessed,
                "features: " + ", ".join(f"{n} {k}" for k, n in counted.items() if n)] + notes
    kinds = set(tasks.values())
    look_ = Look("csv", "mlp", kinds.pop() if len(kinds) == 1 else "mixed", len(frame), comments=comments,
                 counted=any("holds counts (" in n for n in notes), image_shape=shape)
    look_.lines = ["data:", "  source: csv", f"  path: {_yaml(rel)}",
                   f"  target: {_yaml(targets[0] if len(targets) == 1 else targets)}"]
    if gone:
        look_.lines.append(f"  drop: {_yaml(gone)}   # not features: see the notes above")
    values = {c.name: int(features[c.name].nunique()) for c in columns if c.kind == "categorical"}
    widest = max(values, key=values.get, default=None)
    if widest is not None and values[widest] > MAX_CATEGORIES:  # (measured: quality.py's airports; docs/benchmarks.md)
        look_.lines.append(f"  categories: {min(values[widest], WIDEST)}   # {widest!r} has {values[widest]} values: "
                           f"a column each (at most {WIDEST}; default {MAX_CATEGORIES})")
    _look_rows(features.drop(columns=gone), frame[targets[0]], columns, look_)
    look_.baseline = len(targets) == 1
    if len(targets) == 1:
        if look_.task == "classification":
            _look_classes(frame[targets[0]], look_)
        look_.lines.append(f"  task: {look_.task}")
    for target, task_ in tasks.items():
        if len(targets) > 1:
            comments.append(f"target {target!r}: {task_}")
        if task_ == "regression":
            _look_quantity(frame[target], target, look_, alone=len(targets) == 1)
    if len(targets) > 1 and all(_counts(frame[t]) for t in targets) and set(tasks.values()) == {"regression"}:
        look_.comments.append("every target holds counts: train.loss poisson fits them as counts, and no output is "
                              "ever below 0")
        look_.train_lines.append("  loss: poisson   # every target holds counts; leave out for mse")
    return look_


def _not_features(features, targets, notes: list[str]) -> list[str]:
    """The columns init leaves out with data.drop: row numbers and identifiers, and those that give a
    target away (`startercolumns`), each with a note."""
    from nnlab.data.tabular import looks_like_row_number
    from nnlab.tools.startercolumns import left_out

    row_numbers = [str(c) for c in features.columns if looks_like_row_number(features[c], str(c))]
    dropped = left_out(features.drop(columns=row_numbers), targets)
    notes += [f"column {c!r} looks like a row number or an identifier (unique whole numbers): left out with "
              "data.drop below; remove it from there if it is a real feature" for c in row_numbers]
    notes += [f"{why}: left out with data.drop below; remove it from there if it is known when you predict"
              for _, why in dropped]
    return row_numbers + [c for columns, _ in dropped for c in columns]


def _tasks(frame, targets: list[str], task: str | None, notes: list[str]) -> dict[str, str]:
    """Each target's task: --task's, else inferred, with small skewed counts read as a count regression."""
    from nnlab.data.rules import infer_task
    from nnlab.tools.starterrows import count_task

    tasks = {t: task or infer_task(frame[t].to_numpy(), t)[0] for t in targets}
    for t in targets:
        values = frame[t].dropna().unique()
        if tasks[t] == "classification" and len(values) < 2:  # (validate and run would refuse it: say so now)
            held = f"the one value {shown(values[0])} in every row" if len(values) else "no value in any row"
            raise DataError(f"the target {t!r} holds {held}: there is nothing to learn; give --target the column "
                            "to predict")
        counted = count_task(frame[t], t) if task is None and tasks[t] == "classification" else None
        if counted:
            tasks[t] = counted[0]
            notes.append(counted[1] + "; fitted with train.loss: poisson, never below 0")
    return tasks


def _counts(values) -> bool:
    import pandas as pd

    from nnlab.data.rules import is_whole

    numbers = pd.to_numeric(values, errors="coerce")
    return bool(numbers.notna().all() and numbers.min() >= 0 and is_whole(numbers.to_numpy()))


def _look_rows(features, target, columns: list, look_: Look) -> None:
    """The split (by time for rows in time order), repeated rows, and integer-coded categories
    (`starterrows`), into the data section and the notes."""
    from nnlab.tools.starterrows import integer_codes, repeated_rows, time_split

    column, notes = time_split(features, [c.name for c in columns if c.kind == "date"], {})
    repeated = repeated_rows(features)
    categorical, code_notes = integer_codes(features[[c.name for c in columns if c.kind == "numeric"]], target,
                                            look_.task) if look_.task != "mixed" else ([], [])
    look_.comments += notes + ([repeated] if repeated else []) + code_notes
    if categorical:
        look_.lines.append(f"  categorical: {_yaml(categorical)}   # whole-number codes of kinds: see the notes")
    if column:
        look_.lines.append(f"  split: {{by: time, column: {_yaml(column)}}}   # validate on the latest rows")


def _look_quantity(values, target: str, look_: Look, alone: bool) -> None:
    """A regression target's range, and whether it is skewed enough to be fitted as log(1 + y)."""
    from nnlab.data.rules import SKEWED, is_whole, skewness

    values = values.dropna().astype(float)
    look_.comments.append(f"target {'' if alone else repr(target) + ' '}range {values.min():.4g} to "
                          f"{values.max():.4g} (mean {values.mean():.4g})")
    counts = values.min() >= 0 and is_whole(values.to_numpy())
    skew = skewness(values)
    if counts and alone and (skew > SKEWED or look_.counted):  # (measured: quality.py's randhie; docs/benchmarks.md)
        look_.comments.append(f"the target {target!r} holds counts (whole numbers, 0 or more) and is skewed "
                              f"(skewness {skew:.1f}): fitted with train.loss: poisson, as counts, never below 0")
        look_.train_lines.append("  loss: poisson   # the target holds skewed counts; leave out for mse")
        return
    if counts:
        look_.comments.append(f"the target {target!r} holds counts (whole numbers, 0 or more): train.loss: poisson "
                              "fits them as counts and never predicts below 0; try it (without target_transform)")
    if values.min() >= 0 and skew > SKEWED and alone:
        look_.comments.append(f"the target is positive and skewed (skewness {skew:.1f}: a few large values): "
                              "data.target_transform: auto fits it as log(1 + y) or as it is, whichever a quick "
                              "probe on the training rows scores better in its own units (R²)")
        look_.lines.append("  target_transform: auto   # log(1 + y) or as it is, by R²; `log` or `none` to choose")


def _look_classes(values, look_: Look) -> None:
    """The classes a run will use (1, not 1.0) with their counts, and whether they are imbalanced."""
    import pandas as pd

    from nnlab.data.tabular import encode_target

    codes, classes = encode_target(values, "classification")
    counts = pd.Series(np.bincount(codes, minlength=len(classes)), index=[str(c) for c in classes])
    counts = counts.sort_values(ascending=False, kind="stable")
    share = counts.min() / counts.sum()
    look_.comments.append(f"classes: {len(counts)} ({', '.join(f'{k}: {v}' for k, v in counts.head(8).items())}"
                          f"{', …' if len(counts) > 8 else ''})")
    look_.imbalanced, look_.classes = len(counts) > 1 and share < 0.5 / len(counts), len(counts)
    if look_.imbalanced:
        score = "AUC" if len(counts) == 2 else "macro F1"
        look_.comments.append(f"the smallest class is {share:.0%} of the rows: {score} is the objective below and "
                              "the search tries balanced class weights (accuracy would reward ignoring the rare "
                              "class)")


def _look_images(path: Path, rel: str) -> Look:
    from PIL import Image

    from nnlab.data.images import class_folders, list_image_files

    classes = class_folders(path)
    if len(classes) < 2:
        raise DataError(f"{path} needs one subfolder of images per class (two or more); found "
                        f"{len(classes)}. Images: {', '.join(IMAGE_FORMATS)}")
    counts, sizes, grey = {}, [], 0
    for sub in classes:
        files, _ = list_image_files(sub)
        counts[sub.name] = len(files)
        for file in files[:: max(1, len(files) // 20)][:20]:  # a sample of each class
            try:
                with Image.open(file) as img:
                    sizes.append(img.size)
                    grey += img.mode in ("L", "LA", "I;16", "1")
            except OSError:
                continue
    if not sizes:
        raise DataError(f"No readable images ({', '.join(IMAGE_FORMATS)}) in the class folders of {path}")
    width, height = (int(np.median([s[i] for s in sizes])) for i in (0, 1))
    side = 32 if min(width, height) < 48 else 64 if min(width, height) < 160 else 128
    mode = "grayscale" if grey == len(sizes) else "rgb"
    total = sum(counts.values())
    smallest = min(counts.values())
    comments = [f"{path.name}/: {len(classes)} classes, {total} images "
                f"({', '.join(f'{k}: {v}' for k, v in list(counts.items())[:8])}{', …' if len(counts) > 8 else ''})",
                f"median image size {width}×{height}: resized to {side}×{side} "
                "(larger is slower and rarely needed to start)",
                f"colour: {mode}"]
    look_ = Look("images", "cnn", "classification", total, comments=comments)
    look_.imbalanced, look_.classes = smallest / total < 0.5 / len(classes), len(classes)
    look_.lines = ["data:", "  source: images", f"  path: {_yaml(rel)}", f"  image_size: [{side}, {side}]",
                   f"  color_mode: {mode}"]
    return look_


def _look_npz(path: Path, rel: str) -> Look:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            x, y = arrays["x"], arrays["y"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path.name} must be an .npz with arrays x and y ({exc})") from None
    from nnlab.data.rules import infer_task

    task, _ = infer_task(y, "y", images=x.ndim >= 3)
    kind = "cnn" if x.ndim >= 3 else "mlp"
    comments = [f"{path.name}: x {x.shape}, y {y.shape}; task {task}"]
    look_ = Look("npz", kind, task, len(x), comments=comments)
    look_.lines = ["data:", "  source: npz", f"  path: {_yaml(rel)}", f"  task: {task}"]
    return look_


def _yaml(value) -> str:
    """A value as YAML writes it on one line, quoted where it must be (a path holding `: ` or `#`)."""
    import yaml

    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=10**6).strip()
    return text[1:-1]  # without the list's brackets


# Names that say what a file is for, not what it holds: the run is named after the folder above
_GENERIC_NAMES = {"train", "training", "train_data", "train_images", "trainset", "data", "dataset", "images"}


def _stem(path: Path) -> str:
    """A folder's name, or a file's without its suffixes of format and compression (bikes.csv.gz → bikes)."""
    name = path.name
    while not path.is_dir() and Path(name).suffix.lower() in (".gz", ".bz2", ".xz", ".zip", ".csv", ".tsv", ".txt",
                                                               ".npz"):
        name = Path(name).stem
    return name or path.stem


def run_name(path: Path) -> str:
    """The run's name from the data's: `titanic/train.csv` → titanic, `gtsrb/Train/` → gtsrb."""
    named = path.resolve()
    for _ in range(2):  # (bikes/data/train.csv → bikes)
        if _stem(named).lower() not in _GENERIC_NAMES or not named.parent.name:
            break
        named = named.parent
    return re.sub(r"[^A-Za-z0-9._-]+", "-", _stem(named)).strip("-._") or "run"


def starter_spec(path: str | Path, output: str | Path, target: str | list[str] | None = None, kind: str | None = None,
                 name: str | None = None, task: str | None = None) -> tuple[str, Look]:
    """The text of a commented starting spec for the data at `path`, to be written at `output`; `task`:
    what a CSV's target means (None: inferred)."""
    path, output = Path(path), Path(output)
    targets = [target] if isinstance(target, str) else list(target or [])
    if task is not None and (path.is_dir() or path.suffix.lower() == ".npz"):
        raise NnlabError("--task is for a CSV's target; an image folder's classes are always classification")
    found = look(path, targets, output.parent, task)
    kind = kind or found.kind
    pixels = kind == "cnn" and found.source == "csv"  # (data.image_shape: each row an image)
    if pixels and not found.image_shape:
        raise NnlabError("--kind cnn needs images: a folder of class subfolders, an .npz of image arrays, or a CSV "
                         "whose feature columns are pixels (whole numbers 0–255)")
    small = found.rows < 2000
    name = name or run_name(path)
    objective, metrics = _objective(found)
    header = ["# A starting spec written by `nnlab init`. Check it, then: nnlab validate "
              f"{output.name} && nnlab run {output.name}", "#", "# What nnlab found:"]
    header += [f"#   {c}" for c in found.comments]
    header += ["#", "# Every value written {choice: [...]}, {int: [low, high]} or {float: [low, high]} is searched;",
               "# the others are fixed. `nnlab schema` gives editors completion for every key.", ""]
    body = [f"name: {_yaml(name)}", "seed: 42", ""] + found.lines + ["  validation_split: 0.2"] + \
        ([f"  image_shape: {list(found.image_shape)}   # each row's pixels as an image, row by row, for the CNN"]
         if pixels else [])
    if found.source != "images" and found.rows < FOLDS_BELOW:
        body += [f"  folds: 5   # fewer than {FOLDS_BELOW} rows: each configuration is scored by 5-fold "
                 "cross-validation, not on one small split"]
    body += [""]
    body += _model_lines(kind, small, table=found.source == "csv", flip=not pixels)
    batch = "[16, 32]" if found.rows < 500 else "[32, 64]" if found.rows < 20000 else "[64, 128]"
    epochs = 50 if small else 30
    body += ["train:",
             f"  epochs: {epochs}",
             f"  batch_size: {{choice: {batch}}}",
             "  learning_rate: {float: [0.0003, 0.01], log: true}",
             "  early_stopping: {patience: 5}   # stop a trial once the objective stops improving",
             f"  metrics: {metrics}",
             *found.train_lines,
             *(["  class_weight: {choice: [none, balanced]}   # balanced: the rare classes weigh more in the loss"]
               if found.imbalanced else []),
             "",
             "search:",
             "  tuner: bayesian",
             f"  objective: {objective}",
             "  max_minutes: 10   # the time budget: trials run until it is used (max_trials: N for a fixed count)",
             "  pruning: median   # stop a trial that is below the median of the earlier ones at the same epoch",
             "  pack: auto   # trials trained several at a time, in one step (how many: the header says)",
             *(["  confirm: 3   # the top 3 cross-validated over 5 folds before one becomes best.keras"]
               if found.source != "images" and not pixels else []),
             *(["  baseline: gbm   # gradient boosting fitted and scored on the same rows, to compare the trials with"]
               if found.baseline and not pixels else []),
             ""]
    return "\n".join(header + body), found


def _objective(found: Look) -> tuple[str, str]:
    """(search.objective, train.metrics) for what the data holds."""
    if found.task == "regression":  # (ranked in the target's units, as evaluate grades: docs/benchmarks.md)
        return "val_r2", "[mae, r2]"
    if found.task == "mixed":  # (several targets, of both kinds)
        return "val_loss", "[mae]"
    if found.imbalanced:
        return ("val_auc", "[auc, f1]") if found.classes == 2 else ("val_f1", "[f1]")
    return "val_accuracy", "[]"


def _model_lines(kind: str, small: bool, table: bool = False, flip: bool = True) -> list[str]:
    """The spec's model section: an MLP whose layers suit the data's size (for a table, with the modern
    tabular recipe: piecewise-linear embeddings and 8 members), or a small CNN (`flip`: with mirrored
    images; not for a CSV's pixels, digits and letters as often as not)."""
    if kind == "mlp":
        units = "[16, 32, 64]" if small else "[64, 128, 256]"
        recipe = ["  embedding: piecewise   # each number as a vector (32 quantile bins); none: as it is",
                  "  members: 8   # 8 members in one model, trained together, predicting their mean (TabM)"]
        return ["model:", "  kind: mlp",
                "  layers: {int: [1, 3]}",
                f"  units: {{choice: {units}}}" + ("        # small data: small layers" if small else ""),
                "  activation: relu",
                "  dropout: {float: [0.0, 0.3], step: 0.1}",
                *(recipe if table else []),
                ""]
    return ["model:", "  kind: cnn",
            "  conv_blocks: {int: [2, 3]}",
            "  filters: {choice: [16, 32]}",
            "  dense_units: {choice: [64, 128]}",
            "  dropout: {float: [0.0, 0.4], step: 0.2}",
            *(["  augment: {flip: horizontal}   # remove if a mirrored image means something else (digits, text)"]
              if flip else []),
            ""]
