"""What tracking on an MLflow store adds to a sweep's wall time (issue 36's target: under 5%).

    python benchmarks/tracking.py [W1] [--rounds 3] [--uri URI | --fresh-store]

Runs `benchmarks/speed.py`'s workload (default W1) as `nnlab run`, alternating without and with
`--track URI`, each a whole command in a fresh process into a fresh runs folder. Prints each pair, then
the median of each and their ratio. The store: `--uri http://127.0.0.1:5000` measures a running
`mlflow server` (a team's); by default an SQLite store (no server) made once before the rounds, as a
user's store exists after their first tracked run; `--fresh-store`: a new SQLite store per round (its
tables created inside each timed command: the first tracked run's cost).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import WORKLOADS, prepare  # noqa: E402

TARGET = 1.05


def seconds(command: list[str], cwd: Path) -> float:
    start = time.monotonic()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="W1", choices=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--uri", default=None)
    parser.add_argument("--fresh-store", action="store_true")
    args = parser.parse_args()
    plain, tracked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, spec = prepare(args.workload, folder, 1.0)
        if args.uri is None and not args.fresh_store:  # (the store made, untimed: its tables exist)
            from nnlab.runs.tracking import client

            client(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
        for round_ in range(args.rounds):
            run = [sys.executable, "-m", "nnlab", "run", str(spec), "--quiet", "--runs-dir"]
            plain.append(seconds(run + [str(folder / f"plain{round_}")], folder))
            store = f"mlflow{round_}.db" if args.fresh_store else "mlflow.db"
            uri = args.uri or f"sqlite:///{folder / store}"
            tracked.append(seconds(run + [str(folder / f"tracked{round_}"), "--track", uri], folder))
            print(f"round {round_ + 1}: without {plain[-1]:.1f} s | with --track {tracked[-1]:.1f} s "
                  f"(ratio {tracked[-1] / plain[-1]:.3f})", flush=True)
    ratio = statistics.median(tracked) / statistics.median(plain)
    print(f"{args.workload}, medians of {args.rounds}: without {statistics.median(plain):.1f} s | with --track "
          f"{statistics.median(tracked):.1f} s | ratio {ratio:.3f}; target ≤ {TARGET}: "
          f"{'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
