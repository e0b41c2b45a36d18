"""Score against cost (`nnlab compare RUN --pareto params|size|macs|latency`): each trial's model size,
worked out as `spec.sizes` does from the run's spec copy and preprocessing.json (no TensorFlow, no
data), or its search.latency time from trials.csv; the trials on the Pareto front: those no other
completed trial beats on both the score and the cost (at least as good on both, better on one); and
the pick (`--pick smallest-within 0.01` of export, retrain and evaluate): the cheapest trial whose
score is within a margin of the best's, which is always on the front, whose checkpoints a run with
search.constraints or search.latency keeps (`kept_front`)."""

from __future__ import annotations

from pathlib import Path

from nnlab.errors import RunError
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import LATENCY, TrialRecord, is_number
from nnlab.spec.constraints import size_mb
from nnlab.spec.sizes import Size, model_size

COSTS = {"params": "parameters", "size": "the model file's size (MB, 4 bytes a parameter)",
         "macs": "multiply-adds of one example's forward pass", "latency": "search.latency's ms a forward pass"}


def cost_of(size: Size, cost: str) -> float:
    return {"params": size.parameters, "size": size_mb(size), "macs": size.macs}[cost]


def trial_costs(run_dir: Path, records: list[TrialRecord], cost: str) -> dict[str, float]:
    """Each trial's `cost` (trials without one, a model without a size rule or an untimed one, left out)."""
    if cost == "latency":
        return {r.trial_id: r.metrics[LATENCY] for r in records if is_number(r.metrics.get(LATENCY))}
    return {i: cost_of(size, cost) for i, size in trial_sizes(run_dir, records).items()}


def trial_sizes(run_dir: Path, records: list[TrialRecord]) -> dict[str, Size]:
    """Each trial's model size (trials whose model has no size rule are left out)."""
    from nnlab.spec.space import finish_params, fixed_params

    folder = RunFolder(run_dir)
    try:
        spec, preparation = folder.spec(), folder.preparation()
    except (OSError, ValueError) as exc:
        raise RunError(f"{run_dir}: its trials' sizes need its spec.yaml and preprocessing.json ({exc})") from None
    out = {}
    for record in records:
        params = finish_params(spec, {**fixed_params(spec), **record.hyperparameters})
        size = model_size(spec.model.kind, params, preparation.input_shape, preparation.output_units(),
                          preparation.feature_counts())
        if size is not None:
            out[record.trial_id] = size
    return out


def front(points: dict[str, tuple[float, float]], direction: str) -> set[str]:
    """The ids on the Pareto front of (score, cost) points: cost lower is better, the score by `direction`."""
    sign = -1.0 if direction == "max" else 1.0

    def beats(a: tuple[float, float], b: tuple[float, float]) -> bool:
        (sa, ca), (sb, cb) = (sign * a[0], a[1]), (sign * b[0], b[1])
        return sa <= sb and ca <= cb and (sa < sb or ca < cb)

    return {i for i, p in points.items() if not any(beats(q, p) for j, q in points.items() if j != i)}


def mark(rows: list[dict], run_dir: Path, cost: str) -> None:
    """Give one run's trial rows their model's size (`params`, `model_mb`, `macs`), search.latency's time
    where the run has one (`latency_ms`), and whether each is on the front of score against `cost` (`front`)."""
    if cost not in COSTS:
        raise RunError(f"--pareto {cost}: give one of {', '.join(COSTS)}")
    records = RunFolder(run_dir).load().records
    timed = trial_costs(run_dir, records, "latency")
    if cost == "latency" and not timed:
        raise RunError(f"--pareto latency: {run_dir} timed no trial; set search.latency (keras, litert or onnx)")
    sizes = trial_sizes(run_dir, records)
    costs = timed if cost == "latency" else {i: cost_of(size, cost) for i, size in sizes.items()}
    scored = [r for r in rows if r["status"] == "completed" and r["score"] is not None and r["trial_id"] in costs]
    on = front({r["trial_id"]: (r["score"], costs[r["trial_id"]]) for r in scored},
               rows[0]["direction"] if rows else "min")
    for row in rows:
        size = sizes.get(row["trial_id"])
        row.update(params=size.parameters if size else None, model_mb=round(size_mb(size), 4) if size else None,
                   macs=size.macs if size else None, front=row["trial_id"] in on)
        if timed:
            row["latency_ms"] = timed.get(row["trial_id"])


def kept_front(run_dir: Path, records: list[TrialRecord], direction: str, latency: bool) -> set[str]:
    """The completed trials on the front of score against parameters (and, `latency`, against latency):
    every trial a pick can choose."""
    kept: set[str] = set()
    for cost in ("params", "latency") if latency else ("params",):
        costs = trial_costs(run_dir, records, cost)
        kept |= front({r.trial_id: (r.score, costs[r.trial_id]) for r in records
                       if r.completed and r.trial_id in costs}, direction)
    return kept
