"""Decoded images kept beside the runs: decoded once, read by every process that needs them.

An image-folder spec's decoded training and validation images are saved as `.npy` files under the
runs folder, in `.decoded/<identity>/` (`keep`). Every later load of the same images through `load` (a
resume, the chief and each worker of a parallel sweep, `nnlab retrain`, `validate` and `report`, another
spec on the same folder with the same size, split and seed) memory-maps them (`read`) instead of
decoding the folder again: the operating system keeps one copy of the pages, shared by all the
processes, and the training pipeline reads the rows each batch needs (`nnlab.engine.pipeline.Rows`).

A copy is used only while it matches: the folders' listing (every file's path, size and modification
time), the image size, the colour mode, the validation split and the seed (`identity`). Deleting
`.decoded/` is always safe: the images are decoded again. `data.keep_decoded: false` writes none (each
process then decodes and holds its own copy). A copy no load has read for UNUSED_DAYS is deleted when
another copy is written, so copies of old image sizes and folders do not fill the disk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from nnlab.data.dataset import Dataset
from nnlab.data.images import Decoded, decode_split
from nnlab.data.load import load_data
from nnlab.runs import copies, files, tablecache
from nnlab.runs.copies import CACHE_DIR, UNUSED_DAYS, folder_of, remove_unused, spare_bytes
from nnlab.spec.schema import CsvData, ImageData, Spec

INDEX = "images.json"  # written last: the arrays beside it are whole; its time is the copy's last use


def identity(data: ImageData, seed: int) -> dict:
    """What the decoded arrays depend on: the reading options and every file's path, size and time."""
    listing = hashlib.sha256()
    for folder in (data.path, data.validation_path):
        if folder is None:
            continue
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                try:
                    stat = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                listing.update(f"{os.path.relpath(os.path.join(root, name), folder)}\0{stat.st_size}\0"
                               f"{stat.st_mtime_ns}\n".encode())
    return {"path": str(Path(data.path).resolve()),
            "validation_path": str(Path(data.validation_path).resolve()) if data.validation_path else None,
            "image_size": list(data.image_size), "color_mode": data.color_mode,
            "validation_split": data.validation_split, "seed": seed, "files": listing.hexdigest()}


def load(spec: Spec, runs_dir: Path | None, frame=None) -> Dataset:
    """The spec's data (`nnlab.data.load.load_data`), an image folder's decoded images (or a CSV file's rows
    as read: `runs.tablecache`) read from, or kept in, `runs_dir`'s copy; what was done is among the
    data's notes. Used by every command that reads a
    spec's data: run, the chief and its workers, retrain, validate, report."""
    said: list[str] = []
    decoded = obtain(spec.data, spec.seed, runs_dir, said.append) if isinstance(spec.data, ImageData) else None
    table = None
    if isinstance(spec.data, CsvData) and frame is None and runs_dir is not None and spec.data.path is not None:
        table = tablecache.obtain(spec.data, spec.seed, runs_dir, said.append)
    data = load_data(spec, frame, decoded, table)
    data.notes += said
    return data


def obtain(data: ImageData, seed: int, runs_dir: Path | None, note) -> Decoded:
    """The spec's images, decoded and split: read back from `runs_dir`'s copy (memory-mapped), or
    decoded now and kept there (then memory-mapped, so this process holds no second copy). `note(text)`
    is told what was done when it is worth saying. `runs_dir` None or `data.keep_decoded` false: decoded
    now and held in memory."""
    if runs_dir is None or not data.keep_decoded:
        return decode_split(data, seed)
    wanted = identity(data, seed)
    said = ("decoded images read from {folder} (kept from an earlier load; delete it to decode again, or set "
            "data.keep_decoded: false)", f"the images in {data.path} changed since they were last decoded: "
            "decoded again")
    decoded, how = copies.obtain(runs_dir, wanted, ("files",), read, lambda: decode_split(data, seed), keep, note,
                                 said)
    if how != "kept":
        return decoded
    folder = folder_of(runs_dir, wanted)
    size = (decoded.x_train.nbytes + decoded.x_val.nbytes) / 1024**2
    note(f"decoded images kept in {folder} ({size:,.0f} MiB): later loads of these images read them instead of "
         "decoding (data.keep_decoded: false to keep none)")
    removed, freed = remove_unused(Path(runs_dir) / CACHE_DIR, folder)
    if removed:
        note(f"{removed} decoded image cop{'y' if removed == 1 else 'ies'} unused for {UNUSED_DAYS} days deleted from "
             f"{Path(runs_dir) / CACHE_DIR} ({freed / 1024**2:,.0f} MiB)")
    return read(folder, wanted)[0] or decoded


def read(folder: Path, wanted: dict) -> tuple[Decoded | None, str | None]:
    """The decoded images in `folder`, memory-mapped, when they are of `wanted` (an `identity`); else
    None and, where a copy was there but is damaged, why it was not used."""
    if not (folder / INDEX).is_file():
        return None, None
    try:
        index = files.read_json(folder / INDEX)
        if index.get("identity") != wanted:
            return None, None
        decoded = Decoded(np.load(folder / "x_train.npy", mmap_mode="r"), np.asarray(index["y_train"], np.int64),
                          np.load(folder / "x_val.npy", mmap_mode="r"), np.asarray(index["y_val"], np.int64),
                          list(index["class_names"]), list(index["notes"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        return None, f"the decoded images in {folder} could not be read ({error}): decoded again"
    if len(decoded.x_train) != len(decoded.y_train) or len(decoded.x_val) != len(decoded.y_val):
        return None, f"the decoded images in {folder} do not match their labels: decoded again"
    copies.mark_used(folder / INDEX)
    return decoded, None


def keep(folder: Path, decoded: Decoded, wanted: dict) -> str | None:
    """Write the decoded images into `folder` (arrays first, the index last, each atomically). Returns
    why they were not written (too little disk space), or None."""
    size = decoded.x_train.nbytes + decoded.x_val.nbytes
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if free < size + spare_bytes(size):
        return (f"the decoded images ({size / 1024**2:,.0f} MiB) are not kept in {folder}: only "
                f"{free / 1024**2:,.0f} MiB free; each process decodes and holds its own copy")
    try:
        for name, array in (("x_train.npy", decoded.x_train), ("x_val.npy", decoded.x_val)):
            with files.atomic_file(folder / name, binary=True) as handle:
                np.save(handle, np.ascontiguousarray(array))
        files.write_json(folder / INDEX, {
            "identity": wanted, "class_names": decoded.class_names, "notes": decoded.notes,
            "y_train": decoded.y_train.tolist(), "y_val": decoded.y_val.tolist(),
            "shape": list(decoded.x_train.shape[1:]), "dtype": str(decoded.x_train.dtype)})
    except OSError as error:  # (a read-only runs folder, a full disk: the images are in memory all the same)
        return f"the decoded images could not be kept in {folder} ({error}); each process decodes its own copy"
    return None
