"""Image folders: one subfolder per class, decoded once per run into a uint8 array.

Decoding uses Pillow in a thread pool (Pillow releases the GIL while decoding), so reading a folder
never imports TensorFlow. Corrupt, empty and non-image files are skipped and counted, not fatal,
while the rest of the folder is usable.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.data.dataset import Dataset
from nnlab.data.preparation import ImagePrep
from nnlab.data.splits import random_split as split
from nnlab.errors import DataError, first_line
from nnlab.spec.schema import IMAGE_FORMATS, ImageData

MAX_ARRAY_BYTES = 8 * 1024**3  # refuse to decode a folder into more memory than this


@dataclass
class ImageFolder:
    images: np.ndarray  # (n, height, width, channels) uint8
    labels: np.ndarray  # (n,) class indices
    class_names: list[str]
    files: list[str]
    notes: list[str] = field(default_factory=list)


# The first bytes of each image format nnlab reads, for files whose name does not say what they are.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
               b"P1", b"P2", b"P3", b"P4", b"P5", b"P6")


def is_image_file(path: Path) -> bool:
    """An image by its name (`IMAGE_FORMATS`), or by its content (a JPEG saved as `photo.dat`). Never a
    device or a pipe (reading one would not end), nor a link to one."""
    if not path.is_file():
        return False
    if path.suffix.lower() in IMAGE_FORMATS:
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def list_image_files(folder: Path) -> tuple[list[Path], int]:
    """Image files below a folder (sorted), and how many other files were found there."""
    images, others = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        for name in dirs:
            _refuse_nnlab_folder(folder, Path(root) / name)
        for name in sorted(files):
            if name.startswith("."):
                continue
            if is_image_file(Path(root) / name):
                images.append(Path(root) / name)
            else:
                others += 1
    return images, others


def _hidden(name: str) -> bool:
    """Folders that are never data: hidden ones (.ipynb_checkpoints) and the __MACOSX folder of a zip
    made on a Mac (its `._` files are metadata)."""
    return name.startswith(".") or name == "__MACOSX"


# What nnlab writes, by name: a run folder's summary, a runs folder's cache of decoded images, plot's pictures
_RUN_FILE, _CACHE, _PLOTS = "summary.json", ".decoded", {"learning_curves.png", "optimization_history.png"}


def _refuse_nnlab_folder(data: Path, folder: Path) -> None:
    """A DataError when `folder`, inside the image folder `data`, is one nnlab wrote (a run folder, a
    folder of runs, plot's pictures): its files are not images of a class, and a class named after it
    would train the model on nnlab's own output."""
    try:
        names = {p.name for p in folder.iterdir()}
        runs = names & {_CACHE} or {n for n in names if (folder / n / _RUN_FILE).is_file()}
    except OSError:
        return
    what = ("a run folder" if _RUN_FILE in names and ("trials.csv" in names or "spec.yaml" in names)
            else "a folder of runs" if runs else "nnlab's plots" if _PLOTS <= names else None)
    if what:
        raise DataError(f"{folder} is {what} that nnlab wrote inside the image folder {data}; an image folder holds "
                        f"only the data (one subfolder per class). Move it out (e.g. mv {folder} .), and give "
                        "`--runs-dir` or `--output` a folder outside the data")


def class_folders(folder: Path) -> list[Path]:
    if not folder.exists():
        raise DataError(f"Image folder not found: {folder}")
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; `source: images` needs a folder with one subfolder per class")
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not _hidden(p.name))
    if not subfolders:
        loose, _ = list_image_files(folder)
        found = f"{len(loose)} image(s) directly inside it" if loose else "no subfolders"
        raise DataError(
            f"The image folder {folder} has {found}: put the images of each class in a subfolder named "
            f"after the class ({folder}/cat/…, {folder}/dog/…)"
        )
    for sub in subfolders:
        _refuse_nnlab_folder(folder, sub)
    _check_not_a_level_too_high(folder, subfolders)
    return subfolders


# The parts a data set comes in (GTSRB: Train/, Test/, Meta/), which are never its classes
_PART_NAMES = {"train", "training", "test", "testing", "val", "valid", "validation", "holdout", "meta"}


def _check_not_a_level_too_high(folder: Path, subfolders: list[Path]) -> None:
    """A folder of the data set's parts (gtsrb/ with Train/0/…, Test/, Meta/) is refused, naming the
    folder of classes inside it: read as classes, its parts would be a silent misreading."""
    for sub in subfolders:
        if sub.name.lower() not in _PART_NAMES:
            continue
        inner = sorted(p.name for p in sub.iterdir() if p.is_dir() and not _hidden(p.name))
        if len(inner) >= 2:
            shown = ", ".join(inner[:5]) + (", …" if len(inner) > 5 else "")
            raise DataError(f"{folder}'s subfolders ({', '.join(p.name for p in subfolders)}) are the data set's "
                            f"parts, not classes: {sub.name}/ has its own class folders ({shown}). Give the folder "
                            f"of classes, {sub}")


def read_image_folder(
    folder: Path, image_size: tuple[int, int], color_mode: str, class_names: list[str] | None = None
) -> ImageFolder:
    """Decode every image of a class-per-subfolder tree to `image_size`; skip and count bad files.

    `class_names` (from the training folder) fixes the label order of a validation folder.
    """
    subfolders = class_folders(folder)
    found = [p.name for p in subfolders]
    names = class_names or found
    if class_names is not None:
        unknown = sorted(set(found) - set(class_names))
        if unknown:
            raise DataError(f"{folder} has classes the training folder lacks: {', '.join(unknown)}")
    elif len(found) < 2:
        raise DataError(f"The image folder {folder} has one class subfolder ({found[0]}); a classifier needs two or "
                        "more")
    files, labels, others = [], [], 0
    for sub in subfolders:
        paths, n_other = list_image_files(sub)
        others += n_other
        if not paths:
            raise DataError(f"The class folder {sub} holds no images ({', '.join(IMAGE_FORMATS)})")
        files += paths
        labels += [names.index(sub.name)] * len(paths)
    height, width = image_size
    channels = 3 if color_mode == "rgb" else 1
    size = len(files) * height * width * channels
    if size > MAX_ARRAY_BYTES:
        raise DataError(
            f"{len(files)} images of {height}×{width}×{channels} need {size / 1024**3:.1f} GiB in memory; "
            "use a smaller data.image_size"
        )
    images, ok, reasons = decode_files(files, image_size, color_mode)
    notes = []
    bad = int((~ok).sum())
    if bad == len(files):
        first = next(iter(reasons))
        raise DataError(f"None of the {len(files)} image files in {folder} could be decoded (e.g. {files[first]}: "
                        f"{reasons[first]})")
    if bad:
        notes.append(f"{bad} image file(s) could not be decoded and were skipped ({skipped_examples(files, reasons)})")
    if others:
        notes.append(f"{others} file(s) in {folder} that are not images were ignored")
    keep = np.flatnonzero(ok)
    return ImageFolder(
        images[keep], np.asarray(labels, np.int64)[keep], list(names),
        [str(files[i]) for i in keep], notes,
    )


def decode_files(files: list[Path], image_size: tuple[int, int], color_mode: str) -> tuple[np.ndarray, np.ndarray,
                                                                                           dict[int, str]]:
    """(images, ok, reasons): every file decoded to `image_size` (height, width) as uint8, in order;
    `ok[i]` is False where file i could not be decoded (its image is left black), `reasons[i]` why."""
    from PIL import Image

    # Pillow warns of an image over MAX_IMAGE_PIXELS (and refuses one over twice that); nnlab refuses
    # both, with the reason, so the warning would only repeat it.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    height, width = image_size
    channels = 3 if color_mode == "rgb" else 1
    images = np.zeros((len(files), height, width, channels), np.uint8)
    ok = np.zeros(len(files), bool)
    reasons: dict[int, str] = {}

    def decode(i: int) -> None:
        pixels = _decode(files[i], (width, height), color_mode)
        if isinstance(pixels, str):
            reasons[i] = pixels
        else:
            images[i] = pixels
            ok[i] = True

    # One thread per core: more only contend for the GIL (2 cores: 1,440 images/s with 2 threads, 1,000 with 8);
    # a local worker's share of the cores where nnlab set it (OMP_NUM_THREADS, see distributed.gpus.worker_env)
    with ThreadPoolExecutor(max_workers=decode_threads()) as pool:
        list(pool.map(decode, range(len(files))))
    return images, ok, dict(sorted(reasons.items()))


def skipped_examples(files: list[Path], reasons: dict[int, str], most: int = 2) -> str:
    """'e.g. a.png: truncated; b.png: …' for a note about files that could not be decoded."""
    shown = [f"{files[i].name}: {why}" for i, why in list(reasons.items())[:most]]
    return "e.g. " + "; ".join(shown) + ("; …" if len(reasons) > most else "")


def decode_threads() -> int:
    """Decoding threads: this process's share of the cores (OMP_NUM_THREADS when set), at most 16."""
    share = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(16, int(share) if share.isdigit() and int(share) > 0 else os.cpu_count() or 2))


def _decode(path: Path, size: tuple[int, int], color_mode: str) -> np.ndarray | str:
    """The image's pixels at `size` (width, height), or why it cannot be decoded."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    mode = "RGB" if color_mode == "rgb" else "L"
    try:
        with Image.open(path) as img:
            pixels = img.size[0] * img.size[1]
            if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
                return (f"{img.size[0]}×{img.size[1]} pixels, over the {Image.MAX_IMAGE_PIXELS:,} an image may "
                        "have (a decompression bomb, or a scan far larger than a model takes)")
            img.draft(mode, size)  # JPEG: decode at a reduced scale no smaller than `size` (much faster)
            if "exif" in img.info or img.format not in ("JPEG", "PNG"):  # (a copy otherwise: skip it)
                img = ImageOps.exif_transpose(img)  # phone photos: apply the recorded rotation
            img = img.convert(mode)
            if img.size != size:
                img = img.resize(size, Image.BILINEAR)
            pixels = np.asarray(img, np.uint8)
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except Image.DecompressionBombError:
        return f"over twice the {Image.MAX_IMAGE_PIXELS:,} pixels an image may have (a decompression bomb)"
    except FileNotFoundError:
        return "image file not found"
    except (OSError, ValueError) as exc:
        return first_line(exc, 120).rstrip(".")
    return pixels if pixels.ndim == 3 else pixels[:, :, None]


@dataclass
class Decoded:
    """An image set decoded and split: pixels (uint8, in memory or memory-mapped), labels, the classes
    and the reading's notes. What the run folder's copy of decoded images holds (`runs.imagecache`)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    class_names: list[str]
    notes: list[str]


def decode_split(data: ImageData, seed: int) -> Decoded:
    """The image folder a spec names, decoded and split into training and validation images (by class
    where possible; `data.validation_path`'s images when given)."""
    folder = read_image_folder(data.path, data.image_size, data.color_mode)
    notes = list(folder.notes)
    if data.validation_path is not None:
        val = read_image_folder(data.validation_path, data.image_size, data.color_mode, folder.class_names)
        notes += val.notes
        return Decoded(folder.images, folder.labels, val.images, val.labels, folder.class_names, notes)
    train_idx, val_idx = split(folder.labels, "classification", data.validation_split, seed, notes)
    return Decoded(folder.images[train_idx], folder.labels[train_idx], folder.images[val_idx],
                   folder.labels[val_idx], folder.class_names, notes)


def load_images(data: ImageData, seed: int, decoded: Decoded | None = None) -> Dataset:
    """The image folder a spec names as a Dataset: `decoded` (read back from a run folder), or decoded now."""
    decoded = decoded or decode_split(data, seed)
    return Dataset(decoded.x_train, decoded.y_train, decoded.x_val, decoded.y_val, "classification", "images",
                   f"images {data.path.name}/", list(decoded.class_names), rescale=1 / 255,
                   source=ImagePrep(tuple(data.image_size), data.color_mode), notes=list(decoded.notes))
