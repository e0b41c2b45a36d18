"""Training one trial's params the way every trial is trained: the `Trainer`.

It owns what a trial needs beyond its params: the data as TensorFlow sees it (one `tf.data` pipeline
per run, see `pipeline`), the folds of `data.folds`, nnlab's callbacks, and building and compiling a
model. The sweep's tuner, a worker, `nnlab retrain` and the chief (to rebuild the best model) all use
it, so a configuration trains the same everywhere. It knows nothing of tuners or run folders.
"""

from __future__ import annotations

import contextlib
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nnlab.data.dataset import Dataset
from nnlab.data.splits import fold_indices
from nnlab.engine.callbacks import fit_targets, keras_callbacks, learning_rate_schedule, mean_over_targets
from nnlab.engine.model.builders import build_model, compile_model, for_saving
from nnlab.engine.pipeline import Rows, TrainingData
from nnlab.engine.pruning import MedianRule, pruning_callback
from nnlab.runs.records import best_value
from nnlab.spec.objectives import metric_direction, objective_of
from nnlab.spec.schema import Spec


@dataclass
class TrialWork:
    """What training one trial's params gave in this process, beside its score: each training's
    per-epoch history (with data.folds, the folds' mean), the spread of the folds' best scores, why
    search.pruning stopped it, when it began, and (trained in a pack) its share of the pack's seconds."""

    histories: list[dict] = field(default_factory=list)
    fold_std: float | None = None
    pruned: str | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    latency_ms: float | None = None  # search.latency's time of one example's forward pass

    def prune(self, reason: str) -> None:
        self.pruned = reason

    def elapsed(self) -> float:
        return round(self.seconds if self.seconds is not None else time.monotonic() - self.started, 2)


class Trainer:
    def __init__(self, spec: Spec, data: Dataset, on_epoch_end: Callable | None = None,
                 pruning: MedianRule | None = None, strategy=None):
        """`on_epoch_end(epoch, logs)`: told after every epoch of every training (a progress bar); `pruning`:
        search.pruning's rule, asked after every epoch of a trial; `strategy`: --strategy mirrored's (every
        model is built and compiled in its scope, and every batch splits evenly over its replicas)."""
        self.spec, self.data, self.on_epoch_end, self.pruning = spec, data, on_epoch_end, pruning
        self.strategy = strategy
        self.replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        self.shape = data.model_shape()
        self.objective, self.direction = objective_of(spec)
        self.fold_count: int | None = getattr(spec.data, "folds", None) or None
        self.work = TrialWork()  # the current trial's (`begin_trial`)

    @functools.cached_property
    def training(self) -> TrainingData:
        """The training and validation split as TensorFlow reads it, made on first use (a chief never does)."""
        return TrainingData(self.data.x_train, fit_targets(self.data.y_train, self.shape), self.data.x_val,
                            fit_targets(self.data.y_val, self.shape), self.spec.seed, self.replicas)

    @functools.cached_property
    def folds(self) -> list[tuple[TrainingData, np.ndarray]] | None:
        """data.folds: one TrainingData per fold, over all the rows (the split's training and validation
        rows, read in place, not copied), with the fold's training labels; None without folds."""
        if not self.fold_count:
            return None
        x, y = (self.data.x_train, self.data.x_val), np.concatenate([self.data.y_train, self.data.y_val])
        folds = []
        for train, val in fold_indices(y, self.data.task, self.fold_count, self.spec.seed, self.data.row_keys):
            fold = TrainingData(Rows(*x, index=train), fit_targets(y[train], self.shape),
                                Rows(*x, index=val), fit_targets(y[val], self.shape), self.spec.seed, self.replicas)
            folds.append((fold, y[train]))
        return folds

    def begin_trial(self) -> TrialWork:
        self.work = work = TrialWork()
        return work

    def compiled_model(self, params: dict):
        """A new model for these params, compiled as every trial's is."""
        with self._scope():
            model = build_model(self.spec.model.kind, {**params, "sync_batch_norm": self.spec.train.sync_batch_norm},
                                self.shape)
        self._compile(model, params)
        return model

    def _scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def _compile(self, model, params: dict) -> None:
        # A whole epoch per call into TensorFlow: Keras pays a function call (and a trace lookup) per
        # execution. Epoch-end callbacks run as before. Not under a distribution strategy: there Keras
        # 3.15's multi-step loop fails ("You must feed a value for placeholder tensor 'while/…'"; checked
        # on 2 logical CPU devices), so each step is one call.
        steps = 1 if self.strategy is not None else self.steps(params["batch_size"])
        with self._scope():
            compile_model(model, params, self.shape, self.spec.train.loss, self.spec.train.metrics,
                          jit_compile=self.spec.train.jit_compile, steps_per_execution=steps)

    def steps(self, batch_size: int) -> int:
        """Training steps of one epoch (with folds: of the smallest fold, so no fold runs out of data
        within one call into TensorFlow)."""
        if not self.fold_count:
            return self.training.steps(batch_size)
        return min(fold.steps(batch_size) for fold, _ in self.folds)

    def model_for_saving(self, model, params: dict, ensembled: dict | None = None):
        """A trained model (or search.ensemble's `ensembled`, {trial_id: model}, averaged) as best.keras
        holds it (see `models.for_saving`)."""
        return for_saving(model, params, self.shape, self.spec.train.loss, self.spec.train.metrics, ensembled or {})

    def refit(self, params: dict, epochs: int):
        """A new model of these params trained on every training row (the validation rows too) for
        `epochs` epochs, without validation: the final model once the search has chosen."""
        x = Rows(self.data.x_train, self.data.x_val)
        y = np.concatenate([self.data.y_train, self.data.y_val])
        val = fit_targets(self.data.y_val, self.shape)  # (not used: no validation)
        everything = TrainingData(x, fit_targets(y, self.shape), self.data.x_val, val, self.spec.seed, self.replicas)
        model = self.compiled_model(params)
        stop_on_nan = keras_callbacks().stop_on_nan
        callbacks = [stop_on_nan(params["learning_rate"])]
        if self.shape.heads:
            callbacks.insert(0, mean_over_targets([head for head, _ in self.shape.heads]))
        schedule = learning_rate_schedule(params, epochs)
        callbacks += [schedule] if schedule else []
        self._fit(model, params, everything.batches(params["batch_size"]), epochs=epochs, callbacks=callbacks,
                  class_weight=self.class_weight(params, y), verbose=0)
        return model, len(x)

    def fit(self, params: dict, model, build: Callable | None = None, callbacks=(), **kwargs):
        """Train as the sweep does: on the validation split, or with data.folds once per fold (`build()`
        makes each fold after the first a fresh model). Returns Keras's History; with folds, its history
        is the folds' mean. `callbacks` are added to the first (or only) training."""
        if self.fold_count:
            return self._fit_folds(params, model, build or (lambda: self.compiled_model(params)), callbacks,
                                   **kwargs)
        callbacks = self.callbacks(params, self.work) + list(callbacks)
        history = self._fit(model, params, self.training.batches(params["batch_size"]),
                            validation_data=self.training.validation, callbacks=callbacks,
                            class_weight=self.class_weight(params, self.data.y_train), **kwargs)
        self.work.histories.append(history.history)
        return history

    def _fit(self, model, params: dict, batches, epochs: int = 1, initial_epoch: int = 0, **kwargs):
        """`model.fit` (shuffled in the pipeline). A pretrained base with `trainable_layers` N > 0 trains in
        two phases: its head alone for `head_epochs`, then with the base's top N layers unfrozen at
        `learning_rate × fine_tune_factor`; the History holds both phases' epochs."""
        tuned = params.get("trainable_layers") if self.spec.model.kind == "pretrained" else 0
        head_epochs = params.get("head_epochs", 0)
        if not tuned or epochs <= head_epochs:
            return model.fit(batches, epochs=epochs, initial_epoch=initial_epoch, shuffle=False, **kwargs)
        first = None
        if initial_epoch < head_epochs:
            first = model.fit(batches, epochs=head_epochs, initial_epoch=initial_epoch, shuffle=False, **kwargs)
            if model.stop_training or self.work.pruned:  # early stopping or pruning ended the trial in phase 1
                return first
            initial_epoch = head_epochs
        from nnlab.engine.model.pretrained import fine_tune

        fine_tune(model, tuned)
        self._compile(model, {**params, "learning_rate": params["learning_rate"] * params["fine_tune_factor"]})
        second = model.fit(batches, epochs=epochs, initial_epoch=initial_epoch, shuffle=False, **kwargs)
        if first is not None:
            second.history = {k: first.history.get(k, []) + v for k, v in second.history.items()}
            second.epoch = first.epoch + second.epoch
        return second

    def class_weight(self, params: dict, labels: np.ndarray) -> dict | None:
        """train.class_weight balanced: each class weighs the inverse of its share of these training rows
        (n / (classes × rows of the class)), so every class counts as much in the loss; None otherwise."""
        if params.get("class_weight") != "balanced" or self.data.task != "classification":
            return None
        counts = np.bincount(np.asarray(labels, np.int64), minlength=self.data.num_classes)
        return {c: float(len(labels) / (len(counts) * n)) if n else 1.0 for c, n in enumerate(counts)}

    def score(self, history) -> float | None:
        """A training's score: its best epoch's objective, as Keras Tuner scores a trial."""
        return best_value(history.history.get(self.objective, []), self.direction)

    def callbacks(self, params: dict, work: TrialWork, packed: bool = False) -> list:
        """nnlab's callbacks of a trial's training; `packed`: trained in a pack (`engine.pack.loop`), which
        runs its own loop (no multi-step validation to undo) and shows the pack's epochs itself."""
        import keras

        ours = keras_callbacks()
        callbacks = [ours.stop_on_nan(params["learning_rate"])]
        if not packed:
            callbacks.insert(0, ours.one_step_validation())
        if self.shape.heads:  # first: the callbacks after it read the means it adds
            callbacks.insert(0, mean_over_targets([head for head, _ in self.shape.heads]))
        if self.on_epoch_end is not None and not packed:
            callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=self.on_epoch_end))
        schedule = learning_rate_schedule(params, self.spec.search.max_epochs or self.spec.train.epochs)
        if schedule is not None:
            callbacks.append(schedule)
        es = self.spec.train.early_stopping
        if es:
            monitor = es.monitor or self.objective
            mode = self.direction if monitor == self.objective else metric_direction(monitor)
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=monitor, patience=es.patience, min_delta=es.min_delta, mode=mode))
        if self.pruning is not None:
            callbacks.append(pruning_callback(self.pruning, self.objective, self.direction, work.prune))
        return callbacks

    # ---- cross-validation (data.folds)

    def _fit_folds(self, params: dict, model, build: Callable, callbacks, **kwargs):
        """A fresh model per fold; the trial's history is the mean of the folds' histories epoch by epoch
        (so its score is the best epoch of the mean curve), and the spread of the folds' best scores is
        kept. The first fold's model is the trial's checkpoint."""

        histories = []
        for k, (fold, labels) in enumerate(self.folds):
            fold_model = model if k == 0 else build()
            fold_callbacks = self.callbacks(params, self.work) + (list(callbacks) if k == 0 else [])
            history = self._fit(fold_model, params, fold.batches(params["batch_size"]),
                                validation_data=fold.validation, callbacks=fold_callbacks,
                                class_weight=self.class_weight(params, labels), **kwargs).history
            histories.append(history)
            if self.work.pruned:  # (search.pruning: the folds left are not trained)
                break
        return self.record_folds(self.work, histories)

    def record_folds(self, work: TrialWork, histories: list[dict]):
        """A trial's folds trained: their mean history epoch by epoch (as long as the shortest fold: folds
        stopped early may be shorter) added to `work`, with the spread of the folds' best scores; the
        mean as Keras's History (the trial's result)."""
        import keras

        best = [v for v in (best_value(h.get(self.objective, []), self.direction) for h in histories) if v is not None]
        epochs = min(len(h.get("loss", [])) for h in histories)
        mean = {name: [float(np.mean([h[name][e] for h in histories])) for e in range(epochs)]
                for name in histories[0] if all(len(h.get(name, [])) >= epochs for h in histories)}
        work.histories.append(mean)
        work.fold_std = statistics.stdev(best) if len(best) > 1 else None
        result = keras.callbacks.History()
        result.history, result.epoch = mean, list(range(epochs))
        return result
