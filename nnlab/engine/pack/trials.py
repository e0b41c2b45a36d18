"""search.pack: the trials of a pack trained as each would train alone (`fit_pack`), which trials may
share a pack (`pack_groups`), and the models kept from pack to pack (`ModelPool`). How many trials a
pack holds is `size`'s.

Each trial's model is built after the seed its trial would have alone (the spec's seed + its number),
and a trial's later models (its other folds, its other executions) after the random state its own
earlier builds left, so a trial's weights start where they would alone. Its callbacks are those of a
trial alone (`Trainer.callbacks`), and its results what Keras Tuner's `run_trial` returns: one
`History` per execution (with data.folds, of the folds' mean). The mechanics of one pack's training
are `loop`'s.
"""

from __future__ import annotations

import json
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from nnlab.engine.pack.loop import ModelSteps, PackedModel, pack_key, train_pack
from nnlab.engine.trainer import Trainer, TrialWork


@dataclass
class PackTrial:
    """A trial trained in a pack: its id, params and seed (the spec's seed + its number), what this
    process keeps of it (`work`), and the callbacks of its first training (the checkpoint writer).
    `results` (one History per execution) or `failure` once the pack has trained."""

    trial_id: str
    params: dict
    seed: int
    work: TrialWork = field(default_factory=TrialWork)
    callbacks: list = field(default_factory=list)
    results: list = field(default_factory=list)
    failure: BaseException | None = None
    random_state: tuple | None = None  # Python's and NumPy's, after this trial's last model was built

    @property
    def trains(self) -> bool:
        return self.failure is None and not self.work.pruned

    def outcome(self) -> list:
        """What Keras Tuner's `run_trial` returns for the trial (one History per execution); its failure
        raised again."""
        if self.failure is not None:
            raise self.failure
        return self.results


def pack_groups(trials: list, params_of) -> list[list]:
    """The trials split into packs of trials that may share a step (`loop.pack_key`), in order."""
    groups: dict[tuple, list] = {}
    for trial in trials:
        groups.setdefault(pack_key(params_of(trial)), []).append(trial)
    return list(groups.values())


# params that are values of variables or of the data, not of the traced step: models differing only in these
# share their traced steps (`ModelPool`)
STATE_PARAMS = ("learning_rate", "batch_size", "schedule", "class_weight")
POOLED = 24  # models a `ModelPool` keeps


class ModelPool:
    """Models kept from pack to pack with their traced steps (`loop.ModelSteps`). A trial whose
    model has the architecture of a kept one that is free trains in that one: its weights, random seed
    states and optimizer state set to those of the trial's own freshly built model (built and seeded
    as the trial alone would build it), so the trial trains exactly as it would in a new model, and a
    sweep traces each architecture once instead of each trial. The least recently used models beyond
    `size` are let go."""

    def __init__(self, size: int = POOLED):
        self.size = size
        self.kept: OrderedDict[str, list[ModelSteps]] = OrderedDict()

    def take(self, params: dict, fresh, busy: set, jit_compile: bool, traced: bool) -> ModelSteps:
        """Steps for a trial's model: a kept model of its architecture not in `busy` (ids of the steps
        this pack already uses), set to `fresh`'s state; else `fresh` itself, kept from now on."""
        key = architecture(params)
        for steps in self.kept.get(key, []):
            if id(steps) not in busy and _copy_state(fresh, steps.model):
                self.kept.move_to_end(key)
                return steps
        steps = ModelSteps(fresh, jit_compile, traced)
        if traced:  # (under a distribution strategy a model's steps are traced into its pack's loop)
            self.kept.setdefault(key, []).append(steps)
            self.kept.move_to_end(key)
            while sum(len(v) for v in self.kept.values()) > self.size:
                oldest = next(iter(self.kept))
                self.kept[oldest].pop(0)
                if not self.kept[oldest]:
                    del self.kept[oldest]
        return steps


def architecture(params: dict) -> str:
    """What makes two trials' models trace the same step: their params but those in STATE_PARAMS."""
    return json.dumps({k: v for k, v in params.items() if k not in STATE_PARAMS}, sort_keys=True, default=str)


def _copy_state(source, target) -> bool:
    """`target` (a kept model) set to `source`'s state: its variables (weights, batch-norm statistics,
    random seed states) and its optimizer's (step count, learning rate, slots). False where the two
    differ in structure (nothing is copied)."""
    pairs = list(zip(target.variables, source.variables)) + list(zip(target.optimizer.variables,
                                                                     source.optimizer.variables))
    if len(target.variables) != len(source.variables) or len(target.optimizer.variables) != len(
            source.optimizer.variables) or any(tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype
                                               for a, b in pairs):
        return False
    for kept, fresh in pairs:
        kept.assign(fresh)
    target.stop_training = False
    return True


def fit_pack(trainer: Trainer, trials: list[PackTrial], epochs: int, executions: int = 1,
             pool: ModelPool | None = None) -> float:
    """Train the trials together: each execution, each fold (data.folds) is one pack of the trials still
    training, in models of `pool` where it keeps one of the architecture. Sets each trial's `results`,
    `failure` and `work`; returns the seconds it took."""
    pool = pool or ModelPool(size=0)
    started = time.monotonic()
    for _ in range(executions):
        if trainer.fold_count:
            _fit_folds(trainer, trials, epochs, pool)
        else:
            live = [t for t in trials if t.failure is None]
            packed_models = _packed_models(trainer, live, first=True, pool=pool)
            _train(trainer, packed_models, trainer.training, trainer.data.y_train, epochs, live)
            for trial, packed in _pairs(live, packed_models):
                trial.work.histories.append(packed.history.history)
                trial.results.append(packed.history)
    seconds = time.monotonic() - started
    _share_seconds(trials, seconds)
    return seconds


def _fit_folds(trainer: Trainer, trials: list[PackTrial], epochs: int, pool: ModelPool) -> None:
    """One execution with data.folds: a pack per fold, of the trials neither failed nor pruned; each
    trial's folds averaged as a trial alone averages them (`Trainer.record_folds`)."""
    histories = {t.trial_id: [] for t in trials}
    for k, (fold, labels) in enumerate(trainer.folds):
        live = [t for t in trials if t.trains]
        if not live:
            break
        packed_models = _packed_models(trainer, live, first=k == 0, pool=pool)
        _train(trainer, packed_models, fold, labels, epochs, live)
        for trial, packed in _pairs(live, packed_models):
            histories[trial.trial_id].append(packed.history.history)
    for trial in trials:
        if trial.failure is None and histories[trial.trial_id]:
            trial.results.append(trainer.record_folds(trial.work, histories[trial.trial_id]))


def _packed_models(trainer: Trainer, trials: list[PackTrial], first: bool, pool: ModelPool) -> list[PackedModel | None]:
    """A model of each trial, built as the trial alone would build it (or a kept model of `pool` set to
    its state); None for a trial whose model cannot be built (the trial fails, the others go on)."""
    import keras

    packed_models, busy = [], set()
    traced = trainer.strategy is None
    jit = bool(trainer.spec.train.jit_compile)
    for trial in trials:
        if trial.random_state is None:
            keras.utils.set_random_seed(trial.seed)
        else:
            random.setstate(trial.random_state[0])
            np.random.set_state(trial.random_state[1])
        try:
            model = trainer.compiled_model(trial.params)
        except Exception as exc:  # noqa: BLE001 (this trial's model alone)
            trial.failure = exc
            packed_models.append(None)
            continue
        finally:
            trial.random_state = (random.getstate(), np.random.get_state())
        steps = pool.take(trial.params, model, busy, jit and getattr(model, "jit_compile", False), traced)
        busy.add(id(steps))
        callbacks = trainer.callbacks(trial.params, trial.work, packed=True) + (trial.callbacks if first else [])
        packed_models.append(PackedModel(trial.trial_id, steps.model, callbacks, steps))
    return packed_models


def _pairs(trials: list[PackTrial], packed_models: list) -> list[tuple[PackTrial, PackedModel]]:
    """The trials whose packed trained to the end, each with its packed (a failure is kept)."""
    pairs = []
    for trial, packed in zip(trials, packed_models):
        if packed is None:
            continue
        if packed.failure is not None:
            trial.failure = packed.failure
            continue
        pairs.append((trial, packed))
    return pairs


def _train(trainer: Trainer, packed_models: list, data, labels: np.ndarray, epochs: int,
           trials: list[PackTrial]) -> None:
    """One pack's training on `data` (a `TrainingData` whose training labels are `labels`)."""
    built = [m for m in packed_models if m is not None]
    if not built:
        return
    params = next(t.params for t, m in zip(trials, packed_models) if m is not None)
    class_weight = trainer.class_weight(params, labels)  # (the same for the whole pack: `pack_key`)
    train_pack(built, data.batches(int(params["batch_size"])), data.validation, epochs, class_weight=class_weight,
               strategy=trainer.strategy, on_epoch_end=trainer.on_epoch_end)


def _share_seconds(trials: list[PackTrial], seconds: float) -> None:
    """Each trial's share of the pack's time, by the epochs it trained (a trial that stopped early
    used the pack for less of its time)."""
    epochs = {t.trial_id: max(sum(len(h.get("loss", [])) for h in t.work.histories), 1) for t in trials}
    total = sum(epochs.values())
    for trial in trials:
        trial.work.seconds = round(seconds * epochs[trial.trial_id] / total, 2)
