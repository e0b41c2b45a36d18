"""New data read as a finished run read its training data (`read_inputs`): a CSV's columns turned into
numbers with the training rows' statistics, images decoded to the run's image size, arrays standardized
with the training mean and deviation. Nothing is re-fitted on the new data. What the run did is its
`Preparation` (`preprocessing.json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.data.csvfile import check_file, tidy
from nnlab.data.preparation import ArrayPrep, ImagePrep, NumericColumn, Preparation, TablePrep, Target
from nnlab.errors import DataError, web_address, web_address_message
from nnlab.spec.schema import IMAGE_FORMATS


@dataclass
class Inputs:
    """New data as the model takes it, with what identifies each row and its labels if it has them."""

    x: np.ndarray
    ids: list[str]  # a file name, or a 1-based row number
    id_name: str  # "file" or "row"
    y: np.ndarray | dict | None = None  # labels, encoded as in training (several targets: a dict of them)
    notes: list[str] = field(default_factory=list)
    unread: dict[int, str] = field(default_factory=dict)  # images: the rows without one, and why
    frame: object = None  # a table's rows as read (a pandas DataFrame): `evaluate --by` groups them


def read_inputs(path, preparation: Preparation, labelled: bool, label: str | None = None) -> Inputs:
    """New data prepared as the run prepared its training data. `labelled`: the data must carry
    labels (a CSV's target column, class subfolders, an .npz's y), as for `evaluate`. From Python,
    `path` may also be a pandas DataFrame (rows as a CSV run reads them) or arrays (x, or {"x", "y"}).
    An image run also takes a CSV that lists image files; `label` names its column of classes."""
    from nnlab.data.imagelist import is_image_list

    source = preparation.source
    if label is not None and not (isinstance(source, ImagePrep) and isinstance(path, (str, Path))
                                  and is_image_list(Path(path))):
        raise DataError("--label names the column of classes in a CSV that lists image files, for a run trained "
                        "on an image folder; leave it out here")
    if _is_frame(path):
        if not isinstance(source, TablePrep):
            raise DataError("This run was not trained on a table of columns; give it arrays (x) or a file, "
                            "not a DataFrame")
        frame = tidy(path.reset_index(drop=True), source.na_values)  # (as training tidied it)
        return _frame_inputs(frame, preparation, labelled, "the DataFrame")
    if isinstance(path, (np.ndarray, dict)):
        if not isinstance(source, ArrayPrep):
            raise DataError("This run reads " + ("images from files; give a folder or an image file" if
                            isinstance(source, ImagePrep) else "a table of columns; give a DataFrame or a CSV file")
                            + ", not arrays")
        return _array_inputs(path if isinstance(path, dict) else {"x": path}, preparation, labelled, "the arrays")
    if web_address(path):
        raise DataError(web_address_message(web_address(path)))
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data not found: {path}")
    if not path.is_dir():
        check_file(path, "give a data file or a folder")
    if isinstance(source, ImagePrep):
        return _read_images(path, preparation, source, labelled, label)
    if path.suffix.lower() == ".npz":
        return _read_npz(path, preparation, labelled)
    if isinstance(source, TablePrep):
        from nnlab.data.tabular import read_csv

        frame = read_csv(path, source.na_values, numbers=True, text_columns=_text_columns(source))
        return _frame_inputs(frame, preparation, labelled, path)
    what = "image arrays" if preparation.pixels else "arrays"
    shape = "×".join(str(n) for n in preparation.input_shape)
    raise DataError(f"This run was trained on {what} ({shape} per example); give new data as an .npz file with "
                    f"an array x of that shape{' and the labels as y' if labelled else ''}, not {path.name}")


def _text_columns(table: TablePrep) -> list[str]:
    """The columns new rows must be read as text for: categories and dates, numbers written with a decimal
    comma or a thousands point, and those of runs that kept no format (read as their values say); the
    other columns' plain numbers are read at once (`csvfile.parse`), as the training rows' were."""
    plain = [c.name for c in table.columns if isinstance(c, NumericColumn) and c.format is not None
             and c.format.decimal == "." and c.format.thousands != "."]
    return [c.name for c in table.columns if c.name not in plain]


def encode_labels(values, target: Target, where: str, codes: bool = False) -> np.ndarray:
    """A target's values in new data as training encoded them: numbers for regression, class indices
    (matched as `tabular.label_key` matches them, an exact name first). `codes`: arrays, whose labels may
    be class indices 0, 1, … although their classes have names (a bundled set's: iris's setosa, …)."""
    if target.task == "regression":
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{where}: the target values must be numbers for a regression run") from None
    from nnlab.data.tabular import label_key

    names = [str(c) for c in target.class_names]
    exact = {name: i for i, name in enumerate(names)}  # (first: image folders may differ only in case)
    lookup = {label_key(name): i for i, name in reversed(list(enumerate(names)))}
    if codes and not any(name.lstrip("-").isdigit() for name in names):
        lookup.update({str(i): i for i in range(len(names))})
    encoded, unknown = [], set()
    for value in values:
        text = str(value).strip()
        index = exact.get(text, lookup.get(label_key(text)))
        if index is None:
            unknown.add(text)
        encoded.append(-1 if index is None else index)
    if unknown:
        raise DataError(f"{where}: labels the run never saw: {', '.join(sorted(unknown)[:5])}; its classes are "
                        f"{', '.join(names)}")
    return np.asarray(encoded, np.int64)


def _is_frame(value) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def _frame_inputs(frame, preparation: Preparation, labelled: bool, path) -> Inputs:
    """Rows of a tidied table (a CSV file's, or a DataFrame from Python) as the model takes them."""
    from nnlab.data.tabular import apply_preprocessing, as_numbers, find_column

    path = Path(path)
    table = preparation.table
    y = None
    if labelled:
        labels = {}
        for target in preparation.outputs():
            name = target.name or table.target
            if not any(c.lower() == str(name).lower() for c in frame.columns):
                raise DataError(f"{path.name} has no target column {name!r}: evaluate needs the true values")
            column = find_column(frame, name, "target", path)
            if frame[column].isna().any():
                raise DataError(f"{path.name}: {int(frame[column].isna().sum())} row(s) have no {name!r} value")
            converted = as_numbers(frame[column])  # numbers written as text ("$1,234", "3,5")
            values = converted[0] if converted is not None and not converted[1] else frame[column]
            labels[target.name] = encode_labels(values.tolist(), target, path.name)
        y = labels[None] if None in labels else labels
    x = apply_preprocessing(table.columns, frame)
    if preparation.pixels:  # (data.image_shape: each row the pixels of an image)
        x = x.reshape((len(x), *preparation.input_shape))
    return Inputs(x, [str(i + 1) for i in range(len(frame))], "row", y, frame=frame)


def _read_npz(path: Path, preparation: Preparation, labelled: bool) -> Inputs:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = dict(arrays)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {path} as a NumPy .npz file: {exc}") from None
    return _array_inputs(found, preparation, labelled, path)


def _array_inputs(found: dict, preparation: Preparation, labelled: bool, path) -> Inputs:
    """Arrays (an .npz file's, or given from Python): x, and y for labels."""
    path = Path(path)
    if "x" not in found:
        raise DataError(f"{path.name} needs an array named x; it has {', '.join(found) or 'none'}")
    x = np.asarray(found["x"], np.float32)
    shape = tuple(preparation.input_shape)
    if x.ndim == 3 and len(shape) == 3:
        x = x[..., None]
    if tuple(x.shape[1:]) != shape:
        raise DataError(f"{path.name}: x has shape {x.shape[1:]} per example; the run was trained on {shape}")
    source = preparation.source
    if isinstance(source, ArrayPrep) and source.mean is not None:
        x = (x - np.asarray(source.mean, np.float32)) / np.asarray(source.std, np.float32)
    y = None
    if labelled:
        if "y" not in found:
            raise DataError(f"{path.name} has no y array: evaluate needs the true values")
        y = encode_labels(np.asarray(found["y"]).ravel().tolist(), preparation.outputs()[0], path.name,
                          codes=isinstance(source, ArrayPrep))
    return Inputs(x, [str(i + 1) for i in range(len(x))], "row", y)


def _read_images(path: Path, preparation: Preparation, images: ImagePrep, labelled: bool,
                 label: str | None = None) -> Inputs:
    from nnlab.data.imagelist import is_image_list, read_image_list
    from nnlab.data.images import class_folders, is_image_file, list_image_files

    names = [str(c) for c in preparation.class_names]
    if is_image_list(path):
        listed = read_image_list(path, preparation.class_names if labelled else None, label)
        y = encode_labels(listed.labels, preparation.outputs()[0], path.name) if labelled else None
        return _decode_inputs(listed.files, listed.ids, listed.id_name, y, images, path, listed.notes)
    if path.is_file():
        if not is_image_file(path):
            raise DataError(f"{path.name} is not an image ({', '.join(IMAGE_FORMATS)}): this run was trained on "
                            "images; give a folder of images, a folder with class subfolders, one image, or a "
                            "CSV that lists image files")
        if labelled:
            raise DataError(f"{path.name} is one image without a label: evaluate needs a folder with one subfolder "
                            "of images per class, or a CSV that lists image files with their classes")
        return _decode_inputs([path], [path.name], "file", None, images, path, [])
    flat, _ = list_image_files(path) if not labelled else ([], 0)
    direct = [p for p in flat if p.parent == path]
    if direct and not labelled:  # a flat folder of images, in name order
        return _decode_inputs(direct, [str(f.relative_to(path)) for f in direct], "file", None, images, path, [])
    files, labels = [], []
    for sub in class_folders(path):
        if sub.name not in names:
            raise DataError(f"{path}: the class folder {sub.name!r} is not one of the run's classes "
                            f"({', '.join(names)})")
        found, _ = list_image_files(sub)
        files += found
        labels += [names.index(sub.name)] * len(found)
    y = np.asarray(labels, np.int64) if labelled else None
    return _decode_inputs(files, [str(f.relative_to(path)) for f in files], "file", y, images, path, [])


def _decode_inputs(files: list[Path], ids: list[str], id_name: str, y, images: ImagePrep, path: Path,
                   notes: list[str]) -> Inputs:
    """The images decoded to the run's size; a file that cannot be read fails `evaluate` (its label would
    be scored against a black image) and gets a row saying so from `predict`."""
    from nnlab.data.images import decode_files, skipped_examples

    if not files:
        raise DataError(f"No images ({', '.join(IMAGE_FORMATS)}) in {path}")
    decoded, ok, unread = decode_files(files, tuple(images.image_size), images.color_mode)
    if not ok.any():
        raise DataError(f"No image in {path} could be decoded ({len(files)} file(s), "
                        f"{skipped_examples(files, unread)})")
    unread = {i: why if why == "image file not found" else f"could not decode the image: {why}"
              for i, why in unread.items()}
    if unread:
        if y is not None:
            raise DataError(f"{len(unread)} image(s) could not be read ({skipped_examples(files, unread)})")
        notes.append(f"{len(unread)} image(s) could not be read ({skipped_examples(files, unread)}); their rows say so")
    return Inputs(decoded, ids, id_name, y, notes, unread)
