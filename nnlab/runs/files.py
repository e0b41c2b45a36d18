"""A run folder's plain files: trial records, the summary, the spec copy. No TensorFlow here.

Layout of `runs/<name>/`:

    spec.yaml            the spec as run (after --set), data paths made absolute
    summary.json         one object: what was searched, how it went, the best trial
    trials.csv           one row per trial, rewritten after each trial
    preprocessing.json   how raw data became model inputs (columns, statistics, classes)
    best.keras           the best model, loadable with keras.saving.load_model
    tuner/               the Keras Tuner project (oracle state, per-trial checkpoints)

Every file is written atomically (a temporary file, then a rename), so a kill never leaves half a file.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnlab import readback
from nnlab.runs.records import LATENCY, STATUSES, Summary, TrialRecord

SUMMARY = "summary.json"
TRIALS = "trials.csv"
SPEC_COPY = "spec.yaml"
PREPROCESSING = "preprocessing.json"
BEST_MODEL = "best.keras"
TUNER_DIR = "tuner"
TRIAL_PROGRESS = "nnlab_trial.json"  # in tuner/trial_ID/: a trial's history and what its process saw (trialprogress)

# trials.csv columns before the hyperparameters and metrics
# (`worker`: which worker process trained the trial, in a parallel run; empty otherwise)
TRIAL_COLUMNS = ["trial_id", "status", "score", "best_epoch", "epochs", "seconds", "worker", "reason"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


_write_hooks: list[Callable[[str], None]] = []


def on_write(hook: Callable[[str], None]) -> None:
    """Call `hook(point)` each time a write has reached its temporary file and is not yet renamed
    (`point`: "write", or "tuner_write" for Keras Tuner's files). The engine hands the fault-injection
    tests' kill point here (see nnlab.faults)."""
    if hook not in _write_hooks:
        _write_hooks.append(hook)


def write_through(path: Path, write: Callable[[Path], None], temporary: Path | None = None,
                  size: int | None = None) -> None:
    """`write(temporary)` (a library's own save: Keras, h5py, matplotlib), then the temporary file
    renamed to `path`; removed instead when the write fails (a full disk, a kill by SIGTERM). `size`:
    about how many bytes it writes, checked against the disk's free space first, because HDF5 (Keras's
    weights) does not recover from a write that fills the disk: it fails again in every destructor."""
    temporary = temporary or path.with_name(f".{path.stem}.tmp{path.suffix}")
    if size is not None:
        ensure_space(path.parent, size)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


SPACE_MARGIN = 256 * 1024  # bytes left free beyond a write's estimate (file system blocks, metadata)


def ensure_space(folder: Path, size: int) -> None:
    """An OSError (ENOSPC) unless the disk holding `folder` has `size` bytes free and the margin."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # (not every file system tells: the write itself will say)
    if free < size + SPACE_MARGIN:
        raise OSError(errno.ENOSPC, f"No space left on device: {size:,} bytes to write, {free:,} free",
                      str(folder))


def model_bytes(model, optimizer: bool = False) -> int:
    """About how many bytes a Keras model's file takes: its weights (and its optimizer's state, which a
    .keras file keeps), with room for the file's own structure."""
    def values(v) -> int:
        return math.prod(int(d) for d in v.shape)

    weights = sum(values(v) * {"float16": 2, "bfloat16": 2, "float64": 8}.get(str(v.dtype), 4) for v in model.weights)
    slots = 2 * 4 * sum(values(v) for v in model.trainable_weights) if optimizer else 0
    return weights + slots + 4096 * len(model.weights) + 65536


@contextlib.contextmanager
def atomic_file(path: Path, point: str = "write", binary: bool = False):
    """An open file that becomes `path` when the block ends, so that readers see the old or the new
    content, never a mix (nothing, if the block fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # as an ordinary file would be (mkstemp makes it private)
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        for hook in _write_hooks:
            hook(point)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str, point: str = "write") -> None:
    """Write a text file so that readers see the old or the new content, never a mix."""
    with atomic_file(path, point) as fh:
        fh.write(text)


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(_finite(data), indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _finite(value: Any) -> Any:
    """JSON has no NaN: write None instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_trials(path: Path, records: list[TrialRecord], hp_names: list[str], metric_names: list[str]) -> None:
    """trials.csv: fixed columns, then one per hyperparameter, then one per metric."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TRIAL_COLUMNS + hp_names + metric_names)
    for rec in records:
        row = [getattr(rec, c) for c in TRIAL_COLUMNS]
        row += [rec.hyperparameters.get(n) for n in hp_names]
        row += [rec.metrics.get(n) for n in metric_names]
        writer.writerow(["" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v for v in row])
    write_atomic(path, out.getvalue())


def read_trials(path: Path, hp_names: list[str], metric_names: list[str],
                problems: list[str] | None = None) -> list[TrialRecord]:
    """Records from trials.csv (what `write_trials` wrote), with values parsed back to numbers and
    checked: a row that nnlab would not write is a `DamagedFile` naming its line and column, or with
    `problems` (a list) left out and said there."""
    records = []
    with path.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                records.append(_trial_row(row, hp_names, metric_names, f"{path.name} line {line}"))
            except readback.DamagedFile as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
    return records


def _trial_row(row: dict, hp_names: list[str], metric_names: list[str], where: str) -> TrialRecord:
    trial_id = row.get("trial_id") or ""
    if not trial_id.isdigit() or len(trial_id) > 12:
        raise readback.DamagedFile(where, "trial_id", trial_id, "a trial number")
    status = readback.text(row.get("status") or None, where, "status", choices=STATUSES, optional=False)
    return TrialRecord(
        trial_id, status, score=_finite_or_none(row.get("score"), where, "score"),
        best_epoch=readback.count(parse_text(row.get("best_epoch")), where, "best_epoch"),
        epochs=readback.count(parse_text(row.get("epochs")), where, "epochs"),
        seconds=readback.number(parse_text(row.get("seconds")), where, "seconds", low=0, high=readback.MOST),
        worker=row.get("worker") or None, reason=row.get("reason") or None,
        hyperparameters={n: parse_text(row.get(n)) for n in hp_names if row.get(n) not in (None, "")},
        metrics={n: value for n in metric_names
                 if (value := _finite_or_none(row.get(n), where, n)) is not None})


def _finite_or_none(text: str | None, where: str, name: str) -> float | None:
    """A number of trials.csv: None where empty or not finite (a diverged trial's), damaged where not a number."""
    value = parse_text(text)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return readback.number(value, where, name)


def trial_columns(path: Path) -> tuple[list[str], list[str]]:
    """(hyperparameter names, metric names) from trials.csv's header, for a run whose summary.json
    is gone: metric columns are the known metric names, with or without `val_`."""
    from nnlab.spec.objectives import KNOWN_METRICS  # (only for a damaged run: it imports pydantic)

    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh), [])
    rest = [c for c in header if c not in TRIAL_COLUMNS]
    metrics = [c for c in rest if c.removeprefix("val_").removesuffix("_std") in KNOWN_METRICS or c == LATENCY]
    return [c for c in rest if c not in metrics], metrics


def write_summary(path: Path, summary: Summary) -> None:
    write_json(path, summary.as_dict())


def read_summary(path: Path, problems: list[str] | None = None) -> Summary:
    """The run's summary, each value checked (see `Summary.from_dict`; `problems`: where a value that
    fails its check is said, instead of raising `readback.DamagedFile`)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise readback.DamagedFile(path.name, "its content", data, "an object ({…})")
    return Summary.from_dict(data, problems, path.name)


def parse_text(text: str | None) -> Any:
    """A value written as text (a trials.csv cell, an MLflow param): True/False, a whole number, a
    number, else the text itself; empty is None."""
    if text is None or text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def is_run_dir(path: Path) -> bool:
    return (path / SUMMARY).is_file() or (path / TRIALS).is_file()


def folder_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total
