"""Running a sweep in this process: `run(spec, runs_dir)` is the whole of `nnlab run`.

It opens (or resumes) the run folder, loads the data, builds Keras Tuner's tuner around nnlab's
trainer (see `search`), and searches. After every trial the records, trials.csv and summary.json are
rewritten; at the end the best model is saved as best.keras.

`RecordingSweep` is what a role that keeps the run's records does (this process alone, or the chief
of a parallel sweep): the records and files (`runs.log.RunLog`), the time and failure limits,
best.keras and the checkpoints to keep. `LocalSweep` adds training in this process. Keras Tuner owns
the search state (its project in `tuner/`); resuming is its own reload, after nnlab's repair.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlab import baseline
from nnlab.data.dataset import Dataset
from nnlab.engine.backend import clear_session, freeze_heap
from nnlab.engine.final import confirm, expected
from nnlab.engine.final.bestmodel import FinalModel
from nnlab.engine.final.expected import expected_score
from nnlab.engine.pack.size import pack_size
from nnlab.engine.placement import Placement, RunOptions, load_and_place
from nnlab.engine.search import Search, StopSearch, start_text
from nnlab.errors import DiskFull, disk_full, disk_full_message, plural
from nnlab.faults import kill_point
from nnlab.progress import Reporter
from nnlab.quiet import hide_disk_errors
from nnlab.runs.folder import RunFolder
from nnlab.runs.lock import RunLock
from nnlab.runs.log import RunLog
from nnlab.runs.opening import check_run_dir, prepare_run_dir, write_run_inputs
from nnlab.runs.records import LATENCY, Summary, TrialRecord, trial_number
from nnlab.runs.tradeoff import kept_front
from nnlab.runs.trialprogress import TrialProgress
from nnlab.spec.loader import spec_hash
from nnlab.spec.objectives import logged_metrics
from nnlab.spec.schema import Spec
from nnlab.spec.space import active_values, hyperparameters
from nnlab.version import __version__


@dataclass
class SweepResult:
    """What a sweep in this process returns when it ends: its run folder, summary and trial records."""

    run_dir: Path
    summary: Summary
    records: list[TrialRecord]

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def run(spec: Spec, runs_dir: str | Path = "runs", *, overwrite: bool = False, device: str = "auto",
        quiet: bool = False, reporter: Reporter | None = None, strategy: str | None = None,
        tensorboard: bool = False, frame=None, track=None) -> SweepResult:
    """Run (or resume) the sweep a spec describes into `runs_dir/<spec.name>/`, in this process.
    `strategy="mirrored"` trains each trial on all visible GPUs (Keras Tuner's distribution_strategy);
    `tensorboard` writes per-trial TensorBoard logs with the HParams dashboard to RUN/tensorboard/;
    `frame`: a pandas DataFrame in place of a CSV source's file; `track`: a `TrackSpec` (--track) to keep an
    MLflow server up to date (`runs.tracking`), else the spec's `track:` or NNLAB_TRACKING_URI."""
    reporter = reporter or Reporter(quiet=quiet)
    with RunLock(Path(runs_dir) / spec.name) as lock:  # one process per run folder
        options = RunOptions(device, strategy, tensorboard, frame, track)
        sweep = LocalSweep.open(spec, runs_dir, options, overwrite=overwrite, reporter=reporter, lock=lock)
        with terminate_as_interrupt():
            return sweep.search()


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


class Limits:
    """search.max_minutes and search.max_failures: when no new trial may start."""

    def __init__(self, spec: Spec, log: RunLog):
        self.spec, self.log = spec, log
        minutes = spec.search.max_minutes
        self.deadline = time.monotonic() + minutes * 60 if minutes else None

    def check(self) -> None:
        """Raise `StopSearch` with the reason when the search must stop before its next trial."""
        reserve = self.reserve()
        if self.deadline and time.monotonic() > self.deadline - reserve:
            kept = f", {reserve:.0f} s kept for search.confirm" if reserve else ""
            if not self.log.finished():
                raise StopSearch(f"the time budget (search.max_minutes: {self.spec.search.max_minutes:g}) was used "
                                 f"up before trial 1 started (the data and search.baseline took it{kept}); raise "
                                 "search.max_minutes")
            if self.spec.search.trial_limit() is None:
                raise StopSearch(f"the time budget (search.max_minutes: {self.spec.search.max_minutes:g}) is used: "
                                 f"{self.log.finished()} trial(s) done{kept}", planned=True)
            raise StopSearch(f"search.max_minutes ({self.spec.search.max_minutes:g}) reached: no new trial "
                             f"started{kept}")
        limit, streak = self.spec.search.max_failures, self.log.failure_streak()
        if len(streak) >= limit:
            reasons = sorted({r.reason or "unknown" for r in streak})
            raise StopSearch(f"{plural(len(streak), 'trial')} failed in a row (search.max_failures is {limit}); "
                             "stopping. "
                             "Reasons:\n  - " + "\n  - ".join(reasons))

    def reserve(self) -> float:
        """Seconds of the budget kept for search.confirm: its trainings (K configurations, a fold each) at
        the median completed trial's time, at most a third of the budget."""
        from nnlab.engine.final.confirm import FOLDS

        count = self.spec.search.confirm
        seconds = sorted(r.seconds for r in self.log.records.values() if r.completed and r.seconds)
        if count < 2 or not seconds or not self.deadline:
            return 0.0
        return min(count * FOLDS * seconds[len(seconds) // 2], self.spec.search.max_minutes * 20)


class RecordingSweep(Search):
    """A role that keeps the run's records: the single process, or the chief of a parallel sweep."""

    def __init__(self, spec: Spec, data: Dataset, folder: RunFolder, reporter: Reporter, placement: Placement,
                 previous: Summary | None, **options):
        super().__init__(spec, data, folder, reporter, placement, **options)
        metric_names = logged_metrics(spec, data.task, data.heads)
        if self.trainer.fold_count:  # the spread of a trial's score over the folds, beside its mean
            metric_names.append(f"{self.objective}_std")
        if spec.search.latency:
            metric_names.append(LATENCY)
        base = Summary(run=spec.name, nnlab_version=__version__, spec_hash=spec_hash(spec), model=spec.model.kind,
                       data=data.description, data_hash=data.content_hash(), task=data.task, tuner=spec.search.tuner,
                       classes=data.class_names if not data.targets else {t.name: t.class_names for t in data.targets},
                       objective=self.objective, direction=self.direction, train_examples=len(data.x_train),
                       validation_examples=len(data.x_val), device=placement.name,
                       hyperparameter_names=list(hyperparameters(spec)), metric_names=metric_names,
                       notes=list(data.notes))
        self.log = RunLog(folder, base, previous, reporter.warn)
        self.limits = Limits(spec, self.log)
        self.fresh = previous is None
        self.tracker = None

    def start_tracking(self, track) -> None:
        """The run folder sent to an MLflow server after each write: `track` (a TrackSpec: --track), else
        the spec's `track:` section or NNLAB_TRACKING_URI (`runs.tracking.settings`)."""
        from nnlab.runs.tracker import Tracker
        from nnlab.runs.tracking import settings

        track = track or settings(self.spec)
        if track:
            self.tracker = Tracker(self.folder.path, track, self.reporter)
            self.log.after_write = self.tracker.push
            self.tracker.push()

    def stop_tracking(self) -> None:
        if self.tracker is not None:
            self.log.after_write = None
            self.tracker.close()

    def prepare_folder(self) -> None:
        """Write the run's inputs and first results; a fresh folder appears whole or not at all."""
        def fill(folder: Path) -> None:
            write_run_inputs(folder, self.spec, self.data)
            self.log.write("starting" if self.fresh else "running", folder)

        prepare_run_dir(self.folder.path, fresh=self.fresh, fill=fill)

    def make_tuner(self):
        tuner = self.build_tuner(repair_records=self.log.records)  # the search state is the recorder's to mend
        self.log.expect(self.total_trials(tuner))
        self.sync_records(tuner)
        return tuner

    def before_trial(self) -> None:
        self.limits.check()

    def header_notes(self) -> list[str]:
        """The data's notes for the run's header, with search.baseline's line: the baseline is fitted
        here, once per run (a resumed run keeps its record), before trial 1."""
        if self.spec.search.baseline != "gbm":
            return list(self.data.notes)
        reason = baseline.unscored_reason(self.objective, self.data.heads, self.data.kind)
        if reason:
            return [*self.data.notes, reason]
        if self.log.baseline is None:
            self.reporter.say("search.baseline: fitting gradient boosting on the trials' rows…")
            self.log.baseline = baseline.fit_baseline(self.data, self.objective, self.direction, self.loss_name(),
                                                      self.baseline_folds(), self.spec.seed)
        return [*self.data.notes, baseline.described(self.log.baseline, self.objective)]

    def loss_name(self) -> str | None:
        """train.loss when it is fixed (a searched loss: None, and the baselines are scored on mse)."""
        return self.spec.train.loss if isinstance(self.spec.train.loss, str) else None

    def baseline_folds(self) -> list | None:
        """With data.folds, the trials' folds (as `splits.fold_indices` makes them), else None."""
        if not self.trainer.fold_count:
            return None
        from nnlab.data.splits import fold_indices

        y = np.concatenate([self.data.y_train, self.data.y_val])
        return fold_indices(y, self.data.task, self.trainer.fold_count, self.spec.seed, self.data.row_keys)

    def sync_records(self, tuner) -> None:
        """A record for every trial Keras Tuner knows of. Its state is the truth for status and score;
        nnlab's earlier record adds what only nnlab saw (time, epochs, the reason of a failure)."""
        synced = {}
        for trial_id, trial in tuner.oracle.trials.items():
            old = self.log.records.get(trial_id)
            if trial.status in ("COMPLETED", "FAILED", "INVALID"):
                record = self.record(trial, old.reason if old else None, seen_here=False)
                if old is not None and old.status == record.status:  # (what trials.csv holds, where it holds it)
                    for name in ("seconds", "epochs", "best_epoch", "worker"):
                        if getattr(old, name) is not None:
                            setattr(record, name, getattr(old, name))
                    record.metrics = old.metrics or record.metrics
            else:
                record = TrialRecord(trial_id, "running",
                                     hyperparameters=active_values(trial.hyperparameters.values, self.spec))
            synced[trial_id] = record
        self.log.records = synced

    def finish(self, tuner, status: str, stop_reason: str | None = None) -> SweepResult:
        """best.keras (refitted on every training row when search.refit), the final trials.csv and
        summary.json, and the closing table."""
        self.log.stop_reason = stop_reason
        final = FinalModel(self, tuner)
        final.save_best()
        if status != "interrupted":
            final.refit_best()
        self.prune_checkpoints(final=status != "interrupted")
        model = [self.log.best_model_trial, self.log.refit, self.log.ensemble, self.log.confirmed]
        fresh = (self.log.expected or {}).get("model") != model  # (a resume that changed nothing: scored once)
        if status != "interrupted" and fresh and self.log.best() is not None and self.folder.best_model_path.is_file():
            self.log.expected = {**expected_score(self.data, self.folder.best_model_path, self.objective,
                                                  self.log.best().score, self.loss_name(), self.log.baseline,
                                                  self.spec.seed, self.log.confirmed), "model": model}
        summary = self.log.write(status)
        self.stop_tracking()
        if status == "interrupted":
            return SweepResult(self.folder.path, summary, self.log.ordered())
        self.reporter.table(self.log.ranked(), self.objective, self.log.base.hyperparameter_names)
        against = baseline.versus(self.log.baseline or {}, summary.best_score, self.objective, self.direction)
        for line in (against, confirm.described(self.log.confirmed, self.objective),
                     expected.described(self.log.expected)):
            if line:
                self.reporter.say(line)
        shown = ", ".join(p.name for p in (self.folder.trials_path, self.folder.summary_path,
                                           self.folder.best_model_path) if p.is_file())
        self.reporter.say(f"Results in {self.folder.path}/ ({shown}). Compare runs with: nnlab compare "
                          f"{self.folder.path.parent}")
        if summary.failed_out_of_memory:
            self.reporter.warn(f"{summary.failed_out_of_memory} of the {summary.failed} failed trial(s) ran out of "
                               "memory (counted apart in summary.json: failed_out_of_memory); the reasons are in "
                               "trials.csv")
        if not summary.completed and summary.trials:  # (none started: the stop reason said why)
            self.reporter.warn("no trial completed; see the reasons in trials.csv")
        return SweepResult(self.folder.path, summary, self.log.ordered())

    def prune_checkpoints(self, final: bool) -> None:
        """search.keep: `all` keeps every trial's checkpoint; `best` the best trial's (Hyperband keeps
        all until the end, as later rounds start from earlier trials' weights), and with search.constraints
        or search.latency those on the front of score against size or latency; `none` removes them
        once best.keras is written."""
        keep = self.spec.search.keep
        if keep == "all" or (self.spec.search.tuner == "hyperband" and not final):
            return
        ranked = self.log.ranked()
        if keep == "none" and final and self.log.best_model_trial is not None:
            wanted = set()
        else:  # (search.ensemble without refit: the top K's, averaged at the end)
            search = self.spec.search
            wanted = {r.trial_id for r in ranked[:1 if search.refit else max(search.ensemble, search.confirm)]}
            wanted |= {r.trial_id for r in self.log.records.values() if r.status == "running"}
            if search.constraints is not None or search.latency:  # (the trials `--pick` may choose)
                wanted |= kept_front(self.folder.path, list(self.log.records.values()), self.direction,
                                     bool(search.latency))
        for trial_id in self.log.records:
            if trial_id not in wanted:
                self.folder.checkpoint_path(trial_id).unlink(missing_ok=True)


class LocalSweep(RecordingSweep):
    """The whole sweep in this process: it trains every trial and keeps the records."""

    @classmethod
    def open(cls, spec: Spec, runs_dir: str | Path, options: RunOptions, *, overwrite: bool, reporter: Reporter,
             lock: RunLock | None = None) -> LocalSweep:
        """Load the data, pick the device, take the run folder's `lock` (nothing is created before the
        data is known good), check the folder, and create or reopen it."""
        folder = RunFolder(Path(runs_dir) / spec.name)
        lock = lock or RunLock(folder.path)
        lock.check()  # another process holds it: say so before reading the data
        data, placement = load_and_place(spec, options, reporter, runs_dir=Path(runs_dir))
        lock.acquire("nnlab run")
        previous = check_run_dir(folder.path, spec, overwrite, reporter.warn)
        pack = pack_size(spec, data, placement, options.tensorboard)
        if pack.note:
            data.notes.append(pack.note)
        sweep = cls(spec, data, folder, reporter, placement, previous, tensorboard=options.tensorboard,
                    live_epochs=reporter.live, pack=pack.size)
        sweep.prepare_folder()
        sweep.start_tracking(options.track)
        return sweep

    def trial_begins(self, trial, work=None) -> None:
        super().trial_begins(trial, work)
        self.reporter.trial_begins(trial_number(trial.trial_id), self.log.total, trial.trial_id,
                                   active_values(trial.hyperparameters.values, self.spec))

    def trial_finishing(self, trial, reason: str | None) -> None:
        self.time_trial(trial, reason)
        self.write_progress(trial.trial_id, TrialProgress(reason=reason))

    def trial_ends(self, trial, reason: str | None) -> None:
        kill_point("trial_end")
        record = self.record(trial, reason)
        self.log.put(record)
        self.prune_checkpoints(final=False)
        self.log.write("running")
        self.reporter.trial_ends(record.number, self.log.total, record, self.objective, self.log.best())

    def search(self) -> SweepResult:
        tuner = self.make_tuner()
        notes = self.header_notes()
        self.reporter.start(self.spec.name, self.data.summary(), start_text(self, self.log.total), self.log.finished(),
                            self.log.total, self.spec.search.max_epochs or self.spec.train.epochs, self.objective,
                            notes=notes, deadline=self.limits.deadline)
        status, stop_reason = "completed", None
        freeze_heap()
        try:
            self.log.write("running")
            hide_disk_errors()
            self.run_search(tuner)
        except StopSearch as stop:
            status, stop_reason = "completed" if stop.planned else "stopped", str(stop)
            (self.reporter.say if stop.planned else self.reporter.warn)(str(stop))
        except KeyboardInterrupt:
            status = "interrupted"
            self.reporter.warn("interrupted: completed trials are saved, and resuming the run continues the search")
        except Exception as exc:
            if not disk_full(exc):
                raise
            status = "disk full"
        finally:
            clear_session()
            self.reporter.close()
        if status == "disk full":
            self.finish_on_full_disk(tuner)
        return self.finish(tuner, status, stop_reason)

    def finish_on_full_disk(self, tuner) -> None:
        """The disk filled during a trial: record what fits (the records are small; a write that does not
        fit leaves the last whole version), then say so. The unfinished trial runs again on resume."""
        with contextlib.suppress(OSError):
            self.log.write("interrupted")
        raise DiskFull(disk_full_message(self.folder.path.parent))
