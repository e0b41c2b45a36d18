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

from nnlab.errors import RunError, plural
from nnlab.progress import Reporter
from nnlab.runs import files
from nnlab.runs.fmt import fmt_duration, fmt_value
from nnlab.runs.folder import RunFolder
from nnlab.runs.lock import RunLock

RETRAIN_FILE = "retrain.json"


def retrain(run_dir: str | Path, top: int = 3, seeds: int = 3, device: str = "auto",
            reporter: Reporter | None = None, trials: list[str] | None = None) -> list[dict]:
    """Train the `top` best configurations of a run (or the completed `trials`, by id) `seeds` more times
    each; return one entry per configuration (its scores, mean and standard deviation), best mean first,
    as retrain.json holds."""
    reporter = reporter or Reporter()
    folder = RunFolder(run_dir).require()
    with RunLock(folder.path).acquire("nnlab retrain"):  # not while a sweep rewrites the folder
        return _retrain(folder, top, seeds, device, reporter, trials)


def _retrain(folder: RunFolder, top: int, seeds: int, device: str, reporter: Reporter,
             trials: list[str] | None) -> list[dict]:
    contents = folder.load()
    chosen = contents.ranked[:top] if trials is None else [r for r in contents.ranked if r.trial_id in trials]
    if not chosen:
        raise RunError(f"{folder.path} has no completed trial to train again")
    spec = folder.spec()

    from nnlab.engine.backend import clear_session, import_keras
    from nnlab.engine.kerastuner import load_trial
    from nnlab.engine.placement import RunOptions, load_and_place
    from nnlab.engine.trainer import Trainer
    from nnlab.spec.space import active_values, sample_params

    data, placement = load_and_place(spec, RunOptions(device), reporter, notes=False, runs_dir=folder.path.parent)
    trainer = Trainer(spec, data)
    keras = import_keras()
    seed_values = [spec.seed + 1000 * (j + 1) for j in range(seeds)]
    folds = f", {trainer.fold_count}-fold cross-validation as in the sweep" if trainer.fold_count else ""
    which = f"the best {len(chosen)} trial(s)" if trials is None else f"trial(s) {', '.join(trials)}"
    reporter.say(f"[bold]nnlab retrain {folder.name}[/bold]: {which} × "
                 f"{plural(seeds, 'seed')} ({', '.join(map(str, seed_values))}), "
                 f"{plural(spec.train.epochs, 'epoch')} each{folds}, on {placement.name}")
    out = []
    started = time.monotonic()
    for record in chosen:
        state = folder.trial_state_path(record.trial_id)
        if not state.is_file():
            reporter.warn(f"trial {record.trial_id}: its tuner/trial.json is missing; skipped")
            continue
        hp = load_trial(state).hyperparameters
        params = sample_params(hp, spec)
        scores = []
        for seed in seed_values:
            keras.utils.set_random_seed(seed)
            trainer.begin_trial()
            history = trainer.fit(params, trainer.compiled_model(params), epochs=spec.train.epochs, verbose=0)
            scores.append(trainer.score(history))  # with data.folds: the folds' mean curve, as in the sweep
            clear_session()
            reporter.say(f"  trial {record.trial_id}, seed {seed}: {trainer.objective} {fmt_value(scores[-1])}")
        valid = [s for s in scores if s is not None]
        out.append({
            "trial_id": record.trial_id, "hyperparameters": active_values(hp.values, spec),
            "sweep_score": record.score, "seeds": seed_values, "scores": scores,
            "mean": statistics.fmean(valid) if valid else None,
            "std": statistics.stdev(valid) if len(valid) > 1 else 0.0 if valid else None,
        })
    direction = trainer.direction
    out.sort(key=lambda e: (e["mean"] is None, -(e["mean"] or 0) if direction == "max" else (e["mean"] or 0)))
    files.write_json(folder.path / RETRAIN_FILE, {"objective": trainer.objective, "direction": direction,
                                                  "epochs": spec.train.epochs,
                                                  "folds": trainer.fold_count,
                                                  "configurations": out})
    _table(reporter, out, trainer.objective, time.monotonic() - started)
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
