"""The README's example figures, measured and written in one place: every spec in configs/ run as a
user runs it, timed as a whole `nnlab run` command, plus the sample output and the longer shapes run.

    python benchmarks/examples.py              # measure, print, and rewrite the README's blocks
    python benchmarks/examples.py --dry-run    # measure and print only

It rewrites what lies between the README's `<!-- examples:NAME -->` and `<!-- /examples:NAME -->`
markers (`table`: the examples table and its date; `sample`: the sample output of `nnlab run`), so the
figures never drift from what this script measured. Each run goes into a fresh temporary runs folder,
one after another, in fresh processes.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LONG_SHAPES = ["--name", "shapes-long", "--set", "train.epochs=25", "--set", "search.max_trials=1"]


def nnlab_run(spec: Path, runs: Path, extra: list[str] = ()) -> tuple[float, str, dict]:
    """(wall seconds of the whole command, its output, the run's summary)."""
    command = [sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(runs), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    name = extra[extra.index("--name") + 1] if "--name" in extra else spec.stem
    summary = json.loads((runs / name / "summary.json").read_text())
    return seconds, done.stdout, summary


def describe(spec: Path) -> tuple[str, str]:
    """(what the example is: its file's first comment; what it searches)."""
    import yaml

    text = spec.read_text(encoding="utf-8")
    first = text.splitlines()[0].lstrip("# ").rstrip(".") if text.startswith("#") else spec.stem
    raw = yaml.safe_load(text)
    search, train = raw.get("search", {}), raw.get("train", {})
    objective = search.get("objective", "val_loss")
    objective = objective["name"] if isinstance(objective, dict) else objective
    searched = (f"{search.get('tuner', 'random')}, {search.get('max_trials', 10)} trials × "
                f"{train.get('epochs', 10)} epochs, {objective}")
    return first, searched


def versions() -> str:
    from importlib.metadata import version

    return (f"TensorFlow {version('tensorflow')}, Keras {version('keras')}, "
            f"Keras Tuner {version('keras-tuner')}")


def sample_block(output: str) -> str:
    """The start of a run's output as a reader sees it: the header, the first trial's two lines."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("nnlab run "))
    end = next(i for i, line in enumerate(lines) if line.startswith("  search:"))
    trials = [line for line in lines if re.match(r"\[\d+/\d+\] trial", line)][:2]
    return "```\n" + "\n".join(lines[start:end + 1] + trials) + "\n...\n```"


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- examples:{name} -->\n).*?(\n<!-- /examples:{name} -->)", re.S)
    if not pattern.search(text):
        sys.exit(f"README.md has no <!-- examples:{name} --> … <!-- /examples:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the figures, leave README.md alone")
    args = parser.parse_args()
    rows, sample = [], ""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        for spec in sorted((ROOT / "configs").glob("*.yaml")):
            seconds, output, summary = nnlab_run(spec, runs)
            what, searched = describe(spec)
            rows.append(f"| `{spec.name}` | {what} | {summary['model'].upper()} | {searched} | {seconds:.0f} s | "
                        f"{summary['best_score']:.4g} |")
            print(rows[-1], flush=True)
            if spec.stem == "mpg-mlp":
                sample = sample_block(output)
        seconds, _, summary = nnlab_run(ROOT / "configs" / "shapes-cnn.yaml", runs, LONG_SHAPES)
        long_text = (f"reached {summary['best_score']:.3f} in one trial ({summary['seconds']:.0f} s of sweep, "
                     f"{seconds:.0f} s for the whole command)")
        print(f"shapes-long: {long_text}")
    table = "\n".join(["| spec | what | model | search | time | best |", "|---|---|---|---|---|---|", *rows])
    table += (f"\n\nMeasured {date.today().isoformat()} by `python benchmarks/examples.py` (each a whole `nnlab run` "
              f"command into a fresh runs folder, one after another; {versions()}; 2-core CPU, no GPU). `best` is "
              "one run's validation score, not a promise: it moves from run to run (a tester's fresh shapes-cnn "
              "run gave 0.5333 where this table once said 0.65). The shapes "
              "CNN is far from converged at 8 epochs: `nnlab run configs/shapes-cnn.yaml "
              f"{' '.join(LONG_SHAPES)}` {long_text}.")
    print("\n" + table + "\n\n" + sample)
    if not args.dry_run:
        text = replace_block(README.read_text(encoding="utf-8"), "table", table)
        README.write_text(replace_block(text, "sample", sample), encoding="utf-8")
        print("README.md updated")


if __name__ == "__main__":
    main()
