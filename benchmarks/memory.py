"""Resident memory across the trials of one sweep, in one process.

    python benchmarks/memory.py [--trials 100] [--epochs 1]

Runs an MLP sweep on scikit-learn's digits and prints the process's RSS after each trial ends, then
the growth from trial 10 to the last trial.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab.engine.sweep import run  # noqa: E402
from nnlab.progress import Reporter  # noqa: E402
from nnlab.spec.loader import load_spec  # noqa: E402

SPEC = """
name: memory
data: {{source: "sklearn:digits"}}
model: {{kind: mlp, layers: {{int: [1, 3]}}, units: {{choice: [32, 64, 128]}}, dropout: {{float: [0.0, 0.3]}}}}
train: {{epochs: {epochs}, batch_size: {{choice: [32, 64]}}, learning_rate: {{float: [0.0005, 0.01], log: true}}}}
search: {{max_trials: {trials}, keep: best}}
"""


TARGET_MB = 50  # issue 4: growth from trial 10 to trial 100 of a 100-trial, 1-epoch sweep


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MemoryReporter(Reporter):
    def __init__(self):
        super().__init__(quiet=True)
        self.rss: list[float] = []

    def trial_ends(self, number, total, record, objective, best):
        super().trial_ends(number, total, record, objective, best)
        self.rss.append(rss_mb())
        print(f"trial {number:3d}/{total}: RSS {self.rss[-1]:7.1f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        spec_path = Path(folder) / "memory.yaml"
        spec_path.write_text(SPEC.format(trials=args.trials, epochs=args.epochs))
        reporter = MemoryReporter()
        run(load_spec(spec_path), Path(folder) / "runs", reporter=reporter)
    rss = reporter.rss
    first = min(10, len(rss)) - 1
    print(f"RSS after trial {first + 1}: {rss[first]:.1f} MB; after trial {len(rss)}: {rss[-1]:.1f} MB; "
          f"growth {rss[-1] - rss[first]:+.1f} MB over {len(rss) - first - 1} trials "
          f"({(rss[-1] - rss[first]) / max(len(rss) - first - 1, 1):+.2f} MB per trial); "
          f"target <= {TARGET_MB} MB: {'met' if rss[-1] - rss[first] <= TARGET_MB else 'NOT MET'}")


if __name__ == "__main__":
    main()
