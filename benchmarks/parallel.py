"""Trials per minute of one sweep, in one process and with 1, 2, … worker processes.

    python benchmarks/parallel.py [--workers 1 2] [--trials 12] [--epochs 10] [--workload W1]

Runs the same sweep (a workload of `workloads.py`: same data, space, seed and trial count) as a plain
`nnlab run` and as `nnlab run --workers N` for each N, each in a fresh process, one after the other.
Prints whole-process wall time, trials per minute, best score and each worker's share of the trials.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from workloads import WORKLOADS, prepare  # noqa: E402

from nnlab.runs.folder import RunFolder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workload", default="W1", choices=list(WORKLOADS))
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"])
    parser.add_argument("--gpus", default=None, help="passed to nnlab run --gpus (with --per-gpu)")
    parser.add_argument("--per-gpu", type=int, nargs="+", default=None,
                        help="with --gpus: measure these workers-per-GPU counts instead of --workers")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores; workload {args.workload}, {args.trials} trials × {args.epochs} epochs",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, spec = prepare(args.workload, folder)
        settings = [("one process", [])]
        if args.gpus and args.per_gpu:
            settings += [(f"--gpus {args.gpus} --per-gpu {k}", ["--gpus", args.gpus, "--per-gpu", str(k)])
                         for k in args.per_gpu]
        else:
            settings += [(f"--workers {n}", ["--workers", str(n)]) for n in args.workers]
        for label, extra in settings:
            runs = folder / f"runs-{len(extra)}-{'-'.join(extra)}"
            command = [sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(runs), "--quiet",
                       "--device", args.device, "--set", f"search.max_trials={args.trials}",
                       "--set", f"train.epochs={args.epochs}", *extra]
            start = time.monotonic()
            proc = subprocess.run(command, capture_output=True, text=True, cwd=folder,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            seconds = time.monotonic() - start
            if proc.returncode != 0:
                raise RuntimeError(f"{label} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
            contents = RunFolder(runs / args.workload).load()
            summary = contents.summary
            shares = collections.Counter(r.worker or "-" for r in contents.records)
            print(f"{label:>28}: {seconds:6.1f} s, {summary.completed / seconds * 60:5.1f} trials/min, "
                  f"best {summary.objective} {summary.best_score:.4g}"
                  + (f", trials per worker {dict(sorted(shares.items()))}" if extra else ""), flush=True)


if __name__ == "__main__":
    main()
