"""The checks on a run's preprocessing.json before `Preparation.from_json` builds from it: every value
predict, evaluate and export compute with (a column's median, mean and deviation, a date part's scale,
the image size, the arrays' statistics, the target's transform) is of its type, finite, and scales
rows to finite numbers. A file that fails is a `readback.DamagedFile` naming the field: never a
TypeError in the middle of a prediction, nor predictions of NaN. No pandas here.
"""

from __future__ import annotations

from nnlab import readback

FILE = "preprocessing.json"
SCALE = 1e30  # the most |value − mean| / std may reach for a value of the column's own size


def check_record(record: dict) -> None:
    """Raise `readback.DamagedFile` on the first value of `record` nnlab would not have written."""
    readback.text(record.get("task"), FILE, "task", optional=False, choices=("classification", "regression", "mixed"))
    for index, size in enumerate(readback.sequence(record.get("input_shape"), FILE, "input_shape", optional=False)):
        readback.count(size, FILE, f"input_shape[{index}]", low=1)
    _classes(record.get("class_names"), "class_names")
    readback.number(record.get("rescale"), FILE, "rescale", low=0)
    _transform(record.get("target_transform"), "target_transform")
    for index, target in enumerate(readback.sequence(record.get("targets"), FILE, "targets") or []):
        readback.mapping(target, FILE, f"targets[{index}]", optional=False)
        _transform(target.get("transform"), f"targets[{index}].transform")
        _classes(target.get("class_names"), f"targets[{index}].class_names")
    for index, column in enumerate(readback.sequence(record.get("columns"), FILE, "columns") or []):
        _column(readback.mapping(column, FILE, f"columns[{index}]", optional=False), f"columns[{index}]")
    if record.get("image_size") is not None:
        size = readback.sequence(record["image_size"], FILE, "image_size", optional=False)
        if len(size) != 2:
            raise readback.DamagedFile(FILE, "image_size", size, "[height, width]")
        for side in size:
            readback.count(side, FILE, "image_size", low=1)
        readback.text(record.get("color_mode"), FILE, "color_mode", choices=("rgb", "grayscale"))
    if record.get("mean") is not None or record.get("std") is not None:  # (arrays' features)
        means = readback.sequence(record.get("mean"), FILE, "mean", optional=False)
        stds = readback.sequence(record.get("std"), FILE, "std", optional=False)
        for index, (mean, std) in enumerate(zip(means, stds)):
            _scale(mean, std, f"[{index}]")


def _classes(names, where: str) -> None:
    """A classification's class names, where given: two or more, each a name or a number (never a list or
    an object). (A record without them predicts no class: `tools.apply` says so.)"""
    names = readback.sequence(names, FILE, where)
    if names is not None and (len(names) < 2 or not all(isinstance(n, (str, int, float)) for n in names)):
        raise readback.DamagedFile(FILE, where, names, "a list of two or more class names")


def _column(column: dict, where: str) -> None:
    readback.text(column.get("name"), FILE, f"{where}.name", optional=False, most=10_000)
    kind = readback.text(column.get("type"), FILE, f"{where}.type", optional=False,
                         choices=("numeric", "date", "categorical"))
    if kind == "numeric":
        median = readback.number(column.get("median"), FILE, f"{where}.median", optional=False)
        _scale(column.get("mean"), column.get("std"), where, median)
    elif kind == "date":
        parts = readback.mapping(column.get("parts"), FILE, f"{where}.parts", optional=False)
        for part, scale in parts.items():
            if not isinstance(scale, list) or len(scale) != 2:
                raise readback.DamagedFile(FILE, f"{where}.parts.{part}", scale, "[mean, std]")
            _scale(*scale, f"{where}.parts.{part}")
    else:
        for index, category in enumerate(readback.sequence(column.get("categories"), FILE, f"{where}.categories",
                                                           optional=False)):
            readback.text(category, FILE, f"{where}.categories[{index}]", optional=False, most=10_000)
        for flag in ("other", "missing"):
            if not isinstance(column.get(flag), bool):
                raise readback.DamagedFile(FILE, f"{where}.{flag}", column.get(flag), "true or false")


def _scale(mean, std, where: str, value=None) -> None:
    """A (mean, std) that standardizes values of the column's size to finite numbers."""
    mean = readback.number(mean, FILE, f"{where}.mean", optional=False)
    std = readback.number(std, FILE, f"{where}.std", optional=False)
    reach = max(abs(mean), abs(value if value is not None else mean), 1.0)
    if std <= 0 or reach / std > SCALE:
        raise readback.DamagedFile(FILE, f"{where}.std", std, f"a positive deviation that scales values near "
                                   f"{mean:.3g} to finite numbers")


def _transform(record, where: str) -> None:
    if record is None:
        return
    readback.mapping(record, FILE, where, optional=False)
    readback.text(record.get("kind"), FILE, f"{where}.kind", optional=False, choices=("log", "standardize"))
    if record.get("mean") is not None or record.get("std") is not None:
        _scale(record.get("mean", 0.0), record.get("std", 1.0), where)
