"""What every role of a sweep shares: the spec's data on its device, the `Trainer`, and a Keras Tuner
tuner built around them.

`Search` is the base of the three roles: one process (`sweep.LocalSweep`), the chief that hands out
trials and keeps the records (`distributed.chief.ChiefSweep`) and a worker that trains what the chief
hands it (`distributed.workers.WorkerSweep`). A role tells its tuner what to do at each moment of a
trial through the event methods of `Search` (`before_trial`, `trial_begins`, `trial_finishing`,
`trial_ends`), which Keras Tuner's hooks call (`TunerHooks`).

With search.pack (`Search.pack` > 1) the tuner takes several trials at a time and trains those that
share a batch as one pack (`TunerHooks.search_packed`, `engine.pack.trials`); each trial then ends
through Keras Tuner's own steps and the same events as a trial trained alone.
"""

from __future__ import annotations

import contextlib
import io
import time

from nnlab.data.dataset import Dataset
from nnlab.engine import kerastuner, tunerproject
from nnlab.engine.backend import custom_gradients, mirrored_strategy, release_custom_gradients
from nnlab.engine.callbacks import best_epoch_metrics, keras_callbacks
from nnlab.engine.failures import POISONED, explain_failure, first_useful_line
from nnlab.engine.latency import Latencies
from nnlab.engine.pack.trials import ModelPool, PackTrial, fit_pack, pack_groups
from nnlab.engine.placement import Placement
from nnlab.engine.pruning import MedianRule
from nnlab.engine.skips import Skips
from nnlab.engine.trainer import Trainer, TrialWork
from nnlab.errors import disk_full, plural
from nnlab.faults import crash_trial, kill_point
from nnlab.progress import Reporter
from nnlab.runs import files
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import LATENCY, TrialRecord, is_number, trial_number
from nnlab.runs.trialprogress import TrialProgress
from nnlab.spec.objectives import objective_of
from nnlab.spec.schema import Spec
from nnlab.spec.space import active_values, count_configurations, sample_params

TENSORBOARD_DIR = "tensorboard"
IDLE_SECONDS = 0.5  # a packing tuner's wait when the oracle has no trial yet (grid: waiting on running trials)

files.on_write(kill_point)  # the fault-injection tests kill a sweep between a write and its rename


class Search:
    """The spec, its data and trainer, the run folder, and the tuner around them (see module doc)."""

    def __init__(self, spec: Spec, data: Dataset, folder: RunFolder, reporter: Reporter, placement: Placement, *,
                 tensorboard: bool = False, live_epochs: bool = False, pack: int = 1):
        """`pack`: the most trials trained at once (search.pack, as `pack.size.pack_size` resolved it)."""
        self.spec, self.data, self.folder, self.reporter = spec, data, folder, reporter
        self.placement, self.tensorboard, self.pack = placement, tensorboard, pack
        self.pool = ModelPool() if pack > 1 else None  # (models kept from pack to pack for their traced steps)
        pruning = MedianRule(folder, *objective_of(spec)) if spec.search.pruning == "median" else None
        self.distribution = None
        if placement.mirrored:
            self.distribution = mirrored_strategy()
        self.trainer = Trainer(spec, data, on_epoch_end=reporter.epoch_ends if live_epochs else None, pruning=pruning,
                               strategy=self.distribution)
        self.objective, self.direction = self.trainer.objective, self.trainer.direction
        self.works: dict[str, TrialWork] = {}  # what this process saw of each trial it trains (see `record`)
        self._checkpointers: dict[int, tuple] = {}  # id(Keras Tuner's writer): (it, nnlab's replacement)
        runtime = spec.search.latency
        self.latencies = Latencies(runtime, spec.model.kind, self.trainer.shape) if runtime else None

    # ---- the tuner

    def build_tuner(self, repair_records: dict | None = None):
        """Keras Tuner's tuner of `search.tuner`, over this run's project folder (reloaded on a resume).
        `repair_records`: the run's trial records, to mend a damaged project first (the chief's and
        the single process's job, not a worker's)."""
        kt = kerastuner.import_keras_tuner()
        search = self
        spec = self.spec

        class HyperModel(kt.HyperModel):
            def build(self, hp):
                return search.trainer.compiled_model(sample_params(hp, spec))

            def fit(self, hp, model, data, callbacks=None, **kwargs):
                return search.trainer.fit(sample_params(hp, spec), model, lambda: self.build(hp),
                                          [search.in_memory(c) for c in callbacks or []], **kwargs)

        base = kerastuner.tuner_base(spec.search.tuner)
        tuner_class = type(f"Nnlab{base.__name__}", (TunerHooks, base), {})
        kwargs = dict(
            hypermodel=HyperModel(), objective=kt.Objective(self.objective, self.direction), seed=spec.seed,
            directory=str(self.folder.path), project_name=self.folder.tuner_dir.name,
            overwrite=False, executions_per_trial=spec.search.executions_per_trial, max_retries_per_trial=0,
            max_consecutive_failed_trials=10**9,  # nnlab counts failures itself (search.max_failures)
        )
        if spec.search.tuner == "hyperband":
            kwargs.update(max_epochs=spec.search.max_epochs or spec.train.epochs, factor=spec.search.factor)
        else:
            kwargs["max_trials"] = spec.search.trial_limit()  # None: until search.max_minutes
        if self.distribution is not None:
            kwargs["distribution_strategy"] = self.distribution
        if repair_records is not None:
            tunerproject.repair(self.folder.tuner_dir, repair_records, self.reporter.warn)
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from …"
            tuner = tuner_class(events=self, **kwargs)
        kerastuner.restore_grid_walk(tuner.oracle)  # (a resumed grid)
        if spec.search.constraints is not None:
            skips = Skips(spec, self.data, self.reporter, getattr(self, "log", None), self.latencies)
            kerastuner.keep_within(tuner.oracle, lambda values: skips.reason(tuner.oracle, values), skips.said)
        kill_point("startup")
        return tuner

    def in_memory(self, callback):
        """Keras Tuner's per-epoch checkpoint writer, replaced by one that writes once per trial. One
        replacement per original: Keras Tuner shares it across the executions of a trial."""
        if not kerastuner.is_checkpoint_writer(callback):
            return callback
        if id(callback) not in self._checkpointers:  # (the original is kept too, so its id is never reused)
            best_weights_in_memory = keras_callbacks().best_weights_in_memory
            self._checkpointers[id(callback)] = (callback, best_weights_in_memory(callback))
        return self._checkpointers[id(callback)][1]

    def search_callbacks(self) -> list:
        """Callbacks for every trial, which Keras Tuner copies per trial: TensorBoard when asked (Keras
        Tuner gives each trial and execution its own log folder and adds the HParams callback)."""
        if not self.tensorboard:
            return []
        import keras

        return [keras.callbacks.TensorBoard(log_dir=str(self.folder.path / TENSORBOARD_DIR))]

    def total_trials(self, tuner) -> int | None:
        if self.spec.search.tuner == "hyperband":
            return kerastuner.hyperband_trials(tuner.oracle)
        total = self.spec.search.trial_limit()
        if self.spec.search.tuner == "grid":  # (a grid is finite: its float ranges have steps)
            size = count_configurations(self.spec)
            total = size if total is None else min(total, size)
        return None if total is None else int(total)

    def run_search(self, tuner) -> None:
        """Keras Tuner's search over the run's data, trial by trial, or in packs (search.pack)."""
        fit_args = dict(epochs=self.spec.train.epochs, verbose=0, callbacks=self.search_callbacks())
        if self.pack > 1:
            tuner.search_packed(self.pack, self.trainer.training, **fit_args)
        else:
            tuner.search(self.trainer.training, **fit_args)

    def record(self, trial, reason: str | None, seen_here: bool = True) -> TrialRecord:
        """A trial's record from Keras Tuner's trial, and (`seen_here`) what this process saw of it."""
        status = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed"}.get(trial.status, "running")
        score = trial.score if status == "completed" else None
        if status == "completed" and not is_number(score):
            status, reason = "failed", f"{self.objective} was not a finite number"
        if status == "failed" and not reason:
            reason = first_useful_line(trial.message)
        work = self.works.get(trial.trial_id) if seen_here else None
        # (trained by another process, or by this one before a kill: its progress file says what it saw)
        progress = None if work else self.folder.trial_progress(trial.trial_id) or TrialProgress()
        pruned = work.pruned if work else progress.pruned
        if status == "completed" and pruned:  # (Keras Tuner's oracle holds it as completed, with its score)
            status, reason = "pruned", pruned
        best_epoch, epochs, metrics = best_epoch_metrics(work.histories if work else progress.history,
                                                         self.objective, self.direction)
        if progress is not None and status in ("completed", "pruned") and progress.metrics:
            metrics = {**metrics, **progress.metrics}
            best_epoch, epochs = progress.best_epoch or best_epoch, progress.epochs or epochs
        if not metrics and status in ("completed", "pruned"):  # (no progress file: Keras Tuner's own record)
            metrics, best_epoch = kerastuner.tracked_metrics(trial), (trial.best_step or 0) + 1
        if work and work.fold_std is not None and status == "completed":
            metrics = {**metrics, f"{self.objective}_std": work.fold_std}
        if work and work.latency_ms is not None and status in ("completed", "pruned"):
            metrics = {**metrics, LATENCY: work.latency_ms}
        seconds, worker = (work.elapsed(), None) if work else (progress.seconds, progress.worker)
        return TrialRecord(trial.trial_id, status, score, best_epoch, epochs, seconds, worker, reason,
                           active_values(trial.hyperparameters.values, self.spec), metrics)

    def write_progress(self, trial_id: str, progress: TrialProgress) -> None:
        """The trial's progress file (see `runs.trialprogress`) with what this process saw of it, its
        per-epoch history and pruning added. Written before Keras Tuner records the trial's end."""
        work = self.works.get(trial_id) or TrialWork()
        progress.history = [{name: [float(v) for v in values] for name, values in h.items()} for h in work.histories]
        progress.pruned = work.pruned
        if work.latency_ms is not None:
            progress.metrics = {**progress.metrics, LATENCY: work.latency_ms}
        if progress.seconds is None and trial_id in self.works:  # (a resume after a kill reads its time back)
            progress.seconds = work.elapsed()
        progress.write(self.folder.trial_progress_path(trial_id))

    # ---- events (called by the tuner's hooks; a role overrides those it needs)

    def before_trial(self) -> None:
        """Before the tuner asks for a new trial: raise `StopSearch` to end the search."""

    def trial_begins(self, trial, work: TrialWork | None = None) -> None:
        """A trial starts. Alone: its seed is set, the trainer's record of it begun and search.pruning's
        curves read again. In a pack, `train_pack` has done all that for each trial (`work`: its record)."""
        if work is None:
            import keras

            keras.utils.set_random_seed(self.spec.seed + trial_number(trial.trial_id))
            work = self.trainer.begin_trial()
            self.refresh_pruning()
            self._checkpointers = {}
        self.works[trial.trial_id] = work
        crash_trial(trial.trial_id)

    def refresh_pruning(self) -> None:
        if self.trainer.pruning is not None:
            self.trainer.pruning.refresh()

    def train_pack(self, tuner, trials: list) -> dict[str, PackTrial]:
        """Train Keras Tuner's `trials` (sharing a batch) as one pack; each trial's results or failure."""
        self.refresh_pruning()
        self._checkpointers = {}
        packed = []
        for trial in trials:
            pack_trial = PackTrial(trial.trial_id, sample_params(trial.hyperparameters, self.spec),
                                   self.spec.seed + trial_number(trial.trial_id))
            pack_trial.callbacks = [self.in_memory(kerastuner.checkpoint_writer(tuner, trial.trial_id))]
            self.trial_begins(trial, pack_trial.work)
            packed.append(pack_trial)
        self.reporter.pack_begins(len(packed))
        fit_pack(self.trainer, packed, self.spec.train.epochs, self.spec.search.executions_per_trial, self.pool)
        return {p.trial_id: p for p in packed}

    def pack_failed(self, trials: list, reason: str) -> None:
        """A pack's training failed as a whole (not one trial's failure): its trials train one at a time."""
        self.reporter.warn(f"the pack of trials {', '.join(t.trial_id for t in trials)} failed as a whole ({reason}); "
                           "training them one at a time")

    def trial_finishing(self, trial, reason: str | None) -> None:
        """After training, before Keras Tuner records the trial's end (and tells a chief)."""

    def time_trial(self, trial, reason: str | None) -> None:
        """search.latency: the trial's model timed as it ends (once per configuration), unless it failed."""
        failed = reason or trial.status in ("FAILED", "INVALID")
        if self.latencies is not None and trial.trial_id in self.works and not failed:
            self.latencies.time(trial.trial_id, sample_params(trial.hyperparameters, self.spec),
                                self.works[trial.trial_id], self.reporter.warn)

    def trial_ends(self, trial, reason: str | None) -> None:
        """After Keras Tuner recorded the trial's end."""

    def gpu_poisoned(self, reason: str) -> None:
        """A trial's CUDA error left this process's GPU unusable: every later trial here would fail. A
        single process stops the search (resuming starts a clean process); a worker overrides this."""
        raise StopSearch(f"{reason}. Run the same command again to resume in a new process")


def start_text(search: Search, total: int | None, where: str | None = None) -> str:
    """A search in one line; `where` the trials train (default: this process's device)."""
    epochs = (f"up to {plural(search.spec.search.max_epochs or search.spec.train.epochs, 'epoch')}"
              if search.spec.search.tuner == "hyperband" else plural(search.spec.train.epochs, "epoch"))
    folds = f", {search.trainer.fold_count}-fold cross-validation" if search.trainer.fold_count else ""
    minutes = search.spec.search.max_minutes
    trials = (plural(total, "trial") if total else f"as many trials as fit in {minutes:g} minute"
              f"{'' if minutes == 1 else 's'}" if minutes else "? trials")
    packs = f", in packs of up to {search.pack} trials" if search.pack > 1 else ""
    return (f"{search.spec.search.tuner}, {trials}, objective {search.objective} "
            f"({search.direction}), {epochs}{folds}{packs}, {where or f'on {search.placement.name}'}")


class StopSearch(Exception):
    """Raised between trials to end the search early (a time or failure limit). `planned`: the end the
    spec asked for (the time budget of a search without max_trials), not a limit cutting it short."""

    def __init__(self, reason: str, planned: bool = False):
        super().__init__(reason)
        self.planned = planned


class TunerHooks(kerastuner.FastBuild):
    """Mixed into a Keras Tuner tuner class: tells the `Search` given as `events` about each trial,
    turns a failing trial's exception into a one-line reason, and frees each trial's graphs."""

    def __init__(self, *args, events: Search, **kwargs):
        self.events = events
        self._reason: str | None = None
        self._gradients: set | None = None  # the gradient registry before the trial (or pack): freed at its end
        self._trained: dict[str, PackTrial] = {}  # trials trained ahead in a pack: `run_trial` returns their results
        super().__init__(*args, **kwargs)

    def search_packed(self, slots: int, *fit_args, **fit_kwargs) -> None:
        """Keras Tuner's search loop (`BaseTuner.search`) taking up to `slots` trials at a time, as
        `slots` workers would, and training those that share a batch as one pack (search.pack)."""
        if "verbose" in fit_kwargs:
            kerastuner.set_oracle_verbose(self, fit_kwargs["verbose"])
        self.on_search_begin()
        while True:
            self.pre_create_trial()
            trials, stopped = kerastuner.create_trials(self.oracle, self.tuner_id, slots)
            if not trials:
                if stopped:
                    break
                time.sleep(IDLE_SECONDS)
                continue
            for group in pack_groups(trials, lambda t: sample_params(t.hyperparameters, self.events.spec)):
                self._run_pack(group, fit_args, fit_kwargs)
        self.on_search_end()

    def _run_pack(self, trials: list, fit_args: tuple, fit_kwargs: dict) -> None:
        """One pack: trained together, then each trial ended as Keras Tuner ends a trial. If the pack fails
        as a whole (its step, not one trial), each of its trials trains alone."""
        self._gradients = custom_gradients()
        try:
            packed = self.events.train_pack(self, trials)
        except Exception as exc:
            if disk_full(exc):
                raise kerastuner.fatal(str(exc)) from exc
            self.events.pack_failed(trials, explain_failure(exc))
            self._release_graphs()
            for trial in trials:
                self.on_trial_begin(trial)
                kerastuner.run_and_update(self, trial, *fit_args, **fit_kwargs)
                self.on_trial_end(trial)
            return
        self._trained = dict(packed)
        try:
            for trial in trials:  # (each ended as a trial trained alone is, its results already there)
                self._reason = None
                kerastuner.run_and_update(self, trial)
                self.on_trial_end(trial)
        finally:
            self._trained = {}
            self._release_graphs()

    def _release_graphs(self) -> None:
        if self._gradients is not None:
            release_custom_gradients(self._gradients)
            self._gradients = None

    def pre_create_trial(self):
        super().pre_create_trial()
        self.events.before_trial()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._reason = None
        self._gradients = custom_gradients()
        self.events.trial_begins(trial)

    def run_trial(self, trial, *args, **kwargs):
        from keras_tuner.errors import FailedTrialError

        try:
            if trial.trial_id in self._trained:  # (trained in its pack: its results, or its failure raised again)
                return self._trained.pop(trial.trial_id).outcome()
            return super().run_trial(trial, *args, **kwargs)
        except Exception as exc:
            if disk_full(exc):  # not the configuration's failure: stop, and the trial runs again on resume
                raise kerastuner.fatal(str(exc)) from exc
            self._reason = explain_failure(exc)
            raise FailedTrialError(self._reason) from exc

    def on_trial_end(self, trial):
        self.events.trial_finishing(trial, self._reason)
        super().on_trial_end(trial)
        self._release_graphs()  # the trial's model is done (a pack's: all of them, freed at its first trial's end)
        self.events.trial_ends(trial, self._reason)
        self.events.works.pop(trial.trial_id, None)
        if self._reason and self._reason.startswith(POISONED):  # (recorded first: nothing is lost)
            self.events.gpu_poisoned(self._reason)
