"""Keras Tuner's project folder (`runs/<name>/tuner/`): its file names, and `repair`, which makes a
damaged or half-written one loadable before a resume, losing as little as possible. It edits only the
keys of `oracle.json` that `kerastuner.ORACLE_KEYS` lists (a test checks Keras Tuner still saves
them). No TensorFlow, no Keras Tuner import.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

from nnlab.errors import RunError
from nnlab.runs import files, folder
from nnlab.runs.records import TrialRecord
from nnlab.spec.objectives import metric_direction

ORACLE = "oracle.json"
BACKUP = "oracle.json.bak"
TUNER_STATE = "tuner0.json"


def _load(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def repair(project: Path, records: dict[str, TrialRecord], warn: Callable[[str], None]) -> None:
    """Make a Keras Tuner project folder loadable again, losing as little as possible."""
    if not project.is_dir():
        return
    oracle = _load(project / ORACLE)
    changed = False
    if not isinstance(oracle, dict):
        oracle = _load(project / BACKUP)
        if not isinstance(oracle, dict):
            if not (project / ORACLE).exists() and not any(project.glob("trial_*")):
                return  # killed before the first save: nothing to resume
            raise RunError(
                f"The search state {project / ORACLE} is damaged and has no usable backup, so this run "
                "cannot resume. Its trials so far are listed in trials.csv. Use --overwrite to start over, "
                "or --name to start a new run beside it"
            )
        warn(f"{project / ORACLE} was damaged: restored the copy saved before the last trial")
        changed = True
    state_file = project / TUNER_STATE
    if not isinstance(_load(state_file), dict):
        files.write_atomic(state_file, "{}")  # Keras Tuner resumes only when this file exists
    trial_ids = list(dict.fromkeys(oracle.get("start_order", [])))
    trial_ids += [t for t in folder.trial_ids(project) if t not in trial_ids]
    for trial_id in trial_ids:
        path = folder.trial_dir(project, trial_id) / folder.TRIAL_STATE
        trial = _load(path)
        if isinstance(trial, dict) and "status" in trial:
            changed |= _reconcile(oracle, trial_id, trial["status"])
            continue
        rebuilt = _rebuild_trial(trial_id, records.get(trial_id), oracle)
        files.write_json(path, rebuilt)
        if rebuilt["status"] == "RUNNING":
            oracle["end_order"] = [t for t in oracle.get("end_order", []) if t != trial_id]
            _reconcile(oracle, trial_id, "RUNNING")
            warn(f"{path} was damaged and trials.csv has no result for it: trial {trial_id} will run again")
        else:
            _reconcile(oracle, trial_id, rebuilt["status"])
            warn(f"{path} was damaged: rebuilt from trials.csv ({rebuilt['status'].lower()})")
        if trial_id not in oracle.get("start_order", []):
            oracle.setdefault("start_order", []).append(trial_id)
        changed = True
    if changed:
        files.write_json(project / ORACLE, oracle)


def _reconcile(oracle: dict, trial_id: str, status: str) -> bool:
    """Make the oracle agree with a trial's own file. Keras Tuner saves a finished trial before the
    oracle, so a kill between the two leaves the oracle thinking the trial still runs: it would then
    train it again. Returns whether the oracle changed."""
    ongoing = oracle.setdefault("ongoing_trials", {})
    retry = oracle.setdefault("retry_queue", [])
    end_order = oracle.setdefault("end_order", [])
    before = json.dumps([ongoing, retry, end_order])
    if status in ("COMPLETED", "FAILED", "INVALID"):
        for tuner_id in [t for t, i in ongoing.items() if i == trial_id]:
            del ongoing[tuner_id]
        oracle["retry_queue"] = retry = [i for i in retry if i != trial_id]
        if trial_id not in end_order:
            end_order.append(trial_id)
    elif trial_id not in ongoing.values() and trial_id not in retry:
        retry.append(trial_id)  # started, never finished, and the oracle lost track of it
    return json.dumps([ongoing, retry, end_order]) != before


def _rebuild_trial(trial_id: str, record: TrialRecord | None, oracle: dict) -> dict:
    """Keras Tuner's trial state, from nnlab's record of the trial (or a trial to run again)."""
    hyperparameters = copy.deepcopy(oracle.get("hyperparameters") or {"space": [], "values": {}})
    values = {entry["config"]["name"]: _default(entry) for entry in hyperparameters.get("space", [])}
    values.update(record.hyperparameters if record else {})  # the known values, else the defaults
    hyperparameters["values"] = values
    known = {"completed": "COMPLETED", "pruned": "COMPLETED", "failed": "FAILED"}  # (a pruned trial has its score)
    status = known.get(record.status if record else None, "RUNNING")
    if status == "COMPLETED" and record.score is None:
        status = "RUNNING"
    metrics, score, step = {}, None, 0
    if status == "COMPLETED":
        step = max((record.best_epoch or 1) - 1, 0)
        score = record.score
        metrics = {name: {"direction": metric_direction(name), "observations": [{"value": [value], "step": step}]}
                   for name, value in record.metrics.items() if value is not None}
    return {"trial_id": trial_id, "hyperparameters": hyperparameters, "metrics": {"metrics": metrics},
            "score": score, "best_step": step, "status": status,
            "message": record.reason if record and status == "FAILED" else None}


def _default(entry: dict):
    """A hyperparameter's default value, from Keras Tuner's config of its space."""
    config = entry["config"]
    if config.get("default") is not None:
        return config["default"]
    if entry["class_name"] == "Choice":
        return config["values"][0]
    if entry["class_name"] == "Fixed":
        return config["value"]
    if entry["class_name"] == "Boolean":
        return False
    return config.get("min_value")
