"""A tracking server's nnlab runs as `nnlab compare` rows (`nnlab compare http://host:5000`): a team's
runs, sent with `nnlab run --track` or `nnlab track`, in the table a run folder gives. Read through
MLflow's client (`runs.tracking.client`) from the tags and metrics `runs.tracking` sends. No TensorFlow."""

from __future__ import annotations

import re
from collections import defaultdict

from nnlab.errors import RunError, did_you_mean
from nnlab.runs.files import parse_text
from nnlab.runs.tracking import client

URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://|^(sqlite|file):")


def is_uri(text: str) -> bool:
    """Whether a `compare` argument names a tracking server (http://…, sqlite:///…, file:…), not a folder."""
    return bool(URI.match(str(text)))


def run_rows(uri: str, experiment: str | None = None) -> list[dict]:
    """One row per nnlab run the server at `uri` holds (in `experiment`, or in every experiment)."""
    mlflow = client(uri)
    try:
        return _rows(mlflow, uri, experiment)
    except RunError:
        raise
    except Exception as exc:  # noqa: BLE001 (the server's own errors, said for people)
        said = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise RunError(f"could not read the tracking server at {uri} ({type(exc).__name__}: {said})") from None


def _rows(mlflow, uri: str, experiment: str | None) -> list[dict]:
    experiments = {e.experiment_id: e.name for e in _every(mlflow.search_experiments)}
    if experiment is not None:
        ids = [i for i, name in experiments.items() if name == experiment]
        if not ids:
            raise RunError(f"the tracking server at {uri} has no experiment {experiment!r}"
                           f"{did_you_mean(experiment, list(experiments.values()))}")
    else:
        ids = list(experiments)
    if not ids:
        return []
    parents = _every(mlflow.search_runs, ids, "tags.`nnlab.kind` = 'run'")
    children = defaultdict(list)
    for run in _every(mlflow.search_runs, ids, "tags.`nnlab.kind` != 'run'"):
        children[(run.info.experiment_id, run.data.tags.get("nnlab.run"))].append(run)
    return [_row(parent, experiments.get(parent.info.experiment_id, ""),
                 children[(parent.info.experiment_id, parent.data.tags.get("nnlab.run"))]) for parent in parents]


def _every(search, *args) -> list:
    """Every page of an MLflow search (search_experiments, search_runs)."""
    found, token = [], None
    while True:
        page = search(*args, max_results=1000, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return found


def _row(parent, experiment: str, children: list) -> dict:
    tags, metrics = parent.data.tags, parent.data.metrics
    trials = [c for c in children if c.data.tags.get("nnlab.kind") == "trial"]
    statuses = [c.data.tags.get("nnlab.status") for c in trials]
    best = _best(trials, tags)
    running = "running" if parent.info.status == "RUNNING" else parent.info.status.lower()
    row = {"run": parent.info.run_name, "status": tags.get("nnlab.status") or running,
           "model": tags.get("nnlab.model"), "data": tags.get("nnlab.data"), "tuner": tags.get("nnlab.tuner"),
           "objective": tags.get("nnlab.objective"), "direction": tags.get("nnlab.direction") or "min",
           "best_score": best.data.metrics.get("score") if best else None, "trials": len(trials),
           "completed": statuses.count("completed"), "pruned": statuses.count("pruned"),
           "failed": statuses.count("failed"), "best_trial": best.data.tags.get("nnlab.trial") if best else None,
           "best_hyperparameters": {k: parse_text(v) for k, v in best.data.params.items()} if best else {},
           "seconds": metrics.get("seconds", sum(c.data.metrics.get("seconds", 0.0) for c in trials)),
           "size_mb": None, "host": tags.get("nnlab.host"), "experiment": experiment}
    if "expected_score" in metrics:
        row["expected_score"] = metrics["expected_score"]
    baseline = next((c for c in children if c.data.tags.get("nnlab.kind") == "baseline"), None)
    if baseline is not None and "score" in baseline.data.metrics:
        row["baseline_score"] = baseline.data.metrics["score"]
    return row


def _best(trials: list, tags: dict):
    """The run's best trial: the one its end names, else (still running) the best completed one so far."""
    named = tags.get("nnlab.best_trial")
    if named:
        return next((t for t in trials if t.data.tags.get("nnlab.trial") == named), None)
    scored = [t for t in trials if t.data.tags.get("nnlab.status") == "completed" and "score" in t.data.metrics]
    sign = -1 if tags.get("nnlab.direction") == "max" else 1
    return min(scored, key=lambda t: sign * t.data.metrics["score"], default=None)
