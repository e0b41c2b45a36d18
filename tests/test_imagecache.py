"""Decoded images kept beside the runs (`runs/.decoded/`): decoded once, memory-mapped afterwards,
decoded again when the files change, never written when the disk is short or the spec says not to."""

from __future__ import annotations

import os
import time
from collections import namedtuple

import numpy as np

from nnlab.data.images import decode_split
from nnlab.runs import imagecache
from nnlab.spec.loader import load_spec, spec_hash


def _spec(write, folder, *sets):
    path = write("spec.yaml", f"data: {{source: images, path: {folder}, image_size: [8, 8]}}\nmodel: {{kind: cnn}}\n")
    return load_spec(path, list(sets))


def test_images_are_decoded_once_then_memory_mapped(write, tmp_path, image_folder):
    spec = _spec(write, image_folder(5, ("a", "b")))
    notes = []
    first = imagecache.obtain(spec.data, spec.seed, tmp_path / "runs", notes.append)
    assert isinstance(first.x_train, np.memmap)  # kept, then read back: no copy held
    (copy,) = (tmp_path / "runs" / ".decoded").iterdir()
    assert notes == [f"decoded images kept in {copy} (0 MiB): later loads of these images read them instead of "
                     "decoding (data.keep_decoded: false to keep none)"]
    notes.clear()
    assert sorted(p.name for p in copy.iterdir()) == ["images.json", "x_train.npy", "x_val.npy"]
    again = imagecache.obtain(spec.data, spec.seed, tmp_path / "runs", notes.append)
    assert isinstance(again.x_val, np.memmap) and "read from" in notes[0]
    fresh = decode_split(spec.data, spec.seed)
    for got, want in ((again.x_train, fresh.x_train), (again.x_val, fresh.x_val), (again.y_train, fresh.y_train),
                      (again.y_val, fresh.y_val)):
        assert np.array_equal(got, want)
    assert again.class_names == fresh.class_names == ["a", "b"]


def test_a_changed_file_is_decoded_again_and_the_stale_copy_removed(write, tmp_path, image_folder):
    folder = image_folder(5, ("a", "b"))
    spec = _spec(write, folder)
    runs = tmp_path / "runs"
    imagecache.obtain(spec.data, spec.seed, runs, print)
    (folder / "a" / "0.png").write_bytes((folder / "b" / "0.png").read_bytes())  # an image replaced
    os.utime(folder / "a" / "0.png", ns=(1, 1))
    notes = []
    imagecache.obtain(spec.data, spec.seed, runs, notes.append)
    assert notes[0] == f"the images in {folder} changed since they were last decoded: decoded again"
    assert len(notes) == 2 and len(list((runs / ".decoded").iterdir())) == 1
    other = _spec(write, folder, "data.image_size=[6, 6]")  # another reading of the same folder: kept beside
    imagecache.obtain(other.data, other.seed, runs, notes.append)
    assert len(list((runs / ".decoded").iterdir())) == 2


def test_copies_unused_for_a_month_are_deleted_when_another_is_written(write, tmp_path, image_folder):
    folder = image_folder(5, ("a", "b"))
    runs = tmp_path / "runs"
    old, recent = (_spec(write, folder, f"data.image_size=[{n}, {n}]") for n in (6, 7))
    imagecache.obtain(old.data, old.seed, runs, print)
    imagecache.obtain(recent.data, recent.seed, runs, print)
    (half_written := runs / ".decoded" / "0123456789abcdef").mkdir()  # a process died before its index
    month_ago = time.time() - 31 * 86400
    for copy in (runs / ".decoded").iterdir():
        os.utime(copy / imagecache.INDEX if (copy / imagecache.INDEX).exists() else copy, (month_ago, month_ago))
    imagecache.obtain(recent.data, recent.seed, runs, print)  # read: used now
    notes = []
    spec = _spec(write, folder)
    imagecache.obtain(spec.data, spec.seed, runs, notes.append)  # a new copy: the unused ones go
    assert "2 decoded image copies unused for 30 days deleted" in notes[-1]
    assert len(list((runs / ".decoded").iterdir())) == 2 and not half_written.exists()
    assert isinstance(imagecache.obtain(recent.data, recent.seed, runs, print).x_train, np.memmap)


def test_a_damaged_copy_is_decoded_again(write, tmp_path, image_folder):
    spec = _spec(write, image_folder(5, ("a", "b")))
    runs = tmp_path / "runs"
    imagecache.obtain(spec.data, spec.seed, runs, print)
    (copy,) = (runs / ".decoded").iterdir()
    (copy / "x_val.npy").write_bytes(b"not an array")
    notes = []
    decoded = imagecache.obtain(spec.data, spec.seed, runs, notes.append)
    assert "could not be read" in notes[0] and len(decoded.x_val) == 2
    assert isinstance(imagecache.obtain(spec.data, spec.seed, runs, notes.append).x_val, np.memmap)  # rewritten


def test_no_copy_when_the_spec_says_so_or_the_disk_is_short(write, tmp_path, image_folder, monkeypatch):
    folder = image_folder(5, ("a", "b"))
    off = _spec(write, folder, "data.keep_decoded=false")
    assert spec_hash(off) == spec_hash(_spec(write, folder))  # how the images are held is not what is searched
    decoded = imagecache.obtain(off.data, off.seed, tmp_path / "runs", print)
    assert not isinstance(decoded.x_train, np.memmap) and not (tmp_path / "runs").exists()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(imagecache.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    notes = []
    spec = _spec(write, folder)
    decoded = imagecache.obtain(spec.data, spec.seed, tmp_path / "runs", notes.append)
    assert not isinstance(decoded.x_train, np.memmap)
    assert "are not kept" in notes[0] and "0 MiB free" in notes[0]
    assert not (tmp_path / "runs").exists()


def test_the_space_left_free_grows_with_the_copy_up_to_one_gib():
    mib = 1024**2
    assert imagecache.spare_bytes(10_000) == 64 * mib  # a small set is kept on a nearly full disk
    assert imagecache.spare_bytes(300 * mib) == 300 * mib
    assert imagecache.spare_bytes(8 * 1024 * mib) == 1024 * mib  # a large one leaves room for the run


def test_decoding_uses_the_processes_share_of_the_cores(monkeypatch):
    from nnlab.data.images import decode_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # (what a local worker's environment says)
    assert decode_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert decode_threads() == min(16, os.cpu_count() or 2)


def test_a_runs_folder_that_cannot_be_written_keeps_the_images_in_memory(write, tmp_path, image_folder):
    spec = _spec(write, image_folder(5, ("a", "b")))
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / ".decoded").write_text("a file where the folder would go")  # (as a read-only folder fails)
    notes = []
    decoded = imagecache.obtain(spec.data, spec.seed, runs, notes.append)
    assert not isinstance(decoded.x_train, np.memmap) and len(decoded.x_train) == 8
    assert "could not be kept" in notes[0]
