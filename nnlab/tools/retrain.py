"""`nnlab retrain`: the best configurations of a run trained again with other seeds, to tell a real
winner from a lucky one.

Each of the `top` best completed trials is trained `seeds` more times, exactly as in the sweep (same
data and split, epochs, early stopping, objective, pipeline), each time from another random
initialisation and data order. The score of one training is its best epoch's objective, as Keras
Tuner scores a trial. Reports mean ± standard deviation per configuration and writes them to
`retrain.json` in the run folder (one entry per configuration, with every seed's score).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from nnlab.runs import files as results
from nnlab.errors import RunError
from nnlab.progress import Reporter, fmt_duration, fmt_value

RETRAIN_FILE = "retrain.json"


def retrain(run_dir: str | Path, top: int = 3, seeds: int = 3, device: str = "auto",
            reporter: Reporter | None = None) -> list[dict]:
    from nnlab.runs.compare import read_run
    from nnlab.spec.loader import load_spec

    reporter = reporter or Reporter()
    run_dir = Path(run_dir)
    if not results.is_run_dir(run_dir):
        raise RunError(f"{run_dir} is not an nnlab run folder (it has no summary.json)")
    summary, records, problems = read_run(run_dir)
    if problems:
        raise RunError(f"{run_dir} is damaged ({'; '.join(problems)}); `nnlab run` on its spec repairs it")
    done = [r for r in records if r["status"] == "completed" and r.get("score") is not None]
    if not done:
        raise RunError(f"{run_dir} has no completed trial to train again")
    spec = load_spec(run_dir / results.SPEC_COPY)

    from nnlab.engine.backend import clear_session, configure_device, import_keras, import_tensorflow, set_precision

    import_tensorflow()  # quietly, before Keras Tuner imports it
    from keras_tuner.src.engine.trial import Trial

    from nnlab.data.dataset import load_data
    from nnlab.spec.space import active_values, sample_params
    from nnlab.engine.sweep import Sweep

    direction = summary.get("direction", "min")
    done.sort(key=lambda r: r["score"], reverse=direction == "max")
    chosen = done[:top]
    data = load_data(spec)
    device_name = configure_device(device)
    set_precision(spec.train.mixed_precision, gpu=device_name != "CPU")
    sweep = Sweep(spec, data, run_dir, reporter, summary, device_name)
    keras = import_keras()
    seed_values = [spec.seed + 1000 * (j + 1) for j in range(seeds)]
    folds = f", {len(sweep.folds)}-fold cross-validation as in the sweep" if sweep.folds else ""
    reporter.say(f"[bold]nnlab retrain {run_dir.name}[/bold]: the best {len(chosen)} trial(s) × {seeds} seeds "
                 f"({', '.join(map(str, seed_values))}), {spec.train.epochs} epochs each{folds}, on {device_name}")
    out = []
    started = time.monotonic()
    for record in chosen:
        trial_file = run_dir / results.TUNER_DIR / f"trial_{record['trial_id']}" / "trial.json"
        if not trial_file.is_file():
            reporter.warn(f"trial {record['trial_id']}: its tuner/trial.json is missing; skipped")
            continue
        hp = Trial.load(str(trial_file)).hyperparameters
        params = sample_params(hp, spec)
        scores = []
        for seed in seed_values:
            keras.utils.set_random_seed(seed)
            model = sweep.compiled_model(params)
            history = sweep.fit_trial(params, model, lambda: sweep.compiled_model(params), epochs=spec.train.epochs,
                                      verbose=0).history  # with data.folds: the folds' mean, as in the sweep
            values = [v for v in history.get(sweep.objective, []) if v == v]  # without NaN
            score = (max(values) if direction == "max" else min(values)) if values else None
            scores.append(score)
            clear_session()
            reporter.say(f"  trial {record['trial_id']}, seed {seed}: {sweep.objective} {fmt_value(score)}")
        valid = [s for s in scores if s is not None]
        entry = {
            "trial_id": record["trial_id"], "hyperparameters": active_values(hp.values, spec),
            "sweep_score": record["score"], "seeds": seed_values, "scores": scores,
            "mean": statistics.fmean(valid) if valid else None,
            "std": statistics.stdev(valid) if len(valid) > 1 else 0.0 if valid else None,
        }
        out.append(entry)
    out.sort(key=lambda e: (e["mean"] is None, -(e["mean"] or 0) if direction == "max" else (e["mean"] or 0)))
    results.write_json(run_dir / RETRAIN_FILE, {"objective": sweep.objective, "direction": direction,
                                                "epochs": spec.train.epochs,
                                                "folds": len(sweep.folds) if sweep.folds else None,
                                                "configurations": out})
    _table(reporter, out, sweep.objective, time.monotonic() - started)
    return out


def _table(reporter: Reporter, entries: list[dict], objective: str, seconds: float) -> None:
    from rich.table import Table

    table = Table(title=f"{objective} over seeds, best mean first")
    for col in ("trial", "sweep score", "mean ± std", "min", "max", "hyperparameters"):
        table.add_column(col, justify="left" if col in ("trial", "hyperparameters") else "right")
    for e in entries:
        valid = [s for s in e["scores"] if s is not None]
        table.add_row(str(e["trial_id"]), fmt_value(e["sweep_score"]),
                      f"{fmt_value(e['mean'])} ± {fmt_value(e['std'])}" if valid else "failed",
                      fmt_value(min(valid)) if valid else "-", fmt_value(max(valid)) if valid else "-",
                      " ".join(f"{k}={fmt_value(v)}" for k, v in e["hyperparameters"].items()))
    if not reporter.quiet:
        reporter.console.print(table)
    if len(entries) > 1 and all(e["mean"] is not None for e in entries[:2]):
        first, second = entries[0], entries[1]
        gap = abs(first["mean"] - second["mean"])
        spread = max(first["std"], second["std"])
        verdict = ("a clear winner" if gap > 2 * spread else
                   "within the seed-to-seed spread: the two are not reliably different")
        reporter.say(f"trial {first['trial_id']} vs {second['trial_id']}: means differ by {fmt_value(gap)}, "
                     f"the larger std is {fmt_value(spread)}: {verdict}")
    reporter.say(f"took {fmt_duration(seconds)}; written to {RETRAIN_FILE} in the run folder")
