"""Keras Tuner's project folder (`runs/<name>/tuner/`): written atomically, repaired before a resume.

Keras Tuner keeps its search state in JSON files (`oracle.json`, `tuner0.json`, one `trial.json` per
trial) that it writes in place, so a kill in the middle of a write would leave half a file and a run
that cannot resume. `make_writes_atomic` replaces Keras Tuner's one JSON writer with nnlab's atomic
one, and keeps the previous `oracle.json` as `oracle.json.bak`.

`repair` runs before the tuner reloads a project. Whatever damaged a file (a full disk, a hand edit, a
copy cut short), it restores `oracle.json` from its backup, rebuilds a damaged `trial.json` from
nnlab's own record of that trial (`trials.csv`), and sends a trial with no usable record back to be run
again. The files it reads and writes are plain JSON: no TensorFlow is needed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Callable

from nnlab.runs import files as results
from nnlab.errors import RunError
from nnlab.spec.objectives import metric_direction

ORACLE = "oracle.json"
BACKUP = "oracle.json.bak"
TUNER_STATE = "tuner0.json"


def make_writes_atomic() -> None:
    """Route Keras Tuner's JSON writes through `results.write_atomic` (once per process)."""
    from keras_tuner.src import utils as kt_utils

    if getattr(kt_utils.save_json, "nnlab_atomic", False):
        return

    def save_json(path, obj):
        text = json.dumps(obj)
        path = Path(path)
        if path.name == ORACLE and path.is_file():
            results.write_atomic(path.with_name(BACKUP), path.read_text(encoding="utf-8"), point="tuner_write")
        results.write_atomic(path, text, point="tuner_write")
        return text

    save_json.nnlab_atomic = True
    kt_utils.save_json = save_json


def _load(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def repair(project: Path, records: dict[str, dict], warn: Callable[[str], None]) -> None:
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
        results.write_atomic(state_file, "{}")  # Keras Tuner resumes only when this file exists
    trial_ids = list(dict.fromkeys(oracle.get("start_order", [])))
    trial_ids += sorted(p.name[len("trial_"):] for p in project.glob("trial_*")
                        if p.name[len("trial_"):] not in trial_ids)
    for trial_id in trial_ids:
        path = project / f"trial_{trial_id}" / "trial.json"
        trial = _load(path)
        if isinstance(trial, dict) and "status" in trial:
            changed |= _reconcile(oracle, trial_id, trial["status"])
            continue
        rebuilt = _rebuild_trial(trial_id, records.get(trial_id), oracle)
        results.write_json(path, rebuilt)
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
        results.write_json(project / ORACLE, oracle)


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


def _rebuild_trial(trial_id: str, record: dict | None, oracle: dict) -> dict:
    """Keras Tuner's trial state, from nnlab's record of the trial (or a trial to run again)."""
    hyperparameters = copy.deepcopy(oracle.get("hyperparameters") or {"space": [], "values": {}})
    values = {entry["config"]["name"]: _default(entry) for entry in hyperparameters.get("space", [])}
    values.update((record or {}).get("hyperparameters") or {})  # the known values, else the defaults
    hyperparameters["values"] = values
    status = {"completed": "COMPLETED", "failed": "FAILED"}.get((record or {}).get("status"), "RUNNING")
    if status == "COMPLETED" and record.get("score") is None:
        status = "RUNNING"
    metrics, score, step = {}, None, 0
    if status == "COMPLETED":
        step = max((record.get("best_epoch") or 1) - 1, 0)
        score = record["score"]
        metrics = {name: {"direction": metric_direction(name), "observations": [{"value": [value], "step": step}]}
                   for name, value in (record.get("metrics") or {}).items() if value is not None}
    return {"trial_id": trial_id, "hyperparameters": hyperparameters, "metrics": {"metrics": metrics},
            "score": score, "best_step": step, "status": status,
            "message": (record or {}).get("reason") if status == "FAILED" else None}


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


def checkpoint_path(project: Path, trial_id: str) -> Path:
    return project / f"trial_{trial_id}" / "checkpoint.weights.h5"
