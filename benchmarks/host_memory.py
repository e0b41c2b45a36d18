"""Host memory of a parallel sweep over an image folder: one decoded copy shared, or one per process.

    python benchmarks/host_memory.py [--images 12000] [--size 64] [--workers 2] [--trials 2] [--old-code DIR]

Draws a seeded folder of PNG images (four classes), then runs the same `nnlab run --workers N` sweep
(a small CNN, `--trials` trials of one epoch) twice, each in a fresh process tree and a fresh runs
folder:

- before: `--set data.keep_decoded=false`, as nnlab did until issue 15: the chief and every worker
  decode the folder and hold their own copy (and, before this change, `tf.data`'s cache held another);
- after: the default, the chief decodes once into `runs/.decoded/` and every process memory-maps it;
- with `--old-code DIR` (a checkout of an older nnlab, e.g. `git worktree add /tmp/old 16e1cdf`), first
  that code's sweep, run with DIR first on PYTHONPATH.

Samples the proportional set size (PSS: shared pages divided among the processes that map them, from
/proc/PID/smaps_rollup; Linux only) of the whole process tree every 0.25 s and prints its peak, the
wall time and the decoded set's size, and the ratio after / before.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def draw_folder(root: Path, images: int, size: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:size, 0:size]
    patterns = [np.sin(rows / 3.0), np.sin(cols / 3.0), np.sin((rows + cols) / 4.0), np.cos(rows * cols / 60.0)]
    for i in range(images):
        c = i % 4
        pixels = rng.normal(100, 40, (size, size, 3)) + 30 * patterns[c][:, :, None]
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(root / f"class{c}" / f"{i}.png")


def tree_pss_mb(pid: int) -> float:
    """PSS of a process and all its descendants, in MB."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(p) for p in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def sweep(spec: Path, runs: Path, workers: int, trials: int, extra: list[str],
          code: str | None = None) -> tuple[float, float]:
    """(peak PSS MB of the process tree, wall seconds) of one `nnlab run --workers` (`code`: nnlab's source
    folder, put first on PYTHONPATH)."""
    command = [sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(runs), "--quiet", "--device", "cpu",
               "--workers", str(workers), "--set", f"search.max_trials={trials}", *extra]
    start, peak = time.monotonic(), 0.0
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                 **({"PYTHONPATH": code} if code else {})}, cwd=code)
    while proc.poll() is None:
        peak = max(peak, tree_pss_mb(proc.pid))
        time.sleep(0.25)
    output = proc.stdout.read()
    if proc.returncode:
        raise RuntimeError(f"the sweep failed:\n{output[-3000:]}")
    return peak, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--old-code", default=None, help="an older nnlab checkout, measured first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        draw_folder(folder / "images", args.images, args.size)
        spec = folder / "spec.yaml"
        size = f"[{args.size}, {args.size}]"
        spec.write_text(f"name: memory\ndata: {{source: images, path: images, image_size: {size}}}\n"
                        "model: {kind: cnn, conv_blocks: 2, filters: 8, dense_units: 32}\n"
                        "train: {epochs: 1, batch_size: 64}\nsearch: {max_trials: 2, objective: val_accuracy}\n")
        decoded_mb = args.images * args.size * args.size * 3 / 1024**2
        print(f"{os.cpu_count()} CPU cores; {args.images} images of {args.size}×{args.size}×3 "
              f"({decoded_mb:.0f} MB decoded); --workers {args.workers}, {args.trials} trials of 1 epoch", flush=True)
        settings = [("before (keep_decoded: false)", ["--set", "data.keep_decoded=false"], None),
                    ("after (one shared copy)", [], None)]
        if args.old_code:
            settings.insert(0, (f"old code ({Path(args.old_code).name})", [], str(Path(args.old_code).resolve())))
        results = {}
        for i, (label, extra, code) in enumerate(settings):
            results[label] = sweep(spec, folder / f"runs-{i}", args.workers, args.trials, extra, code)
            peak, seconds = results[label]
            print(f"{label:>30}: peak PSS of chief + workers {peak:7.0f} MB, {seconds:5.1f} s", flush=True)
        after, t1 = results["after (one shared copy)"]
        for label, (before, t0) in results.items():
            if not label.startswith("after"):
                print(f"{'after / ' + label.split(' (')[0]:>30}: peak PSS {after / before:.2f}, wall time "
                      f"{t1 / t0:.2f}; {before - after:.0f} MB less (the decoded set is {decoded_mb:.0f} MB)")


if __name__ == "__main__":
    main()
