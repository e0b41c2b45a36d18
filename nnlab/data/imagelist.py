"""A CSV that lists image files, as test sets often come (GTSRB's `Test.csv`: `Path`, `ClassId`, …).

One row per listed image, in the file's order; the paths are relative to the CSV's folder (or
absolute). The column of paths is the one whose values name image files; the column of labels (for
`evaluate`) is the one whose every value is one of the run's classes, or the one the user names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from nnlab.errors import DataError
from nnlab.spec.schema import IMAGE_FORMATS

# Column names that say "the label" when several columns could be (GTSRB's ClassId beside Roi.X1, …)
_LABEL_NAMES = re.compile(r"^(labels?|class(es)?|class_?ids?|classnames?|categor(y|ies)|targets?|y)$")


@dataclass
class ImageList:
    """The files a CSV lists (in its order), how its rows are named, and its labels' column if asked for."""

    files: list[Path]
    ids: list[str]  # the paths as the CSV writes them
    id_name: str  # the paths' column
    labels: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def is_image_list(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt")


def read_image_list(path: Path, class_names: list[str] | None, label: str | None = None) -> ImageList:
    """The images `path` lists. `class_names`: the run's classes, when the labels are wanted (evaluate);
    `label`: the labels' column, when the user names it."""
    from nnlab.data.csvfile import read_table

    notes: list[str] = []
    frame = read_table(path, notes=notes)
    column = _path_column(frame, path)
    ids = [str(v) for v in frame[column]]
    files = [_file(path.parent, v) for v in ids]
    found = sum(f.is_file() for f in files)
    if not found:
        raise DataError(f"{path.name}: none of the {len(files)} files in its column {column!r} exists (e.g. "
                        f"{files[0]}); the paths are read relative to the CSV's folder, {path.parent}")
    notes.append(f"{len(files):,} images listed in {path.name}'s column {column!r}, in its order (paths relative "
                 f"to {path.parent})" + (f"; {len(files) - found:,} of them not found" if found < len(files) else ""))
    out = ImageList(files, ids, column, notes=notes)
    if class_names is not None:
        if found < len(files):
            missing = next(f for f in files if not f.is_file())
            raise DataError(f"{path.name}: {len(files) - found:,} listed image(s) not found, e.g. {missing}")
        labels = _label_column(frame, column, class_names, label, path)
        out.labels = [str(v) for v in frame[labels]]
        if label is None:
            notes.append(f"labels from {path.name}'s column {labels!r} (--label COLUMN to choose another)")
    return out


def _file(folder: Path, written: str) -> Path:
    """A listed path as a file here: relative to the list's folder, Windows' backslashes read as folders."""
    local = Path(written.replace("\\", "/")) if "\\" in written and not Path(written).exists() else Path(written)
    return local if local.is_absolute() else folder / local


def _path_column(frame, path: Path) -> str:
    """The column whose values (nearly all) name image files."""
    def share(column) -> float:
        values = frame[column].dropna()
        return sum(str(v).lower().endswith(IMAGE_FORMATS) for v in values) / max(len(values), 1)

    best = max(frame.columns, key=share)
    if share(best) < 0.9 or frame[best].isna().any():
        raise DataError(f"{path.name} does not list image files: this run was trained on images, so a CSV for it "
                        f"needs a column of image file paths ({', '.join(IMAGE_FORMATS)}) relative to the CSV's "
                        "folder, one per row; or give a folder of images")
    return best


def _label_column(frame, paths: str, class_names: list[str], label: str | None, path: Path) -> str:
    """The column of labels: the one named `label`, or the one whose every value is a class name (a
    label-like name breaking a tie)."""
    from nnlab.data.tabular import label_key

    if label is not None:
        matches = [c for c in frame.columns if c.lower() == label.lower()]
        if not matches:
            raise DataError(f"--label {label}: {path.name} has no such column; its columns are "
                            f"{', '.join(map(str, frame.columns))}")
        return matches[0]
    names = {label_key(c) for c in class_names}
    candidates = [c for c in frame.columns if c != paths and frame[c].notna().all()
                  and all(label_key(v) in names for v in frame[c])]
    if len(candidates) > 1:
        named = [c for c in candidates if _LABEL_NAMES.match(re.sub(r"[\s.-]", "", c.lower()))]
        candidates = named if len(named) == 1 else candidates
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(f"{path.name} has no column of labels: evaluate needs each image's class, one of "
                        f"{', '.join(map(str, class_names))}; name the column with --label COLUMN")
    raise DataError(f"{path.name}: the columns {', '.join(map(repr, candidates))} could each be the labels "
                    "(every value is one of the run's classes); say which with --label COLUMN")
