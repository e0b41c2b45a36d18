"""search.pruning: the same sweep with and without the median rule.

    python benchmarks/pruning.py [--rounds 1] [--trials 24] [--epochs 20] [--pack auto]

A random search over W1's MLP space on scikit-learn's digits (`workloads.py`: the same .npz split,
space and seed), 24 trials × 20 epochs, no early stopping, no refit, run by `nnlab run` in a fresh
process with `search.pruning: none` and then `median` (alternating when --rounds > 1). Both draw the
same configurations (the random search's draws do not depend on the scores). Printed: wall time of
each process, best val_accuracy, trials pruned and epochs trained, and the ratios. The target of
issue 13: the same best score (within 0.01) in at most 0.75 of the time; with `--pack K` (search.pack
on both sides), issue 24's: at most 0.5.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workloads import prepare


def sweep(spec: Path, folder: Path, pruning: str, trials: int, epochs: int, pack: str = "1") -> dict:
    runs = folder / f"runs-{pruning}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(runs), "--quiet",
                          "--overwrite", "--yes", "--set", f"search.max_trials={trials}", "--set",
                          f"train.epochs={epochs}", "--set", f"search.pruning={pruning}", "--set",
                          f"search.pack={pack}"], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - start
    if out.returncode:
        raise SystemExit(f"nnlab run failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    summary = json.loads((runs / spec.stem / "summary.json").read_text())
    with (runs / spec.stem / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return {"seconds": seconds, "best": summary["best_score"], "pruned": summary.get("pruned", 0),
            "epochs": sum(int(r["epochs"] or 0) for r in rows), "trials": len(rows)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pack", default="1", help="search.pack on both sides (1: one trial at a time)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pruning-") as tmp:
        folder = Path(tmp)
        _, spec = prepare("W1", folder)
        results: dict[str, list[dict]] = {"none": [], "median": []}
        for r in range(args.rounds):
            for pruning in (("none", "median") if r % 2 == 0 else ("median", "none")):
                result = sweep(spec, folder, pruning, args.trials, args.epochs, args.pack)
                results[pruning].append(result)
                print(f"round {r + 1}, pruning {pruning:<6}: {result['seconds']:6.1f} s, best val_accuracy "
                      f"{result['best']:.4f}, {result['pruned']} of {result['trials']} trials pruned, "
                      f"{result['epochs']} epochs trained", flush=True)
    time_ratio = statistics.median(m["seconds"] / n["seconds"] for m, n in zip(results["median"], results["none"]))
    score_gap = statistics.median(n["best"] - m["best"] for m, n in zip(results["median"], results["none"]))
    epoch_ratio = statistics.median(m["epochs"] / n["epochs"] for m, n in zip(results["median"], results["none"]))
    print(f"\nW1 space on digits, random search, {args.trials} trials × {args.epochs} epochs, search.pack "
          f"{args.pack}; median of {args.rounds} round(s)")
    target = 0.75 if args.pack == "1" else 0.5
    verdict = "met" if time_ratio <= target else "not met"
    print(f"time with pruning / without: {time_ratio:.2f} (target ≤ {target}): {verdict}")
    print(f"epochs trained with / without: {epoch_ratio:.2f}")
    print(f"best val_accuracy without − with: {score_gap:+.4f} (target ≤ 0.01): "
          f"{'met' if score_gap <= 0.01 else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
