"""Running a sweep: Keras Tuner's loop around a spec's data, search space and model builders.

`run(spec, runs_dir)` is the whole of `nnlab run`: open (or resume) the run folder, load the data,
build a Keras Tuner tuner whose HyperModel turns `hp` into params (`space.sample_params`) and params
into a model (`models.build_model`), then search. After every trial the trial records, `trials.csv`
and `summary.json` are rewritten; at the end the best model is saved as `best.keras`.

Keras Tuner owns the search state (oracle, per-trial checkpoints in `tuner/`); resuming is Keras
Tuner's own reload. nnlab adds what a person needs on top: readable reasons for failed trials, a
failure limit, a time limit, progress, and plain result files.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from nnlab import __version__
from nnlab.runs import files as results
from nnlab.engine import tunerstate
from nnlab.engine.backend import (clear_session, configure_device, custom_gradients, freeze_heap, release_custom_gradients,
                      set_precision)
from nnlab.data.dataset import Dataset, load_data
from nnlab.faults import kill_point
from nnlab.engine.models import DataShape, build_model, compile_model, inference_model
from nnlab.spec.objectives import check_task, logged_metrics, metric_direction
from nnlab.engine.pipeline import TrainingData
from nnlab.progress import Reporter
from nnlab.runs.folder import check_run_dir, prepare_run_dir, write_run_inputs
from nnlab.spec.space import active_values, count_configurations, hyperparameters, sample_params
from nnlab.spec.schema import Spec
from nnlab.spec.loader import spec_hash
from nnlab.engine.callbacks import (best_epoch_metrics, explain_failure, first_useful_line, fit_targets,
                    keras_callbacks)

TENSORBOARD_DIR = "tensorboard"
TUNERS = {"random": "RandomSearch", "grid": "GridSearch", "bayesian": "BayesianOptimization",
          "hyperband": "Hyperband"}


class _StopSearch(Exception):
    """Raised between trials to end the search early (time or failure limit)."""


@dataclass
class RunResult:
    run_dir: Path
    summary: dict
    records: list[dict]

    @property
    def exit_code(self) -> int:
        if self.summary.get("status") == "interrupted":
            return 130
        return 0 if self.summary.get("completed") else 1


def run(spec: Spec, runs_dir: str | Path = "runs", *, overwrite: bool = False, device: str = "auto",
        quiet: bool = False, reporter: Reporter | None = None, strategy: str | None = None,
        tensorboard: bool = False) -> RunResult:
    """Run (or resume) the sweep a spec describes into `runs_dir/<spec.name>/`, in this process.
    `strategy="mirrored"` trains each trial on all visible GPUs (Keras Tuner's distribution_strategy);
    `tensorboard` writes per-trial TensorBoard logs with the HParams dashboard to RUN/tensorboard/."""
    reporter = reporter or Reporter(quiet=quiet)
    sweep = open_sweep(spec, runs_dir, overwrite=overwrite, device=device, reporter=reporter, strategy=strategy)
    sweep.tensorboard = tensorboard
    with terminate_as_interrupt():
        return sweep.search()


def open_sweep(spec: Spec, runs_dir: str | Path, *, overwrite: bool, device: str, reporter: Reporter,
               strategy: str | None = None, role: str = "single", worker_id: str | None = None,
               previous: dict | None = None) -> "Sweep":
    """Load the data, pick the device, and (unless this is a worker) create or reopen the run folder.
    A worker's `previous` comes from the chief's run folder (see `parallel.check_worker_run_dir`)."""
    run_dir = Path(runs_dir) / spec.name
    if role != "worker":
        previous = check_run_dir(run_dir, spec, overwrite, reporter.warn)
    data = load_data(spec)
    check_task(spec, data.task)
    if role != "chief":  # the chief only hands out trials (a worker prints its notes once)
        for note in data.notes:
            reporter.note(note)
    device_name = configure_device("cpu" if role == "chief" else device)
    policy = set_precision(spec.train.mixed_precision, gpu=device_name != "CPU")
    if spec.train.mixed_precision:
        device_name += f", {policy}"
        if device_name.startswith("CPU") and role != "chief":
            reporter.note("train.mixed_precision on a CPU computes in bfloat16: faster only on CPUs with "
                          "bfloat16 units (AMX, AVX512-BF16), and less precise on every CPU")
    if spec.train.jit_compile:
        device_name += ", XLA"
    if strategy == "mirrored":
        device_name += ", MirroredStrategy"
    if spec.model.kind == "sequential":  # the spec's own layers: build the smallest and largest now
        from nnlab.engine.models import build_model
        from nnlab.spec.space import extreme_params

        shape = DataShape.of(data)
        for which in ("min", "max"):
            build_model("sequential", extreme_params(spec, which), shape)
        clear_session()
    sweep = Sweep(spec, data, run_dir, reporter, previous, device_name, strategy=strategy, role=role,
                  worker_id=worker_id)
    if role == "worker":
        return sweep

    def fill(folder: Path) -> None:
        write_run_inputs(folder, spec, data)
        sweep.write_results("starting" if previous is None else "running", folder)

    prepare_run_dir(run_dir, fresh=previous is None, fill=fill)
    return sweep


@contextlib.contextmanager
def terminate_as_interrupt():
    """A scheduler's SIGTERM stops the sweep the way Ctrl-C does: state saved, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ------------------------------------------------------------------------------------ the sweep


class Sweep:
    """One invocation of a sweep: the tuner, the trial records and the files they go to."""

    def __init__(self, spec: Spec, data: Dataset, run_dir: Path, reporter: Reporter,
                 previous: dict | None, device_name: str, strategy: str | None = None, role: str = "single",
                 worker_id: str | None = None):
        """`previous` is the summary of the run being resumed (`{}` if unreadable), None for a fresh run.
        `role`: "single" (one process), "chief" (hands out trials, keeps the records: `parallel.Chief`)
        or "worker" (trains the trials a chief hands out, as `worker_id`)."""
        self.spec, self.data, self.run_dir, self.reporter = spec, data, run_dir, reporter
        self.device_name, self.strategy, self.role, self.worker_id = device_name, strategy, role, worker_id
        self.tensorboard = False  # per-trial TensorBoard logs under RUN/tensorboard/
        self.shape = DataShape.of(data)
        self.training = TrainingData(data.x_train, fit_targets(data.y_train, self.shape), data.x_val,
                                     fit_targets(data.y_val, self.shape), spec.seed)
        self.objective = spec.objective_name()
        obj = spec.search.objective
        self.direction = obj.direction if not isinstance(obj, str) else metric_direction(obj)
        self.hp_names = list(hyperparameters(spec))
        self.metric_names = logged_metrics(spec, data.task)
        self.folds = self._make_folds() if getattr(spec.data, "folds", None) else None
        if self.folds:  # the spread of a trial's score over the folds, beside its mean
            self.metric_names = self.metric_names + [f"{self.objective}_std"]
        self.previous = previous or {}
        self.records: dict[str, dict] = {}
        trials_path = run_dir / results.TRIALS
        if previous is not None and trials_path.is_file():
            old_hp = self.previous.get("hyperparameter_names", self.hp_names)
            old_metrics = self.previous.get("metric_names", self.metric_names)
            try:
                for rec in results.read_trials(trials_path, old_hp, old_metrics):
                    self.records[rec["trial_id"]] = rec
            except (OSError, ValueError) as exc:
                reporter.warn(f"{trials_path} is damaged ({exc}); rebuilding it from the tuner's state")
        self.current: dict = {}
        self.started = time.monotonic()
        self.deadline = None
        if spec.search.max_minutes:
            self.deadline = self.started + spec.search.max_minutes * 60
        self.stop_reason: str | None = None
        self.best_model_trial = self.previous.get("best_model_trial")  # whose weights best.keras holds
        self.total: int | None = None  # trials this search will run, once the tuner is built

    # ---- building the tuner

    def make_tuner(self):
        import keras_tuner as kt

        sweep = self
        spec = self.spec

        class HyperModel(kt.HyperModel):
            def build(self, hp):
                return sweep.compiled_model(sample_params(hp, spec))

            def fit(self, hp, model, data, callbacks=None, **kwargs):
                return sweep.fit_trial(sample_params(hp, spec), model, lambda: self.build(hp),
                                       [sweep.in_memory(c) for c in callbacks or []], **kwargs)

        base = getattr(kt, TUNERS[spec.search.tuner])
        tuner_class = type(f"Nnlab{base.__name__}", (_SweepHooks, base), {})
        kwargs = dict(
            hypermodel=HyperModel(), objective=kt.Objective(self.objective, self.direction),
            seed=spec.seed, directory=str(self.run_dir), project_name=results.TUNER_DIR, overwrite=False,
            executions_per_trial=spec.search.executions_per_trial, max_retries_per_trial=0,
            max_consecutive_failed_trials=10**9,  # nnlab counts failures itself (search.max_failures)
        )
        if spec.search.tuner == "hyperband":
            kwargs.update(max_epochs=spec.search.max_epochs or spec.train.epochs, factor=spec.search.factor)
        else:
            kwargs["max_trials"] = spec.search.max_trials
        if self.strategy == "mirrored":
            from nnlab.engine.backend import import_tensorflow

            kwargs["distribution_strategy"] = import_tensorflow().distribute.MirroredStrategy()
        tunerstate.make_writes_atomic()
        if self.role != "worker":  # the search state is the chief's to mend
            tunerstate.repair(self.run_dir / results.TUNER_DIR, self.records, self.reporter.warn)
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from …"
            tuner = tuner_class(**kwargs)
        tuner.sweep = self
        kill_point("startup")
        return tuner

    def in_memory(self, callback):
        """Keras Tuner's per-epoch checkpoint writer, replaced by one that writes once per trial. One
        replacement per original: Keras Tuner shares it across the executions of a trial."""
        from keras_tuner.src.engine import tuner_utils

        if not isinstance(callback, tuner_utils.SaveBestEpoch):
            return callback
        replacements = self.current.setdefault("checkpointers", {})
        if id(callback) not in replacements:
            replacements[id(callback)] = keras_callbacks()[2](callback)
        return replacements[id(callback)]

    def _make_folds(self) -> list:
        """One TrainingData per fold, over all the rows (the split's training and validation rows)."""
        import numpy as np

        from nnlab.engine.pipeline import fold_indices

        x = np.concatenate([self.data.x_train, self.data.x_val])
        y = np.concatenate([self.data.y_train, self.data.y_val])
        folds = []
        for train, val in fold_indices(y, self.data.task, self.spec.data.folds, self.spec.seed):
            fold = TrainingData(x[train], fit_targets(y[train], self.shape), x[val], fit_targets(y[val], self.shape),
                                self.spec.seed)
            fold.x_val, fold.y_val = x[val], y[val]
            folds.append(fold)
        return folds

    def compiled_model(self, params: dict):
        """A new model for these params, compiled as every trial's is."""
        model = build_model(self.spec.model.kind, params, self.shape)
        # A whole epoch per call into TensorFlow: Keras pays a function call (and a trace lookup) per
        # execution. Epoch-end callbacks run as before.
        compile_model(model, params, self.shape, self.spec.train.loss, self.spec.train.metrics,
                      jit_compile=self.spec.train.jit_compile,
                      steps_per_execution=self.training.steps(params["batch_size"]))
        return model

    def fit_trial(self, params: dict, model, build, callbacks=(), **kwargs):
        """Train one trial's params as the sweep does: on the validation split, or with data.folds once
        per fold (`build()` makes each fold after the first a fresh model). Returns Keras's History; with
        folds its history is the folds' mean. `callbacks` are added to the first (or only) training."""
        if self.folds:
            return self.fit_folds(model, build, params, callbacks, **kwargs)
        callbacks = self.trial_callbacks(params) + list(callbacks)
        history = model.fit(self.training.batches(params["batch_size"]), validation_data=self.training.validation,
                            callbacks=callbacks, shuffle=False, **kwargs)  # shuffled in the pipeline
        self.current.setdefault("histories", []).append(history.history)
        return history

    def fit_folds(self, model, build, params: dict, callbacks, **kwargs):
        """Cross-validation: a fresh model per fold; the trial's history is the mean of the folds'
        histories epoch by epoch (so its score is the best epoch of the mean curve), and the spread
        of the folds' best scores is kept. The first fold's model is the trial's checkpoint."""
        import statistics

        import keras
        import numpy as np

        histories, best = [], []
        for k, fold in enumerate(self.folds):
            fold_model = model if k == 0 else build()
            fold_callbacks = self.trial_callbacks(params, fold.x_val, fold.y_val)
            if k == 0:
                fold_callbacks += list(callbacks)
            history = fold_model.fit(fold.batches(params["batch_size"]), validation_data=fold.validation,
                                     callbacks=fold_callbacks, shuffle=False, **kwargs).history
            histories.append(history)
            values = [v for v in history.get(self.objective, []) if v == v]
            if values:
                best.append(max(values) if self.direction == "max" else min(values))
        epochs = min(len(h.get("loss", [])) for h in histories)  # folds stopped early may be shorter
        mean = {name: [float(np.mean([h[name][e] for h in histories])) for e in range(epochs)]
                for name in histories[0] if all(len(h.get(name, [])) >= epochs for h in histories)}
        self.current.setdefault("histories", []).append(mean)
        self.current["fold_std"] = statistics.stdev(best) if len(best) > 1 else None
        result = keras.callbacks.History()
        result.history, result.epoch = mean, list(range(epochs))
        return result

    def trial_callbacks(self, params: dict, x_val=None, y_val=None) -> list:
        import keras

        stop_on_nan, macro_f1_callback, _, one_step_validation = keras_callbacks()
        callbacks = [one_step_validation()]
        if "f1" in self.spec.train.metrics:  # first: the callbacks after it read val_f1
            x_val = self.data.x_val if x_val is None else x_val
            y_val = self.data.y_val if y_val is None else y_val
            callbacks.append(macro_f1_callback(x_val, y_val, self.shape.binary))
        callbacks.append(stop_on_nan(params["learning_rate"]))
        if self.reporter.live and self.role != "worker":  # the epoch bar
            callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=self.reporter.epoch_ends))
        es = self.spec.train.early_stopping
        if es:
            monitor = es.monitor or self.objective
            mode = self.direction if monitor == self.objective else metric_direction(monitor)
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=monitor, patience=es.patience, min_delta=es.min_delta, mode=mode))
        return callbacks

    def total_trials(self, tuner) -> int | None:
        if self.spec.search.tuner == "hyperband":
            oracle = tuner.oracle
            try:
                return sum(oracle._get_size(b, r) for b in range(oracle._get_num_brackets())
                           for r in range(oracle._get_num_rounds(b)))
            except Exception:  # private API of Keras Tuner: a total is nice to have, not needed
                return None
        total = self.spec.search.max_trials
        if self.spec.search.tuner == "grid":
            total = min(total, count_configurations(self.spec))
        return int(total)

    # ---- the loop

    def search(self) -> RunResult:
        from keras_tuner.src import config as kt_config

        kt_config.DEBUG = False  # Keras Tuner prints every failed trial's traceback; nnlab records a reason
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")

        tuner = self.make_tuner()
        self.total = self.total_trials(tuner)
        self._sync_records(tuner)
        done = sum(1 for r in self.records.values() if r["status"] in ("completed", "failed"))
        self.reporter.start(self.spec.name, self.data.summary(), self.start_text(), done, self.total,
                            self.spec.search.max_epochs or self.spec.train.epochs, self.objective)
        status = "completed"
        freeze_heap()
        try:
            self.write_results("running")
            tuner.search(self.training, epochs=self.spec.train.epochs, verbose=0, callbacks=self.search_callbacks())
        except _StopSearch as stop:
            status, self.stop_reason = "stopped", str(stop)
            self.reporter.warn(str(stop))
        except KeyboardInterrupt:
            status = "interrupted"
            self.reporter.warn("interrupted: completed trials are saved, and resuming the run continues the search")
        finally:
            clear_session()
            self.reporter.close()
        return self.finish(tuner, status)

    def work(self) -> int:
        """A worker's loop: train the trials the chief hands out until it says the search is over.
        Returns the exit code (130 when interrupted: the chief hands the trial out again)."""
        from keras_tuner.src import config as kt_config

        kt_config.DEBUG = False
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        tuner = self.make_tuner()
        self.total = self.total_trials(tuner)
        self.reporter.say(f"worker {self.worker_id}: {self.data.summary()}; training on {self.device_name}")
        freeze_heap()
        try:
            tuner.search(self.training, epochs=self.spec.train.epochs, verbose=0, callbacks=self.search_callbacks())
        except KeyboardInterrupt:
            self.reporter.warn(f"worker {self.worker_id} interrupted; the chief will hand its trial out again")
            return 130
        finally:
            clear_session()
        self.reporter.say(f"worker {self.worker_id}: the chief says the search is over")
        return 0

    def search_callbacks(self) -> list:
        """Callbacks for every trial, which Keras Tuner copies per trial: TensorBoard when asked (Keras
        Tuner gives each trial and execution its own log folder and adds the HParams callback)."""
        if not self.tensorboard:
            return []
        import keras

        return [keras.callbacks.TensorBoard(log_dir=str(self.run_dir / TENSORBOARD_DIR))]

    def start_text(self, where: str | None = None) -> str:
        """The search in one line; `where` the trials train (default: this process's device)."""
        epochs = (f"up to {self.spec.search.max_epochs or self.spec.train.epochs} epochs"
                  if self.spec.search.tuner == "hyperband" else f"{self.spec.train.epochs} epochs")
        folds = f", {len(self.folds)}-fold cross-validation" if self.folds else ""
        return (f"{self.spec.search.tuner}, {self.total or '?'} trials, objective {self.objective} "
                f"({self.direction}), {epochs}{folds}, {where or f'on {self.device_name}'}")

    def finish(self, tuner, status: str) -> RunResult:
        """best.keras, the final trials.csv and summary.json, and the closing table."""
        self._save_best_model(tuner)
        self._prune_checkpoints(final=status != "interrupted")
        summary = self.write_results(status)
        if status == "interrupted":
            return RunResult(self.run_dir, summary, self.ordered())
        self.reporter.table(self.ranked(), self.objective, self.hp_names)
        files = [results.TRIALS, results.SUMMARY, results.BEST_MODEL]
        shown = ", ".join(f for f in files if (self.run_dir / f).is_file())
        self.reporter.say(f"Results in {self.run_dir}/ ({shown}). Compare runs with: nnlab compare {self.run_dir.parent}")
        if not summary["completed"]:
            self.reporter.warn("no trial completed; see the reasons in trials.csv")
        return RunResult(self.run_dir, summary, self.ordered())

    # ---- hooks called by the tuner (see _SweepHooks)

    def before_trial(self) -> None:
        if self.role == "worker":  # the chief decides when the search stops
            return
        if self.deadline and time.monotonic() > self.deadline:
            raise _StopSearch(f"search.max_minutes ({self.spec.search.max_minutes:g}) reached: no new trial started")
        limit = self.spec.search.max_failures
        streak = []
        for rec in self.ordered():
            streak = streak + [rec] if rec["status"] == "failed" else []
        if len(streak) >= limit:
            reasons = sorted({r.get("reason") or "unknown" for r in streak})
            raise _StopSearch(
                f"{len(streak)} trials failed in a row (search.max_failures is {limit}); stopping. Reasons:\n  - "
                + "\n  - ".join(reasons)
            )

    def trial_begins(self, trial) -> None:
        import keras

        number = self._number(trial.trial_id)
        keras.utils.set_random_seed(self.spec.seed + number)
        self.current = {"trial_id": trial.trial_id, "started": time.monotonic(), "histories": []}
        self.reporter.trial_begins(number, self.total, trial.trial_id,
                                   active_values(trial.hyperparameters.values, self.spec))

    def trial_ends(self, trial, reason: str | None) -> None:
        kill_point("trial_end")
        if self.role == "worker":
            self.current = {}
            return
        record = self._record(trial, reason, self.current)
        self._write_trial_file(trial.trial_id, {"worker": None, "reason": reason})
        self.records[trial.trial_id] = record
        self._prune_checkpoints(final=False)
        self.write_results("running")
        best = self.best()
        self.reporter.trial_ends(self._number(trial.trial_id), self.total, record, self.objective, best)
        self.current = {}

    def report_to_chief(self, tuner, trial, reason: str | None) -> None:
        """A worker, before Keras Tuner tells the chief the trial ended: what only this process saw of
        it (time, epochs, best epoch's metrics, the reason of a failure), for the chief's records."""
        record = self._record(trial, reason, self.current)  # (status and score: the chief's to say)
        extras = {k: record[k] for k in ("seconds", "epochs", "best_epoch", "metrics")}
        reason = reason or (first_useful_line(trial.message) if trial.status in ("FAILED", "INVALID") else None)
        self._write_trial_file(trial.trial_id, {**extras, "reason": reason, "worker": self.worker_id})

    def _write_trial_file(self, trial_id: str, extras: dict) -> None:
        """tuner/trial_ID/nnlab_trial.json: the trial's per-epoch history (Keras Tuner keeps only the
        best epoch; `nnlab plot` draws learning curves from this) and what only this process saw."""
        history = [{name: [float(v) for v in values] for name, values in h.items()}
                   for h in self.current.get("histories", [])]
        results.write_json(self.run_dir / results.TUNER_DIR / f"trial_{trial_id}" / results.TRIAL_EXTRAS,
                           {**extras, "history": history})

    def remote_trial_ends(self, trial) -> dict:
        """The chief, once Keras Tuner's oracle has ended a worker's trial: record, files, progress."""
        path = self.run_dir / results.TUNER_DIR / f"trial_{trial.trial_id}" / results.TRIAL_EXTRAS
        try:
            extras = results.read_json(path)
        except (OSError, ValueError):
            extras = {}
        record = self._record(trial, extras.get("reason"), {})
        for key in ("seconds", "epochs", "best_epoch", "worker"):
            record[key] = extras.get(key, record.get(key))
        if record["status"] == "completed" and extras.get("metrics"):
            record["metrics"] = extras["metrics"]
        self.records[trial.trial_id] = record
        self._prune_checkpoints(final=False)
        self.write_results("running")
        self.reporter.trial_ends(self._number(trial.trial_id), self.total, record, self.objective, self.best())
        return record

    # ---- records

    def _record(self, trial, reason: str | None, current: dict) -> dict:
        """A trial's record from Keras Tuner's trial and what this process saw of it (`current`)."""
        status = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed"}.get(trial.status, "running")
        score = trial.score if status == "completed" else None
        if status == "completed" and (score is None or not math.isfinite(score)):
            status, reason = "failed", f"{self.objective} was not a finite number"
        if status == "failed" and not reason:
            reason = first_useful_line(trial.message)
        best_epoch, epochs, metrics = best_epoch_metrics(current.get("histories", []), self.objective,
                                                         self.direction)
        if not metrics and status == "completed":  # trained by an earlier, killed process
            metrics = _tracked_metrics(trial)
            best_epoch = (trial.best_step or 0) + 1
        if current.get("fold_std") is not None and status == "completed":
            metrics = {**metrics, f"{self.objective}_std": current["fold_std"]}
        started = current.get("started")
        return {
            "trial_id": trial.trial_id, "status": status, "score": score, "best_epoch": best_epoch,
            "epochs": epochs, "seconds": round(time.monotonic() - started, 2) if started else None,
            "reason": reason, "hyperparameters": active_values(trial.hyperparameters.values, self.spec),
            "metrics": metrics,
        }

    def _sync_records(self, tuner) -> None:
        """A record for every trial Keras Tuner knows of. Its state is the truth for status and score;
        nnlab's earlier record adds what only nnlab saw (time, epochs, the reason of a failure)."""
        synced = {}
        for trial_id, trial in tuner.oracle.trials.items():
            old = self.records.get(trial_id) or {}
            if trial.status in ("COMPLETED", "FAILED", "INVALID"):
                record = self._record(trial, old.get("reason"), {})
                if old.get("status") == record["status"]:
                    record.update({k: old.get(k) for k in ("seconds", "epochs", "best_epoch", "worker")})
                    record["metrics"] = old.get("metrics") or record["metrics"]
            else:
                record = {"trial_id": trial_id, "status": "running", "score": None, "metrics": {},
                          "hyperparameters": active_values(trial.hyperparameters.values, self.spec)}
            synced[trial_id] = record
        self.records = synced

    def ordered(self) -> list[dict]:
        return sorted(self.records.values(), key=lambda r: self._number(r["trial_id"]))

    def _number(self, trial_id: str) -> int:
        return int(trial_id) + 1 if str(trial_id).isdigit() else 0

    def best(self) -> dict | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def _summary(self, status: str) -> dict:
        records = self.ordered()
        best = self.best()
        elapsed = time.monotonic() - self.started
        return {
            "run": self.spec.name, "status": results.run_status(status, sum(r["status"] == "completed" for r in records)),
            "nnlab_version": __version__,
            "spec_hash": spec_hash(self.spec), "model": self.spec.model.kind, "data": self.data.description,
            "task": self.data.task, "classes": self.data.class_names, "tuner": self.spec.search.tuner,
            "objective": self.objective, "direction": self.direction, "max_trials": self.total,
            "trials": len(records), "completed": sum(r["status"] == "completed" for r in records),
            "failed": sum(r["status"] == "failed" for r in records),
            "best_trial": best["trial_id"] if best else None, "best_score": best["score"] if best else None,
            "best_hyperparameters": best["hyperparameters"] if best else None,
            "best_metrics": best["metrics"] if best else None,
            "best_model_trial": self.best_model_trial,
            "seconds": round(self.previous.get("seconds", 0.0) + elapsed, 2),
            "train_examples": len(self.data.x_train), "validation_examples": len(self.data.x_val),
            "device": self.device_name, "hyperparameter_names": self.hp_names, "metric_names": self.metric_names,
            "stop_reason": self.stop_reason,
            "started_at": self.previous.get("started_at") or _now(), "updated_at": _now(),
        }

    def write_results(self, status: str, folder: Path | None = None) -> dict:
        """Rewrite trials.csv and summary.json (in the run folder, or in `folder` being prepared)."""
        folder = folder or self.run_dir
        summary = self._summary(status)
        results.write_trials(folder / results.TRIALS, self.ordered(), self.hp_names, self.metric_names)
        results.write_json(folder / results.SUMMARY, summary)
        return summary

    def ranked(self) -> list[dict]:
        """Completed trials, best first."""
        done = [r for r in self.records.values() if r["status"] == "completed"]
        return sorted(done, key=lambda r: r["score"], reverse=self.direction == "max")

    def _save_best_model(self, tuner) -> None:
        """best.keras from the best trial whose checkpoint can be loaded."""
        path = self.run_dir / results.BEST_MODEL
        ranked = self.ranked()
        if not ranked or (self.best_model_trial == ranked[0]["trial_id"] and path.is_file()):
            return
        for record in ranked:
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the checkpoint's optimizer state is not needed
                    model = inference_model(tuner.load_model(tuner.oracle.get_trial(record["trial_id"])))
            except Exception as exc:  # a deleted or damaged checkpoint: say so, try the next best
                self.reporter.warn(f"the checkpoint of trial {record['trial_id']} cannot be loaded "
                                   f"({type(exc).__name__}); best.keras will hold the next best trial")
                continue
            tmp = path.with_name(".best.tmp.keras")
            model.save(tmp)
            os.replace(tmp, path)
            self.best_model_trial = record["trial_id"]
            return

    def _prune_checkpoints(self, final: bool) -> None:
        """search.keep: `all` keeps every trial's checkpoint; `best` the best trial's (Hyperband keeps
        all until the end, as later rounds start from earlier trials' weights); `none` removes them
        once best.keras is written."""
        keep = self.spec.search.keep
        if keep == "all" or (self.spec.search.tuner == "hyperband" and not final):
            return
        ranked = self.ranked()
        if keep == "none" and final and self.best_model_trial is not None:
            wanted = set()
        else:
            wanted = {ranked[0]["trial_id"]} if ranked else set()
            wanted |= {r["trial_id"] for r in self.records.values() if r["status"] == "running"}
        project = self.run_dir / results.TUNER_DIR
        for record in self.records.values():
            if record["trial_id"] not in wanted:
                tunerstate.checkpoint_path(project, record["trial_id"]).unlink(missing_ok=True)


class _SweepHooks:
    """Mixed into a Keras Tuner tuner class: reports each trial to the `Sweep` (set as `.sweep`)."""

    sweep: Sweep

    def pre_create_trial(self):
        super().pre_create_trial()
        self.sweep.before_trial()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._reason = None
        self._gradients = custom_gradients()
        self.sweep.trial_begins(trial)

    def _try_build(self, hp):
        """Keras Tuner's build, without its `clear_session()` and full garbage collection before every
        model: nnlab already freed the last trial's memory when it ended (`release_custom_gradients`)."""
        import keras
        from keras_tuner.errors import FatalTypeError

        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise FatalTypeError(f"the model builder returned {type(model).__name__}, not a Keras model")
        return model

    def run_trial(self, trial, *args, **kwargs):
        from keras_tuner.errors import FailedTrialError

        try:
            return super().run_trial(trial, *args, **kwargs)
        except Exception as exc:
            self._reason = explain_failure(exc)
            raise FailedTrialError(self._reason) from exc

    def on_trial_end(self, trial):
        if self.sweep.role == "worker":  # before Keras Tuner tells the chief
            self.sweep.report_to_chief(self, trial, getattr(self, "_reason", None))
        super().on_trial_end(trial)
        release_custom_gradients(self._gradients)  # the trial's model is done: free its graphs
        self.sweep.trial_ends(trial, getattr(self, "_reason", None))


def _tracked_metrics(trial) -> dict:
    """A finished trial's metrics at its best step, from Keras Tuner's own record of it."""
    metrics = {}
    for name, history in trial.metrics.metrics.items():
        observations = {obs.step: obs.mean() for obs in history.get_history()}
        value = observations.get(trial.best_step, history.get_best_value())
        if value is not None:
            metrics[name] = float(value)
    return metrics


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
