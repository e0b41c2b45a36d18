"""How fast nnlab refuses what would hang it or exhaust the machine: each case of issue 21 run as a user
would run it (`nnlab validate` or `nnlab run` in a fresh process), its wall time against the 5-second
target, as a ratio, with its exit code and message.

    python benchmarks/hostile.py [--repeats 3] [--only NAME,NAME]

Before the limits (measured on this machine, 2 cores): the 10-level "billion laughs" ran until killed
(7 levels: 12.6 s, 1.1 GB); a 50 MB name, 52 s and the whole name echoed; a 50 MB spec of comments,
87 s and 760 MB, then accepted; --set model.units=1e9, a traceback from TensorFlow; 100,000 CSV
columns, past 5 minutes (killed).
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

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0
IRIS = "data: {source: 'sklearn:iris'}\nmodel: {kind: mlp}\n"


def _laughs(levels: int = 10, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\n{IRIS}name: *a{levels - 1}\n"


def _wide_csv(path: Path, columns: int = 100_000, rows: int = 30) -> None:
    rng = random.Random(0)
    with path.open("w") as out:
        out.write(",".join(f"c{i}" for i in range(columns)) + ",y\n")
        for r in range(rows):
            out.write(",".join(f"{rng.random():.3f}" for _ in range(columns)) + f",{r % 2}\n")


def cases(folder: Path) -> dict[str, tuple[list[str], str]]:
    """name → (the command's arguments, what its message must say)."""
    def spec(name: str, text: str) -> str:
        (folder / name).write_text(text)
        return str(folder / name)

    (folder / "big-name.yaml").write_text(f"name: {'a' * 50_000_000}\n{IRIS}")
    (folder / "comments.yaml").write_text("# comment\n" * 5_000_000 + IRIS)
    _wide_csv(folder / "wide.csv")
    mpg = str(ROOT / "configs" / "mpg-mlp.yaml")
    return {
        "billion-laughs": (["validate", spec("laughs.yaml", _laughs())], "aliases"),
        "50-MB-name": (["validate", str(folder / "big-name.yaml")], "larger than"),
        "50-MB-of-comments": (["validate", str(folder / "comments.yaml")], "larger than"),
        "units=1e9 (validate)": (["validate", mpg, "--set", "model.units=1000000000"], "largest model"),
        "units=1e9 (run)": (["run", mpg, "--set", "model.units=1000000000", "--runs-dir", str(folder / "runs")],
                            "largest model"),
        "layers=10000": (["validate", mpg, "--set", "model.layers=10000"], "≤ 100"),
        "100,000 CSV columns": (["validate", spec("wide.yaml", "data: {source: csv, path: wide.csv, target: y}\n"
                                                               "model: {kind: mlp}\n")], "columns"),
        "data at /dev/zero": (["validate", spec("zero.yaml", "data: {source: csv, path: /dev/zero, target: y}\n"
                                                             "model: {kind: mlp}\n")], "not a regular file"),
    }


def run_case(args: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nnlab", *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - start, proc.returncode, (proc.stderr.strip().splitlines() or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = cases(Path(tmp))
        wanted = args.only.split(",") if args.only else list(table)
        print(f"{'case':<24} {'seconds':>8} {'÷ 5 s':>6}  exit  message (its first 110 characters)")
        for name in wanted:
            command, expected = table[name]
            runs = [run_case(command) for _ in range(args.repeats)]
            seconds = statistics.median(r[0] for r in runs)
            code, message = runs[-1][1], runs[-1][2]
            ok = "" if code == 2 and expected in message else "  <-- UNEXPECTED"
            print(f"{name:<24} {seconds:8.2f} {seconds / TARGET_SECONDS:6.2f}  {code:>4}  {message[:110]}{ok}")
            print(f"{'':<24} {'':>8} {'':>6}        message length {len(message):,} characters")


if __name__ == "__main__":
    main()
