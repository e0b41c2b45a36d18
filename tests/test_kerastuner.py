"""Keras Tuner, fenced: its private names still where nnlab reaches for them, and its project folder
repaired from plain JSON (no TensorFlow)."""

from __future__ import annotations

import json

import pytest

from nnlab.engine.tunerproject import repair
from nnlab.errors import RunError
from nnlab.runs.records import TrialRecord

SPACE = {"space": [
    {"class_name": "Int", "config": {"name": "layers", "default": None, "min_value": 1, "max_value": 3,
                                     "step": 1, "sampling": "linear", "conditions": []}},
    {"class_name": "Choice", "config": {"name": "units", "default": None, "values": [8, 16],
                                        "ordered": True, "conditions": []}},
], "values": {}}


def project(tmp_path, ongoing=None, end_order=("0",), trials=None):
    root = tmp_path / "tuner"
    root.mkdir()
    oracle = {"ongoing_trials": ongoing or {}, "hyperparameters": SPACE, "start_order": ["0", "1"],
              "end_order": list(end_order), "run_times": {}, "retry_queue": [], "seed": 1, "seed_state": 3,
              "tried_so_far": [], "id_to_hash": {}, "display": {}}
    (root / "oracle.json").write_text(json.dumps(oracle))
    (root / "tuner0.json").write_text("{}")
    for trial_id, status in (trials or {"0": "COMPLETED", "1": "COMPLETED"}).items():
        (root / f"trial_{trial_id}").mkdir()
        (root / f"trial_{trial_id}" / "trial.json").write_text(json.dumps({"trial_id": trial_id, "status": status}))
    return root


def oracle_of(root):
    return json.loads((root / "oracle.json").read_text())


def test_a_finished_trial_the_oracle_still_thinks_runs_is_not_run_again(tmp_path):
    # Keras Tuner writes trial.json (COMPLETED) before oracle.json: a kill in between.
    root = project(tmp_path, ongoing={"tuner0": "1"})
    repair(root, {}, print)
    state = oracle_of(root)
    assert state["ongoing_trials"] == {} and "1" in state["end_order"] and "1" not in state["retry_queue"]


def test_a_started_trial_the_oracle_lost_is_sent_back_to_run(tmp_path):
    root = project(tmp_path, trials={"0": "COMPLETED", "1": "RUNNING"})
    repair(root, {}, print)
    assert oracle_of(root)["retry_queue"] == ["1"]


def test_damaged_trial_is_rebuilt_from_the_record_or_rerun_with_defaults(tmp_path):
    root = project(tmp_path, end_order=("0", "1"))
    (root / "trial_0" / "trial.json").write_text('{"tri')
    (root / "trial_1" / "trial.json").unlink()
    warnings = []
    record = TrialRecord("0", "completed", score=0.25, best_epoch=3, hyperparameters={"layers": 2, "units": 16},
                         metrics={"val_loss": 0.25, "loss": 0.2})
    repair(root, {"0": record}, warnings.append)
    rebuilt = json.loads((root / "trial_0" / "trial.json").read_text())
    assert rebuilt["status"] == "COMPLETED" and rebuilt["score"] == 0.25 and rebuilt["best_step"] == 2
    assert rebuilt["hyperparameters"]["values"] == {"layers": 2, "units": 16}
    assert rebuilt["metrics"]["metrics"]["val_loss"]["observations"] == [{"value": [0.25], "step": 2}]
    rerun = json.loads((root / "trial_1" / "trial.json").read_text())
    assert rerun["status"] == "RUNNING" and rerun["hyperparameters"]["values"] == {"layers": 1, "units": 8}
    state = oracle_of(root)
    assert state["retry_queue"] == ["1"] and "1" not in state["end_order"]
    assert len(warnings) == 2


def test_oracle_restored_from_backup_or_a_clear_error(tmp_path):
    root = project(tmp_path)
    good = (root / "oracle.json").read_text()
    (root / "oracle.json.bak").write_text(good)
    (root / "oracle.json").write_text("{")
    repair(root, {}, print)
    assert oracle_of(root)["seed"] == 1
    (root / "oracle.json").write_text("{")
    (root / "oracle.json.bak").unlink()
    with pytest.raises(RunError, match="no usable backup"):
        repair(root, {}, print)


def test_missing_tuner_state_file_is_recreated(tmp_path):
    # Keras Tuner resumes only when tuner0.json exists: without it, it would silently start over.
    root = project(tmp_path)
    (root / "tuner0.json").unlink()
    repair(root, {}, print)
    assert json.loads((root / "tuner0.json").read_text()) == {}


def test_every_private_name_of_keras_tuner_nnlab_uses_is_still_there():
    pytest.importorskip("keras_tuner")
    from nnlab.engine.kerastuner import check_private_names

    missing = check_private_names()
    assert not missing, (
        "This Keras Tuner moved names nnlab reaches into (nnlab/engine/kerastuner.py); adapt that module and "
        f"pyproject.toml's bound: {missing}")


def test_keras_tuner_private_names_are_used_in_one_module_only():
    from pathlib import Path

    package = Path(__file__).parent.parent / "nnlab"
    texts = {str(p.relative_to(package)): p.read_text(encoding="utf-8") for p in package.rglob("*.py")}
    users = sorted(name for name, text in texts.items() if "keras_tuner.src" in text or "._retry_queue" in text)
    assert users == ["engine/kerastuner.py"], users


@pytest.mark.parametrize("ended", [2, 3])
def test_a_reloaded_grid_goes_on_where_its_walk_was(tmp_path, ended):
    """Keras Tuner's grid oracle does not save its walk: reloaded after 2 (or 3) of 4 combinations, it
    found nothing to step on from and stopped. nnlab rebuilds it: the next combination is the next."""
    kt = pytest.importorskip("keras_tuner")
    from nnlab.engine.kerastuner import drop_ended_retries, restore_grid_walk

    def oracle():
        hps = kt.HyperParameters()
        hps.Choice("units", [4, 8, 16, 32])
        made = kt.oracles.GridSearchOracle(objective=kt.Objective("score", "min"), max_trials=10,
                                           hyperparameters=hps)
        made._set_project_dir(str(tmp_path), "tuner")
        return made

    first = oracle()
    for i in range(ended):
        trial = first.create_trial("t")
        first.update_trial(trial.trial_id, {"score": float(i)})
        trial.status = "COMPLETED"
        first.end_trial(trial)
    tried = {t.hyperparameters.values["units"] for t in first.trials.values()}
    again = oracle()
    again.reload()
    drop_ended_retries(again)  # (the last trial, saved as ongoing: as tunerproject.repair mends it)
    restore_grid_walk(again)
    trial = again.create_trial("t")
    assert trial.status == "RUNNING" and trial.hyperparameters.values["units"] not in tried
    assert trial.hyperparameters.values["units"] == [4, 8, 16, 32][ended]


@pytest.mark.parametrize("tuner", ["grid", "random", "bayesian"])
def test_an_oracle_kept_within_limits_never_hands_out_a_configuration_over_them(tmp_path, tuner):
    """search.constraints at the oracle: every configuration handed out is within the limit, those over
    it are said, and a grid walks past them to its end."""
    kt = pytest.importorskip("keras_tuner")
    from nnlab.engine.kerastuner import keep_within

    hps = kt.HyperParameters()
    hps.Choice("units", [4, 8, 16, 32, 64])
    kind = {"grid": kt.oracles.GridSearchOracle, "random": kt.oracles.RandomSearchOracle,
            "bayesian": kt.oracles.BayesianOptimizationOracle}[tuner]
    oracle = kind(objective=kt.Objective("score", "min"), max_trials=20, hyperparameters=hps, seed=3)
    oracle._set_project_dir(str(tmp_path), "tuner")
    said = []
    keep_within(oracle, lambda values: "too wide" if values["units"] in (8, 32) else None,
                lambda values, reason: said.append((values and values["units"], reason)))
    handed = []
    for i in range(6):
        trial = oracle.create_trial("t")
        if trial.status != "RUNNING":
            break
        handed.append(trial.hyperparameters.values["units"])
        oracle.update_trial(trial.trial_id, {"score": float(i)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert handed and not set(handed) & {8, 32} and said and all(r == "too wide" for _, r in said if _ is not None)
    if tuner == "grid":
        assert handed == [4, 16, 64] and [u for u, _ in said] == [8, 32]


def test_each_trial_of_a_pack_gets_its_own_checkpoint_writer():
    """Keras Tuner makes a writer per trial and lets it go once nnlab has replaced it: a later writer may
    get the same id(), and once got the earlier trial's replacement (its path and best score), so a pack's
    trials shared a writer and some kept no checkpoint."""
    from types import SimpleNamespace

    import keras_tuner
    from keras_tuner.src.engine import tuner_utils

    from nnlab.engine.search import Search

    search = SimpleNamespace(_checkpointers={})
    objective = keras_tuner.Objective("val_loss", "min")
    paths = [Search.in_memory(search, tuner_utils.SaveBestEpoch(objective=objective, filepath=f"trial_{i}")).filepath
             for i in range(50)]
    assert paths == [f"trial_{i}" for i in range(50)]
