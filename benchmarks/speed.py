"""nnlab against the hand-written Keras Tuner script it replaces, on the same workloads.

    python benchmarks/speed.py [W1 W2 W3] [--rounds 1] [--size 1.0]

Each round runs every workload both ways, alternating, each in a fresh process: (a) the baseline
`benchmarks/baseline_kt.py`, (b) `nnlab run` on the equivalent spec (same data, split, space, trials,
epochs, batch sizes and seed; see `workloads.py`). Prints per workload: whole-process wall time of
each, their ratio, seconds per trial, best score of each, peak RSS of each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import WORKLOADS, prepare  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--size", type=float, default=1.0, help="scale W2 and W3 data (1.0 = as specified)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.workloads:
            data, spec = prepare(name, folder, args.size)
            w = WORKLOADS[name]
            for round_ in range(args.rounds):
                base_s, base_rss, out = timed([sys.executable, str(HERE / "baseline_kt.py"), name, str(data),
                                               str(folder / "kt")], folder)
                base = json.loads(out.strip().splitlines()[-1])
                nn_s, nn_rss, _ = timed([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir",
                                         str(folder / "runs"), "--overwrite", "--quiet"], folder)
                summary = json.loads((folder / "runs" / name / "summary.json").read_text())
                print(f"{name} round {round_ + 1}: baseline {base_s:6.1f} s ({base_s / w['trials']:.2f} s/trial, "
                      f"best {w['objective']} {base['best_score']:.4g}, peak RSS {base_rss:.0f} MB) | "
                      f"nnlab {nn_s:6.1f} s ({nn_s / w['trials']:.2f} s/trial, best {summary['best_score']:.4g}, "
                      f"peak RSS {nn_rss:.0f} MB) | ratio {nn_s / base_s:.2f}, RSS ratio {nn_rss / base_rss:.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
