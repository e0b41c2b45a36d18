"""The copies of read data kept beside the runs, in `runs/.decoded/<identity>/`: decoded images
(`imagecache`) and a CSV's rows as read (`tablecache`). Where a copy goes (`folder_of`, from what it
depends on), which copies are stale (the same data read the same way from files since changed) or
unused for UNUSED_DAYS, and how much disk a copy must leave free. Each copy's index file is written last
and touched at each use: its time is the copy's last use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from nnlab.runs import files

CACHE_DIR = ".decoded"  # in the runs folder
INDEXES = ("images.json", "table.json")  # (an image copy's, a table copy's)
UNUSED_DAYS = 30


def spare_bytes(size: int) -> int:
    """The disk space left free after writing a copy of `size` bytes: as much again, at least 64 MiB and at
    most 1 GiB (a small image set is kept on a nearly full disk; a large one leaves room for the run)."""
    return min(1024**3, max(64 * 1024**2, size))


def folder_of(runs_dir: Path, wanted: dict) -> Path:
    return Path(runs_dir) / CACHE_DIR / hashlib.sha256(repr(sorted(wanted.items())).encode()).hexdigest()[:16]


def remove_unused(cache: Path, kept: Path) -> tuple[int, int]:
    """Delete the copies (other than `kept`) that no load has read for UNUSED_DAYS: (how many, bytes)."""
    removed = freed = 0
    for folder in cache.glob("*/"):
        index = next((folder / name for name in INDEXES if (folder / name).exists()), None)
        try:  # (a copy without its index, left by a process that died writing it: the folder's own time)
            used = index.stat().st_mtime if index else folder.stat().st_mtime
        except OSError:
            continue
        unused = time.time() - used > UNUSED_DAYS * 86400
        if unused and folder != kept:
            freed += sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed, freed


def remove_stale(cache: Path, wanted: dict, changing: tuple[str, ...] = ("files",)) -> int:
    """Delete the copies of this very data read the same way but from files since changed (their identity
    differs only in the `changing` keys); their count. (A process still reading one keeps its pages: the
    file goes when the last reader closes it.)"""
    removed = 0
    same = {k: v for k, v in wanted.items() if k not in changing}
    for folder in cache.glob("*/"):
        index = next((folder / name for name in INDEXES if (folder / name).is_file()), None)
        try:
            old = files.read_json(index).get("identity", {}) if index else {}
        except (OSError, ValueError, AttributeError):
            continue
        if {k: v for k, v in old.items() if k not in changing} == same and \
                any(old.get(k) != wanted[k] for k in changing):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def mark_used(index: Path) -> None:
    """A copy read now: its index's time says so (it is not deleted as unused)."""
    try:
        os.utime(index)
    except OSError:
        pass  # (a read-only runs folder)


def obtain(runs_dir: Path, wanted: dict, changing: tuple[str, ...], read, make, keep, note, said: tuple[str, str]):
    """(the data, how: "read" back, "kept" now, or "made" and not kept): read back from its copy in
    `runs_dir` (`read(folder, wanted)` → (data or None, why not)), or made now (`make()`) and kept
    (`keep(folder, data, wanted)` → why not, or None). `note(text)` is told: `said[0]` (with `{folder}`)
    when the copy is read, `said[1]` when the files changed since (the stale copy is deleted), and every
    why-not."""
    folder = folder_of(runs_dir, wanted)
    data, why = read(folder, wanted)
    if data is not None:
        note(said[0].format(folder=folder))
        return data, "read"
    if why:
        note(why)
    data = make()
    if remove_stale(Path(runs_dir) / CACHE_DIR, wanted, changing):
        note(said[1])
    why = keep(folder, data, wanted)
    if why:
        note(why)
    return data, "made" if why else "kept"

