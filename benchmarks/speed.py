"""nnlab against the hand-written Keras Tuner script it replaces, on the same workloads.

    python benchmarks/speed.py [W1 W2 W3] [--rounds 1] [--size 1.0]

Each round runs every workload both ways, alternating, each in a fresh process: (a) the baseline
`benchmarks/baseline_kt.py`, (b) `nnlab run` on the equivalent spec (same data, split, space, trials,
epochs, batch sizes and seed; see `workloads.py`). Prints per workload and round: whole-process wall
time of each, their ratio, seconds per trial, best score of each, peak RSS of each; then, over the
rounds, the median ratio of each workload against issue 4's targets, and whether each is met.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import WORKLOADS, prepare  # noqa: E402

TIME_TARGET = {"W1": 0.40, "W2": 0.90, "W3": 0.40}  # nnlab / baseline, whole process
RSS_TARGET = 1.3
# "No worse beyond run-to-run noise": accuracy within 0.01, a loss within 5% of the baseline's.
SCORE_SLACK = {"val_accuracy": 0.01, "val_loss": 0.05}


def timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of a command in a fresh process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(HERE)}
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def score_ok(objective: str, baseline: float, nnlab: float) -> bool:
    if objective == "val_loss":  # lower is better
        return nnlab <= baseline * (1 + SCORE_SLACK[objective])
    return nnlab >= baseline - SCORE_SLACK[objective]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--size", type=float, default=1.0, help="scale W2 and W3 data (1.0 = as specified)")
    args = parser.parse_args()
    unknown = [name for name in args.workloads if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    rows: dict[str, list[dict]] = {name: [] for name in args.workloads}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = {name: prepare(name, folder, args.size) for name in args.workloads}
        for round_ in range(args.rounds):
            for name in args.workloads:
                data, spec = specs[name]
                w = WORKLOADS[name]
                base_s, base_rss, out = timed([sys.executable, str(HERE / "baseline_kt.py"), name, str(data),
                                               str(folder / "kt")], folder)
                base = json.loads(out.strip().splitlines()[-1])
                nn_s, nn_rss, _ = timed([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir",
                                         str(folder / "runs"), "--overwrite", "--yes", "--quiet"], folder)
                summary = json.loads((folder / "runs" / name / "summary.json").read_text())
                row = dict(base_s=base_s, nn_s=nn_s, base_score=base["best_score"], nn_score=summary["best_score"],
                           base_rss=base_rss, nn_rss=nn_rss)
                rows[name].append(row)
                print(f"{name} round {round_ + 1}: baseline {base_s:6.1f} s ({base_s / w['trials']:.2f} s/trial, "
                      f"best {w['objective']} {base['best_score']:.4g}, peak RSS {base_rss:.0f} MB) | "
                      f"nnlab {nn_s:6.1f} s ({nn_s / w['trials']:.2f} s/trial, best {summary['best_score']:.4g}, "
                      f"peak RSS {nn_rss:.0f} MB) | ratio {nn_s / base_s:.2f}, RSS ratio {nn_rss / base_rss:.2f}",
                      flush=True)
    print(f"\nOver {args.rounds} round(s), medians:")
    all_met = True
    for name, runs in rows.items():
        objective = WORKLOADS[name]["objective"]
        ratio = statistics.median(r["nn_s"] / r["base_s"] for r in runs)
        rss = statistics.median(r["nn_rss"] / r["base_rss"] for r in runs)
        base_score = statistics.median(r["base_score"] for r in runs)
        nn_score = statistics.median(r["nn_score"] for r in runs)
        checks = {f"time ratio {ratio:.2f} <= {TIME_TARGET[name]:.2f}": ratio <= TIME_TARGET[name],
                  f"RSS ratio {rss:.2f} <= {RSS_TARGET}": rss <= RSS_TARGET,
                  f"best {objective} {nn_score:.4g} vs baseline {base_score:.4g}": score_ok(objective, base_score,
                                                                                          nn_score)}
        all_met &= all(checks.values())
        print(f"{name}: " + "; ".join(f"{text} {'met' if ok else 'NOT MET'}" for text, ok in checks.items()))
    print("all targets met" if all_met else "some targets NOT met")


if __name__ == "__main__":
    main()
