"""Time to quality: how soon each tuner finds a model as good as random search's 12-trial best.

    pip install -e '.[bench]'                     # optuna
    python benchmarks/time_to_quality.py [--workloads W1,W3] [--cap 2.0]

For each workload of `workloads.py` (W1: MLP on digits, W3: MLP regression on 20,000 rows; the same
.npz split, space, epochs and seed for everyone), each contender runs in a fresh process:
- kt-random, kt-hyperband, optuna-tpe: the peers of `peers.py`, written as their tutorials teach;
- nnlab and nnlab+pruning: `nnlab run` on the workload's spec (random search; `search.pruning` none or
  median; no refit, as the peers have none).
The wall time of each trial's end is taken from outside, counted from the process's start (imports,
data loading and all), with each trial's exact score (nnlab's from trials.csv). The target is the best
score Keras Tuner's random search reaches in its 12 trials (run first, to the end). Every other
contender runs until `--cap` times that run's time or 40 trials. Printed per workload: each
contender's time to reach the target, trials it took, its best score, and the ratio to the fastest
peer. The target of issue 13: nnlab reaches it in at most half the time of the fastest peer.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workloads import WORKLOADS, prepare

HERE = Path(__file__).resolve().parent
PEERS = ["kt-random", "kt-hyperband", "optuna-tpe"]
NNLAB = ["nnlab", "nnlab+pruning"]
TRIAL_END = re.compile(r"^\[\d+/\S+\] trial (\S+) (?!started)")
MAX_TRIALS = 40


def stream(command: list[str], cap: float | None, cwd: Path) -> tuple[list[tuple[float, str]], float]:
    """Run `command`; (each output line with its time since the start, the total time). Killed at `cap` s."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", "COLUMNS": "400",
           "PYTHONPATH": str(HERE)}
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    lines = []
    for line in proc.stdout:
        lines.append((time.monotonic() - start, line.rstrip()))
        if cap is not None and time.monotonic() - start > cap:
            proc.kill()
            break
    proc.wait()
    return lines, time.monotonic() - start


def peer(contender: str, name: str, data: Path, folder: Path, trials: int, cap: float | None):
    """[(seconds, score)] for each trial of a peer, in the order they ended."""
    lines, total = stream([sys.executable, str(HERE / "peers.py"), contender, name, str(data), str(folder / contender),
                           str(trials)], cap, folder)
    ends = [(t, float(line.split()[1])) for t, line in lines if line.startswith("TRIAL ")]
    if not ends:
        raise RuntimeError(f"{contender} reported no trial:\n" + "\n".join(line for _, line in lines[-30:]))
    return ends, total


def nnlab(contender: str, spec: Path, folder: Path, cap: float | None):
    """[(seconds, score)] for each completed trial of an nnlab run (pruned and failed trials end too,
    but are not candidates for the best), in the order they ended."""
    pruning = "median" if contender == "nnlab+pruning" else "none"
    runs = folder / f"runs-{contender}"  # (not a folder named nnlab in the working directory: python -m nnlab)
    lines, total = stream([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(runs),
                           "--set", f"search.max_trials={MAX_TRIALS}", "--set", f"search.pruning={pruning}",
                           "--set", "search.refit=false"], cap, folder)
    ended = [(t, m.group(1)) for t, line in lines if (m := TRIAL_END.match(line))]
    try:
        with (runs / spec.stem / "trials.csv").open() as fh:
            rows = {r["trial_id"]: r for r in csv.DictReader(fh)}
    except OSError:
        raise RuntimeError(f"{contender} wrote no trials.csv:\n" + "\n".join(line for _, line in lines[-30:])) from None
    ends = []
    for t, trial_id in ended:
        row = rows.get(trial_id)
        if row and row["status"] in ("completed", "pruned") and row["score"]:
            ends.append((t, float(row["score"]), row["status"]))
    if not ends:
        raise RuntimeError(f"{contender} finished no trial:\n" + "\n".join(line for _, line in lines[-30:]))
    return ends, total


def reach(ends, target: float, maximize: bool) -> tuple[float | None, int | None, float]:
    """(seconds to reach the target, trials it took, best score) from a contender's trial ends."""
    best = None
    reached = None
    for i, end in enumerate(ends):
        score = end[1]
        counts = len(end) < 3 or end[2] == "completed"
        if counts and (best is None or (score > best if maximize else score < best)):
            best = score
        if reached is None and best is not None and (best >= target if maximize else best <= target):
            reached = (end[0], i + 1)
    return (reached[0], reached[1], best) if reached else (None, None, best)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="W1,W3")
    parser.add_argument("--cap", type=float, default=2.0, help="each contender's time, as a multiple of random's")
    args = parser.parse_args()
    for name in args.workloads.split(","):
        w = WORKLOADS[name]
        maximize = w["objective"] != "val_loss"
        with tempfile.TemporaryDirectory(prefix=f"ttq-{name}-") as tmp:
            folder = Path(tmp)
            data, spec = prepare(name, folder)
            random_ends, random_total = peer("kt-random", name, data, folder, w["trials"], None)
            scores = [s for _, s in random_ends]
            target = max(scores) if maximize else min(scores)
            cap = args.cap * random_total
            results = {"kt-random": reach(random_ends, target, maximize) + (len(random_ends),)}
            for contender in ["kt-hyperband", "optuna-tpe", *NNLAB]:
                try:
                    if contender in PEERS:
                        ends, _ = peer(contender, name, data, folder, MAX_TRIALS, cap)
                    else:
                        ends, _ = nnlab(contender, spec, folder, cap)
                except RuntimeError as exc:
                    print(f"{name} {contender}: {exc}")
                    continue
                results[contender] = reach(ends, target, maximize) + (len(ends),)
                print(f"  ({name} {contender}: {len(ends)} trials; time to target, trials, best: "
                      f"{results[contender][:3]})", flush=True)
        print(f"\n{name}: {w['kind']}, {w['epochs']} epochs a trial; target {w['objective']} {target:.4g} "
              f"(Keras Tuner random search's best in {w['trials']} trials, {random_total:.0f} s); "
              f"each other contender ran up to {cap:.0f} s or {MAX_TRIALS} trials")
        peer_times = [results[c][0] for c in PEERS if c in results and results[c][0] is not None]
        fastest = min(peer_times) if peer_times else None
        print(f"{'contender':<15} {'time to target':>14} {'trials':>7} {'best':>9} {'trials run':>10} "
              f"{'vs fastest peer':>15}")
        for contender, (seconds, trials, best, ran) in results.items():
            shown = f"{seconds:.0f} s" if seconds is not None else "not reached"
            ratio = f"{seconds / fastest:.2f}" if seconds is not None and fastest else "-"
            print(f"{contender:<15} {shown:>14} {trials or '-':>7} {best:9.4g} {ran:>10} {ratio:>15}")
        for contender in NNLAB:
            if contender in results and results[contender][0] is not None and fastest:
                ok = results[contender][0] <= 0.5 * fastest
                print(f"  {contender}: {results[contender][0] / fastest:.2f} of the fastest peer's time "
                      f"(target ≤ 0.50): {'met' if ok else 'not met'}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
