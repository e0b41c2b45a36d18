"""search.pruning: median — stop a trial that is plainly worse than the others, Optuna's median rule.

After `STARTUP_TRIALS` completed trials and `WARMUP_EPOCHS` epochs of a trial, the trial stops at
epoch e when the best value of the objective it has reached so far is worse than the median of the
completed trials' values at epoch e. It is recorded as `pruned`: a finished trial, not a failure.

The learning curves compared against are the run folder's: each trial's `nnlab_trial.json` (its
per-epoch history, written by whichever process trained it), read once per trial and kept. So one
process, the workers of a parallel run and a resumed run all see the same curves. With `data.folds`,
each fold's curve is compared with the completed trials' fold-mean curves, and a pruned fold ends
the trial. Nothing here imports TensorFlow at module level.
"""

from __future__ import annotations

import statistics

from nnlab.runs.fmt import fmt_value
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import is_number

STARTUP_TRIALS = 5  # completed trials before any trial is pruned (Optuna's MedianPruner default)
WARMUP_EPOCHS = 2  # epochs of a trial before it may be pruned


class MedianRule:
    """The curves of a run's completed trials, and the rule's verdict on a trial's epoch."""

    def __init__(self, folder: RunFolder, objective: str, direction: str):
        self.folder, self.objective, self.direction = folder, objective, direction
        self.curves: dict[str, list[float]] = {}  # completed trial → its objective per epoch
        self.seen: set[str] = set()  # trials whose final file was read (completed or not)

    def refresh(self) -> None:
        """Read the curves of trials that have finished since the last call (at each trial's start)."""
        for trial_id in self.folder.trial_ids_on_disk():
            if trial_id in self.seen:
                continue
            progress = self.folder.trial_progress(trial_id)
            if progress is None:
                continue  # not finished yet (or its file is gone): looked at again next time
            self.seen.add(trial_id)
            if not progress.finished_well:  # only completed trials' curves count
                continue
            curve = mean_curve(progress.history, self.objective)
            if curve:
                self.curves[trial_id] = curve

    def verdict(self, epoch: int, best_so_far: float) -> str | None:
        """Why the trial must stop after `epoch` (0-based) with this best value so far, or None."""
        if len(self.curves) < STARTUP_TRIALS or epoch + 1 < WARMUP_EPOCHS or not is_number(best_so_far):
            return None
        values = [curve[epoch] for curve in self.curves.values() if len(curve) > epoch and is_number(curve[epoch])]
        if not values:
            return None
        median = statistics.median(values)
        worse = best_so_far > median if self.direction == "min" else best_so_far < median
        if not worse:
            return None
        return (f"pruned at epoch {epoch + 1}: its best {self.objective} {fmt_value(best_so_far)} is worse than the "
                f"median {fmt_value(median)} of {len(values)} completed trials at that epoch (search.pruning: median)")


def mean_curve(histories: list[dict], objective: str) -> list[float]:
    """A trial's objective per epoch, the mean over its executions (as long as the shortest)."""
    curves = [h.get(objective) or [] for h in histories]
    curves = [c for c in curves if c]
    if not curves:
        return []
    length = min(len(c) for c in curves)
    return [statistics.fmean(c[e] for c in curves) for e in range(length)]


def pruning_callback(rule: MedianRule, objective: str, direction: str, on_prune):
    """A Keras callback that asks the rule after every epoch and stops training when it says so,
    telling `on_prune(reason)`."""
    import keras

    class PruneBelowMedian(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best: float | None = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(objective)
            if value is None or not is_number(float(value)):
                return
            value = float(value)
            if self.best is None or (value < self.best if direction == "min" else value > self.best):
                self.best = value
            reason = rule.verdict(epoch, self.best)
            if reason:
                self.model.stop_training = True
                on_prune(reason)

    return PruneBelowMedian()
