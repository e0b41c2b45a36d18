"""nnlab's peers for `time_to_quality.py`, each written as its own tutorial teaches, on a workload of
`workloads.py` (the same .npz, space, epochs and seed as nnlab):

    python benchmarks/peers.py kt-random|kt-hyperband|optuna-tpe W1 DATA.npz OUT_DIR MAX_TRIALS [SEED]

- kt-random: Keras Tuner's RandomSearch with a HyperModel (as `baseline_kt.py`);
- kt-hyperband: Keras Tuner's Hyperband, max_epochs = the workload's epochs, factor 3;
- optuna-tpe: Optuna's TPESampler with its MedianPruner (default settings), the trial reporting its
  validation score after each epoch and stopping when `trial.should_prune()`, as Optuna's Keras
  examples do.

After every trial it prints `TRIAL <trial's score> <best so far>` (flushed), so the caller can time
each trial's end from outside. The score of a trial is its best epoch's, as Keras Tuner scores it.
SEED (default the workload's) seeds the search and the weights; the data's split stays the workload's.
"""

from __future__ import annotations

import sys

import keras
import numpy as np
from workloads import SEED, WORKLOADS

contender, name, data_path, out_dir, max_trials = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
seed = int(sys.argv[6]) if len(sys.argv) > 6 else SEED
w = WORKLOADS[name]
arrays = np.load(data_path)
x, y, x_val, y_val = arrays["x"], arrays["y"], arrays["x_val"], arrays["y_val"]
regression = name == "W3"
classes = 0 if regression else int(y.max()) + 1
objective = w["objective"]
maximize = objective != "val_loss"


def build(layers: int, units: int, learning_rate: float):
    model = keras.Sequential([keras.Input(x.shape[1:])])
    for _ in range(layers):
        model.add(keras.layers.Dense(units, activation="relu"))
    if regression:
        model.add(keras.layers.Dense(1))
        loss, metrics = "mse", []
    else:
        model.add(keras.layers.Dense(classes, activation="softmax"))
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
    return model


def say(score: float, best: float) -> None:
    print(f"TRIAL {float(score)!r} {float(best)!r}", flush=True)


def keras_tuner() -> None:
    import keras_tuner as kt

    class Model(kt.HyperModel):
        def build(self, hp):
            return build(hp.Int("layers", 1, 3), hp.Choice("units", [32, 64, 128]),
                         hp.Float("learning_rate", 0.0005, 0.01, sampling="log"))

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", w["batch"]), **kwargs)

    def reporting(base):
        class Reporting(base):  # only to print each trial's end; the search is the library's own
            def on_trial_end(self, trial):
                super().on_trial_end(trial)
                best = self.oracle.get_best_trials(1)
                if trial.score is not None and best:
                    say(trial.score, best[0].score)
        return Reporting

    common = dict(objective=kt.Objective(objective, "max" if maximize else "min"), seed=seed, directory=out_dir,
                  project_name=name, overwrite=True)
    if contender == "kt-random":
        tuner = reporting(kt.RandomSearch)(Model(), max_trials=max_trials, **common)
    else:
        tuner = reporting(kt.Hyperband)(Model(), max_epochs=w["epochs"], factor=3, hyperband_iterations=3, **common)
    tuner.search(x, y, epochs=w["epochs"], validation_data=(x_val, y_val), verbose=0)


def optuna_tpe() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    class Pruning(keras.callbacks.Callback):
        def __init__(self, trial):
            super().__init__()
            self.trial = trial

        def on_epoch_end(self, epoch, logs=None):
            self.trial.report(float(logs[objective]), step=epoch)
            if self.trial.should_prune():
                raise optuna.TrialPruned()

    def run_trial(trial):
        keras.backend.clear_session()
        model = build(trial.suggest_int("layers", 1, 3), trial.suggest_categorical("units", [32, 64, 128]),
                      trial.suggest_float("learning_rate", 0.0005, 0.01, log=True))
        history = model.fit(x, y, batch_size=trial.suggest_categorical("batch_size", w["batch"]),
                            epochs=w["epochs"], validation_data=(x_val, y_val), verbose=0,
                            callbacks=[Pruning(trial)])
        values = history.history[objective]
        return max(values) if maximize else min(values)

    def after(study, trial):
        values = list(trial.intermediate_values.values())
        if trial.state == optuna.trial.TrialState.COMPLETE:
            score = trial.value
        elif values:  # pruned: its best reported value
            score = max(values) if maximize else min(values)
        else:
            return
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        say(score, study.best_value if done else score)

    study = optuna.create_study(direction="maximize" if maximize else "minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed), pruner=optuna.pruners.MedianPruner())
    study.optimize(run_trial, n_trials=max_trials, callbacks=[after])


keras.utils.set_random_seed(seed)
optuna_tpe() if contender == "optuna-tpe" else keras_tuner()
