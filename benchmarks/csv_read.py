"""How long nnlab takes to read a real-sized CSV, beside pandas' own reading of the same file.

    python benchmarks/csv_read.py [--rows 20000] [--repeats 3]

Writes a messy 20,000-row file the way people export them (Windows-1252, `;` separators, euro amounts
with decimal commas, day-first dates, a timestamp column, categories, `?` and `--` for missing, an id
column), then times, each in a fresh process (median of `--repeats`):
- nnlab: the whole of what `nnlab run` does with a CSV before training (`load_data`: decoding, column
  types, number and date formats, the split, the preprocessing fitted and applied);
- pandas: `pd.read_csv` of the same file with its defaults (what a hand-written script starts with; it
  reads the euro amounts and dates as text and would still need all the rest).
The target is nnlab under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 2.0


def write_file(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    lines = ["id;Date;Hour;Timestamp;Temperature;Price;Season;Holiday;Rented"]
    for i in range(rows):
        day, month = 1 + i % 28, 1 + (i // 28) % 12
        price = f"€{rng.uniform(1, 2500):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
        temp = "?" if i % 97 == 0 else ("--" if i % 89 == 0 else f"{rng.normal(15, 8):.1f}".replace(".", ","))
        lines.append(f"{i + 1};{day:02d}/{month:02d}/2018;{i % 24};2018-{month:02d}-{day:02d}T{i % 24:02d}:00:00Z;"
                     f"{temp};{price};{['Winter', 'Spring', 'Summer', 'Autumn'][month % 4]};"
                     f"{'Holiday' if i % 31 == 0 else 'No Holiday'};{int(rng.poisson(300))}")
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    (path.parent / "spec.yaml").write_text(
        f"data: {{source: csv, path: {path.name}, target: Rented}}\nmodel: {{kind: mlp}}\n")


NNLAB = ("import sys, time; from nnlab.spec.loader import load_spec; from nnlab.data.load import load_data\n"
         "import sklearn.model_selection  # (its import, paid once per process, is not reading)\n"
         "start = time.perf_counter(); data = load_data(load_spec(sys.argv[1]))\n"
         "print(time.perf_counter() - start, len(data.source.features))")
PANDAS = ("import sys, time; import pandas as pd\n"
          "start = time.perf_counter(); frame = pd.read_csv(sys.argv[1], sep=';', encoding='cp1252')\n"
          "print(time.perf_counter() - start, frame.shape[1])")


def timed(code: str, argument: Path, repeats: int) -> tuple[float, str]:
    seconds, extra = [], ""
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code, str(argument)], capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout.split()
        seconds.append(float(out[0]))
        extra = out[1]
    return statistics.median(seconds), extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rentals.csv"
        write_file(path, args.rows)
        size = path.stat().st_size / 1e6
        nnlab_s, features = timed(NNLAB, path.parent / "spec.yaml", args.repeats)
        pandas_s, columns = timed(PANDAS, path, args.repeats)
    print(f"{args.rows} rows, {size:.1f} MB (median of {args.repeats}, in fresh processes; the imports of pandas and "
          "scikit-learn excluded):")
    print(f"  pandas read_csv (text only, {columns} columns): {pandas_s:.2f} s")
    print(f"  nnlab load_data (read, typed, split, preprocessed: {features} features): {nnlab_s:.2f} s, "
          f"{nnlab_s / pandas_s:.1f}× pandas' read; target < {TARGET_SECONDS:.0f} s: "
          f"{'met' if nnlab_s < TARGET_SECONDS else 'NOT MET'}")


if __name__ == "__main__":
    main()
