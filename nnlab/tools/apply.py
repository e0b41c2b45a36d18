"""A finished run used on new data: its model (the best, or a chosen trial's), its own preprocessing
(`preprocessing.json`), predictions and metrics on labelled data (export for serving: `tools.export`).

New data goes through exactly what the training data went through: a CSV's columns are turned into
numbers with the training rows' statistics, images are decoded to the run's image size, arrays are
standardized with the training mean and deviation. Nothing is re-fitted on the new data.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.data.csvfile import check_file
from nnlab.errors import DataError, RunError, web_address, web_address_message
from nnlab.runs import files
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import Summary
from nnlab.scores import score_predictions
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


@dataclass
class FinishedRun:
    """A run folder opened to be applied: its summary and how it prepared its data."""

    folder: RunFolder
    summary: Summary
    preprocessing: dict

    @property
    def task(self) -> str:
        return self.preprocessing.get("task", "")


def open_run(run_dir: str | Path) -> FinishedRun:
    """A finished run, or a clear error."""
    folder = RunFolder(run_dir).require()
    try:
        summary = files.read_summary(folder.summary_path)
    except (OSError, ValueError, TypeError) as exc:
        raise RunError(f"{folder.path} is damaged: {exc}") from None
    return FinishedRun(folder, summary, folder.preprocessing())


def load_model(run: FinishedRun, trial_id: str | None = None):
    """The run's model (best.keras: with search.refit, the best configuration refitted on every training
    row; with search.ensemble, the top configurations averaged), or the model of trial `trial_id` as its
    search trained it, rebuilt from its hyperparameters and checkpoint (kept for every trial with
    `search.keep: all`, and for the best). Either predicts in
    inference mode however it is called (see `models.inference_model`)."""
    from nnlab.engine.backend import configure_device, import_keras
    from nnlab.engine.modelfiles import load_keras_file, load_weights
    from nnlab.engine.models import inference_model

    configure_device("auto")  # (as every command that uses TensorFlow: memory growth on GPUs, before any model)
    keras = import_keras()
    folder = run.folder
    summary = run.summary
    if trial_id is None or (trial_id == summary.best_model_trial and not summary.refit and not summary.ensemble):
        if not folder.best_model_path.exists() and not folder.best_model_path.is_symlink():
            raise RunError(f"{folder.path} has no {folder.best_model_path.name}: no trial of this run completed")
        # (runs made before nnlab 0.2 kept their augmentation layers in best.keras)
        return inference_model(load_keras_file(folder.best_model_path, "the run's model"))
    trial_id = str(trial_id)
    if not folder.trial_state_path(trial_id).is_file():
        known = ", ".join(folder.trial_ids_on_disk())
        raise RunError(f"{folder.path} has no trial {trial_id!r}; its trials: {known or 'none'}")
    if not folder.checkpoint_path(trial_id).is_file():
        raise RunError(f"trial {trial_id}'s weights were not kept (search.keep keeps only the best trial's "
                       "unless it is `all`); export the best model without --trial, or re-run with keep: all")
    from nnlab.data.rules import TargetTransform
    from nnlab.engine.kerastuner import load_trial
    from nnlab.engine.models import DataShape, build_model, in_target_units
    from nnlab.spec.space import sample_params

    spec = folder.spec()
    hp = load_trial(folder.trial_state_path(trial_id)).hyperparameters
    pre = run.preprocessing
    shape = DataShape(tuple(pre["input_shape"]), pre["task"], len(pre.get("class_names") or []),
                      rescale=pre.get("rescale", 1 / 255 if pre["type"] == "images" else 1.0),
                      transform=TargetTransform.from_record(pre.get("target_transform")))
    keras.backend.clear_session()
    model = build_model(spec.model.kind, sample_params(hp, spec), shape)
    load_weights(model, folder.checkpoint_path(trial_id), f"trial {trial_id}'s checkpoint")
    return in_target_units(inference_model(model), shape)


# ------------------------------------------------------------------------------------ new data


def read_inputs(path, preprocessing: dict, labelled: bool, label: str | None = None) -> Inputs:
    """New data prepared as the run prepared its training data. `labelled`: the data must carry
    labels (a CSV's target column, class subfolders, an .npz's y), as for `evaluate`. From Python,
    `path` may also be a pandas DataFrame (rows as a CSV run reads them) or arrays (x, or {"x", "y"}).
    An image run also takes a CSV that lists image files; `label` names its column of classes."""
    from nnlab.data.imagelist import is_image_list

    image_run = preprocessing.get("type") == "images" and "image_size" in preprocessing
    if label is not None and not (image_run and isinstance(path, (str, Path)) and is_image_list(Path(path))):
        raise DataError("--label names the column of classes in a CSV that lists image files, for a run trained "
                        "on an image folder; leave it out here")
    if _is_frame(path):
        if "columns" not in preprocessing:
            raise DataError("This run was not trained on a table of columns; give it arrays (x) or a file, "
                            "not a DataFrame")
        from nnlab.data.csvfile import tidy

        frame = tidy(path.reset_index(drop=True), preprocessing.get("na_values", ()))  # (as training tidied it)
        return _frame_inputs(frame, preprocessing, labelled, "the DataFrame")
    if isinstance(path, (np.ndarray, dict)):
        if "columns" in preprocessing or "image_size" in preprocessing:
            raise DataError("This run reads " + ("images from files; give a folder or an image file" if
                            "image_size" in preprocessing else "a table of columns; give a DataFrame or a CSV file")
                            + ", not arrays")
        return _array_inputs(path if isinstance(path, dict) else {"x": path}, preprocessing, labelled, "the arrays")
    if web_address(path):
        raise DataError(web_address_message(web_address(path)))
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data not found: {path}")
    if not path.is_dir():
        check_file(path, "give a data file or a folder")
    if image_run:  # from an image folder
        return _read_images(path, preprocessing, labelled, label)
    if path.suffix.lower() == ".npz":
        return _read_npz(path, preprocessing, labelled)
    if "columns" in preprocessing:
        return _read_csv(path, preprocessing, labelled)
    what = "image arrays" if preprocessing.get("type") == "images" else "arrays"
    shape = "×".join(str(n) for n in preprocessing.get("input_shape", []))
    raise DataError(f"This run was trained on {what} ({shape} per example); give new data as an .npz file with "
                    f"an array x of that shape{' and the labels as y' if labelled else ''}, not {path.name}")


def _encode_labels(values, preprocessing: dict, where: str) -> np.ndarray:
    if preprocessing["task"] == "regression":
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{where}: the target values must be numbers for a regression run") from None
    from nnlab.data.tabular import label_key

    names = [str(c) for c in preprocessing["class_names"]]
    exact = {name: i for i, name in enumerate(names)}  # (first: image folders may differ only in case)
    lookup = {label_key(name): i for i, name in reversed(list(enumerate(names)))}
    arrays = "columns" not in preprocessing and "image_size" not in preprocessing
    if arrays and not any(name.lstrip("-").isdigit() for name in names):
        # a bundled set's classes named by words (iris: setosa, …) over labels coded 0, 1, 2: codes are indices
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


def _read_csv(path: Path, preprocessing: dict, labelled: bool) -> Inputs:
    from nnlab.data.tabular import read_csv

    return _frame_inputs(read_csv(path, preprocessing.get("na_values", ())), preprocessing, labelled, path)


def _frame_inputs(frame, preprocessing: dict, labelled: bool, path) -> Inputs:
    """Rows of a tidied table (a CSV file's, or a DataFrame from Python) as the model takes them."""
    from nnlab.data.tabular import apply_preprocessing, as_numbers, find_column

    path = Path(path)
    y = None
    if labelled:
        labels = {}
        for target in targets_of(preprocessing):
            name = target["name"] or preprocessing.get("target")
            if not any(c.lower() == str(name).lower() for c in frame.columns):
                raise DataError(f"{path.name} has no target column {name!r}: evaluate needs the true values")
            column = find_column(frame, name, "target", path)
            if frame[column].isna().any():
                raise DataError(f"{path.name}: {int(frame[column].isna().sum())} row(s) have no {name!r} value")
            converted = as_numbers(frame[column])  # numbers written as text ("$1,234", "3,5")
            values = converted[0] if converted is not None and not converted[1] else frame[column]
            labels[target["name"]] = _encode_labels(values.tolist(), {**preprocessing, **target}, path.name)
        y = labels[None] if None in labels else labels
    x = apply_preprocessing(preprocessing["columns"], frame)
    return Inputs(x, [str(i + 1) for i in range(len(frame))], "row", y)


def _read_npz(path: Path, preprocessing: dict, labelled: bool) -> Inputs:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = dict(arrays)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {path} as a NumPy .npz file: {exc}") from None
    return _array_inputs(found, preprocessing, labelled, path)


def _array_inputs(found: dict, preprocessing: dict, labelled: bool, path) -> Inputs:
    """Arrays (an .npz file's, or given from Python): x, and y for labels."""
    path = Path(path)
    if "x" not in found:
        raise DataError(f"{path.name} needs an array named x; it has {', '.join(found) or 'none'}")
    x = np.asarray(found["x"], np.float32)
    if x.ndim == 3 and len(preprocessing["input_shape"]) == 3:
        x = x[..., None]
    if tuple(x.shape[1:]) != tuple(preprocessing["input_shape"]):
        raise DataError(f"{path.name}: x has shape {x.shape[1:]} per example; the run was trained on "
                        f"{tuple(preprocessing['input_shape'])}")
    if "mean" in preprocessing:
        x = (x - np.asarray(preprocessing["mean"], np.float32)) / np.asarray(preprocessing["std"], np.float32)
    y = None
    if labelled:
        if "y" not in found:
            raise DataError(f"{path.name} has no y array: evaluate needs the true values")
        y = _encode_labels(np.asarray(found["y"]).ravel().tolist(), preprocessing, path.name)
    return Inputs(x, [str(i + 1) for i in range(len(x))], "row", y)


def _read_images(path: Path, preprocessing: dict, labelled: bool, label: str | None = None) -> Inputs:
    from nnlab.data.imagelist import is_image_list, read_image_list
    from nnlab.data.images import class_folders, is_image_file, list_image_files

    if is_image_list(path):
        listed = read_image_list(path, preprocessing["class_names"] if labelled else None, label)
        y = _encode_labels(listed.labels, preprocessing, path.name) if labelled else None
        return _decode_inputs(listed.files, listed.ids, listed.id_name, y, preprocessing, path, listed.notes)
    if path.is_file():
        if not is_image_file(path):
            raise DataError(f"{path.name} is not an image ({', '.join(IMAGE_FORMATS)}): this run was trained on "
                            "images; give a folder of images, a folder with class subfolders, one image, or a "
                            "CSV that lists image files")
        if labelled:
            raise DataError(f"{path.name} is one image without a label: evaluate needs a folder with one subfolder "
                            "of images per class, or a CSV that lists image files with their classes")
        return _decode_inputs([path], [path.name], "file", None, preprocessing, path, [])
    flat, _ = list_image_files(path) if not labelled else ([], 0)
    direct = [p for p in flat if p.parent == path]
    if direct and not labelled:  # a flat folder of images, in name order
        return _decode_inputs(direct, [str(f.relative_to(path)) for f in direct], "file", None, preprocessing,
                              path, [])
    files, labels = [], []
    names = [str(c) for c in preprocessing["class_names"]]
    for sub in class_folders(path):
        if sub.name not in names:
            raise DataError(f"{path}: the class folder {sub.name!r} is not one of the run's classes "
                            f"({', '.join(names)})")
        found, _ = list_image_files(sub)
        files += found
        labels += [names.index(sub.name)] * len(found)
    y = np.asarray(labels, np.int64) if labelled else None
    return _decode_inputs(files, [str(f.relative_to(path)) for f in files], "file", y, preprocessing, path, [])


def _decode_inputs(files: list[Path], ids: list[str], id_name: str, y, preprocessing: dict, path: Path,
                   notes: list[str]) -> Inputs:
    """The images decoded to the run's size; a file that cannot be read fails `evaluate` (its label would
    be scored against a black image) and gets a row saying so from `predict`."""
    from nnlab.data.images import decode_files, skipped_examples

    if not files:
        raise DataError(f"No images ({', '.join(IMAGE_FORMATS)}) in {path}")
    size, mode = tuple(preprocessing["image_size"]), preprocessing.get("color_mode", "rgb")
    images, ok, unread = decode_files(files, size, mode)
    if not ok.any():
        raise DataError(f"No image in {path} could be decoded ({len(files)} file(s), "
                        f"{skipped_examples(files, unread)})")
    unread = {i: why if why == "image file not found" else f"could not decode the image: {why}"
              for i, why in unread.items()}
    if unread:
        if y is not None:
            raise DataError(f"{len(unread)} image(s) could not be read ({skipped_examples(files, unread)})")
        notes.append(f"{len(unread)} image(s) could not be read ({skipped_examples(files, unread)}); their rows say so")
    return Inputs(images, ids, id_name, y, notes, unread)


# ------------------------------------------------------------------------------------ predictions


def targets_of(preprocessing: dict) -> list[dict]:
    """What the model predicts: one entry per target (name, task, class names, its output's name); a run
    of one target has one entry named None."""
    if "targets" in preprocessing:
        return preprocessing["targets"]
    return [{"name": None, "task": preprocessing["task"], "class_names": preprocessing.get("class_names"),
             "head": None}]


def predict_targets(model, inputs: Inputs, preprocessing: dict) -> list[tuple[dict, list, np.ndarray | None]]:
    """Per target: (the target, predictions in the data's own terms: class names or values, class
    probabilities or None)."""
    from nnlab.engine.pipeline import validation_batch  # (batches as validation's: images capped by pixels)

    raw = model.predict(inputs.x, batch_size=validation_batch(inputs.x), verbose=0)
    out = []
    for target in targets_of(preprocessing):
        values = np.asarray(raw[target["head"]] if isinstance(raw, dict) else raw, np.float64)
        if target["task"] == "regression":
            out.append((target, values[:, 0].tolist(), None))
            continue
        proba = np.concatenate([1 - values, values], axis=1) if values.shape[1] == 1 else values
        out.append((target, [target["class_names"][i] for i in proba.argmax(axis=1)], proba))
    return out


def predict(model, inputs: Inputs, preprocessing: dict) -> tuple[list, np.ndarray | None]:
    """(predictions in the data's own terms: class names or values; class probabilities or None) of a
    run with one target."""
    _, predictions, proba = predict_targets(model, inputs, preprocessing)[0]
    return predictions, proba


def proba_columns(target: dict) -> list[str]:
    """The names of a classification target's probability columns: proba_<class> (one target) or
    proba_<target>_<class> (several)."""
    prefix = f"proba_{target['name']}_" if target["name"] else "proba_"
    return [f"{prefix}{name}" for name in target["class_names"]]


def predictions_csv(inputs: Inputs, predicted: list[tuple[dict, list, np.ndarray | None]], with_proba: bool) -> str:
    """One row per input, in order: its id, then `predictions` (one target) or one column per target
    named after it, then with `with_proba` one probability column per class."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = [inputs.id_name]
    header += [target["name"] or "predictions" for target, _, _ in predicted]
    for target, _, proba in predicted:
        if with_proba and proba is not None:
            header += proba_columns(target)
    writer.writerow(header)
    for i, row_id in enumerate(inputs.ids):
        if i in inputs.unread:
            writer.writerow([row_id, inputs.unread[i]] + [""] * (len(header) - 2))
            continue
        row = [row_id] + [repr(float(v[i])) if t["task"] == "regression" else str(v[i]) for t, v, _ in predicted]
        for _, _, proba in predicted:
            if with_proba and proba is not None:
                row += [f"{p:.6g}" for p in proba[i]]
        writer.writerow(row)
    return out.getvalue()


# ------------------------------------------------------------------------------------ metrics


def evaluate(model, inputs: Inputs, preprocessing: dict) -> dict:
    """Metrics on labelled data: classification accuracy, macro F1, per-class report and confusion
    matrix; regression RMSE, MAE, R² and the share of predictions within 10% of the true value. With
    several targets, those of each target under "targets"."""
    predicted = predict_targets(model, inputs, preprocessing)
    if len(predicted) == 1:
        _, predictions, proba = predicted[0]
        return score_predictions(inputs.y, predictions, proba, preprocessing)
    scores = {t["name"]: score_predictions(inputs.y[t["name"]], predictions, proba, t)
              for t, predictions, proba in predicted}
    return {"task": "several targets", "examples": len(inputs.ids), "targets": scores}
