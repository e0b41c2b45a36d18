"""A trial's progress file, `tuner/trial_ID/nnlab_trial.json` (`TrialProgress`), written and read here
only. It holds what Keras Tuner does not keep of a trial: its per-epoch history (`nnlab plot` draws it,
search.pruning compares curves with it), why search.pruning stopped it, and what only the process that
trained it saw (its time, epochs and best epoch's metrics, a failure's reason, the worker, its device
and dtype policy), for a chief that trained nothing. It is written before Keras Tuner records the
trial's end, so a reader that finds a trial ended finds its file. No TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from nnlab import readback
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
        """The trial's file, or None while it has none (not finished) or while a write is cut short (it
        is not JSON). Keys this nnlab does not know are left out; those it misses take their defaults.
        A value nnlab would not write (`"pruned": 5`) is a `readback.DamagedFile`: nothing is decided
        on a trial (pruned, its checkpoint deleted) from a file that cannot be read."""
        try:
            record = files.read_json(path)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            raise readback.DamagedFile(str(path), "its content", record, "an object ({…})")
        where = str(path)
        return cls(history=_history(record.get("history"), where),
                   pruned=readback.text(record.get("pruned"), where, "pruned", most=10_000),
                   reason=readback.text(record.get("reason"), where, "reason"),
                   worker=readback.text(record.get("worker"), where, "worker", most=1000),
                   seconds=readback.number(record.get("seconds"), where, "seconds", low=0, high=readback.MOST),
                   epochs=readback.count(record.get("epochs"), where, "epochs"),
                   best_epoch=readback.count(record.get("best_epoch"), where, "best_epoch"),
                   metrics=readback.numbers(record.get("metrics"), where, "metrics"),
                   device=readback.text(record.get("device"), where, "device", most=1000),
                   policy=readback.text(record.get("policy"), where, "policy", most=100))


def _history(value, where: str) -> list[dict[str, list[float]]]:
    """Per execution, each metric's values epoch by epoch (None where a value was not finite)."""
    out = []
    for index, execution in enumerate(readback.sequence(value, where, "history") or []):
        curves = readback.mapping(execution, where, f"history[{index}]", optional=False)
        for name, values in curves.items():
            for epoch, item in enumerate(readback.sequence(values, where, f"history[{index}].{name}", optional=False)):
                if item is not None:
                    readback.number(item, where, f"history[{index}].{name}[{epoch}]")
        out.append(curves)
    return out
