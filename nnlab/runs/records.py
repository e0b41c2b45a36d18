"""What a run knows of its trials, as types: a `TrialRecord` per trial (a row of trials.csv) and the
run's `Summary` (summary.json), with the rules over them: which trials rank best, and which epoch of
a curve is its best. No files here (`files` writes and reads them) and no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nnlab import readback

STATUSES = ("running", "completed", "pruned", "failed")
# How a failed trial's reason begins when it ran out of memory on a GPU that other workers share: not the
# configuration's failure, so it does not count toward search.max_failures (see RunLog.failure_streak).
SHARED_MEMORY_FAILURE = "out of GPU memory on a GPU shared by"
LATENCY = "latency_ms"  # search.latency's time of one example's forward pass: a trial's metric in trials.csv
MEMORY_FAILURE = "out of memory:"  # how a failed trial's reason begins when it ran out of memory (no sharing)


def is_memory_failure(record: TrialRecord) -> bool:
    """A failed trial that ran out of memory: counted apart from the configurations that fail."""
    return record.status == "failed" and (record.reason or "").startswith((MEMORY_FAILURE, SHARED_MEMORY_FAILURE))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def trial_number(trial_id: str) -> int:
    """A trial's 1-based place in the search: Keras Tuner numbers trials "0", "1", …"""
    return int(trial_id) + 1 if str(trial_id).isdigit() else 0


@dataclass
class TrialRecord:
    """One trial as nnlab reports it. `score` is the objective at the best epoch; `metrics` holds
    every logged metric at that epoch; `reason` says why a failed trial failed."""

    trial_id: str
    status: str = "running"  # running, completed, pruned (search.pruning stopped it early) or failed
    score: float | None = None
    best_epoch: int | None = None
    epochs: int | None = None
    seconds: float | None = None
    worker: str | None = None  # the worker process that trained it (parallel runs)
    reason: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return trial_number(self.trial_id)

    @property
    def completed(self) -> bool:
        return self.status == "completed" and is_number(self.score)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "pruned", "failed")

    def as_dict(self) -> dict:
        return asdict(self)


def rank(records, direction: str) -> list[TrialRecord]:
    """The completed trials, best first (`direction`: "min" or "max"); ties keep the search order."""
    done = sorted((r for r in records if r.completed), key=lambda r: r.number)
    return sorted(done, key=lambda r: r.score, reverse=direction == "max")


def by_number(records) -> list[TrialRecord]:
    """The trials in the order the search started them."""
    return sorted(records, key=lambda r: r.number)


def best_index(values, direction: str) -> int | None:
    """The index of the best value of a curve (an objective epoch by epoch), NaN and infinities
    ignored; None when no value is a finite number."""
    finite = [(v, i) for i, v in enumerate(values) if is_number(v)]
    if not finite:
        return None
    pick = max if direction == "max" else min
    return pick(finite, key=lambda vi: (vi[0], -vi[1]) if direction == "max" else (vi[0], vi[1]))[1]


def best_value(values, direction: str) -> float | None:
    index = best_index(values, direction)
    return None if index is None else float(values[index])


@dataclass
class Summary:
    """summary.json: what a run searched and how it went. Every key has a default, so the summary of
    an older or damaged run still reads."""

    run: str = ""
    status: str = "unknown"  # starting, running, completed, stopped, interrupted or failed
    nnlab_version: str | None = None
    spec_hash: str | None = None
    model: str | None = None
    data: str | None = None
    data_hash: str | None = None  # SHA-256 of the rows trained and validated on, as the model received them
    task: str | None = None
    classes: list | dict | None = None  # several targets: {target: its classes or None}
    tuner: str | None = None
    objective: str | None = None
    direction: str = "min"
    max_trials: int | None = None
    trials: int = 0
    completed: int = 0
    failed: int = 0
    failed_out_of_memory: int = 0  # of the failed trials, those that ran out of memory
    pruned: int = 0
    best_trial: str | None = None
    best_score: float | None = None
    best_hyperparameters: dict | None = None
    best_metrics: dict | None = None
    best_model_trial: str | None = None  # whose weights best.keras holds
    seconds: float = 0.0
    train_examples: int | None = None
    validation_examples: int | None = None
    device: str | None = None
    hyperparameter_names: list[str] | None = None
    metric_names: list[str] | None = None
    stop_reason: str | None = None
    refit: dict | None = None  # best.keras refitted on every training row: {"trial", "epochs", "rows"}
    ensemble: dict | None = None  # best.keras averages several trials' models: {"trials", "refit"}
    baseline: dict | None = None  # search.baseline: {"model", "score", "metrics", "params", "seconds"}
    skipped: dict | None = None  # search.constraints: {"count", "examples": [{"hyperparameters", "reason"}, …]}
    # best.keras on rows no trial saw (data.test_split): {"value", "metric", "how", "rows", "validation", …}
    expected_score: dict | None = None
    confirmed: dict | None = None  # search.confirm: {"folds", "candidates", "trials": {id: {score, std, …}}, "order"}
    notes: list[str] | None = None  # what nnlab decided about the data (encodings, formats, columns left out)
    started_at: str | None = None
    updated_at: str | None = None

    @property
    def exit_code(self) -> int:
        """What `nnlab run` exits with for this run: 130 interrupted, 0 with a completed trial, else 1."""
        if self.status == "interrupted":
            return 130
        return 0 if self.completed else 1

    @classmethod
    def from_dict(cls, data: dict, problems: list[str] | None = None, file: str = "summary.json") -> Summary:
        """The summary a file holds, each value checked (`_SUMMARY_CHECKS`): a value that fails is a
        `DamagedFile`, or with `problems` (a list) left at its default and said there."""
        known = {f.name for f in fields(cls)}
        values = {}
        for key, value in data.items():
            if key not in known or value is None:
                continue
            try:
                values[key] = _SUMMARY_CHECKS.get(key, _any)(value, file, key)
            except readback.DamagedFile as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


def _any(value, file, name):
    return value


def _record(**keys):
    """An object whose keys hold what `keys` says: NAME=(check, required); a required key must be there
    (its value may be None where the check allows it). For refit, ensemble, baseline, …"""
    def check(value, file, name):
        readback.mapping(value, file, name, optional=False)
        for key, (check_one, required) in keys.items():
            if required and key not in value:
                raise readback.DamagedFile(file, name, value, f"an object with {key!r}")
            check_one(value.get(key), file, f"{name}.{key}")
        return value
    return check


def _classes(value, file, name):
    if not isinstance(value, (list, dict)):
        raise readback.DamagedFile(file, name, value, "a list of classes")
    return value


RUN_STATUSES = ("unknown", "starting", "running", "completed", "stopped", "interrupted", "failed")
_counts = ("max_trials", "trials", "completed", "failed", "failed_out_of_memory", "pruned", "train_examples",
           "validation_examples")
_texts = ("run", "nnlab_version", "spec_hash", "model", "data", "data_hash", "task", "tuner", "objective", "best_trial",
          "best_model_trial", "device", "stop_reason", "started_at", "updated_at")
_SUMMARY_CHECKS = {
    **{name: readback.count for name in _counts},
    **{name: readback.text for name in _texts},
    "status": lambda v, f, n: readback.text(v, f, n, choices=RUN_STATUSES),
    "direction": lambda v, f, n: readback.text(v, f, n, choices=("min", "max")),
    "classes": _classes,
    "best_score": readback.number,
    "seconds": lambda v, f, n: readback.number(v, f, n, low=0, high=readback.MOST),
    "best_hyperparameters": readback.mapping,
    "best_metrics": readback.numbers,
    "hyperparameter_names": readback.names,
    "metric_names": readback.names,
    "notes": readback.names,
    "refit": _record(trial=(readback.text, True), epochs=(readback.count, True), rows=(readback.count, True)),
    "ensemble": _record(trials=(readback.names, True)),
    "baseline": _record(model=(readback.text, True), score=(readback.number, True), seconds=(readback.number, False),
                        params=(readback.mapping, False), candidates=(readback.count, False)),
    "expected_score": _record(how=(readback.text, True), metric=(readback.text, True), value=(readback.number, False),
                              validation=(readback.number, False), rows=(readback.count, False)),
    "skipped": _record(count=(readback.count, True), examples=(lambda v, f, n: v, False)),
    "confirmed": _record(folds=(readback.count, True), candidates=(readback.names, True),
                         trials=(readback.mapping, True), order=(readback.names, True)),
}


def run_status(status: str, completed: int) -> str:
    """A run's status as people read it: a search that ran to its end without one completed trial has
    failed (one stopped by a limit stays `stopped`, with its reason)."""
    return "failed" if status == "completed" and completed == 0 else status
