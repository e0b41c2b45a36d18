"""A CSV source read once: its rows as the model takes them, kept beside the runs.

Reading a CSV (decoding it, typing its columns, splitting and preparing the rows: `data.csvdata`)
takes seconds on a large file; every process of a run needs it (the chief and each worker of a
parallel sweep, a resume, `validate` then `run`, `retrain`, `report`). The first keeps what it read in
the runs folder's `.decoded/<identity>/` (arrays as `.npy`, the rest in `table.json`, written last);
the others read that instead (`obtain`), with a note that says so. A file under 1 MiB is read again
each time: that takes less than writing and checking a copy.

A copy is used only while it matches (`identity`): the file's bytes (a SHA-256 of the file, and of
`data.validation_path`'s), the spec's whole `data` section, the seed, the version of the CSV rules and
of nnlab. What is read back is checked: the preparation record as a run's own is
(`Preparation.from_json`), and the arrays' rows and widths against it and each other; a copy that
fails is read again from the file, with a note. Deleting `.decoded/` is always safe. Copies unused for
30 days go as the image copies do (`copies`).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from nnlab.data.dataset import Dataset
from nnlab.data.preparation import Preparation
from nnlab.data.splits import RowKeys
from nnlab.errors import RunError
from nnlab.runs import copies, files
from nnlab.spec.schema import CSV_READER, CsvData
from nnlab.version import __version__

INDEX = "table.json"  # written last: the arrays beside it are whole
SMALLEST = 1024**2  # bytes of CSV: a smaller file is read again each time (in a fraction of a second)
ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "row_keys")


def identity(data: CsvData, seed: int) -> dict:
    """What the rows read from a CSV depend on: its bytes, the spec's data section, the seed, the rules."""
    return {"file": _digest(data.path), "validation_file": _digest(data.validation_path) if data.validation_path
            else None, "data": data.model_dump(mode="json"), "seed": seed, "reader": CSV_READER,
            "nnlab": __version__}


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def obtain(data: CsvData, seed: int, runs_dir: Path, note) -> Dataset:
    """The CSV's rows as `load_csv` gives them: read back from `runs_dir`'s copy, or read now and kept
    there. `note(text)` is told what was done."""
    from nnlab.data.csvdata import load_csv

    paths = [Path(p) for p in (data.path, data.validation_path) if p is not None]
    if not all(p.is_file() for p in paths):  # (no file, a folder, a device, a pipe: load_csv says why)
        return load_csv(data, seed)
    if sum(p.stat().st_size for p in paths) < SMALLEST:  # (read in less time than a copy takes to write)
        return load_csv(data, seed)
    try:
        wanted = identity(data, seed)
    except OSError:
        return load_csv(data, seed)  # (an unreadable file: load_csv says why)
    said = (f"{data.path.name} read from the copy kept in {{folder}} (what an earlier load read; delete it to "
            "read the file again)", f"{data.path.name} changed since it was last read: read again")
    dataset, how = copies.obtain(runs_dir, wanted, ("file", "validation_file"), read, lambda: load_csv(data, seed),
                                 keep, note, said)
    if how == "kept":
        folder = copies.folder_of(runs_dir, wanted)  # (where copies.obtain kept them)
        size = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
        note(f"the rows read from {data.path.name} kept in {folder} ({size:,.0f} MiB): later loads of this file "
             "read them instead (delete the folder to read the file again)")
        copies.remove_unused(Path(runs_dir) / copies.CACHE_DIR, folder)
    return dataset


def read(folder: Path, wanted: dict) -> tuple[Dataset | None, str | None]:
    """The rows kept in `folder`, when they are of `wanted` (an `identity`) and whole; else None and,
    where a copy was there but failed its checks, why it was not used."""
    if not (folder / INDEX).is_file():
        return None, None
    try:
        index = files.read_json(folder / INDEX)
        if not isinstance(index, dict) or index.get("identity") != wanted:
            return None, None
        arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in index["arrays"]
                  if name in ARRAYS}
        dataset = _dataset(index, arrays)
    except (OSError, ValueError, KeyError, TypeError, RunError) as error:
        return None, f"the rows kept in {folder} could not be read back ({error}): read from the file again"
    problem = _mismatch(dataset)
    if problem:
        return None, f"the rows kept in {folder} are damaged ({problem}): read from the file again"
    copies.mark_used(folder / INDEX)
    return dataset, None


def _dataset(index: dict, arrays: dict) -> Dataset:
    preparation = Preparation.from_json(index["preparation"])
    keys = index.get("row_keys")
    row_keys = RowKeys(keys["by"], keys["column"], arrays["row_keys"], tuple(keys["names"])) if keys else None
    kind = "images" if preparation.pixels else "tabular"  # (data.image_shape: a CSV's rows as images)
    return Dataset(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"], preparation.task,
                   kind, str(index["description"]), preparation.class_names, rescale=preparation.rescale,
                   source=preparation.source,
                   notes=[str(n) for n in index["notes"]], targets=list(preparation.several), row_keys=row_keys,
                   x_test=arrays.get("x_test"), y_test=arrays.get("y_test"))


def _mismatch(dataset: Dataset) -> str | None:
    """What does not fit in rows read back: row counts, widths, the preparation's number of inputs."""
    width, shape = len(dataset.source.features), dataset.preparation.input_shape
    parts = [("training", dataset.x_train, dataset.y_train), ("validation", dataset.x_val, dataset.y_val)]
    if dataset.x_test is not None:
        parts.append(("test", dataset.x_test, dataset.y_test))
    for name, x, y in parts:
        if y is None or len(x) != len(y) or x.shape[1:] != shape or int(np.prod(shape)) != width:
            return f"its {name} rows do not match their targets or the {width} inputs the preparation names"
    if dataset.row_keys is not None and len(dataset.row_keys.keys) != len(dataset.x_train) + len(dataset.x_val):
        return "its split keys do not match its rows"
    return None


def keep(folder: Path, dataset: Dataset, wanted: dict) -> str | None:
    """Write the rows into `folder` (arrays first, the index last, each atomically). Returns why they were
    not written, or None."""
    arrays = {name: getattr(dataset, name) for name in ARRAYS[:-1] if getattr(dataset, name) is not None}
    if dataset.row_keys is not None:
        arrays["row_keys"] = dataset.row_keys.keys
    size = sum(a.nbytes for a in arrays.values())
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if shutil.disk_usage(existing).free < size + copies.spare_bytes(size):
        return f"the rows read ({size / 1024**2:,.0f} MiB) are not kept in {folder}: too little disk space"
    keys = dataset.row_keys
    try:
        for name, array in arrays.items():
            with files.atomic_file(folder / f"{name}.npy", binary=True) as handle:
                np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        files.write_json(folder / INDEX, {
            "identity": wanted, "arrays": list(arrays), "preparation": dataset.preparation.to_json(),
            "description": dataset.description, "notes": dataset.notes,
            "row_keys": {"by": keys.by, "column": keys.column, "names": list(keys.names)} if keys else None})
    except (OSError, ValueError) as error:  # (a read-only runs folder, a full disk: the rows are read all the same)
        return f"the rows read could not be kept in {folder} ({error})"
    return None
