"""Score against size (`nnlab compare RUN --pareto params|size|macs`): each trial's model size, worked
out as `spec.sizes` does from the run's spec copy and preprocessing.json (no TensorFlow, no data), and
the trials on the Pareto front: those no other completed trial beats on both the score and the size
(at least as good on both, better on one)."""

from __future__ import annotations

from pathlib import Path

from nnlab.errors import RunError
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import TrialRecord
from nnlab.spec.constraints import size_mb
from nnlab.spec.sizes import Size, model_size

COSTS = {"params": "parameters", "size": "the model file's size (MB, 4 bytes a parameter)",
         "macs": "multiply-adds of one example's forward pass"}


def cost_of(size: Size, cost: str) -> float:
    return {"params": size.parameters, "size": size_mb(size), "macs": size.macs}[cost]


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
    """Give one run's trial rows their model's size (`params`, `model_mb`, `macs`) and whether each is on
    the front of score against `cost` (`front`)."""
    if cost not in COSTS:
        raise RunError(f"--pareto {cost}: give one of {', '.join(COSTS)}")
    sizes = trial_sizes(run_dir, RunFolder(run_dir).load().records)
    scored = [r for r in rows if r["status"] == "completed" and r["score"] is not None and r["trial_id"] in sizes]
    points = {r["trial_id"]: (r["score"], cost_of(sizes[r["trial_id"]], cost)) for r in scored}
    on = front(points, rows[0]["direction"] if rows else "min")
    for row in rows:
        size = sizes.get(row["trial_id"])
        row.update(params=size.parameters if size else None, model_mb=round(size_mb(size), 4) if size else None,
                   macs=size.macs if size else None, front=row["trial_id"] in on)
