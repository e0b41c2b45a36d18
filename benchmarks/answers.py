"""Issue 35's figures: the decision threshold chosen on validation rows against 0.5 on unseen test rows, and
how long `nnlab explain` takes on a 20,000-row table.

    python benchmarks/answers.py [--seeds 3] [--skip-explain] [--skip-threshold]

Threshold: two imbalanced two-class sets, each split (seeded) into a training file and a test file of 25%
of the rows that no run sees: statsmodels' `fair` (6,366 rows, 32% had an affair) and a bank-marketing-like
table from scikit-learn's `make_classification` (8,000 rows, 8% positive, a column of jobs). A quick sweep
(3 trials) on the training file, then `evaluate` on the test file: F1 of the positive class at 0.5 and at
the threshold with the highest F1 chosen on the run's validation rows (by the searched model where the
final one was refitted on them). The target: the chosen threshold's test F1 at least 0.5's.

Explain: a 20,000-row, 12-column table (numbers and categories), a one-trial run, then the whole
`nnlab explain RUN wide.csv` command on all 20,000 rows (its defaults: 5 repeats, the top 3 columns' partial
dependence) in a fresh process, TensorFlow's start included. The target: under 30 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SPEC = """name: {name}
seed: {seed}
data: {{source: csv, path: {file}, target: {target}}}
model: {{kind: mlp, layers: {{int: [1, 2]}}, units: {{choice: [32, 64]}}, dropout: {{choice: [0.0, 0.2]}}}}
train: {{epochs: 30, batch_size: 64, learning_rate: {{choice: [0.001, 0.003]}}, early_stopping: {{patience: 5}}}}
search: {{max_trials: {trials}, objective: val_loss}}
"""


def nnlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnlab", *args], capture_output=True, text=True, check=True)


def fair() -> pd.DataFrame:
    import statsmodels.api as sm

    frame = sm.datasets.fair.load_pandas().data
    return frame.assign(affair=np.where(frame.pop("affairs") > 0, "yes", "no"))


def bank(seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(8000, 8, n_informative=4, weights=[0.92], flip_y=0.03, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    frame["job"] = np.random.default_rng(seed).choice(["student", "admin", "retired", "services"], len(frame))
    return frame.assign(y=np.where(y == 1, "yes", "no"))


def threshold_figures(name: str, frame: pd.DataFrame, target: str, seed: int, folder: Path) -> tuple[float, float]:
    test = frame.sample(frac=0.25, random_state=seed)
    frame.drop(test.index).to_csv(folder / f"{name}.csv", index=False)
    test.to_csv(folder / f"{name}_test.csv", index=False)
    spec = folder / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, seed=seed, file=f"{name}.csv", target=target, trials=3))
    nnlab("run", str(spec), "--runs-dir", str(folder / "runs"), "--quiet")
    found = json.loads(nnlab("evaluate", str(folder / "runs" / name), str(folder / f"{name}_test.csv"),
                             "--json").stdout)["threshold"]
    return found["in_use"]["f1"], found["chosen"]["f1"]


def threshold_benchmark(seeds: int) -> None:
    print("test F1 of the positive class: at 0.5 | at the threshold chosen on validation rows (highest F1)")
    for name, make, target in (("fair", fair, "affair"), ("bank", bank, "y")):
        pairs = []
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as tmp:
                pairs.append(threshold_figures(name, make(), target, seed, Path(tmp)))
            print(f"  {name} seed {seed}: {pairs[-1][0]:.3f} | {pairs[-1][1]:.3f}")
        at_half, chosen = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        wins = sum(c >= h for h, c in pairs)
        print(f"{name}: median {at_half:.3f} | {chosen:.3f} (ratio {chosen / at_half:.2f}); chosen ≥ 0.5 on {wins} "
              f"of {len(pairs)} seeds: {'met' if chosen >= at_half else 'NOT met'}")


def explain_benchmark() -> None:
    rng = np.random.default_rng(0)
    rows = 20_000
    frame = pd.DataFrame({f"n{i}": rng.normal(size=rows) for i in range(9)})
    for i, values in enumerate((["a", "b", "c"], ["x", "y", "z", "w", "v"], ["red", "blue"])):
        frame[f"c{i}"] = rng.choice(values, rows)
    frame["target"] = 3 * frame["n0"] + np.sin(frame["n1"] * 2) + (frame["c0"] == "a") + rng.normal(0, 0.3, rows)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame.to_csv(folder / "wide.csv", index=False)
        (folder / "wide.yaml").write_text(SPEC.format(name="wide", seed=0, file="wide.csv", target="target",
                                                      trials=1).replace("epochs: 30", "epochs: 3"))
        nnlab("run", str(folder / "wide.yaml"), "--runs-dir", str(folder / "runs"), "--quiet")
        start = time.perf_counter()
        nnlab("explain", str(folder / "runs" / "wide"), str(folder / "wide.csv"))
        seconds = time.perf_counter() - start
    print(f"nnlab explain RUN on all {rows:,} rows × {frame.shape[1] - 1} columns, whole command (TensorFlow's "
          f"start included): {seconds:.1f} s; target 30 s: "
          f"{'met' if seconds < 30 else 'NOT met'} (ratio {seconds / 30:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-explain", action="store_true")
    parser.add_argument("--skip-threshold", action="store_true")
    args = parser.parse_args()
    if not args.skip_threshold:
        threshold_benchmark(args.seeds)
    if not args.skip_explain:
        explain_benchmark()


if __name__ == "__main__":
    main()
