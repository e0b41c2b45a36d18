"""A finished run used on new data: its model (the best, or a chosen trial's), predictions and
metrics on labelled data. New data is read as the run read its training data by `tools.inputs`;
export for serving is `tools.export`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlab.data.preparation import Preparation, Target
from nnlab.errors import RunError, plural
from nnlab.runs import files
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import Summary
from nnlab.scores import score_predictions
from nnlab.tools.inputs import Inputs


@dataclass
class RunToApply:
    """A run folder opened to be applied: its summary and how it prepared its data."""

    folder: RunFolder
    summary: Summary
    preparation: Preparation

    @property
    def task(self) -> str:
        return self.preparation.task


def open_run(run_dir: str | Path) -> RunToApply:
    """A finished run, or a clear error."""
    folder = RunFolder(run_dir).require()
    try:
        summary = files.read_summary(folder.summary_path)
    except FileNotFoundError:
        raise RunError(f"{folder.path} is damaged: its summary.json is missing; `nnlab run` on its spec rebuilds "
                       "it from the run's trials") from None
    except (OSError, ValueError, TypeError) as exc:
        raise RunError(f"{folder.path} is damaged: {exc}") from None
    return RunToApply(folder, summary, folder.preparation())


def load_model(run: RunToApply, trial_id: str | None = None):
    """The run's model (best.keras: with search.refit, the best configuration refitted on every training
    row; with search.ensemble, the top configurations averaged), or the model of trial `trial_id` as its
    search trained it, rebuilt from its hyperparameters and checkpoint (kept for every trial with
    `search.keep: all`, and for the best). Either predicts in
    inference mode however it is called (see `models.inference_model`)."""
    from nnlab.engine.backend import configure_device, import_keras
    from nnlab.engine.model.builders import inference_model
    from nnlab.engine.model.files import load_keras_file, load_weights

    configure_device("auto")  # (as every command that uses TensorFlow: memory growth on GPUs, before any model)
    keras = import_keras()
    folder = run.folder
    summary = run.summary
    if trial_id is None or (trial_id == summary.best_model_trial and not summary.refit and not summary.ensemble):
        if not folder.best_model_path.exists() and not folder.best_model_path.is_symlink():
            raise RunError(_no_best_model(run))
        # (runs made before nnlab 0.2 kept their augmentation layers in best.keras)
        return inference_model(load_keras_file(folder.best_model_path, "the run's model"))
    trial_id = str(trial_id)
    if not folder.trial_state_path(trial_id).is_file():
        known = ", ".join(folder.trial_ids_on_disk())
        raise RunError(f"{folder.path} has no trial {trial_id!r}; its trials: {known or 'none'}")
    if not folder.checkpoint_path(trial_id).is_file():
        raise RunError(f"trial {trial_id}'s weights were not kept (search.keep keeps only the best trial's "
                       "unless it is `all`); export the best model without --trial, or re-run with keep: all")
    from nnlab.engine.kerastuner import load_trial
    from nnlab.engine.model.builders import build_model, in_target_units
    from nnlab.spec.space import sample_params

    spec = folder.spec()
    hp = load_trial(folder.trial_state_path(trial_id)).hyperparameters
    shape = run.preparation.shape()  # (each output's bias is the checkpoint's, so no target means)
    keras.backend.clear_session()
    model = build_model(spec.model.kind, sample_params(hp, spec), shape)
    load_weights(model, folder.checkpoint_path(trial_id), f"trial {trial_id}'s checkpoint")
    return in_target_units(inference_model(model), shape)


def _no_best_model(run: RunToApply) -> str:
    folder, summary = run.folder, run.summary
    if not summary.completed:
        return f"{folder.path} has no {folder.best_model_path.name}: no trial of this run completed"
    return (f"{folder.path} has no {folder.best_model_path.name} yet: the run is {summary.status}, with "
            f"{plural(summary.completed, 'completed trial')}, and writes it when its search ends (a stopped run "
            f"resumes with `nnlab run` on its spec); meanwhile --trial {summary.best_trial} uses the best trial's "
            "model as its search trained it")


def interim_note(run: RunToApply, trial_id: str | None) -> str | None:
    """A note when best.keras may not be the run's final model: its search has not ended (still running,
    interrupted, or killed before the refit or the ensemble was written)."""
    summary = run.summary
    if trial_id is not None or summary.status not in ("starting", "running", "interrupted"):
        return None
    return (f"{run.folder.name} is not finished (status: {summary.status}): best.keras is the best trial's model as "
            "its search trained it so far, not the final model (search.refit and search.ensemble write that when the "
            "search ends); `nnlab run` on its spec finishes it")


# ------------------------------------------------------------------------------------ predictions


def model_outputs(model, x: np.ndarray, preparation: Preparation) -> list[np.ndarray]:
    """Per target, what the model gives for rows `x`: a regression target's values (one column), a
    classification target's probability of each class (two classes: both columns)."""
    from nnlab.engine.pipeline import validation_batch  # (batches as validation's: images capped by pixels)

    raw = model.predict(x, batch_size=validation_batch(x), verbose=0)
    out = []
    for target in preparation.outputs():
        values = np.asarray(raw[target.head] if isinstance(raw, dict) else raw, np.float64)
        if target.task == "classification":
            values = np.concatenate([1 - values, values], axis=1) if values.shape[1] == 1 else values
            if len(target.class_names or []) != values.shape[1]:  # (a preprocessing.json changed by hand)
                raise RunError(f"preprocessing.json lists {len(target.class_names or [])} classes"
                               f"{f' for {target.name}' if target.name else ''}, but the model predicts "
                               f"{values.shape[1]}: the file does not belong to this model; put back the run's own")
        out.append(values)
    return out


def predict_targets(model, inputs: Inputs, preparation: Preparation,
                    threshold: float | None = None) -> list[tuple[Target, list, np.ndarray | None]]:
    """Per target: (the target, predictions in the data's own terms: class names or values, class
    probabilities or None). `threshold`: a target of two classes is its positive class (the second) where
    that class's probability is at least this (`tools.threshold`), rather than where it is the likelier."""
    out = []
    for target, values in zip(preparation.outputs(), model_outputs(model, inputs.x, preparation)):
        if target.task == "regression":
            out.append((target, values[:, 0].tolist(), None))
        else:
            out.append((target, [target.class_names[i] for i in decided(values, threshold)], values))
    return out


def decided(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """Each row's class index: the likeliest, or with `threshold` (two classes) the positive one from it up."""
    if threshold is None or proba.shape[1] != 2:
        return proba.argmax(axis=1)
    return (proba[:, 1] >= threshold).astype(np.int64)


def predict(model, inputs: Inputs, preparation: Preparation) -> tuple[list, np.ndarray | None]:
    """(predictions in the data's own terms: class names or values; class probabilities or None) of a
    run with one target."""
    _, predictions, proba = predict_targets(model, inputs, preparation)[0]
    return predictions, proba


def proba_columns(target: Target) -> list[str]:
    """The names of a classification target's probability columns: proba_<class> (one target) or
    proba_<target>_<class> (several)."""
    prefix = f"proba_{target.name}_" if target.name else "proba_"
    return [f"{prefix}{name}" for name in target.class_names]


def predictions_csv(inputs: Inputs, predicted: list[tuple[Target, list, np.ndarray | None]], with_proba: bool) -> str:
    """One row per input, in order: its id, then `predictions` (one target) or one column per target
    named after it, then with `with_proba` one probability column per class."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = [inputs.id_name]
    header += [target.name or "predictions" for target, _, _ in predicted]
    for target, _, proba in predicted:
        if with_proba and proba is not None:
            header += proba_columns(target)
    writer.writerow(header)
    for i, row_id in enumerate(inputs.ids):
        if i in inputs.unread:
            writer.writerow([row_id, inputs.unread[i]] + [""] * (len(header) - 2))
            continue
        row = [row_id] + [repr(float(v[i])) if t.task == "regression" else str(v[i]) for t, v, _ in predicted]
        for _, _, proba in predicted:
            if with_proba and proba is not None:
                row += [f"{p:.6g}" for p in proba[i]]
        writer.writerow(row)
    return out.getvalue()


# ------------------------------------------------------------------------------------ metrics


def evaluate(model, inputs: Inputs, preparation: Preparation, threshold: float | None = None) -> dict:
    """Metrics on labelled data: classification accuracy, macro F1, per-class report and confusion
    matrix; regression RMSE, MAE, R² and the share of predictions within 10% of the true value. With
    several targets, those of each target under "targets". `threshold`: as `predict_targets`'s."""
    return scores_of(inputs, preparation, model_outputs(model, inputs.x, preparation), threshold)


def scores_of(inputs: Inputs, preparation: Preparation, outputs: list[np.ndarray],
              threshold: float | None = None) -> dict:
    """`evaluate`'s metrics from the model's outputs (`model_outputs`) for `inputs`."""
    found = {}
    for target, values in zip(preparation.outputs(), outputs):
        y = inputs.y[target.name] if isinstance(inputs.y, dict) else inputs.y
        if target.task == "regression":
            found[target.name] = score_predictions(y, values[:, 0].tolist(), None, target.task, None)
        else:
            found[target.name] = score_predictions(y, [], values, target.task, target.class_names,
                                                   decided(values, threshold))
    if len(found) == 1:
        return next(iter(found.values()))
    return {"task": "several targets", "examples": len(inputs.ids), "targets": found}


# ------------------------------------------------------------------------------------ the run's own rows


def validation_rows(run: RunToApply) -> tuple[Inputs, str]:
    """The run's validation rows as the model takes them (the sweep's own split: same data, same seed; an
    image folder's from its kept copy), with their labels, and a note that says which rows they are and
    when a refitted model has seen them."""
    from nnlab.runs import imagecache

    data = imagecache.load(run.folder.spec(), run.folder.path.parent)
    y = np.asarray(data.y_val)
    labels = {t.name: y[:, i] for i, t in enumerate(data.targets)} if data.targets else y
    inputs = Inputs(data.x_val, [str(i + 1) for i in range(len(y))], "row", labels)
    note = f"{len(y)} validation examples: the sweep's own split of {data.description}"
    refit = run.summary.refit
    if refit:
        note += (f". The model was refitted (search.refit): trial {refit['trial']}'s configuration trained again on "
                 f"all {refit['rows']} training rows, these validation rows among them, for {refit['epochs']} "
                 "epoch(s), so these figures flatter it; score it on rows it never saw with `nnlab evaluate`")
    ensemble = run.summary.ensemble
    if ensemble:
        note += (f". It is an ensemble (search.ensemble): the mean of the predictions of trials "
                 f"{', '.join(ensemble['trials'])}" + (", each refitted the same way" if ensemble.get("refit") else ""))
    return inputs, note
