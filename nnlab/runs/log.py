"""A live run's trial records and the plain files they go to (`RunLog`).

While a sweep runs, its `RunLog` holds one `TrialRecord` per trial and rewrites trials.csv and
summary.json whole after every trial, so the folder always says how the run stands. A resumed run
starts from the records its trials.csv already holds. No TensorFlow: the engine fills the records.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from nnlab.runs import files
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import (
    SHARED_MEMORY_FAILURE,
    Summary,
    TrialRecord,
    by_number,
    is_memory_failure,
    rank,
    run_status,
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunLog:
    """A live run's records, kept by the process that keeps them (the sweep, or a chief): each trial's
    record as it changes, and trials.csv and summary.json rewritten from them."""

    def __init__(self, folder: RunFolder, base: Summary, previous: Summary | None, warn=print):
        """`base`: what stays the same through the run (spec hash, data, device, names of the
        hyperparameters and metrics). `previous`: the summary of the run being resumed (an empty one
        if it was damaged), None for a fresh run."""
        self.folder, self.base = folder, base
        self.previous = previous or Summary()
        self.records: dict[str, TrialRecord] = {}
        self.best_model_trial = self.previous.best_model_trial  # whose weights best.keras holds
        self.refit = self.previous.refit  # best.keras refitted on every training row (or None)
        self.baseline = self.previous.baseline  # search.baseline's record (or None)
        self.skipped = self.previous.skipped  # configurations over search.constraints, never trained (or None)
        self.ensemble = self.previous.ensemble  # best.keras averages these trials' models (or None)
        self.expected = self.previous.expected_score  # best.keras on the test rows (engine.final.expected)
        self.confirmed = self.previous.confirmed  # search.confirm's cross-validated top K (engine.final.confirm)
        self.stop_reason: str | None = None
        self.after_write = None  # called after each write of the run folder's files (runs.tracking.Tracker.push)
        self.total: int | None = None  # trials this search will run, once the tuner is built
        self.started, self.started_at = time.monotonic(), self.previous.started_at or now()
        if previous is not None and folder.trials_path.is_file():
            hp_names = previous.hyperparameter_names or base.hyperparameter_names or []
            metric_names = previous.metric_names or base.metric_names or []
            problems: list[str] = []
            try:
                for record in files.read_trials(folder.trials_path, hp_names, metric_names, problems):
                    self.records[record.trial_id] = record
            except (OSError, ValueError) as exc:
                problems.append(str(exc))
            for problem in problems:  # (a row it cannot read is left out: the tuner's state rebuilds it)
                warn(f"{folder.trials_path} is damaged ({problem}); rebuilding what it cannot hold from the tuner's "
                     "state")

    def put(self, record: TrialRecord) -> None:
        self.records[record.trial_id] = record

    def expect(self, total: int | None) -> None:
        """How many trials the search will run (known once the tuner is built)."""
        self.total = total

    def ordered(self) -> list[TrialRecord]:
        return by_number(self.records.values())

    def ranked(self) -> list[TrialRecord]:
        """Completed trials, best first."""
        return rank(self.records.values(), self.base.direction)

    def best(self) -> TrialRecord | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def finished(self) -> int:
        return sum(r.finished for r in self.records.values())

    def failure_streak(self) -> list[TrialRecord]:
        """The failed trials since the last completed one, in search order; a trial that ran out of memory
        on a GPU other workers share is not the configuration's failure, and is left out."""
        streak: list[TrialRecord] = []
        for record in self.ordered():
            if record.status == "failed" and (record.reason or "").startswith(SHARED_MEMORY_FAILURE):
                continue
            streak = streak + [record] if record.status == "failed" else []
        return streak

    def summary(self, status: str) -> Summary:
        records, best = self.ordered(), self.best()
        completed = sum(r.status == "completed" for r in records)
        return replace(
            self.base, status=run_status(status, completed), max_trials=self.total, trials=len(records),
            completed=completed, failed=sum(r.status == "failed" for r in records),
            failed_out_of_memory=sum(is_memory_failure(r) for r in records),
            pruned=sum(r.status == "pruned" for r in records),
            best_trial=best.trial_id if best else None, best_score=best.score if best else None,
            best_hyperparameters=best.hyperparameters if best else None, best_metrics=best.metrics if best else None,
            best_model_trial=self.best_model_trial, refit=self.refit, ensemble=self.ensemble, baseline=self.baseline,
            skipped=self.skipped, expected_score=self.expected, confirmed=self.confirmed,
            seconds=round(self.previous.seconds + time.monotonic() - self.started, 2), stop_reason=self.stop_reason,
            started_at=self.started_at, updated_at=now())

    def write(self, status: str, folder: Path | None = None) -> Summary:
        """Rewrite trials.csv and summary.json (in the run folder, or in `folder` being prepared)."""
        folder = folder or self.folder.path
        summary = self.summary(status)
        files.write_trials(folder / files.TRIALS, self.ordered(), self.base.hyperparameter_names or [],
                           self.base.metric_names or [])
        files.write_summary(folder / files.SUMMARY, summary)
        if self.after_write is not None and folder == self.folder.path:
            self.after_write()
        return summary
