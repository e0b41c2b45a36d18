"""Time to quality: how soon each tuner finds a model as good as random search's 12-trial best.

    pip install -e '.[bench]'                     # optuna
    python benchmarks/time_to_quality.py [--workloads W1,W3] [--cap 2.0] [--seeds 5] [--contenders …]

For each workload of `workloads.py` (W1: MLP on digits, W3: MLP regression on 20,000 rows; the same
.npz split, space and epochs for everyone) and each seed, each contender runs in a fresh process:
- kt-random, kt-hyperband, optuna-tpe: the peers of `peers.py`, written as their tutorials teach;
- nnlab and nnlab+pruning: `nnlab run` on the workload's spec (random search; `search.pruning` none or
  median; no refit, as the peers have none);
- nnlab-pack and nnlab-bayes-pack: random search and nnlab's Bayesian search with `search.pack: auto`.
The wall time of each trial's end is taken from outside, counted from the process's start (imports,
data loading and all), with each trial's exact score (nnlab's from trials.csv; a packed trial's end is
when its pack has ended). On each seed, the target is the best score Keras Tuner's random search
reaches in its 12 trials on that seed (run first, to the end); every other contender runs until
`--cap` times that run's time or 40 trials. Printed per workload: each contender's time to reach the
target on each seed, the median over the seeds with its range, the trials it took, and the ratio of
its median to the fastest peer's median (a seed where it never reached the target counts as slower
than any). The target of issue 24: the median at most half the fastest peer's, on W1 and W3.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workloads import SEED as WORKLOADS_SEED
from workloads import WORKLOADS, prepare

HERE = Path(__file__).resolve().parent
PEERS = ["kt-random", "kt-hyperband", "optuna-tpe"]
NNLAB = {  # contender → its --set overrides of the workload's spec
    "nnlab": ["search.pruning=none"],
    "nnlab+pruning": ["search.pruning=median"],
    "nnlab-pack": ["search.pruning=none", "search.pack=auto"],
    "nnlab-bayes-pack": ["search.pruning=none", "search.pack=auto", "search.tuner=bayesian"],
}
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


def peer(contender: str, name: str, data: Path, folder: Path, trials: int, cap: float | None, seed: int):
    """[(seconds, score)] for each trial of a peer, in the order they ended."""
    lines, total = stream([sys.executable, str(HERE / "peers.py"), contender, name, str(data), str(folder / contender),
                           str(trials), str(seed)], cap, folder)
    ends = [(t, float(line.split()[1])) for t, line in lines if line.startswith("TRIAL ")]
    if not ends:
        raise RuntimeError(f"{contender} reported no trial:\n" + "\n".join(line for _, line in lines[-30:]))
    return ends, total


def nnlab(contender: str, spec: Path, folder: Path, cap: float | None, seed: int):
    """[(seconds, score)] for each completed trial of an nnlab run (pruned and failed trials end too,
    but are not candidates for the best), in the order they ended."""
    runs = folder / f"runs-{contender}"  # (not a folder named nnlab in the working directory: python -m nnlab)
    overrides = [f"search.max_trials={MAX_TRIALS}", "search.refit=false", f"seed={seed}", *NNLAB[contender]]
    lines, total = stream([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(runs), "--overwrite",
                           "--yes", *[part for o in overrides for part in ("--set", o)]], cap, folder)
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


def run_seed(name: str, seed: int, cap_factor: float, contenders: list[str]) -> tuple[dict, float, float]:
    """One seed of one workload: {contender: (seconds to target, trials to target, best, trials run)},
    the target, and random search's time."""
    w = WORKLOADS[name]
    maximize = w["objective"] != "val_loss"
    with tempfile.TemporaryDirectory(prefix=f"ttq-{name}-") as tmp:
        folder = Path(tmp)
        data, spec = prepare(name, folder)
        random_ends, random_total = peer("kt-random", name, data, folder, w["trials"], None, seed)
        scores = [s for _, s in random_ends]
        target = max(scores) if maximize else min(scores)
        cap = cap_factor * random_total
        results = {"kt-random": reach(random_ends, target, maximize) + (len(random_ends),)}
        for contender in [c for c in contenders if c != "kt-random"]:
            try:
                if contender in PEERS:
                    ends, _ = peer(contender, name, data, folder, MAX_TRIALS, cap, seed)
                else:
                    ends, _ = nnlab(contender, spec, folder, cap, seed)
            except RuntimeError as exc:
                print(f"{name} seed {seed} {contender}: {exc}")
                continue
            results[contender] = reach(ends, target, maximize) + (len(ends),)
            print(f"  ({name} seed {seed} {contender}: {len(ends)} trials; time to target, trials, best: "
                  f"{results[contender][:3]})", flush=True)
    return results, target, random_total


def summarize(name: str, seeds: list[int], runs: dict[int, tuple], contenders: list[str]) -> None:
    """Per contender: its time to target on each seed, the median and range, against the fastest peer."""
    w = WORKLOADS[name]
    never = float("inf")
    times = {c: [runs[s][0].get(c, (None,))[0] for s in seeds] for c in contenders}
    medians = {c: statistics.median(t if t is not None else never for t in ts) for c, ts in times.items()}
    peer_medians = [medians[c] for c in PEERS if c in medians and medians[c] != never]
    fastest = min(peer_medians) if peer_medians else None
    targets = ", ".join(f"{runs[s][1]:.4g}" for s in seeds)
    print(f"\n{name}: {w['kind']}, {w['epochs']} epochs a trial; targets {w['objective']} per seed {targets} (Keras "
          f"Tuner random search's best in {w['trials']} trials); each other contender ran up to the cap or "
          f"{MAX_TRIALS} trials; seeds {', '.join(map(str, seeds))}")
    print(f"{'contender':<17} {'time to target per seed':>34} {'median':>8} {'range':>11} {'trials':>7} "
          f"{'vs fastest peer':>15}")
    for contender in contenders:
        shown = " ".join(f"{t:4.0f}" if t is not None else "   -" for t in times[contender])
        reached = [t for t in times[contender] if t is not None]
        median = medians[contender]
        spread = f"{min(reached):.0f}–{max(reached):.0f} s" if reached else "-"
        trials = [runs[s][0][contender][1] for s in seeds if contender in runs[s][0] and runs[s][0][contender][1]]
        ratio = f"{median / fastest:.2f}" if fastest and median != never else "-"
        print(f"{contender:<17} {shown:>34} {(f'{median:.0f} s' if median != never else 'not reached'):>8} "
              f"{spread:>11} {(f'{statistics.median(trials):g}' if trials else '-'):>7} {ratio:>15}")
    for contender in contenders:
        if contender in NNLAB and fastest and medians[contender] != never:
            ok = medians[contender] <= 0.5 * fastest
            print(f"  {contender}: median {medians[contender] / fastest:.2f} of the fastest peer's (target ≤ 0.50): "
                  f"{'met' if ok else 'not met'}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="W1,W3")
    parser.add_argument("--cap", type=float, default=2.0, help="each contender's time, as a multiple of random's")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per contender (the workload's, then +1, …)")
    parser.add_argument("--contenders", default=",".join([*PEERS, *NNLAB]),
                        help="comma-separated; kt-random always runs (it sets the target)")
    args = parser.parse_args()
    contenders = ["kt-random"] + [c for c in args.contenders.split(",") if c and c != "kt-random"]
    unknown = [c for c in contenders if c not in PEERS and c not in NNLAB]
    if unknown:
        parser.error(f"unknown contender(s) {', '.join(unknown)}; known: {', '.join([*PEERS, *NNLAB])}")
    for name in args.workloads.split(","):
        seeds = [WORKLOADS_SEED + i for i in range(args.seeds)]
        runs = {seed: run_seed(name, seed, args.cap, contenders) for seed in seeds}
        summarize(name, seeds, runs, contenders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
