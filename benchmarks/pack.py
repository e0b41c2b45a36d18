"""search.pack: whole sweeps with trials packed into one step, beside the hand-written Keras Tuner script.

    python benchmarks/pack.py [W1 W3] [--rounds 1] [--packs 1,4,8,auto]
    python benchmarks/pack.py W1 --profile [--packs auto]   # where a sweep's time goes
    python benchmarks/pack.py --gpu [--trials 1.0]          # on a GPU machine

CPU mode: each round runs, per workload of `workloads.py`, the hand-written Keras Tuner script
(`baseline_kt.py`) and `nnlab run` once per `search.pack` value, each in a fresh process, in an order
that alternates between rounds. Printed per run: whole-process seconds, the ratio to the script, the
best score, peak RSS; then per pack value the median ratio, its best score against pack 1's, its peak
RSS against pack 1's, and issue 24's targets (W1 ≤ 0.20 and W3 ≤ 0.15 of the script with auto; RSS
≤ 1.2 × unpacked).

Profile mode (`--profile`): one `nnlab run` per workload and pack value under cProfile, its time
split into phases (Python and TensorFlow's import, the data, building models, tracing, running the
steps, checkpoints, records, the final model); shares of the profiled time (cProfile slows Python
about twofold, and TensorFlow's kernels not at all, so the shares lean towards Python).

GPU mode (`--gpu`): pack 1 against auto on a 64-trial MLP sweep (W3's 20,000-row table, 10 epochs)
and a 32-trial small-CNN sweep (W2's 6,000 images, 5 epochs), each in a fresh process with `--device
gpu`, while `nvidia-smi` samples the GPU's utilisation every 0.2 s. Printed: trials per minute of
each, their ratio, the mean utilisation and the share of samples above 50%. `--trials 0.5` halves the
trial counts (a shorter check).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from speed import score_ok, timed  # noqa: E402
from workloads import WORKLOADS, prepare  # noqa: E402

TARGET = {"W1": 0.20, "W3": 0.15}  # issue 24: whole process with pack auto, against the script
RSS_TARGET = 1.2  # a packed sweep's peak RSS against the unpacked one's


def nnlab(spec: Path, folder: Path, pack: str, *extra: str) -> tuple[float, float, dict]:
    """(seconds, peak RSS MB, summary) of `nnlab run` with search.pack `pack`, in a fresh process."""
    runs = folder / f"runs-pack-{pack}"
    seconds, rss, _ = timed([sys.executable, "-m", "nnlab", "run", str(spec), "--runs-dir", str(runs), "--overwrite",
                             "--yes", "--quiet", "--set", f"search.pack={pack}", *extra], folder)
    return seconds, rss, json.loads((runs / spec.stem / "summary.json").read_text())


def cpu(args) -> None:
    packs = args.packs.split(",")
    rows: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="pack-") as tmp:
        folder = Path(tmp)
        specs = {name: prepare(name, folder) for name in args.workloads}
        for round_ in range(args.rounds):
            for name in args.workloads:
                data, spec = specs[name]
                order = ["script", *packs] if round_ % 2 == 0 else [*reversed(packs), "script"]
                for contender in order:
                    if contender == "script":
                        seconds, rss, out = timed([sys.executable, str(HERE / "baseline_kt.py"), name, str(data),
                                                   str(folder / "kt")], folder)
                        score = json.loads(out.strip().splitlines()[-1])["best_score"]
                        note = ""
                    else:
                        seconds, rss, summary = nnlab(spec, folder, contender)
                        score, note = summary["best_score"], summary["notes"][-1] if summary["notes"] else ""
                    rows.setdefault((name, contender), []).append({"s": seconds, "rss": rss, "score": score})
                    print(f"{name} round {round_ + 1} {contender:>6}: {seconds:6.1f} s, best "
                          f"{WORKLOADS[name]['objective']} {score:.4g}, peak RSS {rss:.0f} MB"
                          f"{'  (' + note + ')' if 'search.pack auto' in note else ''}", flush=True)
    print(f"\nMedians over {args.rounds} round(s) (ratio: nnlab / the hand-written Keras Tuner script, "
          "whole process):")
    for name in args.workloads:
        objective = WORKLOADS[name]["objective"]
        script = statistics.median(r["s"] for r in rows[(name, "script")])
        script_score = statistics.median(r["score"] for r in rows[(name, "script")])
        unpacked = rows.get((name, "1"))
        for pack in packs:
            runs = rows[(name, pack)]
            ratio = statistics.median(r["s"] / s["s"] for r, s in zip(runs, rows[(name, "script")]))
            score = statistics.median(r["score"] for r in runs)
            line = (f"{name} pack {pack:>4}: {statistics.median(r['s'] for r in runs):6.1f} s against {script:.1f} s, "
                    f"ratio {ratio:.2f}; best {objective} {score:.4g} (script {script_score:.4g}, "
                    f"{'within noise' if score_ok(objective, script_score, score) else 'WORSE'})")
            if unpacked and pack != "1":
                speedup = statistics.median(u["s"] / r["s"] for u, r in zip(unpacked, runs))
                rss = statistics.median(r["rss"] / u["rss"] for u, r in zip(unpacked, runs))
                line += (f"; {speedup:.2f}× pack 1's speed; peak RSS {rss:.2f} × pack 1's "
                         f"({'met' if rss <= RSS_TARGET else 'NOT MET'}: ≤ {RSS_TARGET})")
            if pack == "auto" and name in TARGET:
                line += f"; target ≤ {TARGET[name]:.2f}: {'met' if ratio <= TARGET[name] else 'NOT MET'}"
            print(line)


# ------------------------------------------------------------------------------------ profile

PHASES = [  # (phase, the functions whose cumulative time it is, less those), in the order a sweep meets them
    ("import TensorFlow", ["*tensorflow/__init__.py:1(<module>)"], []),
    ("the data, its checks, the device", ["*/placement.py:*(load_and_place)"], ["*tensorflow/__init__.py:1(<module>)"]),
    ("Keras Tuner's project", ["*/sweep.py:*(make_tuner)"], []),
    ("building and compiling models", ["*/trainer.py:*(compiled_model)"], []),
    ("tracing the steps", ["*/tracing_compilation.py:*(trace_function)"], []),
    ("running the steps (TensorFlow)", ["<built-in method tensorflow.python._pywrap_tfe.TFE_Py_Execute>"], []),
    ("checkpoints", ["*/saving_lib.py:*(save_weights_only)"], []),
    ("ending each trial: records, Keras Tuner's state, memory", ["*/search.py:*(on_trial_end)"], []),
    ("best.keras and the closing table", ["*/sweep.py:*(finish)"], []),
]


def _spent(where: dict, patterns: list[str]) -> float:
    import fnmatch

    return sum(sum(v for k, v in where.items() if fnmatch.fnmatch(k, p)) for p in patterns)


def profile(args) -> None:
    import pstats

    with tempfile.TemporaryDirectory(prefix="pack-profile-") as tmp:
        folder = Path(tmp)
        for name in args.workloads:
            _, spec = prepare(name, folder)
            for pack in args.packs.split(","):
                out = folder / f"{name}-{pack}.prof"
                started = time.monotonic()
                subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "nnlab", "run", str(spec),
                                "--runs-dir", str(folder / "runs"), "--overwrite", "--yes", "--quiet", "--set",
                                f"search.pack={pack}"], cwd=folder, check=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
                wall = time.monotonic() - started
                stats = pstats.Stats(str(out)).stats
                total = max(v[3] for v in stats.values())
                where = {f"{f}:{line}({fn})" if line else fn: v[3] for (f, line, fn), v in stats.items()}
                print(f"\n{name}, search.pack {pack}: {wall:.1f} s wall under cProfile, {total:.1f} s profiled")
                for phase, patterns, less in PHASES:
                    seconds = _spent(where, patterns) - _spent(where, less)
                    print(f"  {phase:<58} {seconds:6.2f} s  {seconds / total:5.1%}")


# ------------------------------------------------------------------------------------ GPU


GPU_SWEEPS = {  # workload of workloads.py, trials, epochs
    "MLP": ("W3", 64, 10),
    "CNN": ("W2", 32, 5),
}


class Utilisation:
    """`nvidia-smi` sampling the first GPU's utilisation (%) in the background."""

    def __init__(self, interval_ms: int = 200):
        self.proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                                      f"--loop-ms={interval_ms}", "-i", "0"], stdout=subprocess.PIPE, text=True)

    def stop(self) -> list[float]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        return [float(v) for v in out.split() if v.replace(".", "", 1).isdigit()]


def gpu(args) -> None:
    with tempfile.TemporaryDirectory(prefix="pack-gpu-") as tmp:
        folder = Path(tmp)
        print(subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True).stdout.strip(), flush=True)
        for label, (name, trials, epochs) in GPU_SWEEPS.items():
            _, spec = prepare(name, folder)
            trials = max(2, int(trials * args.trials))
            results = {}
            for pack in ("1", "auto"):
                sampler = Utilisation()
                started = time.monotonic()
                seconds, _, summary = nnlab(spec, folder, pack, "--device", "gpu", "--set",
                                            f"search.max_trials={trials}", "--set", f"train.epochs={epochs}")
                samples = sampler.stop()
                with (folder / f"runs-pack-{pack}" / spec.stem / "trials.csv").open() as fh:
                    done = sum(r["status"] == "completed" for r in csv.DictReader(fh))
                results[pack] = done / (seconds / 60)
                busy = sum(s > 50 for s in samples) / max(len(samples), 1)
                chosen = next((n for n in summary.get("notes", []) if "search.pack" in n), "")
                print(f"{label} ({trials} trials × {epochs} epochs) pack {pack:>4}: {seconds:6.1f} s, "
                      f"{results[pack]:.1f} trials/min, GPU utilisation mean {statistics.fmean(samples or [0]):.0f}%, "
                      f"above 50% in {busy:.0%} of {len(samples)} samples, wall {time.monotonic() - started:.0f} s, "
                      f"best {summary['best_score']:.4g}{'  (' + chosen + ')' if chosen else ''}", flush=True)
            print(f"{label}: auto / pack 1 = {results['auto'] / results['1']:.2f}× the trials per minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["W1", "W3"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--packs", default="1,4,8,auto", help="search.pack values, comma-separated")
    parser.add_argument("--gpu", action="store_true", help="the GPU mode (needs nvidia-smi and a GPU)")
    parser.add_argument("--profile", action="store_true", help="where a sweep's time goes (cProfile)")
    parser.add_argument("--trials", type=float, default=1.0, help="GPU mode: scale the trial counts")
    args = parser.parse_args()
    unknown = [name for name in args.workloads if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    gpu(args) if args.gpu else profile(args) if args.profile else cpu(args)


if __name__ == "__main__":
    main()
