"""search.pack: trials trained as sub-models of one step.

The fast tests check the spec's rules and which trials share a pack (no TensorFlow). The slow ones
train: a trial's curve inside a pack of 4 equals its curve alone on the same batches, a diverging
trial fails alone without changing its neighbours, and whole sweeps (random, grid, Bayesian, folds,
executions, pruning, early stopping, a kill and its resume, workers) keep their records' shape.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys

import numpy as np
import pytest

from nnlab.engine.pack.loop import pack_key
from nnlab.errors import SpecError
from nnlab.spec.loader import spec_from_dict, spec_hash

from .killharness import Harness

BASE = {"name": "p", "data": {"source": "sklearn:iris"}, "model": {"kind": "mlp"}}


def spec(**search):
    return spec_from_dict({**BASE, "search": search})


def test_pack_defaults_to_one_and_takes_a_number_or_auto():
    assert spec().search.pack == 1
    assert spec(pack=4).search.pack == 4
    assert spec(pack="auto").search.pack == "auto"
    for bad in (0, -2, "many", 2.5, 65):
        with pytest.raises(SpecError, match="search.pack"):
            spec(pack=bad)


def test_pack_is_refused_with_hyperband_and_pretrained_but_auto_is_not():
    with pytest.raises(SpecError, match="(?s)search.pack.*hyperband"):
        spec(tuner="hyperband", pack=4)
    assert spec(tuner="hyperband", pack="auto").search.pack == "auto"
    pretrained = {**BASE, "data": {"source": "sklearn:digits"}, "model": {"kind": "pretrained", "base": "MobileNetV2"},
                  "search": {"pack": 2}}
    with pytest.raises(SpecError, match="(?s)search.pack.*pretrained"):
        spec_from_dict(pretrained)


def test_changing_pack_keeps_the_run_resumable():
    assert spec_hash(spec(pack=8)) == spec_hash(spec()) == spec_hash(spec(pack="auto"))


def test_trials_share_a_pack_by_batch_size_and_class_weight_only():
    a = {"batch_size": 32, "units": [8], "learning_rate": 0.1}
    assert pack_key(a) == pack_key({**a, "units": [64, 64], "learning_rate": 0.001, "optimizer": "sgd"})
    assert pack_key(a) != pack_key({**a, "batch_size": 64})
    assert pack_key(a) != pack_key({**a, "class_weight": "balanced"})


def test_pack_groups_keep_the_order_of_the_trials():
    from nnlab.engine.pack.trials import pack_groups

    trials = [("0", 32), ("1", 64), ("2", 32), ("3", 64), ("4", 16)]
    groups = pack_groups(trials, lambda t: {"batch_size": t[1]})
    assert [[t[0] for t in g] for g in groups] == [["0", "2"], ["1", "3"], ["4"]]


# ------------------------------------------------------------------------------------ training


def _trainer(seed: int = 3, **data):
    from nnlab.data.load import load_data
    from nnlab.engine.backend import configure_device
    from nnlab.engine.trainer import Trainer

    configure_device("cpu")
    s = spec_from_dict({"name": "t", "seed": seed, "data": {"source": "sklearn:digits", **data},
                        "model": {"kind": "mlp"}, "train": {"epochs": 3}})
    return Trainer(s, load_data(s))


def _fresh(trainer, batch_size: int = 32):
    """The trainer's pipelines made anew, each under the same TensorFlow global seed (a shuffle's order
    depends on it): two trainings then see the same batches."""
    import tensorflow as tf

    tf.random.set_seed(0)
    for name in ("training", "folds"):
        trainer.__dict__.pop(name, None)
    for data in [trainer.training] + [fold for fold, _ in trainer.folds or []]:
        data.batches(batch_size)
    return trainer


def _params(**changes):
    params = {"units": [32], "activation": "relu", "dropout": 0.2, "batch_norm": False, "l2": 0.0,
              "optimizer": "adam", "learning_rate": 0.003, "batch_size": 32}
    return {**params, **changes}


def _alone(trainer, params, seed, epochs=3):
    import keras

    _fresh(trainer)
    keras.utils.set_random_seed(seed)
    trainer.begin_trial()
    trainer.fit(params, trainer.compiled_model(params), epochs=epochs, verbose=0)
    return trainer.work.histories[0]


def _packed(trainer, entries, epochs=3, pool=None):
    from nnlab.engine.pack.trials import PackTrial, fit_pack

    _fresh(trainer)
    trials = [PackTrial(str(i), params, seed) for i, (params, seed) in enumerate(entries)]
    fit_pack(trainer, trials, epochs, pool=pool)
    return trials


def _same_curves(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.slow
def test_a_trial_in_a_pack_of_four_has_the_curve_it_has_alone():
    trainer = _trainer()
    target = _params(units=[48, 24], dropout=0.25, learning_rate=0.004)
    alone = _alone(trainer, target, seed=11)
    neighbours = [(_params(units=[16], learning_rate=0.02), 5), (_params(optimizer="sgd", learning_rate=0.05), 6),
                  (_params(units=[64], activation="tanh", dropout=0.0, learning_rate=0.001), 7)]
    trials = _packed(trainer, [neighbours[0], (target, 11), *neighbours[1:]])
    assert all(t.failure is None for t in trials)
    _same_curves(alone, trials[1].work.histories[0])
    assert [len(t.results) for t in trials] == [1, 1, 1, 1]
    assert sum(t.work.seconds for t in trials) > 0


@pytest.mark.slow
def test_a_trial_in_a_kept_model_of_its_architecture_has_the_curve_it_has_alone():
    """search.pack keeps models from pack to pack (their steps traced once): a later trial of the same
    architecture trains in a kept model, set to its own fresh model's state."""
    from nnlab.engine.pack.trials import ModelPool

    trainer = _trainer()
    target = _params(units=[32, 16], dropout=0.3, learning_rate=0.002)
    alone = _alone(trainer, target, seed=13)
    pool = ModelPool()
    first = _packed(trainer, [(_params(units=[32, 16], dropout=0.3, learning_rate=0.05), 1),
                              (_params(units=[8]), 2)], pool=pool)
    kept = {id(steps.model) for steps in sum(pool.kept.values(), [])}
    assert len(kept) == 2 and all(t.failure is None for t in first)
    second = _packed(trainer, [(_params(units=[8], learning_rate=0.01), 3), (target, 13)], pool=pool)
    assert {id(steps.model) for steps in sum(pool.kept.values(), [])} == kept  # (both trained in kept models)
    _same_curves(alone, second[1].work.histories[0])


@pytest.mark.slow
def test_a_diverging_trial_fails_alone_and_leaves_its_neighbours_curves_unchanged():
    trainer = _trainer()
    steady = (_params(units=[24], learning_rate=0.003), 21)
    diverging = (_params(optimizer="sgd", learning_rate=1e12, dropout=0.0), 22)
    quiet = _packed(trainer, [steady, (_params(units=[8]), 23)])
    noisy = _packed(trainer, [steady, diverging, (_params(units=[8]), 23)])
    assert noisy[1].failure is not None and "learning_rate" in str(noisy[1].failure)
    assert noisy[0].failure is None and noisy[2].failure is None
    _same_curves(quiet[0].work.histories[0], noisy[0].work.histories[0])
    _same_curves(quiet[1].work.histories[0], noisy[2].work.histories[0])


@pytest.mark.slow
def test_folds_and_executions_in_a_pack_match_the_trial_alone():
    trainer = _trainer(folds=3)
    target = _params(units=[16], learning_rate=0.01)
    alone = _alone(trainer, target, seed=4, epochs=2)
    alone_std = trainer.work.fold_std
    trials = _packed(trainer, [(target, 4), (_params(units=[40]), 9)], epochs=2)
    _same_curves(alone, trials[0].work.histories[0])
    assert trials[0].work.fold_std == pytest.approx(alone_std, rel=1e-5)

    from nnlab.engine.pack.trials import PackTrial, fit_pack

    _fresh(trainer)
    twice = [PackTrial("0", target, 4)]
    fit_pack(trainer, twice, 1, executions=2)
    assert len(twice[0].results) == len(twice[0].work.histories) == 2


def _run(tmp_path, text: str, *args):
    (tmp_path / "s.yaml").write_text(text)
    return subprocess.run([sys.executable, "-m", "nnlab", "run", str(tmp_path / "s.yaml"), "--runs-dir",
                           str(tmp_path / "runs"), *args], capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "200"})


def _rows(tmp_path, name: str = "s") -> list[dict]:
    with (tmp_path / "runs" / name / "trials.csv").open() as fh:
        return list(csv.DictReader(fh))


SWEEP = """
name: s
seed: 5
data: {{source: "sklearn:iris"}}
model: {{kind: mlp, layers: {{int: [1, 2]}}, units: {{choice: [4, 8]}}, dropout: {{choice: [0.0, 0.1]}}}}
train: {{epochs: 3, batch_size: {{choice: [16, 32]}}, learning_rate: {rate}}}
search: {{tuner: {tuner}, max_trials: 6, objective: val_accuracy, pack: 4}}
"""
RATE, GRID_RATE = "{float: [0.005, 0.05], log: true}", "{choice: [0.01, 0.03]}"


@pytest.mark.slow
@pytest.mark.parametrize("tuner", ["bayesian", "grid"])  # (random: the kill-and-resume and workers tests)
def test_a_packed_sweep_records_every_trial_as_an_unpacked_one_does(tmp_path, tuner):
    spec = SWEEP.format(tuner=tuner, rate=GRID_RATE if tuner == "grid" else RATE)
    spec = spec.replace("pack: 4", "pack: 4, keep: all")
    out = _run(tmp_path, spec)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "in packs of up to 4 trials" in out.stdout and "Traceback" not in out.stdout + out.stderr
    rows = _rows(tmp_path)
    assert len(rows) == 6 and all(r["status"] == "completed" for r in rows), rows
    assert all(float(r["seconds"]) > 0 and int(r["epochs"]) == 3 for r in rows)
    summary = json.loads((tmp_path / "runs" / "s" / "summary.json").read_text())
    assert summary["completed"] == 6 and (tmp_path / "runs" / "s" / "best.keras").is_file()
    if tuner == "bayesian":  # the oracle's guesses for running trials keep a pack's points apart
        points = {tuple(sorted((k, v) for k, v in r.items() if k in ("layers", "units", "dropout", "batch_size",
                                                                     "learning_rate"))) for r in rows}
        assert len(points) == 6
    progress = json.loads((tmp_path / "runs" / "s" / "tuner" / "trial_0" / "nnlab_trial.json").read_text())
    assert len(progress["history"][0]["val_accuracy"]) == 3
    from nnlab.tools.apply import load_model, open_run

    run = open_run(tmp_path / "runs" / "s")  # (each trial's own checkpoint, in its own model: a pack's trials once
    for row in rows:  # shared one writer, so some had none and one could hold another's weights)
        assert run.folder.checkpoint_path(row["trial_id"]).is_file(), row["trial_id"]
        load_model(run, row["trial_id"])


@pytest.mark.slow
@pytest.mark.parametrize("pack", [1, 3])
def test_each_trial_and_each_pack_frees_the_graphs_it_traced(tmp_path, monkeypatch, pack):
    """TensorFlow's gradient registry holds every traced graph until removed: after each trial's end (a pack's
    graphs at its first trial's end) it is back to what it was, so a long sweep does not grow."""
    from nnlab import api
    from nnlab.engine import tfprivate
    from nnlab.engine.search import TunerHooks

    def registered() -> int:
        return sum(n.startswith("CustomGradient-") for n in tfprivate.gradient_registry() or ())

    sizes, on_trial_end, before = [], TunerHooks.on_trial_end, registered()  # (other tests' graphs: kept)

    def counted(self, trial):
        on_trial_end(self, trial)
        sizes.append(registered())

    monkeypatch.setattr(TunerHooks, "on_trial_end", counted)
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP.format(tuner="random", rate=RATE).replace("pack: 4", f"pack: {pack}"), encoding="utf-8")
    api.run(path, runs_dir=tmp_path / "runs", quiet=True)
    assert len(sizes) == 6 and max(sizes) == sizes[0] <= before + 1, (before, sizes)


@pytest.mark.slow
def test_pruning_and_early_stopping_stop_a_trial_inside_its_pack(tmp_path):
    text = """
name: s
seed: 2
data: {source: "sklearn:digits", folds: 2}
model: {kind: mlp, units: {choice: [8, 32]}}
train: {epochs: 6, batch_size: 64, learning_rate: {choice: [0.00001, 0.01]},
        early_stopping: {patience: 1, min_delta: 0.5, monitor: val_loss}}
search: {tuner: grid, objective: val_accuracy, pruning: median, pack: 4, executions_per_trial: 1}
"""
    out = _run(tmp_path, text)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = _rows(tmp_path)
    assert len(rows) == 4 and all(r["status"] == "completed" for r in rows), rows
    assert all(int(r["epochs"]) < 6 for r in rows), rows  # (min_delta 0.5: no epoch improves enough)
    assert all(r["val_accuracy_std"] for r in rows)


@pytest.mark.slow
def test_a_killed_pack_resumes_as_its_unfinished_trials(tmp_path):
    harness = Harness(tmp_path, trials=6, epochs=2, pack=3)
    code, output = harness.run(kill_at="trial_end:2")  # two trials of the first pack recorded, the third not
    assert code == -signal.SIGKILL, output
    code, output = harness.run(kill_at="epoch:4")  # inside the next pack
    assert code == -signal.SIGKILL, output
    harness.finish()


@pytest.mark.slow
def test_workers_train_packs_and_the_chief_shows_each_trial_under_its_worker(tmp_path):
    out = _run(tmp_path, SWEEP.format(tuner="random", rate=RATE), "--workers", "2")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = _rows(tmp_path)
    assert len(rows) == 6 and {r["worker"] for r in rows} <= {"worker1", "worker2"}, rows
    assert "#" not in out.stdout


MIRRORED = """
import os
os.environ["NNLAB_CPU_DEVICES"] = "2"
import numpy as np, keras, tensorflow as tf
from nnlab.data.load import load_data
from nnlab.engine.backend import configure_device, mirrored_strategy
from nnlab.engine.pack.trials import PackTrial, fit_pack
from nnlab.engine.trainer import Trainer
from nnlab.spec.loader import spec_from_dict
configure_device("cpu")
spec = spec_from_dict({"name": "m", "seed": 1, "data": {"source": "sklearn:diabetes"}, "model": {"kind": "mlp"}})
trainer = Trainer(spec, load_data(spec), strategy=mirrored_strategy())
def fresh():
    tf.random.set_seed(0)
    trainer.__dict__.pop("training", None)
    trainer.training.batches(32)
params = {"units": [16], "activation": "relu", "dropout": 0.0, "batch_norm": True, "sync_batch_norm": False,
          "l2": 0.0, "optimizer": "adam", "learning_rate": 0.01, "batch_size": 32}
fresh()
keras.utils.set_random_seed(3)
trainer.begin_trial()
trainer.fit(params, trainer.compiled_model(params), epochs=2, verbose=0)
alone = trainer.work.histories[0]["val_loss"]
fresh()
trials = [PackTrial("0", {**params, "units": [8], "learning_rate": 0.1}, 2), PackTrial("1", params, 3)]
fit_pack(trainer, trials, 2)
packed = trials[1].work.histories[0]["val_loss"]
np.testing.assert_allclose(alone, packed, rtol=1e-4)
print("ok", alone, packed)
"""


@pytest.mark.slow
def test_a_pack_under_a_mirrored_strategy_trains_each_trial_as_alone():
    env = {**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0 and "ok" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_the_fused_step_is_keras_own_arithmetic_to_float_rounding(optimizer):
    import keras

    from nnlab.data.shape import DataShape
    from nnlab.engine.model.builders import build_model, compile_model
    from nnlab.engine.pack.fusedupdate import fused_update

    shape = DataShape((6,), "regression")
    params = {"units": [5], "activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0,
              "optimizer": optimizer, "learning_rate": 0.05}
    models = []
    for _ in range(2):
        keras.utils.set_random_seed(1)
        models.append(build_model("mlp", params, shape))
        compile_model(models[-1], params, shape, "mse", [])
    rng = np.random.default_rng(0)
    for _ in range(5):
        grads = [rng.normal(size=w.shape).astype("float32") for w in models[0].trainable_weights]
        models[0].optimizer.apply_gradients(zip(grads, models[0].trainable_weights))
        assert fused_update(models[1].optimizer, grads, models[1].trainable_weights)
    keras_own, fused = (m.weights + m.optimizer.variables for m in models)
    for a, b in zip(keras_own, fused):
        # (TensorFlow's kernel works out 1 - β in float32, Keras in Python's floats: the last digits move)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=5e-5, atol=1e-6, err_msg=a.path)
