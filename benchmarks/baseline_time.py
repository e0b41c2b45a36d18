"""How long search.baseline takes, beside the budget it comes out of.

    pip install -e '.[bench]'          # vega_datasets, statsmodels (the data sets of quality.py)
    python benchmarks/baseline_time.py [--minutes 5] [--only cars,wine]

For each data set of `quality.py`: its first 80/20 split (seed 0), `nnlab init` on the training part
(which writes `search.baseline: gbm` for a CSV of one target), the data read as `nnlab run` reads it,
and the baseline fitted as the run fits it before trial 1 (its folds too, where init writes
data.folds). Prints the baseline's seconds, their ratio to the budget (`--minutes`, 5 as in quality.py;
issue 23's target: under 0.10 on every set), and its validation score on the run's objective. Needs no
TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from quality import DATASETS, split  # noqa: E402

from nnlab.baseline import fit_baseline  # noqa: E402
from nnlab.data.load import load_data  # noqa: E402
from nnlab.data.splits import fold_indices  # noqa: E402
from nnlab.spec.loader import load_spec  # noqa: E402
from nnlab.spec.objectives import objective_of  # noqa: E402
from nnlab.tools.starter import starter_spec  # noqa: E402


def one(data, minutes: float) -> tuple[float, float, str, float]:
    """(the baseline's seconds, their share of the budget, the objective, the baseline's score)."""
    import numpy as np

    train, _, _ = split(data, data.load(), seed=0)  # (quality.py's first split)
    with tempfile.TemporaryDirectory(prefix=f"baseline-{data.name}-") as tmp:
        folder = Path(tmp)
        train.to_csv(folder / "train.csv", index=False)
        text, _ = starter_spec(folder / "train.csv", folder / "spec.yaml", data.target)
        (folder / "spec.yaml").write_text(text)
        spec = load_spec(folder / "spec.yaml")
        assert spec.search.baseline == "gbm", "init writes search.baseline: gbm for a CSV of one target"
        dataset = load_data(spec)
        objective, direction = objective_of(spec)
        folds = None
        if spec.data.folds:
            y = np.concatenate([dataset.y_train, dataset.y_val])
            folds = fold_indices(y, dataset.task, spec.data.folds, spec.seed)
        loss = spec.train.loss if isinstance(spec.train.loss, str) else None
        record = fit_baseline(dataset, objective, direction, loss, folds, spec.seed)
    return record["seconds"], record["seconds"] / (minutes * 60), objective, record["score"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="the run's budget per data set")
    parser.add_argument("--only", default="", help="comma-separated data set names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else [d.name for d in DATASETS]
    header = f"{'data set':<17} {'kind':<32} {'seconds':>8} {'of budget':>9}  {'objective':<13} {'score':>8}"
    print(header)
    print("-" * len(header))
    worst = 0.0
    for data in [d for d in DATASETS if d.name in names]:
        seconds, share, objective, score = one(data, args.minutes)
        worst = max(worst, share)
        print(f"{data.name:<17} {data.kind:<32} {seconds:8.1f} {share:9.3f}  {objective:<13} {score:8.4g}",
              flush=True)
    print(f"\nlargest share of the {args.minutes:g}-minute budget: {worst:.3f} (target < 0.10): "
          f"{'met' if worst < 0.10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
