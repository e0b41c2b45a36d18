"""How nnlab's reading of a CSV grows with its rows and columns, beside pandas' own reading of each file.

    python benchmarks/csv_growth.py [--quick] [--repeats 3] [--first-trial]

Files of two kinds are written, at sizes from 1,000 to 500,000 rows and 10 to 1,000 columns (at most
20 million cells each):
- pixels: a label and 0–255 integers, four in five of them 0 (Kaggle's digit recognizer is 42,000 × 785);
- mixed: numbers with four decimals (2% missing), a category, an ISO date and a target with three
  decimals (the issue's 500,000 × 12 file is of this kind).
Each is timed in fresh processes (median of `--repeats`; the imports are not timed):
- pandas: `pd.read_csv(path)` with its defaults (numbers parsed, nothing else decided);
- nnlab reading: `read_csv` and `column_types`: the file decoded, its separator found, every column's
  spellings of missing, numbers, dates, categories and identifiers decided, with the notes. This is
  what `pandas.read_csv` stands for, and the ratio the issue's target is about (≤ 3×);
- nnlab load_data: all a run does before training (the reading, the target, the split, the
  preprocessing fitted and applied to every row);
- memory: the peak of the reading, and of load_data, above the process's size before it (Linux's
  peak resident size, reset after the imports), against the parsed frame (pandas' frame, with its
  strings): the reading's is the issue's target, under 3× (on a frame of a few MB the ratio says
  little: a fixed few MB of work dominates it).
`--first-trial` also times `nnlab run` on the 20,000 × 785 pixel file, from the command to the first
trial's start (target: within 10 s; the command's own imports, TensorFlow's among them, included).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MOST_CELLS = 20_000_000
ROWS = (1_000, 10_000, 100_000, 500_000)
COLUMNS = (10, 100, 1_000)
TARGET_RATIO, TARGET_MEMORY, TARGET_FIRST_TRIAL = 3.0, 3.0, 10.0


def write_pixels(path: Path, rows: int, columns: int) -> None:
    rng = np.random.default_rng(0)
    pixels = np.where(rng.random((rows, columns - 1)) < 0.8, 0, rng.integers(1, 256, (rows, columns - 1)))
    labels = rng.integers(0, 10, rows)
    header = "label," + ",".join(f"pixel{i}" for i in range(columns - 1))
    body = np.column_stack([labels, pixels])
    with path.open("w") as handle:
        handle.write(header + "\n")
        np.savetxt(handle, body, fmt="%d", delimiter=",")


def write_mixed(path: Path, rows: int, columns: int) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    numbers = np.round(rng.normal(50, 20, (rows, columns - 3)), 4)
    numbers[rng.random(numbers.shape) < 0.02] = np.nan
    frame = pd.DataFrame(numbers, columns=[f"x{i}" for i in range(columns - 3)])
    frame["season"] = rng.choice(["Winter", "Spring", "Summer", "Autumn"], rows)
    days = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, rows), unit="D")
    frame["day"] = days.strftime("%Y-%m-%d")
    frame["y"] = np.round(np.nan_to_num(numbers[:, 0]) * 2 + rng.normal(0, 5, rows), 3)
    frame.to_csv(path, index=False)


PANDAS = ("import sys, time; import pandas as pd\n"
          "start = time.perf_counter(); frame = pd.read_csv(sys.argv[1])\n"
          "print(time.perf_counter() - start, frame.memory_usage(deep=True).sum())")
PEAK = ("import re\n"
        "def status(key):\n"
        "    return int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1)) * 1024\n"
        "open('/proc/self/clear_refs', 'w').write('5')  # (the peak so far, the imports', is forgotten)\n"
        "before = status('VmRSS')\n")
READING = ("import sys, time; from pathlib import Path; from nnlab.data import tabular\n" + PEAK +
           "start = time.perf_counter(); notes = []\n"
           "frame = tabular.read_csv(Path(sys.argv[1]), notes=notes, numbers=True)\n"
           "columns = tabular.column_types(frame, tabular.ReadOptions(), notes)\n"
           "print(time.perf_counter() - start, status('VmHWM') - before)")
LOAD = ("import sys, time; from nnlab.spec.loader import load_spec; from nnlab.data.load import load_data\n"
        "import sklearn.model_selection, pandas, nnlab.data.csvdata  # (imports, once a process, are no reading)\n"
        "spec = load_spec(sys.argv[1])\n" + PEAK +
        "start = time.perf_counter(); data = load_data(spec)\n"
        "print(time.perf_counter() - start, status('VmHWM') - before)")


def timed(code: str, argument: Path, repeats: int) -> tuple[float, float]:
    """(median seconds, the last run's second figure) of `code` run in fresh processes."""
    seconds, extra = [], 0.0
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code, str(argument)], capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout.split()
        seconds.append(float(out[0]))
        extra = float(out[1])
    return statistics.median(seconds), extra


def measure(folder: Path, kind: str, rows: int, columns: int, repeats: int) -> dict:
    path = folder / f"{kind}_{rows}x{columns}.csv"
    (write_pixels if kind == "pixels" else write_mixed)(path, rows, columns)
    target = "label" if kind == "pixels" else "y"
    spec = folder / f"{path.stem}.yaml"
    spec.write_text(f"data: {{source: csv, path: {path.name}, target: {target}}}\nmodel: {{kind: mlp}}\n")
    pandas_s, frame_bytes = timed(PANDAS, path, repeats)
    reading_s, reading_peak = timed(READING, path, repeats)
    load_s, peak = timed(LOAD, spec, repeats)
    size = path.stat().st_size
    path.unlink()
    return {"kind": kind, "rows": rows, "columns": columns, "mb": size / 1e6, "pandas": pandas_s,
            "reading": reading_s, "load": load_s, "frame_mb": frame_bytes / 1e6, "reading_mb": reading_peak / 1e6,
            "peak_mb": peak / 1e6}


def first_trial(folder: Path) -> float:
    """Seconds from `nnlab run` to its first trial's start on the 20,000 × 785 pixel file."""
    path = folder / "digits.csv"
    write_pixels(path, 20_000, 785)
    spec = folder / "digits.yaml"
    spec.write_text("name: digits\ndata: {source: csv, path: digits.csv, target: label}\nmodel: {kind: mlp}\n"
                    "search: {max_trials: 1}\ntrain: {epochs: 1}\n")
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(folder / "runs")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder,
                               env={**os.environ, "COLUMNS": "160"})
    seconds, lines = float("nan"), []
    for line in process.stdout:
        lines.append(line)
        if re.search(r"\] trial \S+ started", line) and seconds != seconds:
            seconds = time.perf_counter() - start
    if process.wait() != 0:
        raise SystemExit("nnlab run failed:\n" + "".join(lines[-20:]))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the two files of the issue only, once each")
    parser.add_argument("--first-trial", action="store_true", help="also time nnlab run to its first trial")
    args = parser.parse_args()
    sizes = [("pixels", 20_000, 785), ("mixed", 500_000, 12)]
    if not args.quick:
        sizes += [(kind, r, c) for kind in ("mixed", "pixels") for r in ROWS for c in COLUMNS
                  if r * c <= MOST_CELLS and (kind, r, c) not in sizes]
    repeats = 1 if args.quick else args.repeats
    print(f"median of {repeats} in fresh processes; 'reading' is read_csv + column_types, 'load' is load_data; "
          "memory: each one's peak above its start, and its ratio to pandas' parsed frame")
    print(f"{'kind':7} {'rows':>8} {'cols':>5} {'MB':>6} | {'pandas s':>8} {'reading s':>9} {'ratio':>6} | "
          f"{'load s':>7} {'ratio':>6} | {'frame MB':>8} {'reading peak':>12} {'load peak':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, rows, columns in sizes:
            m = measure(Path(tmp), kind, rows, columns, repeats)
            print(f"{kind:7} {rows:>8,} {columns:>5} {m['mb']:>6.1f} | {m['pandas']:>8.2f} {m['reading']:>9.2f} "
                  f"{m['reading'] / m['pandas']:>5.1f}× | {m['load']:>7.2f} {m['load'] / m['pandas']:>5.1f}× | "
                  f"{m['frame_mb']:>8.0f} {m['reading_mb']:>5.0f} MB {m['reading_mb'] / m['frame_mb']:>3.1f}× "
                  f"{m['peak_mb']:>4.0f} MB {m['peak_mb'] / m['frame_mb']:>3.1f}×", flush=True)
        print(f"targets: reading ≤ {TARGET_RATIO:.0f}× pandas on the first two files; peak < {TARGET_MEMORY:.0f}× "
              "the parsed frame")
        if args.first_trial:
            seconds = first_trial(Path(tmp))
            print(f"nnlab run on pixels 20,000 × 785: first trial started {seconds:.1f} s after the command "
                  f"(target {TARGET_FIRST_TRIAL:.0f} s: {'met' if seconds <= TARGET_FIRST_TRIAL else 'NOT MET'})")


if __name__ == "__main__":
    main()
