"""What happens inside one trial: nnlab's Keras callbacks, the targets as Keras fits them, and the
metrics of its best epoch (why a trial failed: `failures`). Keras is imported only when the callbacks
are first asked for.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nnlab.data.shape import DataShape
from nnlab.engine.failures import TrialFailed
from nnlab.faults import kill_point
from nnlab.runs import files
from nnlab.runs.records import best_index


class KerasCallbacks(NamedTuple):
    """nnlab's Keras callback classes, by what they do."""

    stop_on_nan: type
    best_weights_in_memory: type
    one_step_validation: type


@functools.cache
def keras_callbacks() -> KerasCallbacks:
    """nnlab's Keras callbacks, defined on first use so that importing this module skips Keras."""
    import keras

    class StopOnNaN(keras.callbacks.Callback):
        """Fails the trial with a reason when the loss stops being a finite number."""

        def __init__(self, learning_rate: float):
            super().__init__()
            self.learning_rate = learning_rate

        def on_epoch_end(self, epoch, logs=None):
            kill_point("epoch")
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                raise TrialFailed(f"loss became {float(loss)} at epoch {epoch + 1}: "
                                  f"learning_rate {self.learning_rate:g} is probably too high")

    class BestWeightsInMemory(keras.callbacks.Callback):
        """Keras Tuner's `SaveBestEpoch` without a disk write on every improved epoch: the best weights
        are kept in memory and written once, when training ends (a killed trial runs again anyway)."""

        def __init__(self, original):
            super().__init__()
            self.objective, self.filepath = original.objective, original.filepath
            self.best_value = original.best_value
            self.best_weights = None

        def on_epoch_end(self, epoch, logs=None):
            if not self.objective.has_value(logs):
                self.best_weights = self.model.get_weights()
                return
            value = self.objective.get_value(logs)
            if self.objective.better_than(value, self.best_value):
                self.best_value = value
                self.best_weights = self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.best_weights is None:
                return
            last = self.model.get_weights()
            self.model.set_weights(self.best_weights)
            path = Path(self.filepath)
            temporary = path.with_name(f".{path.name.removesuffix('.weights.h5')}.tmp.weights.h5")
            files.write_through(path, self.model.save_weights, temporary,  # whole or not at all, like every file
                                files.model_bytes(self.model))
            self.model.set_weights(last)
            self.best_weights = None

    class OneStepValidation(keras.callbacks.Callback):
        """Validation traced without Keras's multi-step loop. Training runs a whole epoch per call into
        TensorFlow (steps_per_execution = the epoch's steps), but the validation data is one large
        batch (or a few), where that loop costs only tracing. Once the first training call has run
        (its function traced with the loop), steps_per_execution goes to 1, so the test function is
        traced plain, and the fit spends less time tracing (benchmarks/speed.py)."""

        def on_train_batch_end(self, batch, logs=None):
            self.model.steps_per_execution = 1

    return KerasCallbacks(StopOnNaN, BestWeightsInMemory, OneStepValidation)


def mean_over_targets(heads: list[str]):
    """A Keras callback that adds, after each epoch, each metric's mean over the outputs of several
    targets (`val_mae` from `val_casual_mae` and `val_registered_mae`), before the callbacks that read
    them (early stopping, the tuner's objective)."""
    import keras

    class MeanOverTargets(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is None:
                return
            means: dict[str, list[float]] = {}
            for name, value in list(logs.items()):
                for head in heads:
                    for prefix in ("val_", ""):
                        start = f"{prefix}{head}_"
                        if name.startswith(start) and name != f"{start}loss":
                            means.setdefault(prefix + name[len(start):], []).append(float(value))
            for name, values in means.items():
                logs[name] = float(np.mean(values))

    return MeanOverTargets()


def learning_rate_schedule(params: dict, epochs: int):
    """train.schedule cosine: a Keras callback that sets each epoch's learning rate to
    learning_rate · (1 + cos(π · epoch / epochs)) / 2, from learning_rate at the first epoch towards 0
    at the last (a pretrained base's fine-tuning phase: of its own learning rate); None for constant."""
    if params.get("schedule", "constant") != "cosine":
        return None
    import keras

    first = params["learning_rate"]
    tuned_from = params.get("head_epochs", 0) if params.get("trainable_layers") else None

    def rate(epoch: int, _current) -> float:
        base = first * params["fine_tune_factor"] if tuned_from is not None and epoch >= tuned_from else first
        return float(base * 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1))))

    return keras.callbacks.LearningRateScheduler(rate)


def fit_targets(y: np.ndarray, shape: DataShape):
    """The targets as Keras fits them: a column of floats (regression, two classes) or class indices;
    with several targets, a dict of those per output."""
    if shape.heads:
        return {head: fit_targets(y[:, i], head_shape) for i, (head, head_shape) in enumerate(shape.heads)}
    if shape.task == "regression" or shape.binary:
        if shape.transform is not None:  # data.target_transform: the model fits log(1 + y) or standardized y
            y = shape.transform.forward(y)
        return np.asarray(y).astype(np.float32).reshape(-1, 1)
    return np.asarray(y).astype(np.int64)


def best_epoch_metrics(histories: list[dict], objective: str, direction: str) -> tuple:
    """(best epoch, epochs trained, metrics at the best epoch averaged over executions)."""
    if not histories:
        return None, None, {}
    picks, best_epochs = [], []
    for history in histories:
        i = best_index(history.get(objective) or [], direction)
        if i is None:
            continue
        best_epochs.append(i + 1)
        picks.append({k: float(v[i]) for k, v in history.items() if len(v) > i})
    if not picks:
        return None, len(histories[-1].get("loss", [])), {}
    metrics = {k: float(np.mean([p[k] for p in picks if k in p])) for k in picks[0]}
    return best_epochs[-1], len(histories[-1].get("loss", [])), metrics
