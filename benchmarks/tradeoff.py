"""Issue 37's figures: a CNN search with a parameter limit, and the pick that fits a device.

    python benchmarks/tradeoff.py [digits|shapes ...] [--trials N] [--limit P] [--latency litert]

For each workload, `nnlab run` (a fresh process) of a random search over a wide CNN space (1–3 blocks,
4–64 filters, depthwise-separable blocks or not, global pooling or flatten, 0–1 dense layers) with
`search.constraints.max_params`, then from its run folder:
- every trial's parameters, worked out from its hyperparameters (`runs.tradeoff`), against the limit:
  a trial over it is a failure of the benchmark (the target: never trained);
- the best trial; `--pick smallest-within 0.01` (absolute) and `1%` (relative) as `nnlab export` makes
  them; and the ratio best parameters / picked parameters (the target: ≥ 5× smaller within 1%);
- the front of score against parameters;
- with --latency, each trial's latency_ms and `fastest-within 1%`.
The picked model is exported in every format (the export check runs on each).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACE = """model:
  kind: cnn
  conv_blocks: {int: [1, 3]}
  filters: {choice: [4, 8, 16, 32, 64]}
  kernel_size: 3
  separable: {choice: [false, true]}
  global_pooling: {choice: [false, true]}
  batch_norm: {choice: [false, true]}
  dense_layers: {int: [0, 1]}
  dense_units: {choice: [16, 64, 128]}
  dropout: {choice: [0.0, 0.2]}
train:
  learning_rate: {float: [0.001, 0.01], log: true}
  batch_size: BATCH
  epochs: EPOCHS
"""
WORKLOADS = {
    "digits": ("data: {source: 'sklearn:digits'}\n", 32, 20),
    "shapes": (f"data: {{source: images, path: {ROOT / 'configs/data/shapes'}, image_size: [32, 32]}}\n", 16, 15),
}
FORMATS = ("m.keras", "m_saved", "m.onnx", "m.tflite", "m.mlpackage")


def spec_text(name: str, trials: int, limit: int, latency: str | None) -> str:
    data, batch, epochs = WORKLOADS[name]
    timed = f"  latency: {latency}\n" if latency else ""
    space = SPACE.replace("BATCH", str(batch)).replace("EPOCHS", str(epochs))
    return (f"name: {name}-tradeoff\nseed: 1\n{data}" + space
            + f"search:\n  tuner: random\n  objective: val_accuracy\n  max_trials: {trials}\n  pack: 4\n"
            f"  refit: false\n  constraints: {{max_params: {limit}}}\n{timed}")


def measure(name: str, folder: Path, trials: int, limit: int, latency: str | None) -> None:
    from nnlab.runs.folder import RunFolder
    from nnlab.runs.pick import pick
    from nnlab.runs.tradeoff import front, trial_costs

    spec = folder / f"{name}.yaml"
    spec.write_text(spec_text(name, trials, limit, latency))
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(folder / "runs"),
                          "--quiet"], capture_output=True, text=True)
    seconds = time.monotonic() - start
    if out.returncode:
        raise SystemExit(f"nnlab run failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    run_dir = folder / "runs" / f"{name}-tradeoff"
    contents = RunFolder(run_dir).load()
    params = trial_costs(run_dir, contents.records, "params")
    over = {i: p for i, p in params.items() if p > limit}
    completed = [r for r in contents.records if r.completed]
    skipped = (contents.summary.skipped or {}).get("count", 0)
    print(f"\n== {name}: {len(contents.records)} trials ({len(completed)} completed) in {seconds:.0f} s, "
          f"max_params {limit:,}; configurations left out before training: {skipped}")
    print(f"   trials over the limit: {len(over)} {'(target met: none)' if not over else over}")
    on = front({r.trial_id: (r.score, params[r.trial_id]) for r in completed}, "max")
    for r in sorted((r for r in completed if r.trial_id in on), key=lambda r: params[r.trial_id]):
        ms = f", {r.metrics['latency_ms']:.3g} ms" if "latency_ms" in r.metrics else ""
        print(f"   front: trial {r.trial_id:>2}  val_accuracy {r.score:.4f}  {params[r.trial_id]:>9,} params{ms}")
    for margin in ("0.01", "1%"):
        chosen = pick(run_dir, "smallest-within", margin)
        ratio = chosen.best_cost / chosen.chosen_cost
        verdict = "met" if ratio >= 5 else "NOT met"
        print(f"   pick smallest-within {margin}: trial {chosen.trial_id} {chosen.chosen.score:.4f} "
              f"{chosen.chosen_cost:,.0f} params; best trial {chosen.best.trial_id} {chosen.best.score:.4f} "
              f"{chosen.best_cost:,.0f} params; {ratio:.2f}× smaller (target ≥ 5×: {verdict})")
    if latency:
        chosen = pick(run_dir, "fastest-within", "1%")
        print(f"   pick fastest-within 1%: {chosen.describe()}")
    for target in FORMATS:
        done = subprocess.run([sys.executable, "-m", "nnlab", "export", str(run_dir), "-o", str(folder / target),
                               "--pick", "smallest-within", "1%"], capture_output=True, text=True)
        said = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith(("wrote", "error"))]
        print(f"   export --pick smallest-within 1% -o {target}: exit {done.returncode}: {said[-1] if said else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--limit", type=int, default=100_000)
    parser.add_argument("--latency", choices=["keras", "litert", "onnx"], default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnlab-tradeoff-") as tmp:
        for name in args.workloads:
            measure(name, Path(tmp), args.trials, args.limit, args.latency)


if __name__ == "__main__":
    main()
