"""A trial's progress file, `tuner/trial_ID/nnlab_trial.json` (`TrialProgress`), written and read here
only. It holds what Keras Tuner does not keep of a trial: its per-epoch history (`nnlab plot` draws it,
search.pruning compares curves with it), why search.pruning stopped it, and what only the process that
trained it saw (its time, epochs and best epoch's metrics, a failure's reason, the worker, its device
and dtype policy), for a chief that trained nothing. It is written before Keras Tuner records the
trial's end, so a reader that finds a trial ended finds its file. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from nnlab.runs import files


@dataclass
class TrialProgress:
    history: list[dict[str, list[float]]] = field(default_factory=list)  # per execution: {metric: per epoch}
    pruned: str | None = None  # why search.pruning stopped the trial
    reason: str | None = None  # why the trial failed
    worker: str | None = None  # the worker that trained it (parallel runs)
    seconds: float | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # at the best epoch
    device: str | None = None  # where a worker trained it, as the summary says it
    policy: str | None = None  # the dtype policy it trained in (mixed_float16 on GPUs)

    @property
    def finished_well(self) -> bool:
        """Neither pruned nor failed: its curves are those of a completed trial."""
        return not self.pruned and not self.reason

    def write(self, path: Path) -> None:
        files.write_json(path, asdict(self))

    @classmethod
    def read(cls, path: Path) -> TrialProgress | None:
        """The trial's file, or None while it has none (not finished) or it cannot be read. Keys this
        nnlab does not know are left out; those it misses take their defaults."""
        try:
            record = files.read_json(path)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in known}
        values["history"] = [h for h in values.get("history") or [] if isinstance(h, dict)]
        values["metrics"] = values.get("metrics") or {}
        return cls(**values)
