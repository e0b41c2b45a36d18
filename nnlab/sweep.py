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
import shutil
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import __version__, results
from .backend import configure_device
from .data import Dataset, load_data
from .models import DataShape, build_model, compile_model
from .objectives import check_task, logged_metrics, metric_direction
from .progress import Reporter
from .runfolder import check_run_dir, write_run_inputs
from .space import active_values, count_configurations, hyperparameters, sample_params
from .spec import Spec
from .specfile import spec_hash
from .trial import (best_epoch_metrics, explain_failure, first_useful_line, fit_targets,
                    keras_callbacks)

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
        quiet: bool = False, reporter: Reporter | None = None) -> RunResult:
    """Run (or resume) the sweep a spec describes into `runs_dir/<spec.name>/`."""
    reporter = reporter or Reporter(quiet=quiet)
    run_dir = Path(runs_dir) / spec.name
    previous = check_run_dir(run_dir, spec, overwrite)
    data = load_data(spec)
    check_task(spec, data.task)
    for note in data.notes:
        reporter.note(note)
    device_name = configure_device(device)
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
        previous = None
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_inputs(run_dir, spec, data)
    sweep = Sweep(spec, data, run_dir, reporter, previous, device_name)
    return sweep.search()


# ------------------------------------------------------------------------------------ the sweep


class Sweep:
    """One invocation of a sweep: the tuner, the trial records and the files they go to."""

    def __init__(self, spec: Spec, data: Dataset, run_dir: Path, reporter: Reporter,
                 previous: dict | None, device_name: str):
        self.spec, self.data, self.run_dir, self.reporter = spec, data, run_dir, reporter
        self.device_name = device_name
        self.shape = DataShape.of(data)
        self.objective = spec.objective_name()
        obj = spec.search.objective
        self.direction = obj.direction if not isinstance(obj, str) else metric_direction(obj)
        self.hp_names = list(hyperparameters(spec))
        self.metric_names = logged_metrics(spec, data.task)
        self.previous = previous or {}
        self.records: dict[str, dict] = {}
        trials_path = run_dir / results.TRIALS
        if self.previous and trials_path.is_file():
            old_hp = self.previous.get("hyperparameter_names", self.hp_names)
            old_metrics = self.previous.get("metric_names", self.metric_names)
            for rec in results.read_trials(trials_path, old_hp, old_metrics):
                self.records[rec["trial_id"]] = rec
        self.current: dict = {}
        self.started = time.monotonic()
        self.deadline = None
        if spec.search.max_minutes:
            self.deadline = self.started + spec.search.max_minutes * 60
        self.stop_reason: str | None = None
        self.best_model_trial = self.previous.get("best_model_trial")  # whose weights best.keras holds

    # ---- building the tuner

    def make_tuner(self):
        import keras_tuner as kt

        sweep = self
        spec = self.spec

        class HyperModel(kt.HyperModel):
            def build(self, hp):
                params = sample_params(hp, spec)
                model = build_model(spec.model.kind, params, sweep.shape)
                compile_model(model, params, sweep.shape, spec.train.loss, spec.train.metrics)
                return model

            def fit(self, hp, model, x, y, callbacks=None, **kwargs):
                params = sample_params(hp, spec)
                history = model.fit(x, y, batch_size=params["batch_size"],
                                    callbacks=sweep.trial_callbacks(params) + list(callbacks or []), **kwargs)
                sweep.current.setdefault("histories", []).append(history.history)
                return history

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
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from …"
            tuner = tuner_class(**kwargs)
        tuner.sweep = self
        return tuner

    def trial_callbacks(self, params: dict) -> list:
        import keras

        stop_on_nan, macro_f1_callback = keras_callbacks()
        callbacks = []
        if "f1" in self.spec.train.metrics:  # first: the callbacks after it read val_f1
            callbacks.append(macro_f1_callback(self.data.x_val, self.data.y_val, self.shape.binary))
        callbacks.append(stop_on_nan(params["learning_rate"]))
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
        import keras
        from keras_tuner.src import config as kt_config

        kt_config.DEBUG = False  # Keras Tuner prints every failed trial's traceback; nnlab records a reason
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")

        tuner = self.make_tuner()
        self.total = self.total_trials(tuner)
        self._sync_records(tuner)
        done = sum(1 for r in self.records.values() if r["status"] in ("completed", "failed"))
        epochs = (f"up to {self.spec.search.max_epochs or self.spec.train.epochs} epochs"
                  if self.spec.search.tuner == "hyperband" else f"{self.spec.train.epochs} epochs")
        search_text = (f"{self.spec.search.tuner}, {self.total or '?'} trials, objective {self.objective} "
                       f"({self.direction}), {epochs}, on {self.device_name}")
        self.reporter.start(self.spec.name, self.data.summary(), search_text, done, self.total)
        status = "completed"
        x, y = self.data.x_train, fit_targets(self.data.y_train, self.shape)
        val = (self.data.x_val, fit_targets(self.data.y_val, self.shape))
        try:
            self._write("running")
            tuner.search(x, y, validation_data=val, epochs=self.spec.train.epochs, verbose=0)
        except _StopSearch as stop:
            status, self.stop_reason = "stopped", str(stop)
            self.reporter.warn(str(stop))
        except KeyboardInterrupt:
            status = "interrupted"
            self.reporter.warn("interrupted: completed trials are saved; run the same command again to resume")
        finally:
            keras.backend.clear_session()
        self._save_best_model(tuner)
        summary = self._write(status)
        if status == "interrupted":
            return RunResult(self.run_dir, summary, self.ordered())
        ranked = [r for r in self.ordered() if r["status"] == "completed"]
        ranked.sort(key=lambda r: r["score"], reverse=self.direction == "max")
        self.reporter.table(ranked, self.objective, self.hp_names)
        self.reporter.say(f"Results in {self.run_dir}/ (trials.csv, summary.json, best.keras). "
                          f"Compare runs with: nnlab compare {self.run_dir.parent}")
        if not summary["completed"]:
            self.reporter.warn("no trial completed; see the reasons in trials.csv")
        return RunResult(self.run_dir, summary, self.ordered())

    # ---- hooks called by the tuner (see _SweepHooks)

    def before_trial(self) -> None:
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
        record = self._record(trial, reason, self.current)
        self.records[trial.trial_id] = record
        self._write("running")
        best = self.best()
        self.reporter.trial_ends(self._number(trial.trial_id), self.total, record, self.objective, best)
        self.current = {}

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
        started = current.get("started")
        return {
            "trial_id": trial.trial_id, "status": status, "score": score, "best_epoch": best_epoch,
            "epochs": epochs, "seconds": round(time.monotonic() - started, 2) if started else None,
            "reason": reason, "hyperparameters": active_values(trial.hyperparameters.values, self.spec),
            "metrics": metrics,
        }

    def _sync_records(self, tuner) -> None:
        """Records for every trial Keras Tuner knows of; kept ones stay as they were."""
        for trial_id, trial in tuner.oracle.trials.items():
            old = self.records.get(trial_id)
            if old and old["status"] in ("completed", "failed"):
                continue
            if trial.status in ("COMPLETED", "FAILED", "INVALID"):
                self.records[trial_id] = self._record(trial, None, {})
            else:
                self.records[trial_id] = {"trial_id": trial_id, "status": "running", "score": None,
                                          "hyperparameters": active_values(trial.hyperparameters.values, self.spec),
                                          "metrics": {}}
        self.records = {k: v for k, v in self.records.items() if k in tuner.oracle.trials}

    def ordered(self) -> list[dict]:
        return sorted(self.records.values(), key=lambda r: self._number(r["trial_id"]))

    def _number(self, trial_id: str) -> int:
        return int(trial_id) + 1 if str(trial_id).isdigit() else 0

    def best(self) -> dict | None:
        done = [r for r in self.records.values() if r["status"] == "completed"]
        if not done:
            return None
        pick = max if self.direction == "max" else min
        return pick(done, key=lambda r: r["score"])

    def _summary(self, status: str) -> dict:
        records = self.ordered()
        best = self.best()
        elapsed = time.monotonic() - self.started
        return {
            "run": self.spec.name, "status": status, "nnlab_version": __version__,
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

    def _write(self, status: str) -> dict:
        summary = self._summary(status)
        results.write_trials(self.run_dir / results.TRIALS, self.ordered(), self.hp_names, self.metric_names)
        results.write_json(self.run_dir / results.SUMMARY, summary)
        return summary

    def _save_best_model(self, tuner) -> None:
        best = self.best()
        path = self.run_dir / results.BEST_MODEL
        if best is None or (self.best_model_trial == best["trial_id"] and path.is_file()):
            return
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the checkpoint's optimizer state is not needed
                model = tuner.load_model(tuner.oracle.get_trial(best["trial_id"]))
        except Exception as exc:  # a deleted or damaged checkpoint: keep the results, say so
            self.reporter.warn(f"could not load the best trial's checkpoint ({exc}); best.keras not written")
            return
        tmp = path.with_name(".best.tmp.keras")
        model.save(tmp)
        os.replace(tmp, path)
        self.best_model_trial = best["trial_id"]


class _SweepHooks:
    """Mixed into a Keras Tuner tuner class: reports each trial to the `Sweep` (set as `.sweep`)."""

    sweep: Sweep

    def pre_create_trial(self):
        super().pre_create_trial()
        self.sweep.before_trial()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._reason = None
        self.sweep.trial_begins(trial)

    def run_trial(self, trial, *args, **kwargs):
        from keras_tuner.errors import FailedTrialError

        try:
            return super().run_trial(trial, *args, **kwargs)
        except Exception as exc:
            self._reason = explain_failure(exc)
            raise FailedTrialError(self._reason) from exc

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.sweep.trial_ends(trial, getattr(self, "_reason", None))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
