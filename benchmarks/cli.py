"""How fast the commands that never train answer: `nnlab --help` and `nnlab compare` over 1,000 trials.

    python benchmarks/cli.py [--trials 1000] [--repeats 5]

Writes a run folder of `--trials` trials the way a sweep writes one (trials.csv, summary.json, through
`nnlab.runs.files`), then times each command in fresh processes (`--repeats` times, median), checks
that neither imported TensorFlow, and prints the figures against issue 4's targets (0.3 s, 1 s).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab.runs import files  # noqa: E402
from nnlab.runs.records import Summary, TrialRecord  # noqa: E402

TARGETS = {"help": 0.3, "compare": 1.0}
# Runs the CLI in this process, then says whether TensorFlow got imported.
PROBE = ("import sys; from nnlab.cli import main; sys.argv = ['nnlab'] + sys.argv[1:]\n"
         "try:\n    main()\nexcept SystemExit:\n    pass\n"
         "print('TENSORFLOW_IMPORTED' if 'tensorflow' in sys.modules else '', file=sys.stderr)")


def fabricate(run_dir: Path, trials: int) -> None:
    rng = random.Random(7)
    hp_names = ["layers", "units", "dropout", "learning_rate", "batch_size"]
    metric_names = ["loss", "accuracy", "val_loss", "val_accuracy"]
    records = []
    for i in range(trials):
        score = rng.uniform(0.5, 0.99)
        records.append(TrialRecord(
            f"{i:04d}", "completed", score=score, best_epoch=rng.randint(1, 10), epochs=10, seconds=rng.uniform(1, 5),
            hyperparameters={"layers": rng.randint(1, 3), "units": rng.choice([32, 64, 128]),
                             "dropout": rng.uniform(0, 0.5), "learning_rate": 10 ** rng.uniform(-4, -2),
                             "batch_size": rng.choice([32, 64])},
            metrics={"loss": rng.uniform(0, 1), "accuracy": rng.uniform(0.5, 1), "val_loss": rng.uniform(0, 1),
                     "val_accuracy": score}))
    files.write_trials(run_dir / files.TRIALS, records, hp_names, metric_names)
    files.write_summary(run_dir / files.SUMMARY, Summary(
        run=run_dir.name, status="completed", model="mlp", data="sklearn:digits", tuner="random",
        objective="val_accuracy", direction="max", seconds=3000.0, trials=trials, completed=trials,
        hyperparameter_names=hp_names, metric_names=metric_names))


def timed(args: list[str], repeats: int) -> tuple[float, bool]:
    """Median wall seconds of `nnlab ARGS` in a fresh process; whether TensorFlow was imported."""
    seconds, imported = [], False
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "200"})
        seconds.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"nnlab {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
        imported |= "TENSORFLOW_IMPORTED" in proc.stderr
    return statistics.median(seconds), imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "big"
        fabricate(run_dir, args.trials)
        figures = {"help": timed(["--help"], args.repeats),
                   "compare": timed(["compare", str(run_dir)], args.repeats)}
    labels = {"help": "nnlab --help", "compare": f"nnlab compare (a run of {args.trials} trials)"}
    for key, (seconds, imported) in figures.items():
        met = seconds <= TARGETS[key] and not imported
        print(f"{labels[key]}: {seconds:.2f} s (median of {args.repeats}; target <= {TARGETS[key]} s), "
              f"TensorFlow {'imported' if imported else 'not imported'}: {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
