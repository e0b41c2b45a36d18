"""A run on an MLflow tracking server: `sync` makes the server hold what the run folder holds, and
`runs.tracker.Tracker` does so in a process of its own while a sweep runs (`nnlab run --track URI`, `nnlab track RUN`).

One MLflow run per nnlab run, in an experiment named after the run (or `experiment`), tagged with the
spec's hash, nnlab's version, the host, the device and the data, with the spec's values as params and
spec.yaml as an artifact; one nested run per finished trial (its hyperparameters as params, its curves
epoch by epoch, its status, reason, seconds and worker) and one for search.baseline; at the end the
best trial and score, the expected score, summary.json, trials.csv, the report and (`with_model`)
best.keras. The folder is the truth: a trial is sent once, when it has ended, and found again by its
tags (`nnlab.run`, `nnlab.trial`), so a resumed run, a second `nnlab track` or a sync that failed half
way sends nothing twice (a trial whose nested run was left unfinished is made again whole). MLflow is
imported only here, through its own client (`MlflowClient`), with its usage telemetry off. No TensorFlow.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from nnlab.errors import RunError
from nnlab.runs import files
from nnlab.runs.folder import RunFolder
from nnlab.runs.records import Summary, TrialRecord

ENV = "NNLAB_TRACKING_URI"
EXTRA = "pip install 'nnlab[track]'"
STATUS = {"completed": "FINISHED", "pruned": "KILLED", "failed": "FAILED"}
ENDED = ("FINISHED", "KILLED", "FAILED")
BATCH = 900  # metrics per log_batch call (MLflow takes at most 1000)


def tracking_uri(given: str | None) -> str | None:
    """The tracking URI: the one given, else NNLAB_TRACKING_URI, else None (no tracking)."""
    return given or os.environ.get(ENV) or None


def settings(spec, uri: str | None = None, experiment: str | None = None, with_model: bool = False):
    """Where a run is tracked (a `TrackSpec`), or None: `--track URI`, else the spec's `track.uri`, else
    NNLAB_TRACKING_URI; `--experiment` and `--track-model` over the spec's. MLflow missing or a URI
    nnlab cannot use: a RunError, said before any training."""
    from pydantic import ValidationError

    from nnlab.spec.trackschema import TrackSpec

    section = spec.track
    uri = uri or (section.uri if section else None) or os.environ.get(ENV) or None
    if not uri:
        return None
    try:
        chosen = TrackSpec(uri=uri, experiment=experiment or (section.experiment if section else None),
                           model=with_model or (section.model if section else False))
    except ValidationError as exc:
        raise RunError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    check_installed()
    return chosen


def client(uri: str):
    """MLflow's client for `uri` (http://host:port, sqlite:///file.db, file:/folder), telemetry off."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # (a server that is down: said in seconds)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # (a line per run: said once by nnlab)
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise RunError(f"tracking runs on MLflow needs MLflow, an optional part of nnlab: {EXTRA}") from None
    for name in ("mlflow", "alembic"):  # (their start-up lines are not the sweep's; set after MLflow's own)
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri)


def runs_in(paths) -> list[Path]:
    """Run folders: each path that is one, and the run folders inside each path that is not."""
    out = []
    for path in map(Path, paths):
        if RunFolder(path).is_run():
            out.append(path)
            continue
        inside = sorted(p for p in path.iterdir() if p.is_dir() and RunFolder(p).is_run()) if path.is_dir() else []
        if not inside:
            raise RunError(f"{path} is not an nnlab run folder and holds none")
        out += inside
    return out


def check_installed() -> None:
    """MLflow can be imported (found, not imported: its import takes seconds, spent in the background)."""
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        raise RunError(f"tracking runs on MLflow needs MLflow, an optional part of nnlab: {EXTRA}")


def run_key(summary: Summary) -> str:
    """What names one nnlab run on any server: its name, spec hash and start (the same after a resume)."""
    return f"{summary.run}:{summary.spec_hash}:{summary.started_at}"


@dataclass
class Synced:
    experiment: str
    run_id: str
    trials: int  # nested runs sent by this sync
    ended: bool  # the nnlab run has ended and its end was sent
    page: str | None = None  # where the server's UI shows the experiment (an http server)

    def said(self, uri: str) -> str:
        return f"experiment {self.experiment!r} at {uri}" + (f" (see {self.page})" if self.page else "")


def sync(run_dir, uri: str, experiment: str | None = None, with_model: bool = False, mlflow=None) -> Synced:
    """Make the server at `uri` hold what the run folder holds (see the module's docstring)."""
    folder = RunFolder(run_dir).require()
    contents = folder.load()
    summary = contents.summary
    mlflow = mlflow or client(uri)
    name = experiment or summary.run or folder.name
    found = mlflow.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found is not None else mlflow.create_experiment(
        name, artifact_location=_artifacts_beside(uri, name))
    key = run_key(summary)
    runs = mlflow.search_runs([experiment_id], filter_string=f"tags.`nnlab.run` = '{_quoted(key)}'", max_results=5000)
    parent = next((r for r in runs if r.data.tags.get("nnlab.kind") == "run"), None)
    if parent is None:
        parent = _parent(mlflow, experiment_id, folder, summary, key)
    children = {r.data.tags.get("nnlab.trial"): r for r in runs if r.data.tags.get("nnlab.kind") != "run"}
    sent = 0
    for record in contents.records:
        if record.finished and _send_trial(mlflow, experiment_id, parent.info.run_id, key, folder, record,
                                           children.get(record.trial_id)):
            sent += 1
    if summary.baseline and _send_baseline(mlflow, experiment_id, parent.info.run_id, key, summary,
                                           children.get("baseline")):
        sent += 1
    ended = summary.status not in ("starting", "running")
    if ended:
        _send_end(mlflow, parent, folder, summary, contents.best, with_model)
    page = f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs" if uri.startswith(("http:", "https:")) else None
    return Synced(name, parent.info.run_id, sent, ended, page)


def _artifacts_beside(uri: str, experiment: str) -> str | None:
    """Where a new experiment's files go in a store without a server (sqlite:///DB): beside the
    database, in mlruns/ (MLflow's own default is mlruns/ in whatever folder the command ran from).
    A server chooses for itself (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    folder = Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlruns" / experiment
    return folder.as_uri()


def _quoted(text: str) -> str:
    return text.replace("'", "\\'")


def _parent(mlflow, experiment_id: str, folder: RunFolder, summary: Summary, key: str):
    from mlflow.entities import Param

    from nnlab.version import __version__

    tags = {"nnlab.run": key, "nnlab.kind": "run", "nnlab.spec_hash": summary.spec_hash or "",
            "nnlab.version": __version__, "nnlab.host": socket.gethostname(), "nnlab.device": summary.device or "",
            "nnlab.data": summary.data or "", "nnlab.data_hash": summary.data_hash or "",
            "nnlab.folder": str(folder.path.resolve()), "nnlab.model": summary.model or "",
            "nnlab.task": summary.task or "", "nnlab.tuner": summary.tuner or "",
            "nnlab.objective": summary.objective or "", "nnlab.direction": summary.direction}
    run = mlflow.create_run(experiment_id, run_name=summary.run or folder.name, tags=tags)
    params = [Param(k, v) for k, v in _spec_params(folder).items()]
    for start in range(0, len(params), 90):  # (MLflow takes at most 100 params a batch)
        mlflow.log_batch(run.info.run_id, params=params[start:start + 90])
    if folder.spec_path.is_file():
        mlflow.log_artifact(run.info.run_id, str(folder.spec_path))
    return run


def _spec_params(folder: RunFolder) -> dict[str, str]:
    """The spec's values, one param per dotted key (a search space as written)."""
    import yaml

    try:
        raw = yaml.safe_load(folder.spec_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    out: dict[str, str] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and value and not _is_space(value):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = str(value)[:500]

    walk("", raw if isinstance(raw, dict) else {})
    return out


def _is_space(value: dict) -> bool:
    return len(value) <= 3 and any(k in value for k in ("int", "float", "choice"))


def _to_send(mlflow, existing) -> bool:
    """Whether a nested run is to be sent: not when the server has it whole (ended); one left unfinished
    by a sync stopped half way is deleted, to be sent again whole, never doubled."""
    if existing is not None and existing.info.status in ENDED:
        return False
    if existing is not None:
        mlflow.delete_run(existing.info.run_id)
    return True


def _send_trial(mlflow, experiment_id: str, parent_id: str, key: str, folder: RunFolder, record: TrialRecord,
                existing) -> bool:
    """One ended trial as a nested run, unless the server has it whole already."""
    if not _to_send(mlflow, existing):
        return False
    from mlflow.entities import Metric, Param

    tags = {"mlflow.parentRunId": parent_id, "nnlab.run": key, "nnlab.kind": "trial", "nnlab.trial": record.trial_id,
            "nnlab.status": record.status, **({"nnlab.worker": record.worker} if record.worker else {}),
            **({"nnlab.reason": record.reason[:5000]} if record.reason else {})}
    run = mlflow.create_run(experiment_id, run_name=f"trial {record.trial_id}", tags=tags)
    metrics = []
    for i, history in enumerate(folder.history(record.trial_id)):
        prefix = "" if i == 0 else f"execution_{i + 1}/"
        metrics += [Metric(f"{prefix}{name}", float(v), 0, step) for name, values in history.items()
                    for step, v in enumerate(values) if v is not None]
    for name, value in (("score", record.score), ("seconds", record.seconds), ("best_epoch", record.best_epoch)):
        if value is not None:
            metrics.append(Metric(name, float(value), 0, 0))
    params = [Param(k, str(v)[:500]) for k, v in record.hyperparameters.items()]
    for start in range(0, max(len(metrics), 1), BATCH):
        mlflow.log_batch(run.info.run_id, metrics=metrics[start:start + BATCH], params=params if not start else [])
    mlflow.set_terminated(run.info.run_id, STATUS.get(record.status, "FINISHED"))
    return True


def _send_baseline(mlflow, experiment_id: str, parent_id: str, key: str, summary: Summary, existing) -> bool:
    if not _to_send(mlflow, existing):
        return False
    from mlflow.entities import Metric, Param

    baseline = summary.baseline or {}
    tags = {"mlflow.parentRunId": parent_id, "nnlab.run": key, "nnlab.kind": "baseline", "nnlab.trial": "baseline"}
    run = mlflow.create_run(experiment_id, run_name="baseline (gradient boosting)", tags=tags)
    metrics = [Metric(str(k), float(v), 0, 0) for k, v in baseline.items() if isinstance(v, (int, float))
               and not isinstance(v, bool)]
    params = [Param(str(k), str(v)[:500]) for k, v in baseline.items() if isinstance(v, (str, dict, list))]
    mlflow.log_batch(run.info.run_id, metrics=metrics, params=params[:90])
    mlflow.set_terminated(run.info.run_id, "FINISHED")
    return True


def _send_end(mlflow, parent, folder: RunFolder, summary: Summary, best: TrialRecord | None, with_model: bool) -> None:
    """The run's end: its best trial and score, the expected score, its files; once per state of the run."""
    from mlflow.entities import Metric, RunTag

    state = f"{summary.status}:{summary.trials}:{best.trial_id if best else ''}:{summary.updated_at}"
    if parent.data.tags.get("nnlab.ended") == state:
        return
    run_id = parent.info.run_id
    metrics = [Metric("seconds", float(summary.seconds), 0, 0)]
    if best is not None and best.score is not None:
        metrics.append(Metric("best_score", float(best.score), 0, 0))
    expected = (summary.expected_score or {}).get("value")
    if isinstance(expected, (int, float)):
        metrics.append(Metric("expected_score", float(expected), 0, 0))
    tags = [RunTag("nnlab.best_trial", best.trial_id if best else ""), RunTag("nnlab.status", summary.status or "")]
    mlflow.log_batch(run_id, metrics=metrics, tags=tags)
    for name in (files.SUMMARY, files.TRIALS, "report.html", *([files.BEST_MODEL] if with_model else [])):
        path = folder.path / name
        if path.is_file():
            mlflow.log_artifact(run_id, str(path))
    mlflow.set_terminated(run_id, "KILLED" if summary.status == "interrupted" else "FINISHED")
    mlflow.set_tag(run_id, "nnlab.ended", state)
